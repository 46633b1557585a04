//! An officer role held by a person at a unit; it covers the unit's whole subtree. Rows are never
//! deleted: revoking sets `revoked_at`/`revoked_by`, so the history of who granted what stays.

use crate::ids::{PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "officer_role")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: PersonId,
    pub unit_id: UnitId,
    /// `BRANCH_LEADER`, `UNIT_OFFICER`, `CASE_OFFICER` or `UNIT_ADMIN`.
    pub role: Role,
    pub granted_by: Option<PersonId>,
    pub granted_at: DateTimeUtc,
    pub revoked_by: Option<PersonId>,
    pub revoked_at: Option<DateTimeUtc>,
}

crate::stored_enum! {
    /// An officer role; held at a unit, it covers the unit's whole subtree.
    pub enum Role {
        BranchLeader = "BRANCH_LEADER",
        UnitOfficer = "UNIT_OFFICER",
        CaseOfficer = "CASE_OFFICER",
        UnitAdmin = "UNIT_ADMIN",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
