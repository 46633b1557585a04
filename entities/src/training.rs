//! A training (tập huấn, dạy nghề) published by a unit for its subtree's members or officers.
//! Its seat counters and next arrival number change only under a lock on this row.

use crate::ids::{PersonId, TrainingId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "training")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: TrainingId,
    /// The organising unit; the audience is its subtree.
    pub unit_id: UnitId,
    pub title: String,
    /// The folded title, for accent-insensitive search.
    pub title_search: String,
    pub description: String,
    /// `VOCATIONAL`, `DIGITAL_SKILLS`, `LEGAL`, `HEALTH`, `ENTREPRENEURSHIP`, `UNION_WORK`, `OTHER`.
    pub category: Category,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    pub place: Option<String>,
    pub online_url: Option<String>,
    /// Seats; `None` for no limit.
    pub capacity: Option<i32>,
    /// `None`: from publication.
    pub registration_opens_at: Option<DateTimeUtc>,
    /// `None`: until the start.
    pub registration_closes_at: Option<DateTimeUtc>,
    /// `MEMBERS` or `OFFICERS`.
    pub audience: Audience,
    /// `DRAFT`, `PUBLISHED`, `CANCELLED` or `COMPLETED`.
    pub status: TrainingStatus,
    pub confirmed_count: i32,
    pub waitlist_count: i32,
    pub next_queue_no: i64,
    pub cancel_reason: Option<String>,
    pub created_by: PersonId,
    pub published_at: Option<DateTimeUtc>,
    pub cancelled_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

crate::stored_enum! {
    /// What a training teaches.
    pub enum Category {
        Vocational = "VOCATIONAL",
        DigitalSkills = "DIGITAL_SKILLS",
        Legal = "LEGAL",
        Health = "HEALTH",
        Entrepreneurship = "ENTREPRENEURSHIP",
        UnionWork = "UNION_WORK",
        Other = "OTHER",
    }
}

crate::stored_enum! {
    /// Who a training is for, within its unit's subtree.
    pub enum Audience {
        Members = "MEMBERS",
        Officers = "OFFICERS",
    }
}

crate::stored_enum! {
    /// Draft → published → (cancelled | completed).
    pub enum TrainingStatus {
        Draft = "DRAFT",
        Published = "PUBLISHED",
        Cancelled = "CANCELLED",
        Completed = "COMPLETED",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
