//! A domestic-violence concern reported by a member or anonymously. What the reporter wrote
//! (description, address, safe contact) is stored sealed (see `api::crypto`); the queue sorts
//! and filters on the clear columns only.

use crate::ids::{PersonId, ReportId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "violence_report")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ReportId,
    /// What the reporter quotes, e.g. `BL-7K3M9Q2X`.
    #[sea_orm(unique)]
    pub reference_code: String,
    /// Where it happens (a ward/commune or a branch).
    pub unit_id: UnitId,
    /// The unit whose case officers are notified of it now: the handling unit's nearest unit
    /// with case officers, moved up by each escalation.
    pub routed_unit_id: UnitId,
    /// The unit whose case officers hold the case (their reach must cover it): the place, until
    /// a transfer is accepted.
    pub handling_unit_id: UnitId,
    /// A transfer waiting for the receiving unit's case officers (who accept or decline it).
    pub transfer_to_unit_id: Option<UnitId>,
    pub transfer_requested_by: Option<PersonId>,
    pub transfer_requested_at: Option<DateTimeUtc>,
    /// A closure waiting for a supervisor's approval (the unit requires one), with the close
    /// reason asked for.
    pub closure_requested_by: Option<PersonId>,
    pub closure_requested_at: Option<DateTimeUtc>,
    pub closure_requested_reason: Option<CloseReason>,
    /// The signed-in reporter; `None` for an anonymous report.
    pub reporter_id: Option<PersonId>,
    /// argon2id hash of an anonymous reporter's PIN.
    pub pin_hash: Option<String>,
    /// Wrong PINs in a row.
    pub pin_failures: i32,
    /// Set while the reference is locked after too many wrong PINs.
    pub pin_locked_at: Option<DateTimeUtc>,
    pub affected: Affected,
    pub age_group: AgeGroup,
    /// The kinds of violence, comma-separated in a fixed order.
    pub kinds: String,
    pub immediate_danger: bool,
    pub children_involved: bool,
    pub urgent: bool,
    /// Sealed.
    pub description: Vec<u8>,
    /// Sealed.
    pub address: Option<Vec<u8>>,
    /// Sealed JSON: phone, safe times, preferred channel.
    pub contact: Option<Vec<u8>>,
    pub may_contact: bool,
    pub may_share: bool,
    pub status: ReportStatus,
    pub close_reason: Option<CloseReason>,
    pub assigned_to: Option<PersonId>,
    /// Incremented by every change.
    pub version: i32,
    /// How many times it moved up the tree unacknowledged.
    pub escalation_level: i32,
    /// When it escalates next unless acknowledged (`None` once acknowledged or at the top).
    pub escalate_at: Option<DateTimeUtc>,
    /// SHA-256 (hex) of the client's idempotency key.
    #[sea_orm(unique)]
    pub idempotency_key: String,
    /// Keyed digest (hex) of the submitted input, to tell a retry from a reuse of the key.
    pub input_digest: String,
    pub submitted_at: DateTimeUtc,
    pub acknowledged_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

crate::stored_enum! {
    /// Who is affected.
    pub enum Affected {
        OneSelf = "SELF",
        FamilyMember = "FAMILY_MEMBER",
        Neighbour = "NEIGHBOUR",
        Child = "CHILD",
        Other = "OTHER",
    }
}

crate::stored_enum! {
    /// The affected person's age group.
    pub enum AgeGroup {
        Child = "CHILD",
        Youth = "YOUTH",
        Adult = "ADULT",
        Elderly = "ELDERLY",
        Unknown = "UNKNOWN",
    }
}

crate::stored_enum! {
    /// A kind of violence (Law on Domestic Violence Prevention and Control 2022).
    pub enum ViolenceKind {
        Physical = "PHYSICAL",
        Psychological = "PSYCHOLOGICAL",
        Sexual = "SEXUAL",
        Economic = "ECONOMIC",
        Neglect = "NEGLECT",
    }
}

crate::stored_enum! {
    /// How the reporter prefers to be contacted.
    pub enum ContactChannel {
        Call = "CALL",
        Sms = "SMS",
        InApp = "IN_APP",
    }
}

crate::stored_enum! {
    /// submitted → acknowledged → in progress → referred → resolved | closed; reopened to in
    /// progress.
    pub enum ReportStatus {
        Submitted = "SUBMITTED",
        Acknowledged = "ACKNOWLEDGED",
        InProgress = "IN_PROGRESS",
        Referred = "REFERRED",
        Resolved = "RESOLVED",
        Closed = "CLOSED",
    }
}

impl ReportStatus {
    /// Resolved and closed reports are finished (until reopened).
    pub fn is_finished(self) -> bool {
        matches!(self, ReportStatus::Resolved | ReportStatus::Closed)
    }
}

crate::stored_enum! {
    /// Why a report was closed.
    pub enum CloseReason {
        Resolved = "RESOLVED",
        Unfounded = "UNFOUNDED",
        Duplicate = "DUPLICATE",
        Withdrawn = "WITHDRAWN",
        Other = "OTHER",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
