//! The campaign list: what the caller may see (see the module docs of `campaign`), newest first
//! by (listed_at, id). Her branch and role units come from her [`ViewerScope`], so each part of
//! the condition is an indexed lookup by unit: a member's page reads the campaigns of her few units, not every
//! campaign of the city.

use chrono::{DateTime, Utc};
use entities::ids::{CampaignId, PersonId, UnitId};
use entities::{campaign, pledge};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, IdenStatic, Iterable, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
    sea_query::{Expr, ExprTrait, LikeExpr},
};
use serde::{Deserialize, Serialize};

use super::{CampaignKind, CampaignStatus};
use crate::{
    authz::{self, Capability},
    db::{self, OwnRows},
    domain::{fold_for_search, like_contains_pattern},
    error::ApiError,
    integrations::{self, ClientViewer},
    scope::{ViewerScope, everything},
};

/// Filters of the campaign list.
#[derive(Clone, Debug, Default)]
pub struct CampaignFilter {
    /// `None`: every status the caller may see.
    pub status: Option<CampaignStatus>,
    pub kind: Option<CampaignKind>,
    /// Only campaigns of this unit or a unit below it.
    pub unit_id: Option<UnitId>,
    /// Part of the title, accent-insensitive.
    pub search: Option<String>,
}

/// Position in the list, which is ordered by (listed_at, id), newest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CampaignCursor {
    pub listed_at: DateTime<Utc>,
    pub id: CampaignId,
}

/// The list condition, with the caller's visibility resolved.
#[derive(Clone)]
pub struct CampaignQuery {
    condition: Condition,
}

/// Resolves what the caller may see, and the filters, into one condition. No statement: her
/// standing was read once for the request ([`ViewerScope`]).
pub fn campaign_query(scope: &ViewerScope, filter: CampaignFilter) -> CampaignQuery {
    let mut visible = Condition::any();
    if scope.is_system_admin {
        visible = visible.add(everything());
    } else {
        let above = scope.above_own();
        if !above.is_empty() {
            // Launched campaigns of the units above her branch and her role units.
            visible = visible.add(
                Condition::all()
                    .add(
                        campaign::Column::Status
                            .is_in([CampaignStatus::Active.as_str(), CampaignStatus::Ended.as_str()]),
                    )
                    .add(campaign::Column::UnitId.is_in(above)),
            );
        }
        if !scope.roles.is_empty() {
            // Everything of her reach, drafts included.
            visible = visible.add(scope.reach(Capability::ViewUnit).condition(campaign::Column::UnitId));
        }
    }

    CampaignQuery { condition: filtered(visible, filter) }
}

/// The campaigns an integration client may read: launched (running or ended) campaigns of units
/// in its subtree, never a draft. `filter.unit_id` must lie in the subtree (`NOT_FOUND`).
pub async fn client_campaign_query(
    conn: &impl ConnectionTrait,
    client: &ClientViewer,
    filter: CampaignFilter,
) -> Result<CampaignQuery, ApiError> {
    if let Some(unit) = filter.unit_id {
        integrations::require_within(conn, client, unit).await?;
    }
    let visible = Condition::all()
        .add(
            campaign::Column::Status.is_in([CampaignStatus::Active.as_str(), CampaignStatus::Ended.as_str()]),
        )
        .add(campaign::Column::UnitId.in_subquery(authz::subtree_select(client.unit_id)));
    Ok(CampaignQuery { condition: filtered(visible, filter) })
}

/// What may be seen, narrowed by the filters.
fn filtered(visible: Condition, filter: CampaignFilter) -> Condition {
    let mut condition = Condition::all().add(visible);
    if let Some(s) = filter.status {
        condition = condition.add(campaign::Column::Status.eq(s.as_str()));
    }
    if let Some(k) = filter.kind {
        condition = condition.add(campaign::Column::Kind.eq(k.as_str()));
    }
    if let Some(unit) = filter.unit_id {
        condition = condition.add(campaign::Column::UnitId.in_subquery(authz::subtree_select(unit)));
    }
    if let Some(q) = filter.search.as_deref().filter(|q| !fold_for_search(q).is_empty()) {
        condition = condition.add(
            Expr::col((campaign::Entity, campaign::Column::TitleSearch))
                .like(LikeExpr::new(like_contains_pattern(q)).escape('\\')),
        );
    }
    condition
}

/// One page of campaigns, newest first.
pub async fn list_campaigns(
    conn: &impl ConnectionTrait,
    q: &CampaignQuery,
    first: u64,
    after: Option<&CampaignCursor>,
) -> Result<(Vec<campaign::Model>, bool), ApiError> {
    let rows = page_query(q, first, after).all(conn).await?;
    Ok(crate::db::split_page(rows, first))
}

/// One page of campaigns, newest first, each with `person`'s pledges to it for `year` (by id):
/// one statement (see `db::with_own_rows`).
pub async fn list_campaigns_with_pledges(
    conn: &impl ConnectionTrait,
    q: &CampaignQuery,
    first: u64,
    after: Option<&CampaignCursor>,
    (person, year): (PersonId, i32),
) -> Result<(Vec<(campaign::Model, Vec<pledge::Model>)>, bool), ApiError> {
    let backend = conn.get_database_backend();
    let own = OwnRows {
        table: "pledge",
        parent: "campaign_id",
        filters: vec![("person_id", person.uuid().into()), ("year", year.into())],
        columns: pledge::Column::iter().map(|c| c.as_str()).collect(),
    };
    let statement = db::with_own_rows(
        backend,
        page_query(q, first, after).build(backend),
        "listed_at DESC, id DESC",
        &own,
    );
    let rows = db::read_with_own_rows(conn, statement).await?;
    Ok(db::split_page(rows, first))
}

/// A page's query (its `first + 1` rows, to tell whether more follow).
fn page_query(
    q: &CampaignQuery,
    first: u64,
    after: Option<&CampaignCursor>,
) -> sea_orm::Select<campaign::Entity> {
    let mut query = campaign::Entity::find().filter(q.condition.clone());
    if let Some(c) = after {
        // Keyset paging backwards: rows listed before the cursor.
        query = query.filter(
            Condition::any().add(campaign::Column::ListedAt.lt(c.listed_at)).add(
                Condition::all()
                    .add(campaign::Column::ListedAt.eq(c.listed_at))
                    .add(campaign::Column::Id.lt(c.id)),
            ),
        );
    }
    query.order_by_desc(campaign::Column::ListedAt).order_by_desc(campaign::Column::Id).limit(first + 1)
}

pub async fn count_campaigns(conn: &impl ConnectionTrait, q: &CampaignQuery) -> Result<u64, ApiError> {
    Ok(campaign::Entity::find().filter(q.condition.clone()).count(conn).await?)
}
