//! Authorisation policy, in one place: the capability table ([`Capability::grants`]) says which
//! roles let a person do what and where; the functions here answer the two questions every
//! service asks — "may this viewer do C over unit U" ([`decide`], [`require`], [`may`]) and
//! "which units may she do C over" ([`reach`], [`reach_select`], and
//! [`ViewerScope::reach`](crate::scope::ViewerScope::reach) for the lists of the home screen).
//! Services call them first, for every id a client sends.
//!
//! A role held at a unit covers that unit's whole subtree; "over" questions are answered by one
//! indexed join through the closure table. Deny by default: a caller with no role at all over a
//! unit gets `NOT_FOUND` (the record is outside their reach), a caller with some other role over
//! it gets `FORBIDDEN`. A system administrator passes every check the table gives her.

mod capability;

pub use capability::{Capability, Grant, Position};
use entities::ids::{PersonId, UnitId};
use entities::org_unit;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait, Query, SelectStatement},
};

use crate::{
    auth::Viewer,
    db::stmt,
    error::{ApiError, ConflictKind},
    org::UnitKind,
};
use entities::org_unit::UnitStatus;

pub use entities::audit_event::AuditRole as ActingAs;
pub use entities::officer_role::Role;

#[derive(FromQueryResult)]
struct HeldRow {
    role: Role,
    distance: i32,
    status: UnitStatus,
}

/// The active roles `person_id` holds over `unit_id`, with how many levels above the unit each
/// is held (0 = at the unit itself).
///
/// The ids are typed, so the two cannot be swapped:
///
/// ```
/// # use entities::ids::{PersonId, UnitId};
/// # async fn f(conn: &sea_orm::DatabaseConnection, person: PersonId, unit: UnitId) {
/// let _ = service::authz::roles_over(conn, person, unit).await;
/// # }
/// ```
///
/// ```compile_fail
/// # use entities::ids::{PersonId, UnitId};
/// # async fn f(conn: &sea_orm::DatabaseConnection, person: PersonId, unit: UnitId) {
/// let _ = service::authz::roles_over(conn, unit, person).await;
/// # }
/// ```
pub async fn roles_over(
    conn: &impl ConnectionTrait,
    person_id: PersonId,
    unit_id: UnitId,
) -> Result<Vec<(Role, i32)>, DbErr> {
    Ok(held_over(conn, person_id, unit_id).await?.into_iter().map(|r| (r.role, r.distance)).collect())
}

/// [`roles_over`], each row with the unit's status.
async fn held_over(
    conn: &impl ConnectionTrait,
    person_id: PersonId,
    unit_id: UnitId,
) -> Result<Vec<HeldRow>, DbErr> {
    HeldRow::find_by_statement(stmt(
        conn.get_database_backend(),
        "SELECT r.role AS role, c.depth AS distance, u.status AS status FROM officer_role r \
         JOIN org_unit_closure c ON c.ancestor_id = r.unit_id \
         JOIN org_unit u ON u.id = c.descendant_id \
         WHERE r.person_id = ? AND r.revoked_at IS NULL AND c.descendant_id = ?",
        [person_id.into(), unit_id.into()],
    ))
    .all(conn)
    .await
}

/// Whether the person is a system administrator.
pub async fn is_system_admin(conn: &impl ConnectionTrait, person_id: PersonId) -> Result<bool, DbErr> {
    Ok(entities::person::Entity::find_by_id(person_id).one(conn).await?.is_some_and(|p| p.is_system_admin))
}

/// The unit a question is about: its id, or its row when the caller has read it already (which
/// saves reading its kind for the grants that depend on it).
#[derive(Clone, Copy)]
pub enum UnitRef<'a> {
    Id(UnitId),
    Row(&'a org_unit::Model),
}

