//! The unit tree: reading (public: anyone can browse units to find her branch or report a
//! concern), and creating, renaming and moving units (a `UNIT_ADMIN` over the unit); merging
//! units in [`merge`]. Lists skip merged units (found by id or code).
//!
//! Invariant: `org_unit_closure` holds exactly one row per (ancestor, descendant) pair of the
//! tree, `org_unit.depth` equals the unit's distance from the root, and both change in the same
//! transaction as `parent_id`. Creates and moves take a tree-wide lock on PostgreSQL and read the
//! parent inside their transaction, so concurrent changes can neither form a cycle nor copy
//! stale ancestor rows (SQLite serialises writers by itself).

pub mod merge;

use crate::Call;
use crate::audit::{self, SubjectKind};
use crate::integrations::{self, Scope};
use entities::ids::UnitId;
use std::collections::HashMap;

use chrono::Utc;
use entities::{org_unit, org_unit_closure};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait,
    FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect, Set,
    TransactionTrait,
    sea_query::{Expr, ExprTrait, Query},
};
use serde::{Deserialize, Serialize};

use crate::{
    authz::{self, Capability},
    db::{self, stmt},
    domain::{fold_for_search, unit_search_words, word_start_patterns},
    error::{ApiError, ConflictKind, InputProblem, is_unique_violation},
};

pub use entities::org_unit::{UnitKind, UnitStatus};

/// Filters of the unit list.
#[derive(Clone, Debug, Default)]
pub struct UnitFilter {
    /// Only direct children of this unit.
    pub parent_id: Option<UnitId>,
    /// Only units in this unit's subtree (itself excluded).
    pub under_id: Option<UnitId>,
    pub kind: Option<UnitKind>,
    /// Words (accent-insensitive, in any order) that start words of the name or the code.
    pub search: Option<String>,
    /// Only units at or below this one (an integration client's subtree).
    pub within: Option<UnitId>,
}

/// Position in the unit list, which is ordered by folded name, then id.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct UnitCursor {
    pub name: String,
    pub id: UnitId,
}

impl UnitCursor {
    pub fn of(unit: &org_unit::Model) -> Self {
        Self { name: unit.name_search.clone(), id: unit.id }
    }
}

fn filter_condition(filter: &UnitFilter) -> Condition {
    // Lists show live units; a merged one is found by its id or code.
    let mut cond = Condition::all().add(org_unit::Column::Status.eq(UnitStatus::Active.as_str()));
    if let Some(parent) = filter.parent_id {
        cond = cond.add(org_unit::Column::ParentId.eq(parent));
    }
    if let Some(under) = filter.under_id {
        cond = cond.add(
            org_unit::Column::Id.in_subquery(
                Query::select()
                    .column(org_unit_closure::Column::DescendantId)
                    .from(org_unit_closure::Entity)
                    .and_where(org_unit_closure::Column::AncestorId.eq(under))
                    .and_where(org_unit_closure::Column::Depth.gt(0))
                    .to_owned(),
            ),
        );
    }
    if let Some(within) = filter.within {
        cond = cond.add(org_unit::Column::Id.in_subquery(crate::authz::subtree_select(within)));
    }
    if let Some(kind) = filter.kind {
        cond = cond.add(org_unit::Column::Kind.eq(kind.as_str()));
    }
    // Every word typed starts a word of the name or the code, in any order; a search with no
    // word in it (only punctuation) finds nothing.
    if let Some(search) = filter.search.as_deref().filter(|s| !s.trim().is_empty()) {
        let patterns = word_start_patterns(search);
        if patterns.is_empty() {
            cond = cond.add(Expr::val(1).eq(0));
        }
        for pattern in patterns {
            cond = cond.add(Expr::col(org_unit::Column::SearchWords).like(pattern));
        }
    }
    cond
}

/// `org_unit`'s columns in the order of its model's fields (and of its `Column` enum, which is
/// the order sea-orm selects them in), for [`UnitRow`].
const UNIT_COLUMNS: &str = "u.id, u.parent_id, u.kind, u.code, u.name, u.name_search, u.search_words, \
     u.depth, u.case_closure_approval, u.created_at, u.updated_at, u.status, u.merged_into_id, u.merged_at";

/// A unit read by position: lists of units are most of what the tree's pages read, and by name
/// each column cost a lookup among the row's columns. Only for statements that select the
/// columns in the model's order (`Entity::find()`, or [`UNIT_COLUMNS`]).
struct UnitRow(org_unit::Model);

