//! One change of a membership (who, when, from → to). Append-only.

use crate::ids::{MembershipId, PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "membership_event")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub membership_id: MembershipId,
    pub person_id: PersonId,
    /// `JOINED`, `ENROLLED`, `IMPORTED`, `TRANSFERRED`, `SUSPENDED`, `REINSTATED` or `LEFT`.
    pub kind: EventKind,
    pub from_branch_id: Option<UnitId>,
    pub to_branch_id: Option<UnitId>,
    pub from_status: Option<crate::membership::MemberStatus>,
    pub to_status: Option<crate::membership::MemberStatus>,
    /// The officer who acted; `None` when the member acted herself.
    pub actor_id: Option<PersonId>,
    pub reason: Option<String>,
    pub created_at: DateTimeUtc,
}

crate::stored_enum! {
    /// What happened to a membership.
    pub enum EventKind {
        Joined = "JOINED",
        Enrolled = "ENROLLED",
        Imported = "IMPORTED",
        Transferred = "TRANSFERRED",
        Suspended = "SUSPENDED",
        Reinstated = "REINSTATED",
        Left = "LEFT",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