impl UnitRef<'_> {
    fn id(self) -> UnitId {
        match self {
            UnitRef::Id(id) => id,
            UnitRef::Row(u) => u.id,
        }
    }

    /// Whether the unit was merged into another (read when the roles did not say).
    async fn merged(self, conn: &impl ConnectionTrait) -> Result<bool, DbErr> {
        let status = match self {
            UnitRef::Row(u) => Some(u.status),
            UnitRef::Id(id) => {
                org_unit::Entity::find_by_id(id)
                    .select_only()
                    .column(org_unit::Column::Status)
                    .into_tuple::<UnitStatus>()
                    .one(conn)
                    .await?
            }
        };
        Ok(status == Some(UnitStatus::Merged))
    }

    async fn is_branch(self, conn: &impl ConnectionTrait) -> Result<bool, DbErr> {
        let kind = match self {
            UnitRef::Row(u) => Some(u.kind),
            UnitRef::Id(id) => {
                org_unit::Entity::find_by_id(id)
                    .select_only()
                    .column(org_unit::Column::Kind)
                    .into_tuple::<UnitKind>()
                    .one(conn)
                    .await?
            }
        };
        Ok(kind == Some(UnitKind::Branch))
    }
}

impl From<UnitId> for UnitRef<'_> {
    fn from(id: UnitId) -> Self {
        UnitRef::Id(id)
    }
}

impl<'a> From<&'a org_unit::Model> for UnitRef<'a> {
    fn from(unit: &'a org_unit::Model) -> Self {
        UnitRef::Row(unit)
    }
}

/// The answer to "may this person do C over unit U".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Yes; `above` when a granting role sits strictly above the unit (or she is a system
    /// administrator): she may then act on the unit from outside, e.g. set its targets. `by`
    /// is the role that allowed it (the first granting one the table lists), for the audit
    /// trail.
    Allowed { above: bool, by: ActingAs },
    /// No, though she holds some other role over the unit: `FORBIDDEN`.
    InReach,
    /// No, and she holds no role over the unit at all: `NOT_FOUND`.
    OutOfReach,
    /// She would be allowed, but the unit was merged into another: it is read, not changed
    /// (`CONFLICT` `UNIT_MERGED`).
    Merged,
}

impl Decision {
    pub fn allowed(self) -> bool {
        matches!(self, Decision::Allowed { .. })
    }

    /// `Ok` with the role that allowed it, else `FORBIDDEN` in reach and `NOT_FOUND` out of it.
    pub fn into_result(self) -> Result<ActingAs, ApiError> {
        match self {
            Decision::Allowed { by, .. } => Ok(by),
            Decision::InReach => Err(ApiError::Forbidden),
            Decision::OutOfReach => Err(ApiError::NotFound),
            Decision::Merged => Err(ApiError::Conflict(ConflictKind::UnitMerged)),
        }
    }
}

/// Whether `person_id` may do `capability` over `unit`: the table, read against the roles she
/// holds over the unit (one statement; one more for a system administrator without a granting
/// role, and one for the unit's kind when a branch-only grant decides and only its id is known).
/// Over a unit merged into another only reading and finishing its history is allowed
/// ([`Capability::allowed_when_merged`]): anything else is [`Decision::Merged`].
pub async fn decide(
    conn: &impl ConnectionTrait,
    person_id: PersonId,
    capability: Capability,
    unit: UnitRef<'_>,
) -> Result<Decision, ApiError> {
    let rows = held_over(conn, person_id, unit.id()).await?;
    let merged_unit = rows.first().map(|r| r.status == UnitStatus::Merged);
    let held: Vec<(Role, i32)> = rows.into_iter().map(|r| (r.role, r.distance)).collect();
    let mut allowed: Option<(bool, Role)> = None;
    let mut branch = None;
    for grant in capability.grants() {
        for &(_, distance) in held.iter().filter(|(role, _)| *role == grant.role) {
            let ok = match grant.position {
                Position::AtOrAbove => true,
                Position::StrictlyAbove => distance > 0,
                Position::AtOrAboveBranch => match branch {
                    Some(b) => b,
                    None => *branch.insert(unit.is_branch(conn).await?),
                },
            };
            if ok {
                allowed = Some(match allowed {
                    Some((above, by)) => (above || distance > 0, by),
                    None => (distance > 0, grant.role),
                });
            }
        }
    }
    if let Some((above, role)) = allowed {
        if !capability.allowed_when_merged() && merged_unit == Some(true) {
            return Ok(Decision::Merged);
        }
        return Ok(Decision::Allowed { above, by: role.into() });
    }
    if capability.system_admin() && is_system_admin(conn, person_id).await? {
        if !capability.allowed_when_merged() && unit.merged(conn).await? {
            return Ok(Decision::Merged);
        }
        return Ok(Decision::Allowed { above: true, by: ActingAs::SystemAdmin });
    }
    Ok(if held.is_empty() { Decision::OutOfReach } else { Decision::InReach })
}