impl FromQueryResult for UnitRow {
    fn from_query_result(row: &QueryResult, _prefix: &str) -> Result<Self, DbErr> {
        Ok(UnitRow(org_unit::Model {
            id: row.try_get_by_index(0)?,
            parent_id: row.try_get_by_index(1)?,
            kind: row.try_get_by_index(2)?,
            code: row.try_get_by_index(3)?,
            name: row.try_get_by_index(4)?,
            name_search: row.try_get_by_index(5)?,
            search_words: row.try_get_by_index(6)?,
            depth: row.try_get_by_index(7)?,
            case_closure_approval: row.try_get_by_index(8)?,
            created_at: row.try_get_by_index(9)?,
            updated_at: row.try_get_by_index(10)?,
            status: row.try_get_by_index(11)?,
            merged_into_id: row.try_get_by_index(12)?,
            merged_at: row.try_get_by_index(13)?,
        }))
    }
}

/// One page of units matching `filter`, after `after`; `has_next` tells whether more follow.
pub async fn list_units(
    conn: &impl ConnectionTrait,
    filter: &UnitFilter,
    first: u64,
    after: Option<&UnitCursor>,
) -> Result<(Vec<org_unit::Model>, bool), ApiError> {
    let mut query = org_unit::Entity::find().filter(filter_condition(filter));
    if let Some(c) = after {
        query = query.filter(crate::db::after_key(
            org_unit::Column::NameSearch,
            c.name.clone(),
            org_unit::Column::Id,
            c.id,
        ));
    }
    let rows = query
        .order_by_asc(org_unit::Column::NameSearch)
        .order_by_asc(org_unit::Column::Id)
        .limit(first + 1)
        .into_model::<UnitRow>()
        .all(conn)
        .await?;
    Ok(crate::db::split_page(rows.into_iter().map(|r| r.0).collect(), first))
}

/// How many units match `filter`.
pub async fn count_units(conn: &impl ConnectionTrait, filter: &UnitFilter) -> Result<u64, ApiError> {
    Ok(org_unit::Entity::find().filter(filter_condition(filter)).count(conn).await?)
}

/// Units by id (for DataLoaders).
pub async fn units_by_ids(
    conn: &impl ConnectionTrait,
    ids: &[UnitId],
) -> Result<HashMap<UnitId, org_unit::Model>, ApiError> {
    Ok(org_unit::Entity::find()
        .filter(org_unit::Column::Id.is_in(ids.iter().copied()))
        .into_model::<UnitRow>()
        .all(conn)
        .await?
        .into_iter()
        .map(|UnitRow(u)| (u.id, u))
        .collect())
}

/// The root of the tree that `unit` belongs to.
pub async fn root_of(conn: &impl ConnectionTrait, unit: UnitId) -> Result<UnitId, ApiError> {
    use entities::org_unit_closure as c;
    let ancestors: Vec<UnitId> = c::Entity::find()
        .select_only()
        .column(c::Column::AncestorId)
        .filter(c::Column::DescendantId.eq(unit))
        .order_by_desc(c::Column::Depth)
        .limit(1)
        .into_tuple()
        .all(conn)
        .await?;
    ancestors.into_iter().next().ok_or(ApiError::NotFound)
}

/// A unit as the caller may read it: units are public, but an integration client reads its
/// subtree only (`NOT_FOUND` outside it) and needs `units:read`.
pub async fn read_unit(call: Call<'_>, id: UnitId) -> Result<org_unit::Model, ApiError> {
    if let Some(client) = call.client(Scope::UnitsRead)? {
        integrations::require_within(&call.state.db, client, id).await?;
    }
    get_unit(&call.state.db, id).await
}

/// The unit with this code (codes are unique; matched as typed, case aside): for
/// `orgUnit(code:)`.
pub async fn read_unit_by_code(call: Call<'_>, code: &str) -> Result<org_unit::Model, ApiError> {
    let code = code.trim().to_ascii_uppercase();
    if code.is_empty() {
        return Err(ApiError::bad_input("code", InputProblem::Required));
    }
    let unit = org_unit::Entity::find()
        .filter(org_unit::Column::Code.eq(code))
        .one(&call.state.db)
        .await?
        .ok_or(ApiError::NotFound)?;
    read_unit(call, unit.id).await
}

