//! Lists for officers: the request queue and the member directory of their subtree.

use chrono::{DateTime, Utc};
use entities::{membership, membership_request, person};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, JoinType, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, RelationDef, sea_query::SelectStatement,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{MemberStatus, RequestStatus};
use crate::{
    auth::Viewer,
    authz::{self, MEMBER_MANAGERS},
    domain::{PhoneNumber, fold_for_search, like_contains_pattern},
    error::ApiError,
    state::AppState,
};

/// Filters of the request queue.
#[derive(Clone, Default)]
pub struct RequestFilter {
    /// Only requests for branches below this unit (which must be in reach).
    pub unit_id: Option<Uuid>,
    pub status: Option<RequestStatus>,
    pub submitted_from: Option<DateTime<Utc>>,
    pub submitted_to: Option<DateTime<Utc>>,
}

/// The request condition, with the reach already resolved (see [`authz::reach_filter`]).
#[derive(Clone)]
pub struct RequestQuery {
    filter: RequestFilter,
    reach: Option<SelectStatement>,
}

impl RequestQuery {
    fn condition(&self) -> Condition {
        let f = &self.filter;
        let mut c = Condition::all();
        if let Some(reach) = &self.reach {
            c = c.add(membership_request::Column::BranchId.in_subquery(reach.clone()));
        }
        if let Some(s) = f.status {
            c = c.add(membership_request::Column::Status.eq(s.as_str()));
        }
        if let Some(from) = f.submitted_from {
            c = c.add(membership_request::Column::CreatedAt.gte(from));
        }
        if let Some(to) = f.submitted_to {
            c = c.add(membership_request::Column::CreatedAt.lt(to));
        }
        c
    }
}

/// Resolves the reach of a request listing (`NOT_FOUND`/`FORBIDDEN` when the unit is out of it).
pub async fn request_query(
    state: &AppState,
    viewer: &Viewer,
    filter: RequestFilter,
) -> Result<RequestQuery, ApiError> {
    let reach = authz::reach_filter(&state.db, viewer, MEMBER_MANAGERS, filter.unit_id).await?;
    Ok(RequestQuery { filter, reach })
}

/// Requests matching the query, oldest first (ids are time-ordered UUIDv7).
pub async fn list_requests(
    conn: &impl ConnectionTrait,
    q: &RequestQuery,
    first: u64,
    after: Option<Uuid>,
) -> Result<(Vec<membership_request::Model>, bool), ApiError> {
    let mut query = membership_request::Entity::find().filter(q.condition());
    if let Some(after) = after {
        query = query.filter(membership_request::Column::Id.gt(after));
    }
    let mut rows = query.order_by_asc(membership_request::Column::Id).limit(first + 1).all(conn).await?;
    let has_next = rows.len() as u64 > first;
    rows.truncate(first as usize);
    Ok((rows, has_next))
}

pub async fn count_requests(conn: &impl ConnectionTrait, q: &RequestQuery) -> Result<u64, ApiError> {
    Ok(membership_request::Entity::find().filter(q.condition()).count(conn).await?)
}

/// Filters of the member directory.
#[derive(Clone, Default)]
pub struct MemberFilter {
    pub unit_id: Option<Uuid>,
    /// Accent-insensitive part of the name.
    pub search: Option<String>,
    /// A phone number in any common form (exact match).
    pub phone: Option<String>,
    pub status: Option<MemberStatus>,
    pub joined_from: Option<DateTime<Utc>>,
    pub joined_to: Option<DateTime<Utc>>,
}

/// Position in the directory, which is ordered by folded name, then membership id.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemberCursor {
    pub name: String,
    pub id: Uuid,
}

/// The directory condition, with the reach resolved.
#[derive(Clone)]
pub struct MemberQuery {
    filter: MemberFilter,
    phone: Option<PhoneNumber>,
    reach: Option<SelectStatement>,
}

fn to_person() -> RelationDef {
    membership::Entity::belongs_to(person::Entity)
        .from(membership::Column::PersonId)
        .to(person::Column::Id)
        .into()
}