/// Succeeds, with the role that allowed it, when the viewer may do `capability` over `unit`;
/// `NOT_FOUND` with no role at all over the unit, `FORBIDDEN` with only other roles.
pub async fn require<'a>(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    capability: Capability,
    unit: impl Into<UnitRef<'a>>,
) -> Result<ActingAs, ApiError> {
    decide(conn, viewer.person_id, capability, unit.into()).await?.into_result()
}

/// Whether the viewer may do `capability` over `unit`.
pub async fn may<'a>(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    capability: Capability,
    unit: impl Into<UnitRef<'a>>,
) -> Result<bool, ApiError> {
    Ok(decide(conn, viewer.person_id, capability, unit.into()).await?.allowed())
}

/// Succeeds when the viewer may do `capability` over some unit: the gate of actions whose units
/// are named only inside their input (an import names a branch per row, each then checked
/// against [`reach_select`]). `NOT_FOUND` with no role at all, `FORBIDDEN` with only other
/// roles, as for a unit. Succeeds with the role that allows it (the first granting one the table
/// lists that she holds somewhere).
pub async fn require_somewhere(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    capability: Capability,
) -> Result<ActingAs, ApiError> {
    use entities::officer_role as r;
    let held: Vec<Role> = r::Entity::find()
        .select_only()
        .column(r::Column::Role)
        .filter(r::Column::PersonId.eq(viewer.person_id))
        .filter(r::Column::RevokedAt.is_null())
        .into_tuple()
        .all(conn)
        .await?;
    if let Some(role) = capability.roles().find(|r| held.contains(r)) {
        return Ok(role.into());
    }
    if capability.system_admin() && is_system_admin(conn, viewer.person_id).await? {
        return Ok(ActingAs::SystemAdmin);
    }
    Err(if held.is_empty() { ApiError::NotFound } else { ApiError::Forbidden })
}

/// The units where `person_id` holds a role granting `capability`, each once (the units whose
/// events she follows, for instance). Where in the table the grant sits is not looked at.
pub async fn role_units(
    conn: &impl ConnectionTrait,
    person_id: PersonId,
    capability: Capability,
) -> Result<Vec<UnitId>, ApiError> {
    use entities::officer_role as r;
    Ok(r::Entity::find()
        .select_only()
        .column(r::Column::UnitId)
        .filter(r::Column::PersonId.eq(person_id))
        .filter(r::Column::Role.is_in(capability.roles().map(Role::as_str)))
        .filter(r::Column::RevokedAt.is_null())
        .distinct()
        .into_tuple()
        .all(conn)
        .await?)
}

/// The people holding, at exactly `unit`, a role granting `capability` (each once): those a
/// report placed there is routed to, for instance.
pub async fn holders_at(
    conn: &impl ConnectionTrait,
    unit: UnitId,
    capability: Capability,
) -> Result<Vec<PersonId>, ApiError> {
    use entities::officer_role as r;
    let mut people: Vec<PersonId> = r::Entity::find()
        .select_only()
        .column(r::Column::PersonId)
        .filter(r::Column::UnitId.eq(unit))
        .filter(r::Column::Role.is_in(capability.roles().map(Role::as_str)))
        .filter(r::Column::RevokedAt.is_null())
        .into_tuple()
        .all(conn)
        .await?;
    people.sort_unstable();
    people.dedup();
    Ok(people)
}