/// The unit list's filter as the caller may use it: an integration client's is kept to its
/// subtree (`NOT_FOUND` for a parent or root outside it).
pub async fn unit_filter_for(call: Call<'_>, mut filter: UnitFilter) -> Result<UnitFilter, ApiError> {
    if let Some(client) = call.client(Scope::UnitsRead)? {
        for unit in [filter.parent_id, filter.under_id].into_iter().flatten() {
            integrations::require_within(&call.state.db, client, unit).await?;
        }
        filter.within = Some(client.unit_id);
    }
    Ok(filter)
}

/// One unit, or `NOT_FOUND`.
pub async fn get_unit(conn: &impl ConnectionTrait, id: UnitId) -> Result<org_unit::Model, ApiError> {
    org_unit::Entity::find_by_id(id).one(conn).await?.ok_or(ApiError::NotFound)
}

#[derive(FromQueryResult)]
struct AncestorRow {
    descendant_id: UnitId,
    #[sea_orm(nested)]
    unit: org_unit::Model,
}

/// Ancestors of each unit (root first, the unit itself excluded), in one query.
pub async fn ancestors_of(
    conn: &impl ConnectionTrait,
    ids: &[UnitId],
) -> Result<HashMap<UnitId, Vec<org_unit::Model>>, ApiError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders = crate::db::repeat_list("?", ids.len());
    let sql = format!(
        "SELECT c.descendant_id, u.* \
         FROM org_unit_closure c JOIN org_unit u ON u.id = c.ancestor_id \
         WHERE c.depth > 0 AND c.descendant_id IN ({placeholders}) ORDER BY c.descendant_id, c.depth DESC"
    );
    let rows = AncestorRow::find_by_statement(stmt(
        conn.get_database_backend(),
        &sql,
        ids.iter().map(|&i| i.into()),
    ))
    .all(conn)
    .await?;
    let mut out: HashMap<UnitId, Vec<org_unit::Model>> = ids.iter().map(|&i| (i, Vec::new())).collect();
    for r in rows {
        out.entry(r.descendant_id).or_default().push(r.unit);
    }
    Ok(out)
}

/// The first `limit` children of each parent (ordered like the unit list) and whether more
/// exist, in one query with a window function.
pub async fn first_children_of(
    conn: &impl ConnectionTrait,
    parents: &[UnitId],
    limit: u64,
) -> Result<HashMap<UnitId, (Vec<org_unit::Model>, bool)>, ApiError> {
    if parents.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders = crate::db::repeat_list("?", parents.len());
    let sql = format!(
        "SELECT * FROM (\
           SELECT {UNIT_COLUMNS}, ROW_NUMBER() OVER (PARTITION BY u.parent_id ORDER BY u.name_search, u.id) AS rn \
           FROM org_unit u WHERE u.parent_id IN ({placeholders}) AND u.status = 'ACTIVE'\
         ) ranked WHERE rn <= ? ORDER BY parent_id, rn"
    );
    let mut values: Vec<sea_orm::Value> = parents.iter().map(|&i| i.into()).collect();
    values.push(((limit + 1) as i64).into());
    let rows = UnitRow::find_by_statement(stmt(conn.get_database_backend(), &sql, values)).all(conn).await?;
    let mut out: HashMap<UnitId, (Vec<org_unit::Model>, bool)> =
        parents.iter().map(|&p| (p, (Vec::new(), false))).collect();
    for UnitRow(unit) in rows {
        let Some(parent) = unit.parent_id else { continue };
        let entry = out.entry(parent).or_default();
        if entry.0.len() as u64 == limit {
            entry.1 = true;
        } else {
            entry.0.push(unit);
        }
    }
    Ok(out)
}

/// Input of [`create_unit`].
pub struct NewUnit {
    pub parent_id: Option<UnitId>,
    pub kind: UnitKind,
    pub code: String,
    pub name: String,
}

fn parse_code(raw: &str) -> Result<String, ApiError> {
    let code = raw.trim().to_ascii_uppercase();
    if code.is_empty() {
        return Err(ApiError::bad_input("code", InputProblem::Required));
    }
    let ok = (2..=32).contains(&code.len())
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(ApiError::bad_input("code", InputProblem::InvalidFormat));
    }
    Ok(code)
}

fn parse_unit_name(raw: &str) -> Result<String, ApiError> {
    let name = crate::domain::normalise_text(raw);
    if name.is_empty() {
        return Err(ApiError::bad_input("name", InputProblem::Required));
    }
    if name.chars().count() > 200 {
        return Err(ApiError::bad_input("name", InputProblem::TooLong));
    }
    if name.chars().count() < 2 {
        return Err(ApiError::bad_input("name", InputProblem::InvalidFormat));
    }
    Ok(name)
}

