//! Lists of pledges: the member's own (newest first), the reviewers' queue (oldest first, by
//! the reach of their member-manager roles), and a page of campaigns' pledges of one person
//! (for the `myPledges` field of a campaign list: one query per page).

use crate::Call;
use entities::ids::{CampaignId, PersonId, UnitId};
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entities::pledge;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::PledgeStatus;
use crate::db::TimeOrder;
use crate::{
    authz::{self, Capability},
    error::ApiError,
};

/// Position in the member's list, ordered by (created_at, id), newest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MyPledgeCursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// The caller's pledges to every campaign, newest first.
pub async fn my_pledges(
    call: Call<'_>,
    first: u64,
    after: Option<&MyPledgeCursor>,
) -> Result<(Vec<pledge::Model>, bool), ApiError> {
    let (conn, viewer) = (&call.state.db, call.viewer()?);
    let mut query = pledge::Entity::find().filter(pledge::Column::PersonId.eq(viewer.person_id));
    if let Some(c) = after {
        query = query.filter(Condition::any().add(pledge::Column::CreatedAt.lt(c.created_at)).add(
            Condition::all().add(pledge::Column::CreatedAt.eq(c.created_at)).add(pledge::Column::Id.lt(c.id)),
        ));
    }
    let rows = query
        .order_by_desc(pledge::Column::CreatedAt)
        .order_by_desc(pledge::Column::Id)
        .limit(first + 1)
        .all(conn)
        .await?;
    Ok(crate::db::split_page(rows, first))
}

/// How many pledges the person has made.
pub async fn count_my_pledges(conn: &impl ConnectionTrait, person_id: PersonId) -> Result<u64, ApiError> {
    Ok(pledge::Entity::find().filter(pledge::Column::PersonId.eq(person_id)).count(conn).await?)
}

/// Filters of the review queue.
#[derive(Clone, Debug, Default)]
pub struct ReviewFilter {
    /// Only pledges of branches below this unit (which must be in reach).
    pub unit_id: Option<UnitId>,
    pub campaign_id: Option<CampaignId>,
    /// `None`: every status.
    pub status: Option<PledgeStatus>,
    /// Oldest submission first (the default) or newest first.
    pub order: TimeOrder,
}

/// Position in the queue, ordered by (submitted_at, id), oldest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QueueCursor {
    pub submitted_at: DateTime<Utc>,
    pub id: Uuid,
}

/// The queue condition, with the reach resolved.
#[derive(Clone)]
pub struct ReviewQuery {
    condition: Condition,
    order: TimeOrder,
}

/// Resolves the caller's reach (`NOT_FOUND`/`FORBIDDEN` when `unit_id` is out of it) and the
/// filters. Without a member-manager role the queue is empty.
pub async fn review_query(call: Call<'_>, filter: ReviewFilter) -> Result<ReviewQuery, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let mut condition = Condition::all();
    let reach = authz::reach(&state.db, viewer, Capability::ReviewPledges, filter.unit_id).await?;
    condition = condition.add(reach.condition(pledge::Column::BranchId));
    // Nobody reviews her own pledge, so it is not in her queue.
    condition = condition.add(pledge::Column::PersonId.ne(viewer.person_id));
    if let Some(c) = filter.campaign_id {
        condition = condition.add(pledge::Column::CampaignId.eq(c));
    }
    if let Some(s) = filter.status {
        condition = condition.add(pledge::Column::Status.eq(s.as_str()));
    }
    Ok(ReviewQuery { condition, order: filter.order })
}

/// One page of the queue, oldest (or newest) submission first.
pub async fn review_queue(
    conn: &impl ConnectionTrait,
    q: &ReviewQuery,
    first: u64,
    after: Option<&QueueCursor>,
) -> Result<(Vec<pledge::Model>, bool), ApiError> {
    let mut query = pledge::Entity::find().filter(q.condition.clone());
    if let Some(c) = after {
        query = query.filter(q.order.after(
            pledge::Column::SubmittedAt,
            c.submitted_at,
            pledge::Column::Id,
            c.id,
        ));
    }
    let rows = query
        .order_by(pledge::Column::SubmittedAt, q.order.direction())
        .order_by(pledge::Column::Id, q.order.direction())
        .limit(first + 1)
        .all(conn)
        .await?;
    Ok(crate::db::split_page(rows, first))
}

pub async fn count_review_queue(conn: &impl ConnectionTrait, q: &ReviewQuery) -> Result<u64, ApiError> {
    Ok(pledge::Entity::find().filter(q.condition.clone()).count(conn).await?)
}

/// Pledges per (person, campaign, year), in one query (for DataLoaders), oldest first.
pub async fn pledges_of(
    conn: &impl ConnectionTrait,
    keys: &[(PersonId, CampaignId, i32)],
) -> Result<HashMap<(PersonId, CampaignId, i32), Vec<pledge::Model>>, ApiError> {
    let mut people: Vec<PersonId> = keys.iter().map(|k| k.0).collect();
    let mut campaigns: Vec<CampaignId> = keys.iter().map(|k| k.1).collect();
    let mut years: Vec<i32> = keys.iter().map(|k| k.2).collect();
    people.sort_unstable();
    people.dedup();
    campaigns.sort_unstable();
    campaigns.dedup();
    years.sort_unstable();
    years.dedup();
    let rows = pledge::Entity::find()
        .filter(pledge::Column::PersonId.is_in(people))
        .filter(pledge::Column::CampaignId.is_in(campaigns))
        .filter(pledge::Column::Year.is_in(years))
        .order_by_asc(pledge::Column::Id)
        .all(conn)
        .await?;
    let mut out: HashMap<(PersonId, CampaignId, i32), Vec<pledge::Model>> = HashMap::new();
    for row in rows {
        let key = (row.person_id, row.campaign_id, row.year);
        if keys.contains(&key) {
            out.entry(key).or_default().push(row);
        }
    }
    Ok(out)
}
