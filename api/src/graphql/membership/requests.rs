//! Membership requests: joining, transferring, and their decision (see
//! `service::membership::requests`).

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, connection::Connection};
use chrono::{DateTime, Utc};
use entities::ids::UnitId;
use entities::{membership_request, person};
use uuid::Uuid;

use crate::graphql::{
    ContextExt,
    bulk::{self, Outcome},
    connection::{GqlQueueOrder, build, page},
    identity::PersonRef,
    org::OrgUnit,
    scalars::Date,
};
use service::{
    domain::{GlobalId, NodeKind},
    error::ApiError,
    membership::{self as svc, RequestFilter, RequestQuery},
};

use super::*;

/// Kind of membership request.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "MembershipRequestKind", remote = "service::membership::RequestKind")]
pub enum GqlRequestKind {
    /// Join a branch.
    Join,
    /// Move one's membership to another branch.
    Transfer,
}

/// Status of a membership request.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "MembershipRequestStatus", remote = "service::membership::RequestStatus")]
pub enum GqlRequestStatus {
    Pending,
    Approved,
    Rejected,
    Cancelled,
}

/// A request to join a branch or to transfer to it.
pub struct MembershipRequest(pub membership_request::Model);

/// The person behind a request, as member managers see her.
pub struct Applicant(person::Model);

#[Object]
impl Applicant {
    async fn full_name(&self) -> &str {
        &self.0.full_name
    }

    async fn phone(&self) -> &str {
        &self.0.phone
    }

    async fn birth_date(&self) -> Option<Date> {
        self.0.birth_date.map(Date)
    }
}

#[Object]
impl MembershipRequest {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::MembershipRequest, self.0.id).encode().into()
    }

    async fn kind(&self) -> GqlRequestKind {
        self.0.kind.into()
    }

    async fn status(&self) -> GqlRequestStatus {
        self.0.status.into()
    }

    /// The branch asked for.
    async fn branch(&self, ctx: &Context<'_>) -> Result<OrgUnit> {
        Ok(load_unit(ctx, Some(self.0.branch_id)).await?.ok_or(ApiError::NotFound)?)
    }

    /// For a transfer, the branch she leaves.
    #[allow(clippy::wrong_self_convention)] // a GraphQL field named fromBranch, not a conversion
    async fn from_branch(&self, ctx: &Context<'_>) -> Result<Option<OrgUnit>> {
        load_unit(ctx, self.0.from_branch_id).await
    }

    async fn applicant(&self, ctx: &Context<'_>) -> Result<Applicant> {
        Ok(Applicant(load_person(ctx, self.0.person_id).await?))
    }

    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }

    async fn decided_by(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        let Some(id) = self.0.decided_by else { return Ok(None) };
        Ok(Some(PersonRef(load_person(ctx, id).await?)))
    }

    /// The officer's reason (always given for a rejection).
    async fn decision_reason(&self) -> Option<&str> {
        self.0.decision_reason.as_deref()
    }
}

/// Extra fields of the request queue.
pub struct RequestListFields(RequestQuery);

#[Object]
impl RequestListFields {
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(svc::count_requests(&ctx.state()?.db, &self.0).await?)
    }
}

#[derive(InputObject, Default)]
pub struct MembershipRequestFilter {
    /// Only requests for branches below this unit.
    pub unit_id: Option<ID>,
    pub status: Option<GqlRequestStatus>,
    pub submitted_from: Option<DateTime<Utc>>,
    pub submitted_before: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct RequestMembershipInput {
    pub branch_id: ID,
    /// A short message to the branch (at most 500 characters).
    pub note: Option<String>,
}

#[derive(InputObject)]
pub struct RequestTransferInput {
    pub to_branch_id: ID,
    pub note: Option<String>,
}

fn request_id(id: &ID) -> Result<Uuid, ApiError> {
    GlobalId::decode_as(id, NodeKind::MembershipRequest, "id")
}

#[derive(Default)]
pub struct RequestsQuery;

#[Object]
impl RequestsQuery {
    /// Requests in the caller's reach (member managers), oldest first (or `order: NEWEST_FIRST`).
    async fn membership_requests(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] filter: MembershipRequestFilter,
        order: Option<GqlQueueOrder>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, MembershipRequest, RequestListFields>> {
        ctx.auth()?.require()?;
        let state = ctx.state()?;
        let page = page::<Uuid>(first, after.as_deref())?;
        let filter = RequestFilter {
            unit_id: unit_arg(filter.unit_id, "filter.unitId")?,
            status: filter.status.map(Into::into),
            submitted_from: filter.submitted_from,
            submitted_to: filter.submitted_before,
            order: order.unwrap_or_default().into(),
        };
        let q = svc::request_query(ctx.call()?, filter).await?;
        let (rows, has_next) = svc::list_requests(&state.db, &q, page.first, page.after).await?;
        Ok(build(rows, has_next, page.after.is_some(), RequestListFields(q), |r| r.id, MembershipRequest))
    }

