//! Lists for officers: the request queue and the member directory of their subtree.

use crate::Call;
use chrono::{DateTime, Utc};
use entities::ids::{MembershipId, PersonId, UnitId};
use entities::{membership, membership_request, person};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, JoinType, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, RelationDef,
    sea_query::{Alias, Expr, ExprTrait, LikeExpr, SimpleExpr},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{MemberStatus, RequestStatus};
use crate::{
    authz::{self, Capability},
    db::TimeOrder,
    domain::{PhoneNumber, WordPrefix},
    error::{ApiError, InputProblem},
};

/// Filters of the request queue.
#[derive(Clone, Default)]
pub struct RequestFilter {
    /// Only requests for branches below this unit (which must be in reach).
    pub unit_id: Option<UnitId>,
    pub status: Option<RequestStatus>,
    pub submitted_from: Option<DateTime<Utc>>,
    pub submitted_to: Option<DateTime<Utc>>,
    /// Oldest first (the default) or newest first.
    pub order: TimeOrder,
}

/// The request condition, with the reach already resolved (see [`authz::reach`]).
#[derive(Clone)]
pub struct RequestQuery {
    filter: RequestFilter,
    reach: authz::Reach,
}

impl RequestQuery {
    fn condition(&self) -> Condition {
        let f = &self.filter;
        let mut c = Condition::all();
        c = c.add(self.reach.condition(membership_request::Column::BranchId));
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
pub async fn request_query(call: Call<'_>, filter: RequestFilter) -> Result<RequestQuery, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let reach = authz::reach(&state.db, viewer, Capability::ManageMembers, filter.unit_id).await?;
    Ok(RequestQuery { filter, reach })
}

/// Requests matching the query, oldest (or newest) first: ids are time-ordered UUIDv7.
pub async fn list_requests(
    conn: &impl ConnectionTrait,
    q: &RequestQuery,
    first: u64,
    after: Option<Uuid>,
) -> Result<(Vec<membership_request::Model>, bool), ApiError> {
    let mut query = membership_request::Entity::find().filter(q.condition());
    let order = q.filter.order;
    if let Some(after) = after {
        query = query.filter(match order {
            TimeOrder::OldestFirst => membership_request::Column::Id.gt(after),
            TimeOrder::NewestFirst => membership_request::Column::Id.lt(after),
        });
    }
    let rows =
        query.order_by(membership_request::Column::Id, order.direction()).limit(first + 1).all(conn).await?;
    Ok(crate::db::split_page(rows, first))
}

pub async fn count_requests(conn: &impl ConnectionTrait, q: &RequestQuery) -> Result<u64, ApiError> {
    Ok(membership_request::Entity::find().filter(q.condition()).count(conn).await?)
}

/// Filters of the member directory.
#[derive(Clone, Default)]
pub struct MemberFilter {
    pub unit_id: Option<UnitId>,
    /// Start of a word of the name, accents ignored (see [`WordPrefix`]).
    pub search: Option<String>,
    /// A phone number in any common form (exact match).
    pub phone: Option<String>,
    pub status: Option<MemberStatus>,
    pub joined_from: Option<DateTime<Utc>>,
    pub joined_to: Option<DateTime<Utc>>,
    pub sort: MemberSort,
}

/// The order of the directory; ties go by membership id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberSort {
    /// By folded name.
    #[default]
    Name,
    /// By member number (`HN0000123`), which follows the order members joined the union.
    MemberNumber,
    /// The latest joined first.
    JoinedNewest,
    /// The earliest joined first.
    JoinedOldest,
}

/// Position in the directory: the order it belongs to, that order's key (the folded name, the
/// member number, or the join time) and the membership id.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemberCursor {
    #[serde(default)]
    pub sort: MemberSort,
    pub key: String,
    pub id: MembershipId,
}

impl MemberCursor {
    /// The cursor of `m` in the directory ordered by `sort`.
    pub fn of(sort: MemberSort, m: &membership::Model) -> Self {
        let key = match sort {
            MemberSort::Name => m.name_search.clone(),
            MemberSort::MemberNumber => m.member_number.clone(),
            MemberSort::JoinedNewest | MemberSort::JoinedOldest => m.joined_at.to_rfc3339(),
        };
        Self { sort, key, id: m.id }
    }

    /// The join time of a cursor in join order.
    fn joined_at(&self) -> Result<DateTime<Utc>, ApiError> {
        DateTime::parse_from_rfc3339(&self.key)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| ApiError::bad_input("after", InputProblem::InvalidFormat))
    }
}

