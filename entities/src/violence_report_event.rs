//! One step on a report's timeline. `public` steps are shown to the reporter (with the actor as
//! a role, never a name); notes and escalations are internal. Free text is sealed.

use crate::ids::{PersonId, ReportId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "violence_report_event")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub report_id: ReportId,
    pub kind: EventKind,
    pub public: bool,
    /// The officer or signed-in reporter; `None` for an anonymous reporter or the system.
    pub actor_id: Option<PersonId>,
    /// `REPORTER`, `CASE_OFFICER` or `SYSTEM`.
    pub actor_role: ActorRole,
    pub from_status: Option<crate::violence_report::ReportStatus>,
    pub to_status: Option<crate::violence_report::ReportStatus>,
    pub close_reason: Option<crate::violence_report::CloseReason>,
    /// Sealed: a note, a message, added information, a reason or a referral's outcome.
    pub body: Option<Vec<u8>>,
    pub agency: Option<Agency>,
    pub referred_on: Option<Date>,
    /// For an escalation, the unit it moved to.
    pub unit_id: Option<UnitId>,
    /// For an assignment, the officer assigned.
    pub assignee_id: Option<PersonId>,
    pub created_at: DateTimeUtc,
}

crate::stored_enum! {
    /// Where a case was referred.
    pub enum Agency {
        Police = "POLICE",
        CommuneCommittee = "COMMUNE_COMMITTEE",
        HealthFacility = "HEALTH_FACILITY",
        LegalAid = "LEGAL_AID",
        Shelter = "SHELTER",
        Other = "OTHER",
    }
}

crate::stored_enum! {
    /// A step on the timeline.
    pub enum EventKind {
        Submitted = "SUBMITTED",
        Acknowledged = "ACKNOWLEDGED",
        Assigned = "ASSIGNED",
        Note = "NOTE",
        Message = "MESSAGE",
        Referral = "REFERRAL",
        StatusChanged = "STATUS_CHANGED",
        Reopened = "REOPENED",
        Escalated = "ESCALATED",
        InformationAdded = "INFORMATION_ADDED",
        Withdrawn = "WITHDRAWN",
        /// The assigned officer's `CASE_OFFICER` role ended: the report is back in the queue.
        Unassigned = "UNASSIGNED",
        /// Asked of another unit's case officers; the case stays with the sender meanwhile.
        TransferRequested = "TRANSFER_REQUESTED",
        /// The receiving unit took the case.
        TransferAccepted = "TRANSFER_ACCEPTED",
        TransferDeclined = "TRANSFER_DECLINED",
        /// The sender took the request back.
        TransferCancelled = "TRANSFER_CANCELLED",
        /// Closing asked of a supervisor (the unit requires approval).
        ClosureRequested = "CLOSURE_REQUESTED",
        /// A supervisor approved: the report is closed.
        ClosureApproved = "CLOSURE_APPROVED",
        ClosureRejected = "CLOSURE_REJECTED",
    }
}

impl EventKind {
    /// Whether the reporter sees this step.
    pub fn is_public(self) -> bool {
        !matches!(
            self,
            EventKind::Note
                | EventKind::Escalated
                | EventKind::Assigned
                | EventKind::Unassigned
                | EventKind::TransferRequested
                | EventKind::TransferAccepted
                | EventKind::TransferDeclined
                | EventKind::TransferCancelled
                | EventKind::ClosureRequested
                | EventKind::ClosureRejected
        )
    }
}

crate::stored_enum! {
    /// In which capacity someone acted on a report.
    pub enum ActorRole {
        Reporter = "REPORTER",
        CaseOfficer = "CASE_OFFICER",
        System = "SYSTEM",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
