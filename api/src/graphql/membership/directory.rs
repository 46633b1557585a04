//! The member directory of an officer's reach (see `service::membership::directory`).

use crate::graphql::errors::in_argument;
use async_graphql::{Context, ID, InputObject, Object, Result, connection::Connection};
use chrono::{DateTime, Utc};

use crate::graphql::{
    ContextExt,
    connection::{build, page},
};
use service::{
    error::ApiError,
    membership::{self as svc, MemberCursor, MemberFilter, MemberQuery, MemberSort},
};

use super::*;

/// Extra fields of the member directory.
pub struct MemberListFields(MemberQuery);

#[Object]
impl MemberListFields {
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(svc::count_members(&ctx.state()?.db, &self.0).await?)
    }
}

#[derive(InputObject, Default)]
pub struct MemberFilterInput {
    /// Only members of branches below this unit.
    pub unit_id: Option<ID>,
    /// The start of a word of the name and what follows it, accent- and case-insensitive:
    /// "thị l" and "lan" find "Nguyễn Thị Lan", "guyen" does not.
    pub search: Option<String>,
    /// A phone number in any common form.
    pub phone: Option<String>,
    pub status: Option<GqlMemberStatus>,
    pub joined_from: Option<DateTime<Utc>>,
    pub joined_before: Option<DateTime<Utc>>,
}

/// The order of the member directory; ties go by membership.
#[derive(async_graphql::Enum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MemberOrder {
    /// By name, accents ignored.
    #[default]
    Name,
    /// By member number (`HN0000123`).
    MemberNumber,
    /// The latest joined first.
    JoinedNewest,
    /// The earliest joined first.
    JoinedOldest,
}

impl From<MemberOrder> for MemberSort {
    fn from(o: MemberOrder) -> Self {
        match o {
            MemberOrder::Name => MemberSort::Name,
            MemberOrder::MemberNumber => MemberSort::MemberNumber,
            MemberOrder::JoinedNewest => MemberSort::JoinedNewest,
            MemberOrder::JoinedOldest => MemberSort::JoinedOldest,
        }
    }
}

#[derive(Default)]
pub struct DirectoryQuery;

#[Object]
impl DirectoryQuery {
    /// Members in the caller's reach (member managers), by name (or `order`). A cursor belongs
    /// to its order: `after` from another order is `BAD_USER_INPUT`.
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] filter: MemberFilterInput,
        order: Option<MemberOrder>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Membership, MemberListFields>> {
        ctx.auth()?.require()?;
        let order = order.unwrap_or_default();
        let state = ctx.state()?;
        let page = page::<MemberCursor>(first, after.as_deref())?;
        if filter.search.as_ref().is_some_and(|s| s.chars().count() > 100) {
            return Err(ApiError::bad_input("filter.search", service::error::InputProblem::TooLong).into());
        }
        let filter = MemberFilter {
            unit_id: unit_arg(filter.unit_id, "filter.unitId")?,
            search: filter.search,
            phone: filter.phone,
            status: filter.status.map(Into::into),
            joined_from: filter.joined_from,
            joined_to: filter.joined_before,
            sort: order.into(),
        };
        let q = svc::member_query(ctx.call()?, filter).await.map_err(in_argument("filter"))?;
        let (rows, has_next) = svc::list_members(&state.db, &q, page.first, page.after.as_ref()).await?;
        let loaders = ctx.loaders()?;
        // The people are already loaded with the page: prime the loader rather than query again.
        loaders.people.feed_many(rows.iter().map(|(_, p)| (p.id, p.clone()))).await;
        Ok(build(
            rows,
            has_next,
            page.after.is_some(),
            MemberListFields(q),
            |(m, _)| MemberCursor::of(order.into(), m),
            |(m, _)| Membership(m),
        ))
    }
}
