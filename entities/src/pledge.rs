//! A member's pledge to a campaign for a year, for herself or for her household, and its
//! review: certified when the criteria are met, or returned with a comment.

use crate::ids::{CampaignId, PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pledge")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub campaign_id: CampaignId,
    pub person_id: PersonId,
    /// Her branch when she pledged: who reviews it, and where a certification counts.
    pub branch_id: UnitId,
    /// `PERSONAL` or `HOUSEHOLD`.
    pub kind: PledgeKind,
    pub household_label: Option<String>,
    /// The folded household label (one pledge per household, campaign and year).
    pub household_key: Option<String>,
    pub household_size: Option<i32>,
    pub year: i32,
    /// `SUBMITTED`, `CERTIFIED` or `RETURNED`.
    pub status: PledgeStatus,
    pub note: Option<String>,
    /// JSON array of the ids of the criteria the reviewer found met.
    pub checks: Option<String>,
    pub review_comment: Option<String>,
    pub reviewed_by: Option<PersonId>,
    pub reviewed_at: Option<DateTimeUtc>,
    /// When it was (last) submitted: the review queue's order.
    pub submitted_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

crate::stored_enum! {
    /// Whom a pledge is for.
    pub enum PledgeKind {
        Personal = "PERSONAL",
        Household = "HOUSEHOLD",
    }
}

crate::stored_enum! {
    /// Submitted → certified, or returned (→ resubmitted → …).
    pub enum PledgeStatus {
        Submitted = "SUBMITTED",
        Certified = "CERTIFIED",
        Returned = "RETURNED",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