/// Creates a unit under `parent_id` (a `UNIT_ADMIN` over the parent), or a root city (system
/// administrators only).
pub async fn create_unit(call: Call<'_>, input: NewUnit) -> Result<org_unit::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let (parent, role) = match input.parent_id {
        Some(pid) => {
            let parent = get_unit(db, pid).await?;
            let role = authz::require(db, viewer, Capability::ManageStructure, pid).await?;
            (Some(parent), role)
        }
        None => {
            if !authz::is_system_admin(db, viewer.person_id).await? {
                return Err(ApiError::Forbidden);
            }
            (None, authz::ActingAs::SystemAdmin)
        }
    };
    let code = parse_code(&input.code)?;
    let name = parse_unit_name(&input.name)?;
    let kind_fits = match &parent {
        Some(p) => input.kind > p.kind,
        None => input.kind == UnitKind::City,
    };
    if !kind_fits {
        return Err(ApiError::bad_input("kind", InputProblem::InvalidKind));
    }

    let txn = db.begin().await?;
    lock_tree(&txn).await?;
    // Re-read under the lock: a concurrent move may have changed the parent's place (and depth)
    // since the permission check.
    let parent = match input.parent_id {
        Some(pid) => Some(get_unit(&txn, pid).await?),
        None => None,
    };
    // A merge that took the parent meanwhile (it holds the same lock) is seen here.
    if parent.as_ref().is_some_and(|p| p.status != UnitStatus::Active) {
        return Err(ApiError::Conflict(ConflictKind::UnitMerged));
    }
    let unit = insert_unit(&txn, parent.as_ref(), input.kind, &code, &name).await?;
    let entry = audit::Entry::new(audit::Action::UnitCreated, unit.id, SubjectKind::Unit, unit.id)
        .set("parentId", unit.parent_id)
        .set("kind", unit.kind)
        .set("code", &unit.code)
        .set("name", &unit.name);
    audit::record(&txn, audit::Actor::new(viewer, role), entry).await?;
    txn.commit().await?;
    Ok(unit)
}

/// Serialises structural changes of the tree (creating and moving units) on PostgreSQL: without
/// it a create could copy ancestor rows a concurrent move is replacing, or two moves could form
/// a cycle. SQLite needs nothing: it has one writer, and this service one connection.
async fn lock_tree(txn: &impl ConnectionTrait) -> Result<(), ApiError> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(7310001)").await?;
    }
    Ok(())
}

/// Locks `unit`'s row for the rest of the transaction (`FOR KEY SHARE` on PostgreSQL) and checks it
/// is active: a write that attaches something to a unit (a membership, a request) calls it in
/// its transaction, so that a merge either waits for it or is seen by it (`CONFLICT`
/// `UNIT_MERGED`). SQLite has one writer.
pub async fn lock_active(txn: &impl ConnectionTrait, unit: UnitId) -> Result<(), ApiError> {
    let mut query = org_unit::Entity::find_by_id(unit).select_only().column(org_unit::Column::Status);
    if txn.get_database_backend() == DbBackend::Postgres {
        // KEY SHARE: held against the merge's FOR UPDATE of its units, but not against the
        // plain updates a merge makes of the units it moves (a branch below a merged ward),
        // which would otherwise deadlock with a writer waiting on the counters it holds.
        query = query.lock(sea_orm::sea_query::LockType::KeyShare);
    }
    match query.into_tuple::<UnitStatus>().one(txn).await? {
        Some(UnitStatus::Active) => Ok(()),
        Some(UnitStatus::Merged) => Err(ApiError::Conflict(ConflictKind::UnitMerged)),
        None => Err(ApiError::NotFound),
    }
}

/// Renames a unit (a `UNIT_ADMIN` over it). The code never changes.
pub async fn rename_unit(call: Call<'_>, id: UnitId, name: &str) -> Result<org_unit::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, id).await?;
    let role = authz::require(db, viewer, Capability::ManageStructure, id).await?;
    let name = parse_unit_name(name)?;
    let entry = audit::Entry::new(audit::Action::UnitRenamed, id, SubjectKind::Unit, id)
        .change("name", &unit.name, &name);
    let unit_code = unit.code.clone();
    let mut am: org_unit::ActiveModel = unit.into();
    am.name_search = Set(fold_for_search(&name));
    am.search_words = Set(unit_search_words(&name, &unit_code));
    am.name = Set(name);
    am.updated_at = Set(Utc::now());
    let txn = db.begin().await?;
    let renamed = am.update(&txn).await?;
    audit::record(&txn, audit::Actor::new(viewer, role), entry).await?;
    txn.commit().await?;
    Ok(renamed)
}