impl MemberQuery {
    fn condition(&self) -> Condition {
        let f = &self.filter;
        let mut c = Condition::all();
        if let Some(reach) = &self.reach {
            c = c.add(membership::Column::BranchId.in_subquery(reach.clone()));
        }
        if let Some(s) = f.search.as_deref().filter(|s| !fold_for_search(s).is_empty()) {
            use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
            c = c.add(
                Expr::col((membership::Entity, membership::Column::NameSearch))
                    .like(LikeExpr::new(like_contains_pattern(s)).escape('\\')),
            );
        }
        if let Some(p) = &self.phone {
            c = c.add(person::Column::Phone.eq(p.as_str()));
        }
        if let Some(s) = f.status {
            c = c.add(membership::Column::Status.eq(s.as_str()));
        }
        if let Some(from) = f.joined_from {
            c = c.add(membership::Column::JoinedAt.gte(from));
        }
        if let Some(to) = f.joined_to {
            c = c.add(membership::Column::JoinedAt.lt(to));
        }
        c
    }
}

/// Resolves the reach of a directory listing.
pub async fn member_query(
    state: &AppState,
    viewer: &Viewer,
    filter: MemberFilter,
) -> Result<MemberQuery, ApiError> {
    let reach = authz::reach_filter(&state.db, viewer, MEMBER_MANAGERS, filter.unit_id).await?;
    let phone = filter.phone.as_deref().map(|p| PhoneNumber::parse(p, "filter.phone")).transpose()?;
    Ok(MemberQuery { filter, phone, reach })
}

/// One page of the directory: memberships with their person.
pub async fn list_members(
    conn: &impl ConnectionTrait,
    q: &MemberQuery,
    first: u64,
    after: Option<&MemberCursor>,
) -> Result<(Vec<(membership::Model, person::Model)>, bool), ApiError> {
    let mut query = membership::Entity::find()
        .join(JoinType::InnerJoin, to_person())
        .select_also(person::Entity)
        .filter(q.condition());
    if let Some(c) = after {
        query = query.filter(
            Condition::any().add(membership::Column::NameSearch.gt(c.name.clone())).add(
                Condition::all()
                    .add(membership::Column::NameSearch.eq(c.name.clone()))
                    .add(membership::Column::Id.gt(c.id)),
            ),
        );
    }
    // Browsing walks the (name, id) index in order. A name search instead collects its few
    // matches through the trigram index and sorts them: ordering by an expression keeps the
    // planner from walking the whole name index in order looking for them (seconds at a
    // million members, where the matches sit together in the middle of the alphabet).
    query = if q.filter.search.is_some() {
        query.order_by(sea_orm::sea_query::Expr::cust("membership.name_search || ''"), sea_orm::Order::Asc)
    } else {
        query.order_by_asc(membership::Column::NameSearch)
    };
    let rows = query.order_by_asc(membership::Column::Id).limit(first + 1).all(conn).await?;
    let mut rows: Vec<_> = rows.into_iter().filter_map(|(m, p)| p.map(|p| (m, p))).collect();
    let has_next = rows.len() as u64 > first;
    rows.truncate(first as usize);
    Ok((rows, has_next))
}

pub async fn count_members(conn: &impl ConnectionTrait, q: &MemberQuery) -> Result<u64, ApiError> {
    Ok(membership::Entity::find()
        .join(JoinType::InnerJoin, to_person())
        .filter(q.condition())
        .count(conn)
        .await?)
}

/// Events of each membership, oldest first (for DataLoaders).
pub async fn events_of(
    conn: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Vec<entities::membership_event::Model>>, ApiError> {
    use entities::membership_event as e;
    let mut out: std::collections::HashMap<Uuid, Vec<e::Model>> =
        ids.iter().map(|&i| (i, Vec::new())).collect();
    let rows = e::Entity::find()
        .filter(e::Column::MembershipId.is_in(ids.iter().copied()))
        .order_by_asc(e::Column::Id)
        .all(conn)
        .await?;
    for r in rows {
        out.entry(r.membership_id).or_default().push(r);
    }
    Ok(out)
}

/// The person's current membership, or her latest one.
pub async fn latest_membership(
    conn: &impl ConnectionTrait,
    person_id: Uuid,
) -> Result<Option<membership::Model>, ApiError> {
    if let Some(m) = super::current_membership(conn, person_id).await? {
        return Ok(Some(m));
    }
    Ok(membership::Entity::find()
        .filter(membership::Column::PersonId.eq(person_id))
        .order_by_desc(membership::Column::Id)
        .one(conn)
        .await?)
}

/// The person's own requests, newest first (at most 50).
pub async fn my_requests(
    conn: &impl ConnectionTrait,
    person_id: Uuid,
) -> Result<Vec<membership_request::Model>, ApiError> {
    Ok(membership_request::Entity::find()
        .filter(membership_request::Column::PersonId.eq(person_id))
        .order_by_desc(membership_request::Column::Id)
        .limit(50)
        .all(conn)
        .await?)
}
