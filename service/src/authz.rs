//! Authorisation policy, in one place. Services call these first, for every id a client sends.
//!
//! A role held at a unit covers that unit's whole subtree; "over" questions are answered by one
//! indexed join through the closure table. Deny by default: a caller with no role at all over a
//! unit gets `NOT_FOUND` (the record is outside their reach), a caller with some other role over
//! it gets `FORBIDDEN`. A system administrator passes every check.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait, Query, SelectStatement},
};
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

/// Roles that manage members: the branch leader of the branch, or an officer or admin above it.
pub const MEMBER_MANAGERS: &[Role] = &[Role::BranchLeader, Role::UnitOfficer, Role::UnitAdmin];

/// Succeeds when the viewer holds any of `roles` at `unit_id` or above (or is a system admin);
/// `NOT_FOUND` with no role at all over the unit, `FORBIDDEN` with only other roles.
pub async fn require_any_role_over(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    unit_id: Uuid,
    roles: &[Role],
) -> Result<(), ApiError> {
    let held = roles_over(conn, viewer.person_id, unit_id).await?;
    if held.iter().any(|(r, _)| roles.contains(r)) || is_system_admin(conn, viewer.person_id).await? {
        return Ok(());
    }
    Err(if held.is_empty() { ApiError::NotFound } else { ApiError::Forbidden })
}

/// Succeeds when the viewer holds any of `roles` at some unit (or is a system admin): the gate
/// of actions whose units are named only inside their input (an import names a branch per row,
/// each then checked against [`reach_select`]). `NOT_FOUND` with no role at all, `FORBIDDEN`
/// with only other roles, as for a unit.
pub async fn require_any_role_somewhere(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    roles: &[Role],
) -> Result<(), ApiError> {
    use entities::officer_role as r;
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    let held: Vec<String> = r::Entity::find()
        .select_only()
        .column(r::Column::Role)
        .filter(r::Column::PersonId.eq(viewer.person_id))
        .filter(r::Column::RevokedAt.is_null())
        .into_tuple()
        .all(conn)
        .await?;
    if held.iter().filter_map(|r| Role::parse(r)).any(|r| roles.contains(&r))
        || is_system_admin(conn, viewer.person_id).await?
    {
        return Ok(());
    }
    Err(if held.is_empty() { ApiError::NotFound } else { ApiError::Forbidden })
}

/// The ids of every unit in which the person holds one of `roles` (at it or above), as a
/// subquery for `IN (…)` filters. System administrators should not be filtered with it.
pub fn reach_select(person_id: Uuid, roles: &[Role]) -> SelectStatement {
    use entities::{officer_role as r, org_unit_closure as c};
    Query::select()
        .column((c::Entity, c::Column::DescendantId))
        .from(c::Entity)
        .inner_join(
            r::Entity,
            Expr::col((r::Entity, r::Column::UnitId)).equals((c::Entity, c::Column::AncestorId)),
        )
        .and_where(Expr::col((r::Entity, r::Column::PersonId)).eq(person_id))
        .and_where(Expr::col((r::Entity, r::Column::RevokedAt)).is_null())
        .and_where(Expr::col((r::Entity, r::Column::Role)).is_in(roles.iter().map(|r| r.as_str())))
        .to_owned()
}

/// The ids of a unit and everything below it, as a subquery.
pub fn subtree_select(unit_id: Uuid) -> SelectStatement {
    use entities::org_unit_closure as c;
    Query::select()
        .column(c::Column::DescendantId)
        .from(c::Entity)
        .and_where(Expr::col(c::Column::AncestorId).eq(unit_id))
        .to_owned()
}

/// Restricts a list to the units the viewer may see with `roles`: below `unit` when given (which
/// must itself be in reach), else anywhere in her reach. `None` means no filter (a system
/// administrator, or a role at the root). `NOT_FOUND`/`FORBIDDEN` when `unit` is out of reach.
///
/// The units her roles sit at are read first, so the filter carries them as constants: the
/// planner then knows that the city covers thousands of branches and a branch only itself,
/// instead of guessing the size of a join (a wrong guess made a city-wide page take seconds).
pub async fn reach_filter(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    roles: &[Role],
    unit: Option<Uuid>,
) -> Result<Option<SelectStatement>, ApiError> {
    Ok(reach_roots(conn, viewer, roles, unit).await?.map(subtrees_select))
}

/// The units whose subtrees make up the reach of [`reach_filter`]; `None` means everything.
pub async fn reach_roots(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    roles: &[Role],
    unit: Option<Uuid>,
) -> Result<Option<Vec<Uuid>>, ApiError> {
    if let Some(unit) = unit {
        require_any_role_over(conn, viewer, unit, roles).await?;
        return unless_root(conn, vec![unit]).await;
    }
    if is_system_admin(conn, viewer.person_id).await? {
        return Ok(None);
    }
    let role_units: Vec<Uuid> = entities::officer_role::Entity::find()
        .select_only()
        .column(entities::officer_role::Column::UnitId)
        .filter(entities::officer_role::Column::PersonId.eq(viewer.person_id))
        .filter(entities::officer_role::Column::RevokedAt.is_null())
        .filter(entities::officer_role::Column::Role.is_in(roles.iter().map(|r| r.as_str())))
        .distinct()
        .into_tuple()
        .all(conn)
        .await?;
    unless_root(conn, role_units).await
}

/// `units`, or `None` when one of them is the root (whose subtree is everything).
pub async fn unless_root(
    conn: &impl ConnectionTrait,
    units: Vec<Uuid>,
) -> Result<Option<Vec<Uuid>>, ApiError> {
    use entities::org_unit;
    let includes_root = org_unit::Entity::find()
        .filter(org_unit::Column::Id.is_in(units.iter().copied()))
        .filter(org_unit::Column::ParentId.is_null())
        .one(conn)
        .await?
        .is_some();
    Ok(if includes_root { None } else { Some(units) })
}

/// The units below any of `units`, themselves included. With no units the IN list is empty
/// and the subquery selects nothing: no reach, no rows.
pub fn subtrees_select(units: Vec<Uuid>) -> SelectStatement {
    use entities::org_unit_closure as c;
    Query::select()
        .column(c::Column::DescendantId)
        .from(c::Entity)
        .and_where(Expr::col(c::Column::AncestorId).is_in(units))
        .to_owned()
}

/// For reads of a record the caller may not see: `FORBIDDEN` becomes `NOT_FOUND` (its existence
/// is not revealed); other errors pass through.
pub fn hide_forbidden(e: ApiError) -> ApiError {
    match e {
        ApiError::Forbidden => ApiError::NotFound,
        other => other,
    }
}
