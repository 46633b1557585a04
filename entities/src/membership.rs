//! A person's membership of the union, in one branch at a time. At most one per person is
//! current (`ACTIVE` or `SUSPENDED`); a transfer changes `branch_id`, leaving sets `LEFT`.

use crate::ids::{MembershipId, PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "membership")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: MembershipId,
    pub person_id: PersonId,
    pub branch_id: UnitId,
    /// Citywide unique, e.g. `HN0000123`.
    #[sea_orm(unique)]
    pub member_number: String,
    /// `ACTIVE`, `SUSPENDED` or `LEFT`.
    pub status: MemberStatus,
    pub joined_at: DateTimeUtc,
    pub left_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The member's folded name (a copy of `person.name_search`), for the directory's order
    /// and search without a join.
    pub name_search: String,
}

crate::stored_enum! {
    /// Status of a membership.
    pub enum MemberStatus {
        Active = "ACTIVE",
        Suspended = "SUSPENDED",
        Left = "LEFT",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
