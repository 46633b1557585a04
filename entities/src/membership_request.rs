//! A request to join a branch or to transfer to another; decided once by an officer.

use crate::ids::{PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "membership_request")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: PersonId,
    /// `JOIN` or `TRANSFER`.
    pub kind: RequestKind,
    /// The branch asked for.
    pub branch_id: UnitId,
    /// For a transfer, the branch she leaves.
    pub from_branch_id: Option<UnitId>,
    /// `PENDING`, `APPROVED`, `REJECTED` or `CANCELLED`.
    pub status: RequestStatus,
    pub note: Option<String>,
    pub decision_reason: Option<String>,
    pub decided_by: Option<PersonId>,
    pub decided_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

crate::stored_enum! {
    /// Kind of request.
    pub enum RequestKind {
        Join = "JOIN",
        Transfer = "TRANSFER",
    }
}

crate::stored_enum! {
    /// Status of a request.
    pub enum RequestStatus {
        Pending = "PENDING",
        Approved = "APPROVED",
        Rejected = "REJECTED",
        Cancelled = "CANCELLED",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