/// Sets whether the case officers of a unit's subtree need a supervisor's approval to close a
/// violence report (a `UNIT_ADMIN` over the unit; see `violence::transfer`).
pub async fn set_case_closure_approval(
    call: Call<'_>,
    id: UnitId,
    required: bool,
) -> Result<org_unit::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, id).await?;
    let role = authz::require(db, viewer, Capability::ManageStructure, id).await?;
    let entry = audit::Entry::new(audit::Action::CaseClosureApprovalSet, id, SubjectKind::Unit, id).change(
        "caseClosureApproval",
        unit.case_closure_approval,
        required,
    );
    let mut am: org_unit::ActiveModel = unit.into();
    am.case_closure_approval = Set(required);
    am.updated_at = Set(Utc::now());
    let txn = db.begin().await?;
    let saved = am.update(&txn).await?;
    audit::record(&txn, audit::Actor::new(viewer, role), entry).await?;
    txn.commit().await?;
    Ok(saved)
}

/// Moves a unit with its whole subtree under `new_parent_id`. The caller must be a `UNIT_ADMIN`
/// over both the unit and its new parent.
pub async fn move_unit(
    call: Call<'_>,
    id: UnitId,
    new_parent_id: UnitId,
) -> Result<org_unit::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, id).await?;
    let role = authz::require(db, viewer, Capability::ManageStructure, id).await?;
    let new_parent = get_unit(db, new_parent_id).await?;
    authz::require(db, viewer, Capability::ManageStructure, new_parent_id).await?;
    let Some(old_parent) = unit.parent_id else {
        return Err(ApiError::bad_input("id", InputProblem::IsRoot));
    };
    // Taking a unit away from its parent is a change to the parent's subtree too.
    authz::require(db, viewer, Capability::ManageStructure, old_parent).await?;
    let fits = unit.kind > new_parent.kind;
    if !fits {
        return Err(ApiError::bad_input("new_parent_id", InputProblem::InvalidKind));
    }

    let txn = db.begin().await?;
    lock_tree(&txn).await?;
    // Checked inside the lock: neither was merged meanwhile (a merge holds the same lock).
    let now_rows = org_unit::Entity::find()
        .filter(org_unit::Column::Id.is_in([id, new_parent_id]))
        .filter(org_unit::Column::Status.eq(UnitStatus::Active.as_str()))
        .count(&txn)
        .await?;
    if now_rows != 2 {
        return Err(ApiError::Conflict(ConflictKind::UnitMerged));
    }
    // Checked inside the lock: is the new parent inside the moved subtree (or the unit itself)?
    let inside = org_unit_closure::Entity::find()
        .filter(org_unit_closure::Column::AncestorId.eq(id))
        .filter(org_unit_closure::Column::DescendantId.eq(new_parent_id))
        .one(&txn)
        .await?
        .is_some();
    if inside {
        return Err(ApiError::bad_input("new_parent_id", InputProblem::WouldCreateCycle));
    }
    reattach(&txn, id, new_parent_id).await?;
    let moved = get_unit(&txn, id).await?;
    let entry = audit::Entry::new(audit::Action::UnitMoved, id, SubjectKind::Unit, id).change(
        "parentId",
        old_parent,
        new_parent_id,
    );
    audit::record(&txn, audit::Actor::new(viewer, role), entry).await?;
    txn.commit().await?;
    tracing::info!(event = "unit_moved", unit_id = %id, new_parent_id = %new_parent_id, "unit moved");
    Ok(moved)
}