    /// The caller's own requests, newest first.
    async fn my_membership_requests(&self, ctx: &Context<'_>) -> Result<Vec<MembershipRequest>> {
        let viewer = ctx.auth()?.require()?;
        Ok(svc::my_requests(&ctx.state()?.db, viewer.person_id)
            .await?
            .into_iter()
            .map(MembershipRequest)
            .collect())
    }
}

#[derive(Default)]
pub struct RequestsMutation;

#[Object]
impl RequestsMutation {
    /// Asks to join a branch. `CONFLICT` if already a member or a request is pending.
    async fn request_membership(
        &self,
        ctx: &Context<'_>,
        input: RequestMembershipInput,
    ) -> Result<MembershipRequest> {
        ctx.auth()?.require()?;
        let branch = GlobalId::decode_id::<UnitId>(&input.branch_id, "branchId")?;
        Ok(MembershipRequest(svc::request_membership(ctx.call()?, branch, input.note.as_deref()).await?))
    }

    /// Asks to move one's membership to another branch; the receiving branch decides.
    async fn request_transfer(
        &self,
        ctx: &Context<'_>,
        input: RequestTransferInput,
    ) -> Result<MembershipRequest> {
        ctx.auth()?.require()?;
        let to = GlobalId::decode_id::<UnitId>(&input.to_branch_id, "toBranchId")?;
        Ok(MembershipRequest(svc::request_transfer(ctx.call()?, to, input.note.as_deref()).await?))
    }

    /// Withdraws one's own pending request.
    async fn cancel_membership_request(&self, ctx: &Context<'_>, id: ID) -> Result<MembershipRequest> {
        ctx.auth()?.require()?;
        Ok(MembershipRequest(svc::cancel_request(ctx.call()?, request_id(&id)?).await?))
    }

    /// Approves a pending request (a member manager over the branch). `CONFLICT` if it was
    /// decided meanwhile.
    async fn approve_membership_request(&self, ctx: &Context<'_>, id: ID) -> Result<MembershipRequest> {
        ctx.auth()?.require()?;
        Ok(MembershipRequest(svc::decide_request(ctx.call()?, request_id(&id)?, true, None).await?))
    }

    /// Rejects a pending request with a reason the applicant will see.
    async fn reject_membership_request(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> Result<MembershipRequest> {
        ctx.auth()?.require()?;
        Ok(MembershipRequest(svc::decide_request(ctx.call()?, request_id(&id)?, false, Some(&reason)).await?))
    }

    /// Approves many pending requests at once (1 to 100), each on its own as
    /// `approveMembershipRequest` would: one outcome per id, in order.
    async fn approve_membership_requests(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> Result<Vec<Outcome<MembershipRequest>>> {
        let call = ctx.call()?;
        let decide = |ids: Vec<Uuid>| async move { svc::decide_requests(call, &ids, true, None).await };
        Ok(bulk::run(ctx, ids, NodeKind::MembershipRequest, "ids", decide, MembershipRequest).await?)
    }

    /// Rejects many pending requests at once (1 to 100) with one reason the applicants will
    /// see, each on its own as `rejectMembershipRequest` would.
    async fn reject_membership_requests(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
        reason: String,
    ) -> Result<Vec<Outcome<MembershipRequest>>> {
        let call = ctx.call()?;
        let reason = reason.as_str();
        let decide =
            |ids: Vec<Uuid>| async move { svc::decide_requests(call, &ids, false, Some(reason)).await };
        Ok(bulk::run(ctx, ids, NodeKind::MembershipRequest, "ids", decide, MembershipRequest).await?)
    }
}
