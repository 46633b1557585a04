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
    membership::{self as svc, MemberCursor, MemberFilter, MemberQuery},
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

#[derive(Default)]
pub struct DirectoryQuery;

#[Object]
impl DirectoryQuery {
    /// Members in the caller's reach (member managers), by name.
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] filter: MemberFilterInput,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Membership, MemberListFields>> {
        ctx.auth()?.require()?;
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
            |(m, _)| MemberCursor { name: m.name_search.clone(), id: m.id },
            |(m, _)| Membership(m),
        ))
    }
}