/// Hangs `id` and its whole subtree below `new_parent_id` (inside the caller's transaction and
/// tree lock): its member and activity counters leave the old ancestors and join the new ones,
/// the closure rows and depths follow. Seven statements.
pub(crate) async fn reattach(
    txn: &impl ConnectionTrait,
    id: UnitId,
    new_parent_id: UnitId,
) -> Result<(), ApiError> {
    // Its member and activity counters leave the old ancestors now and join the new ones once
    // attached; the ancestors both places share keep their sums (and their rows are not touched,
    // so writers counting elsewhere below them do not wait for the move).
    let common = shared_ancestors(txn, id, new_parent_id).await?;
    crate::membership::shift_rollups(txn, id, -1, &common).await?;
    crate::campaigns::activity::shift(txn, id, -1, &common).await?;
    // Detach the subtree from its old ancestors, then attach it below the new parent's chain.
    db::execute(
        txn,
        "DELETE FROM org_unit_closure \
         WHERE descendant_id IN (SELECT descendant_id FROM org_unit_closure WHERE ancestor_id = ?) \
         AND ancestor_id NOT IN (SELECT descendant_id FROM org_unit_closure WHERE ancestor_id = ?)",
        [id.into(), id.into()],
    )
    .await?;
    db::execute(
        txn,
        "INSERT INTO org_unit_closure (ancestor_id, descendant_id, depth) \
         SELECT a.ancestor_id, d.descendant_id, a.depth + d.depth + 1 \
         FROM org_unit_closure a, org_unit_closure d \
         WHERE a.descendant_id = ? AND d.ancestor_id = ?",
        [new_parent_id.into(), id.into()],
    )
    .await?;
    crate::membership::shift_rollups(txn, id, 1, &common).await?;
    crate::campaigns::activity::shift(txn, id, 1, &common).await?;
    org_unit::Entity::update_many()
        .col_expr(org_unit::Column::ParentId, Expr::value(new_parent_id))
        .col_expr(org_unit::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(org_unit::Column::Id.eq(id))
        .exec(txn)
        .await?;
    // Depth of every unit of the subtree = its number of strict ancestors.
    db::execute(
        txn,
        "UPDATE org_unit SET depth = \
           (SELECT COUNT(*) FROM org_unit_closure c WHERE c.descendant_id = org_unit.id AND c.depth > 0) \
         WHERE id IN (SELECT descendant_id FROM org_unit_closure WHERE ancestor_id = ?)",
        [id.into()],
    )
    .await?;
    Ok(())
}

/// The strict ancestors of `unit` that are also `place` or above it.
pub(crate) async fn shared_ancestors(
    conn: &impl ConnectionTrait,
    unit: UnitId,
    place: UnitId,
) -> Result<Vec<UnitId>, ApiError> {
    Ok(org_unit_closure::Entity::find()
        .select_only()
        .column(org_unit_closure::Column::AncestorId)
        .filter(org_unit_closure::Column::DescendantId.eq(unit))
        .filter(org_unit_closure::Column::Depth.gt(0))
        .filter(
            org_unit_closure::Column::AncestorId.in_subquery(
                Query::select()
                    .column(org_unit_closure::Column::AncestorId)
                    .from(org_unit_closure::Entity)
                    .and_where(Expr::col(org_unit_closure::Column::DescendantId).eq(place))
                    .to_owned(),
            ),
        )
        .into_tuple()
        .all(conn)
        .await?)
}

/// Inserts a unit and its closure rows. The new unit is its own descendant at depth 0, and a
/// descendant of each of the parent's ancestors (the parent included) one level further down.
pub async fn insert_unit(
    conn: &impl ConnectionTrait,
    parent: Option<&org_unit::Model>,
    kind: UnitKind,
    code: &str,
    name: &str,
) -> Result<org_unit::Model, ApiError> {
    let now = Utc::now();
    let id = UnitId::new();
    let unit = org_unit::ActiveModel {
        id: Set(id),
        parent_id: Set(parent.map(|p| p.id)),
        kind: Set(kind),
        code: Set(code.to_owned()),
        name: Set(name.to_owned()),
        name_search: Set(fold_for_search(name)),
        search_words: Set(unit_search_words(name, code)),
        depth: Set(parent.map_or(0, |p| p.depth + 1)),
        case_closure_approval: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        status: Set(org_unit::UnitStatus::Active),
        merged_into_id: Set(None),
        merged_at: Set(None),
    }
    .insert(conn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) { ApiError::Conflict(ConflictKind::CodeTaken) } else { e.into() }
    })?;
    db::execute(
        conn,
        "INSERT INTO org_unit_closure (ancestor_id, descendant_id, depth) \
         SELECT ancestor_id, ?, depth + 1 FROM org_unit_closure WHERE descendant_id = ? \
         UNION ALL SELECT ?, ?, 0",
        [id.into(), parent.map_or(id, |p| p.id).into(), id.into(), id.into()],
    )
    .await?;
    Ok(unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{IdenStatic, Iterable};

    #[test]
    fn unit_columns_follow_the_models_order() {
        let model: Vec<String> = org_unit::Column::iter().map(|c| format!("u.{}", c.as_str())).collect();
        let listed: Vec<String> = UNIT_COLUMNS.split(',').map(|c| c.trim().to_owned()).collect();
        assert_eq!(listed, model);
    }
}
