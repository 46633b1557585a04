//! Authorisation policy, in one place. Services call these first, for every id a client sends.
//!
//! A role held at a unit covers that unit's whole subtree; "over" questions are answered by one
//! indexed join through the closure table. Deny by default: a caller with no role at all over a
//! unit gets `NOT_FOUND` (the record is outside their reach), a caller with some other role over
//! it gets `FORBIDDEN`. A system administrator passes every check.

use sea_orm::{ConnectionTrait, DbErr, EntityTrait, FromQueryResult};
use uuid::Uuid;

use crate::{auth::Viewer, db::stmt, error::ApiError};

/// An officer role. Stored as its SCREAMING_SNAKE name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    BranchLeader,
    UnitOfficer,
    CaseOfficer,
    UnitAdmin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::BranchLeader, Role::UnitOfficer, Role::CaseOfficer, Role::UnitAdmin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::BranchLeader => "BRANCH_LEADER",
            Role::UnitOfficer => "UNIT_OFFICER",
            Role::CaseOfficer => "CASE_OFFICER",
            Role::UnitAdmin => "UNIT_ADMIN",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Where a role must be held relative to the unit acted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// At the unit or any ancestor.
    AtOrAbove,
    /// At a strict ancestor (e.g. granting `UNIT_ADMIN` at a unit needs an admin above it).
    StrictlyAbove,
}

#[derive(FromQueryResult)]
struct HeldRow {
    role: String,
    distance: i32,
}

/// The active roles `person_id` holds over `unit_id`, with how many levels above the unit each
/// is held (0 = at the unit itself).
pub async fn roles_over(
    conn: &impl ConnectionTrait,
    person_id: Uuid,
    unit_id: Uuid,
) -> Result<Vec<(Role, i32)>, DbErr> {
    let rows = HeldRow::find_by_statement(stmt(
        conn.get_database_backend(),
        "SELECT r.role AS role, c.depth AS distance FROM officer_role r \
         JOIN org_unit_closure c ON c.ancestor_id = r.unit_id \
         WHERE r.person_id = ? AND r.revoked_at IS NULL AND c.descendant_id = ?",
        [person_id.into(), unit_id.into()],
    ))
    .all(conn)
    .await?;
    Ok(rows.into_iter().filter_map(|r| Role::parse(&r.role).map(|role| (role, r.distance))).collect())
}

/// Whether the person is a system administrator.
pub async fn is_system_admin(conn: &impl ConnectionTrait, person_id: Uuid) -> Result<bool, DbErr> {
    Ok(entities::person::Entity::find_by_id(person_id).one(conn).await?.is_some_and(|p| p.is_system_admin))
}

/// Succeeds when the viewer holds `role` over `unit_id` in `scope` (or is a system admin).
pub async fn require_role_over(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    unit_id: Uuid,
    role: Role,
    scope: Scope,
) -> Result<(), ApiError> {
    let held = roles_over(conn, viewer.person_id, unit_id).await?;
    let ok = held.iter().any(|&(r, distance)| r == role && (scope == Scope::AtOrAbove || distance > 0));
    if ok || is_system_admin(conn, viewer.person_id).await? {
        return Ok(());
    }
    Err(if held.is_empty() { ApiError::NotFound } else { ApiError::Forbidden })
}
