//! Discovery: the trainings open to a person, those of her reach and the drafts she manages
//! (see the module docs of `trainings`), soonest first. Her branch and role units are read first
//! and each part of the condition is an indexed lookup by unit, so a member's page reads the
//! trainings of her four units and not every upcoming training of the city; for a member
//! without roles each unit's soonest trainings are read in order by the index (unit, status,
//! start) and merged, so her page reads a page's worth of rows per unit whatever the city holds. (A training she
//! registered for but whose audience she has since left is not listed: it is in
//! `myTrainingRegistrations`, and `node` still shows it to her.)

use chrono::{DateTime, Utc};
use entities::ids::{PersonId, TrainingId, UnitId};
use entities::{training, training_registration as registration};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, IdenStatic, Iterable,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Statement,
    sea_query::{Expr, ExprTrait, LikeExpr},
};
use serde::{Deserialize, Serialize};

use super::{Audience, Category, TrainingStatus};
use crate::{
    authz::{self, Capability},
    db::{self, OwnRows},
    domain::{fold_for_search, like_contains_pattern},
    error::ApiError,
    integrations::{self, ClientViewer},
    scope::{ViewerScope, everything},
};

/// Filters of the training list.
#[derive(Clone, Debug, Default)]
pub struct TrainingFilter {
    /// Only trainings not yet over and neither cancelled nor completed.
    pub upcoming: bool,
    pub category: Option<Category>,
    /// Only trainings organised by this unit or a unit below it.
    pub unit_id: Option<UnitId>,
    /// Part of the title, accent-insensitive.
    pub search: Option<String>,
    pub status: Option<TrainingStatus>,
}

/// Position in the list, which is ordered by start, then id.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainingCursor {
    pub starts_at: DateTime<Utc>,
    pub id: TrainingId,
}

/// The list condition, with the caller's visibility resolved.
#[derive(Clone)]
pub struct TrainingQuery {
    condition: Condition,
    /// For a member without roles, the only units whose trainings she may see (her branch and
    /// those above it): each is read in order on its own and the lists merged.
    units: Option<Vec<UnitId>>,
}

fn not_draft() -> Condition {
    Condition::all().add(training::Column::Status.ne(TrainingStatus::Draft.as_str()))
}

/// Resolves what the caller may see, and the filters, into one condition. No statement: her
/// standing was read once for the request ([`ViewerScope`]).
pub fn training_query(scope: &ViewerScope, filter: TrainingFilter) -> TrainingQuery {
    let member_only = !scope.is_system_admin && scope.roles.is_empty();
    let mut visible = Condition::any();
    if scope.is_system_admin {
        visible = visible.add(everything());
    } else {
        if !scope.above_branch.is_empty() {
            visible = visible.add(
                not_draft()
                    .add(training::Column::Audience.eq(Audience::Members.as_str()))
                    .add(training::Column::UnitId.is_in(scope.above_branch.iter().copied())),
            );
        }
        if !scope.roles.is_empty() {
            // Officer trainings of the units at or above her roles; anything of her reach.
            visible = visible.add(
                not_draft()
                    .add(training::Column::Audience.eq(Audience::Officers.as_str()))
                    .add(training::Column::UnitId.is_in(scope.above_roles.iter().copied())),
            );
            visible = visible
                .add(not_draft().add(scope.reach(Capability::ViewUnit).condition(training::Column::UnitId)));
            // Drafts of what she manages.
            let managed = scope.reach(Capability::ManageTrainings);
            if !managed.is_empty() {
                visible = visible.add(managed.condition(training::Column::UnitId));
            }
        }
    }

    let condition = filtered(visible, filter, member_only);
    TrainingQuery { condition, units: member_only.then(|| scope.above_branch.clone()) }
}

/// The trainings an integration client may read: published trainings for members organised in
/// its subtree (never a draft, nor an officers' training). `filter.unit_id` must lie in the
/// subtree (`NOT_FOUND`).
pub async fn client_training_query(
    conn: &impl ConnectionTrait,
    client: &ClientViewer,
    filter: TrainingFilter,
) -> Result<TrainingQuery, ApiError> {
    if let Some(unit) = filter.unit_id {
        integrations::require_within(conn, client, unit).await?;
    }
    let visible = not_draft()
        .add(training::Column::Audience.eq(Audience::Members.as_str()))
        .add(training::Column::UnitId.in_subquery(authz::subtree_select(client.unit_id)));
    Ok(TrainingQuery { condition: filtered(visible, filter, true), units: None })
}