/// The role names of the grants of `capability` in `position`.
fn names(capability: Capability, position: Position) -> Vec<&'static str> {
    capability.grants().iter().filter(|g| g.position == position).map(|g| g.role.as_str()).collect()
}

/// The ids of every unit over which the person may do `capability` through her roles, as a
/// subquery for `IN (…)` filters. System administrators should not be filtered with it.
pub fn reach_select(person_id: PersonId, capability: Capability) -> SelectStatement {
    use entities::{officer_role as r, org_unit_closure as c};
    let role = || Expr::col((r::Entity, r::Column::Role));
    let depth = || Expr::col((c::Entity, c::Column::Depth));
    let descendant = || Expr::col((c::Entity, c::Column::DescendantId));
    let granted = Condition::any()
        .add(role().is_in(names(capability, Position::AtOrAbove)))
        .add(role().is_in(names(capability, Position::StrictlyAbove)).and(depth().gt(0)))
        .add(
            role()
                .is_in(names(capability, Position::AtOrAboveBranch))
                .and(descendant().in_subquery(branches_select())),
        );
    Query::select()
        .column((c::Entity, c::Column::DescendantId))
        .from(c::Entity)
        .inner_join(
            r::Entity,
            Expr::col((r::Entity, r::Column::UnitId)).equals((c::Entity, c::Column::AncestorId)),
        )
        .and_where(Expr::col((r::Entity, r::Column::PersonId)).eq(person_id))
        .and_where(Expr::col((r::Entity, r::Column::RevokedAt)).is_null())
        .cond_where(granted)
        .to_owned()
}

/// The units a person may do a capability over, for list filters: subtree roots read from her
/// roles, so filters carry them as constants (the planner then knows that the city covers
/// thousands of branches and a branch only itself, instead of guessing the size of a join — a
/// wrong guess made a city-wide page take seconds).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    /// Every unit (a system administrator, or a granting role at the root).
    pub everything: bool,
    /// Every unit at or below these.
    pub subtrees: Vec<UnitId>,
    /// The branches at or below these (grants of a branch only).
    pub branches: Vec<UnitId>,
    /// Every unit strictly below these.
    pub below: Vec<UnitId>,
    /// Only what lies at or below this unit (the list's own unit filter).
    pub within: Option<UnitId>,
}

impl Reach {
    fn everything() -> Self {
        Reach { everything: true, ..Reach::default() }
    }

    /// Builds the reach from `(role, unit, unit is the root)` facts of the person's roles.
    pub fn from_roles(capability: Capability, roles: impl IntoIterator<Item = (Role, UnitId, bool)>) -> Self {
        let mut reach = Reach::default();
        for (role, unit, at_root) in roles {
            for grant in capability.grants().iter().filter(|g| g.role == role) {
                match grant.position {
                    Position::AtOrAbove if at_root => reach.everything = true,
                    Position::AtOrAbove => reach.subtrees.push(unit),
                    Position::AtOrAboveBranch => reach.branches.push(unit),
                    Position::StrictlyAbove => reach.below.push(unit),
                }
            }
        }
        if reach.everything {
            return Reach::everything();
        }
        for units in [&mut reach.subtrees, &mut reach.branches, &mut reach.below] {
            units.sort_unstable();
            units.dedup();
        }
        reach
    }

    /// Nothing at all in reach.
    pub fn is_empty(&self) -> bool {
        !self.everything && self.subtrees.is_empty() && self.branches.is_empty() && self.below.is_empty()
    }

    /// The subtree roots, when the reach is made of whole subtrees only; `None` for everything.
    /// For the capabilities granted only at or above (the member managers'), that is all of it.
    pub fn roots(&self) -> Option<&[UnitId]> {
        (!self.everything).then_some(self.subtrees.as_slice())
    }

