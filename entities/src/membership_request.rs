//! A request to join a branch or to transfer to another; decided once by an officer.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "membership_request")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: Uuid,
    /// `JOIN` or `TRANSFER`.
    pub kind: String,
    /// The branch asked for.
    pub branch_id: Uuid,
    /// For a transfer, the branch she leaves.
    pub from_branch_id: Option<Uuid>,
    /// `PENDING`, `APPROVED`, `REJECTED` or `CANCELLED`.
    pub status: String,
    pub note: Option<String>,
    pub decision_reason: Option<String>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