/// What may be seen, narrowed by the filters; `published_only` when no draft is visible anyway.
fn filtered(visible: Condition, filter: TrainingFilter, published_only: bool) -> Condition {
    let mut condition = Condition::all().add(visible);
    if filter.upcoming {
        // A member sees no drafts: saying so lets the index (unit, status, start) give her
        // units' upcoming trainings in order.
        let live: &[&str] = if published_only {
            &[TrainingStatus::Published.as_str()]
        } else {
            &[TrainingStatus::Draft.as_str(), TrainingStatus::Published.as_str()]
        };
        condition = condition
            .add(training::Column::EndsAt.gt(Utc::now()))
            .add(training::Column::Status.is_in(live.iter().copied()));
    }
    if let Some(c) = filter.category {
        condition = condition.add(training::Column::Category.eq(c.as_str()));
    }
    if let Some(s) = filter.status {
        condition = condition.add(training::Column::Status.eq(s.as_str()));
    }
    if let Some(unit) = filter.unit_id {
        condition = condition.add(training::Column::UnitId.in_subquery(authz::subtree_select(unit)));
    }
    if let Some(q) = filter.search.as_deref().filter(|q| !fold_for_search(q).is_empty()) {
        condition = condition.add(
            Expr::col((training::Entity, training::Column::TitleSearch))
                .like(LikeExpr::new(like_contains_pattern(q)).escape('\\')),
        );
    }
    condition
}

/// One page of trainings, soonest first.
pub async fn list_trainings(
    conn: &impl ConnectionTrait,
    q: &TrainingQuery,
    first: u64,
    after: Option<&TrainingCursor>,
) -> Result<(Vec<training::Model>, bool), ApiError> {
    let rows = match page_statement(conn.get_database_backend(), q, first, after) {
        None => Vec::new(),
        Some(statement) => training::Model::find_by_statement(statement).all(conn).await?,
    };
    Ok(crate::db::split_page(rows, first))
}

/// One page of trainings, soonest first, each with `person`'s registration for it: one
/// statement (see `db::with_own_rows`).
pub async fn list_trainings_with_registration(
    conn: &impl ConnectionTrait,
    q: &TrainingQuery,
    first: u64,
    after: Option<&TrainingCursor>,
    person: PersonId,
) -> Result<(Vec<(training::Model, Option<registration::Model>)>, bool), ApiError> {
    let backend = conn.get_database_backend();
    let Some(page) = page_statement(backend, q, first, after) else { return Ok((Vec::new(), false)) };
    let own = OwnRows {
        table: "training_registration",
        parent: "training_id",
        filters: vec![("person_id", person.uuid().into())],
        columns: registration::Column::iter().map(|c| c.as_str()).collect(),
    };
    let statement = db::with_own_rows(backend, page, "starts_at, id", &own);
    // A person registers once per training: at most one row each.
    let rows = db::read_with_own_rows::<training::Model, registration::Model>(conn, statement).await?;
    let rows = rows.into_iter().map(|(t, mut regs)| (t, regs.pop())).collect();
    Ok(db::split_page(rows, first))
}

/// The statement of a page (its `first + 1` rows, to tell whether more follow); none when the
/// caller may see no unit's trainings.
fn page_statement(
    backend: DbBackend,
    q: &TrainingQuery,
    first: u64,
    after: Option<&TrainingCursor>,
) -> Option<Statement> {
    let page = |unit: Option<UnitId>| {
        let mut query = training::Entity::find().filter(q.condition.clone());
        if let Some(unit) = unit {
            query = query.filter(training::Column::UnitId.eq(unit));
        }
        if let Some(c) = after {
            query = query.filter(crate::db::after_key(
                training::Column::StartsAt,
                c.starts_at,
                training::Column::Id,
                c.id,
            ));
        }
        query.order_by_asc(training::Column::StartsAt).order_by_asc(training::Column::Id).limit(first + 1)
    };
    match &q.units {
        None => Some(page(None).build(backend)),
        Some(units) if units.is_empty() => None,
        Some(units) => {
            let parts = units.iter().map(|&u| page(Some(u)).build(backend)).collect();
            Some(crate::db::merge_ordered(backend, parts, "starts_at, id", first + 1))
        }
    }
}

pub async fn count_trainings(conn: &impl ConnectionTrait, q: &TrainingQuery) -> Result<u64, ApiError> {
    Ok(training::Entity::find().filter(q.condition.clone()).count(conn).await?)
}