/// The directory condition, with the reach resolved.
#[derive(Clone)]
pub struct MemberQuery {
    filter: MemberFilter,
    phone: Option<PhoneNumber>,
    search: Option<WordPrefix>,
    /// The units whose subtrees are in reach; `None` for everything.
    roots: Option<Vec<UnitId>>,
    small_reach: u64,
    candidate_cap: u64,
}

fn to_person() -> RelationDef {
    membership::Entity::belongs_to(person::Entity)
        .from(membership::Column::PersonId)
        .to(person::Column::Id)
        .into()
}

/// `membership.name_search` as an expression no index answers: a plan that must be driven by
/// the reach (or by a list of candidates) says so by filtering and sorting on this.
fn unindexed_name() -> SimpleExpr {
    Expr::cust("(membership.name_search || '')")
}

/// Names matching a word prefix: they start with it, or a later word does.
fn name_matches(name: SimpleExpr, p: &WordPrefix) -> SimpleExpr {
    name.clone()
        .like(LikeExpr::new(p.starts_pattern()).escape('\\'))
        .or(name.like(LikeExpr::new(p.later_word_pattern()).escape('\\')))
}

impl MemberQuery {
    /// The order of the listing.
    pub fn sort(&self) -> MemberSort {
        self.filter.sort
    }