    /// The condition "`column` names a unit in reach".
    pub fn condition(&self, column: impl ColumnTrait) -> Condition {
        let mut any = Condition::any();
        if self.everything {
            any = any.add(Expr::cust("1 = 1"));
        }
        if !self.subtrees.is_empty() {
            any = any.add(column.in_subquery(subtrees_select(self.subtrees.clone())));
        }
        if !self.branches.is_empty() {
            any = any.add(
                Condition::all()
                    .add(column.in_subquery(subtrees_select(self.branches.clone())))
                    .add(column.in_subquery(branches_select())),
            );
        }
        if !self.below.is_empty() {
            use entities::org_unit_closure as c;
            let below = Query::select()
                .column(c::Column::DescendantId)
                .from(c::Entity)
                .and_where(Expr::col(c::Column::AncestorId).is_in(self.below.clone()))
                .and_where(Expr::col(c::Column::Depth).gt(0))
                .to_owned();
            any = any.add(column.in_subquery(below));
        }
        if self.is_empty() {
            any = any.add(Expr::cust("1 = 0"));
        }
        match self.within {
            Some(unit) => Condition::all().add(any).add(column.in_subquery(subtree_select(unit))),
            None => Condition::all().add(any),
        }
    }
}

/// The units the viewer may do `capability` over: below `unit` when given (which she must
/// herself be allowed over: `NOT_FOUND`/`FORBIDDEN` otherwise), else anywhere in her reach.
pub async fn reach(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    capability: Capability,
    unit: Option<UnitId>,
) -> Result<Reach, ApiError> {
    let plain = capability.grants().iter().all(|g| g.position == Position::AtOrAbove);
    if let Some(unit) = unit {
        require(conn, viewer, capability, unit).await?;
        if plain {
            // Her whole reach below the unit is the unit's subtree.
            return Ok(match unless_root(conn, vec![unit]).await? {
                None => Reach::everything(),
                Some(units) => Reach { subtrees: units, ..Reach::default() },
            });
        }
    }
    if capability.system_admin() && is_system_admin(conn, viewer.person_id).await? {
        return Ok(Reach { within: unit, ..Reach::everything() });
    }
    let held = HeldUnit::find_by_statement(stmt(
        conn.get_database_backend(),
        "SELECT r.role AS role, r.unit_id AS unit_id, \
           CASE WHEN u.parent_id IS NULL THEN 1 ELSE 0 END AS at_root \
         FROM officer_role r JOIN org_unit u ON u.id = r.unit_id \
         WHERE r.person_id = ? AND r.revoked_at IS NULL",
        [viewer.person_id.into()],
    ))
    .all(conn)
    .await?;
    let mut reach =
        Reach::from_roles(capability, held.into_iter().map(|h| (h.role, h.unit_id, h.at_root != 0)));
    reach.within = unit;
    Ok(reach)
}

#[derive(FromQueryResult)]
struct HeldUnit {
    role: Role,
    unit_id: UnitId,
    at_root: i32,
}

/// The ids of every branch, as a subquery (the grants of a branch only).
fn branches_select() -> SelectStatement {
    Query::select()
        .column(org_unit::Column::Id)
        .from(org_unit::Entity)
        .and_where(Expr::col(org_unit::Column::Kind).eq(UnitKind::Branch.as_str()))
        .to_owned()
}

/// The ids of a unit and everything below it, as a subquery.
pub fn subtree_select(unit_id: UnitId) -> SelectStatement {
    use entities::org_unit_closure as c;
    Query::select()
        .column(c::Column::DescendantId)
        .from(c::Entity)
        .and_where(Expr::col(c::Column::AncestorId).eq(unit_id))
        .to_owned()
}

/// `units`, or `None` when one of them is the root (whose subtree is everything).
pub async fn unless_root(
    conn: &impl ConnectionTrait,
    units: Vec<UnitId>,
) -> Result<Option<Vec<UnitId>>, ApiError> {
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
pub fn subtrees_select(units: Vec<UnitId>) -> SelectStatement {
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