    /// Every filter except the name search.
    fn condition(&self) -> Condition {
        let f = &self.filter;
        let mut c = Condition::all();
        if let Some(roots) = &self.roots {
            c = c.add(membership::Column::BranchId.in_subquery(authz::subtrees_select(roots.clone())));
        }
        if let Some(p) = &self.phone {
            c = c.add(
                membership::Column::PersonId.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(person::Column::Id)
                        .from(person::Entity)
                        .and_where(person::Column::Phone.eq(p.as_str()))
                        .to_owned(),
                ),
            );
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
pub async fn member_query(call: Call<'_>, filter: MemberFilter) -> Result<MemberQuery, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let reach = authz::reach(&state.db, viewer, Capability::ManageMembers, filter.unit_id).await?;
    let roots = reach.roots().map(<[UnitId]>::to_vec);
    let phone = filter.phone.as_deref().map(|p| PhoneNumber::parse(p, "phone")).transpose()?;
    let search = filter.search.as_deref().and_then(WordPrefix::parse);
    Ok(MemberQuery {
        filter,
        phone,
        search,
        roots,
        small_reach: state.settings.directory_small_reach,
        candidate_cap: state.settings.directory_candidate_cap,
    })
}

/// Rows after the cursor in (name, id) order.
fn after_cursor(c: &MemberCursor) -> Condition {
    crate::db::after_key(membership::Column::NameSearch, c.key.clone(), membership::Column::Id, c.id)
}

/// A page of the directory in an order other than by name: a walk of that order's index
/// (member number, join time), filtered.
async fn sorted_page(
    conn: &impl ConnectionTrait,
    q: &MemberQuery,
    first: u64,
    after: Option<&MemberCursor>,
) -> Result<Vec<(membership::Model, person::Model)>, ApiError> {
    use membership::Column as M;
    let sort = q.filter.sort;
    let mut cond = q.condition();
    if let Some(p) = &q.search {
        cond = cond.add(name_matches(Expr::col((membership::Entity, M::NameSearch)), p));
    }
    let (key, order) = match sort {
        MemberSort::MemberNumber | MemberSort::Name => (M::MemberNumber, TimeOrder::OldestFirst),
        MemberSort::JoinedOldest => (M::JoinedAt, TimeOrder::OldestFirst),
        MemberSort::JoinedNewest => (M::JoinedAt, TimeOrder::NewestFirst),
    };
    if let Some(c) = after {
        cond = cond.add(match key {
            M::JoinedAt => order.after(key, c.joined_at()?, M::Id, c.id),
            _ => order.after(key, c.key.clone(), M::Id, c.id),
        });
    }
    let rows = membership::Entity::find()
        .join(JoinType::InnerJoin, to_person())
        .select_also(person::Entity)
        .filter(cond)
        .order_by(key, order.direction())
        .order_by(M::Id, order.direction())
        .limit(first + 1)
        .all(conn)
        .await?;
    Ok(rows.into_iter().filter_map(|(m, p)| p.map(|p| (m, p))).collect())
}

/// One page of the directory: memberships with their person.
pub async fn list_members(
    conn: &impl ConnectionTrait,
    q: &MemberQuery,
    first: u64,
    after: Option<&MemberCursor>,
) -> Result<(Vec<(membership::Model, person::Model)>, bool), ApiError> {
    if after.is_some_and(|c| c.sort != q.filter.sort) {
        return Err(ApiError::bad_input("after", InputProblem::InvalidFormat));
    }
    if q.filter.sort != MemberSort::Name {
        return Ok(crate::db::split_page(sorted_page(conn, q, first, after).await?, first));
    }
    let rows = match &q.search {
        // Browsing walks the (name, id) index in order.
        None => {
            let mut query = membership::Entity::find()
                .join(JoinType::InnerJoin, to_person())
                .select_also(person::Entity)
                .filter(q.condition());
            if let Some(c) = after {
                query = query.filter(after_cursor(c));
            }
            let rows = query
                .order_by_asc(membership::Column::NameSearch)
                .order_by_asc(membership::Column::Id)
                .limit(first + 1)
                .all(conn)
                .await?;
            rows.into_iter().filter_map(|(m, p)| p.map(|p| (m, p))).collect()
        }
        Some(prefix) => {
            let ids = search_page(conn, q, prefix, first + 1, after).await?;
            let mut rows: Vec<(membership::Model, person::Model)> = membership::Entity::find()
                .join(JoinType::InnerJoin, to_person())
                .select_also(person::Entity)
                .filter(membership::Column::Id.is_in(ids.iter().map(|(_, id)| *id)))
                .all(conn)
                .await?
                .into_iter()
                .filter_map(|(m, p)| p.map(|p| (m, p)))
                .collect();
            rows.sort_by(|(a, _), (b, _)| (&a.name_search, a.id).cmp(&(&b.name_search, b.id)));
            rows
        }
    };
    Ok(crate::db::split_page(rows, first))
}

/// The (name, id) of the first `limit` matches of a name search after the cursor, in order.
///
/// No single plan is fast for every search at a million members, so the page is put together
/// from plans that each are:
///
/// - **A small reach** (a ward: at most `small_reach` active members, or one phone number): its
///   members are read by branch and filtered, a few thousand rows at most.
/// - Otherwise the matches are the names that *start* with the query plus those where a
///   *later word* does, each part at most `limit` rows, merged:
///   - names starting with it are one contiguous range of the (name, id, …) index, read in
///     order, however many there are ("nguyen" is a third of Hà Nội);
///   - later-word matches are counted in `membership_name_key` up to `candidate_cap`: that
///     few are fetched by key and sorted; more ("thi", "lan") are common enough that walking the
///     name index in order meets a page of them within a few thousand entries.
///
/// The name index carries branch, status and join date, so both walks filter inside it.
async fn search_page(
    conn: &impl ConnectionTrait,
    q: &MemberQuery,
    prefix: &WordPrefix,
    limit: u64,
    after: Option<&MemberCursor>,
) -> Result<Vec<(String, MembershipId)>, ApiError> {
    let base = || {
        let mut c = q.condition();
        if let Some(a) = after {
            c = c.add(after_cursor(a));
        }
        c
    };
    if q.phone.is_some() || reach_size(conn, q.roots.as_deref()).await? <= q.small_reach {
        let cond = base().add(name_matches(unindexed_name(), prefix));
        return page_ids(conn, cond, true, limit).await;
    }
    let starts = base()
        .add(membership::Column::NameSearch.gte(prefix.low.as_str()))
        .add(membership::Column::NameSearch.lt(prefix.high.as_str()));
    let mut ids = page_ids(conn, starts, false, limit).await?;
    let keyed = count_keyed(conn, prefix, q.candidate_cap.saturating_add(1)).await?;
    let later = if keyed <= q.candidate_cap {
        let keys = sea_orm::sea_query::Query::select()
            .column(Alias::new("membership_id"))
            .from(Alias::new("membership_name_key"))
            .and_where(Expr::col(Alias::new("name_key")).gte(prefix.low.as_str()))
            .and_where(Expr::col(Alias::new("name_key")).lt(prefix.high.as_str()))
            .to_owned();
        page_ids(conn, base().add(membership::Column::Id.in_subquery(keys)), true, limit).await?
    } else {
        // The plain column, so the planner estimates the (many) matches from its statistics and
        // walks the index serially; an opaque expression looked rare and drew a parallel scan.
        let pattern = LikeExpr::new(prefix.later_word_pattern()).escape('\\');
        let later = Expr::col((membership::Entity, membership::Column::NameSearch)).like(pattern);
        page_ids(conn, base().add(later), false, limit).await?
    };
    ids.extend(later);
    ids.sort();
    ids.dedup();
    ids.truncate(limit as usize);
    Ok(ids)
}

/// (name, id) of the first `limit` memberships matching `cond` in directory order; `sorted`
/// sorts the matches found through another index instead of walking the name index.
async fn page_ids(
    conn: &impl ConnectionTrait,
    cond: Condition,
    sorted: bool,
    limit: u64,
) -> Result<Vec<(String, MembershipId)>, ApiError> {
    let query = membership::Entity::find()
        .select_only()
        .column(membership::Column::NameSearch)
        .column(membership::Column::Id)
        .filter(cond);
    let query = if sorted {
        query.order_by(unindexed_name(), sea_orm::Order::Asc)
    } else {
        query.order_by_asc(membership::Column::NameSearch)
    };
    Ok(query.order_by_asc(membership::Column::Id).limit(limit).into_tuple().all(conn).await?)
}

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

/// Active members under the roots (all when `None`): the size of a reach, from the rollups.
async fn reach_size(conn: &impl ConnectionTrait, roots: Option<&[UnitId]>) -> Result<u64, ApiError> {
    let backend = conn.get_database_backend();
    let statement = match roots {
        Some([]) => return Ok(0),
        Some(roots) => crate::db::stmt(
            backend,
            &format!(
                "SELECT CAST(COALESCE(SUM(active), 0) AS BIGINT) AS n FROM unit_member_count \
                 WHERE unit_id IN ({})",
                crate::db::repeat_list("?", roots.len())
            ),
            roots.iter().map(|&u| u.into()),
        ),
        None => crate::db::stmt(
            backend,
            "SELECT CAST(COALESCE(SUM(c.active), 0) AS BIGINT) AS n FROM unit_member_count c \
             JOIN org_unit u ON u.id = c.unit_id WHERE u.parent_id IS NULL",
            [],
        ),
    };
    let found = Count::find_by_statement(statement).one(conn).await?;
    Ok(found.map_or(0, |c| u64::try_from(c.n).unwrap_or(0)))
}

/// Later-word keys starting with the prefix, counted up to `cap`.
async fn count_keyed(conn: &impl ConnectionTrait, prefix: &WordPrefix, cap: u64) -> Result<u64, ApiError> {
    let found = Count::find_by_statement(crate::db::stmt(
        conn.get_database_backend(),
        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM membership_name_key \
         WHERE name_key >= ? AND name_key < ? LIMIT ?) keyed",
        [
            prefix.low.as_str().into(),
            prefix.high.as_str().into(),
            i64::try_from(cap).unwrap_or(i64::MAX).into(),
        ],
    ))
    .one(conn)
    .await?;
    Ok(found.map_or(0, |c| u64::try_from(c.n).unwrap_or(0)))
}

pub async fn count_members(conn: &impl ConnectionTrait, q: &MemberQuery) -> Result<u64, ApiError> {
    let mut cond = q.condition();
    if let Some(p) = &q.search {
        cond = cond.add(name_matches(Expr::col((membership::Entity, membership::Column::NameSearch)), p));
    }
    Ok(membership::Entity::find().filter(cond).count(conn).await?)
}

/// Events of each membership, oldest first (for DataLoaders).
pub async fn events_of(
    conn: &impl ConnectionTrait,
    ids: &[MembershipId],
) -> Result<std::collections::HashMap<MembershipId, Vec<entities::membership_event::Model>>, ApiError> {
    use entities::membership_event as e;
    let mut out: std::collections::HashMap<MembershipId, Vec<e::Model>> =
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
    person_id: PersonId,
) -> Result<Option<membership::Model>, ApiError> {
    if let Some(m) = super::current_membership(conn, person_id).await? {
        return Ok(Some(m));
    }
    last_membership(conn, person_id).await
}

/// The person's most recent membership, whatever its status (when she has no current one, the
/// one she left last).
pub async fn last_membership(
    conn: &impl ConnectionTrait,
    person_id: PersonId,
) -> Result<Option<membership::Model>, ApiError> {
    Ok(membership::Entity::find()
        .filter(membership::Column::PersonId.eq(person_id))
        .order_by_desc(membership::Column::Id)
        .one(conn)
        .await?)
}

/// The person's own requests, newest first (at most 50).
pub async fn my_requests(
    conn: &impl ConnectionTrait,
    person_id: PersonId,
) -> Result<Vec<membership_request::Model>, ApiError> {
    Ok(membership_request::Entity::find()
        .filter(membership_request::Column::PersonId.eq(person_id))
        .order_by_desc(membership_request::Column::Id)
        .limit(50)
        .all(conn)
        .await?)
}
