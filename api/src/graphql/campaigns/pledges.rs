//! GraphQL surface of pledges: submitting and resubmitting them, the review (certify or
//! return), the member's list and the reviewers' queue. The rules are in
//! `service::campaigns::pledges`.

use crate::graphql::{
    bulk::{self, Outcome},
    errors::in_argument,
};
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, connection::Connection};
use chrono::{DateTime, Utc};
use entities::ids::{PersonId, UnitId};
use entities::pledge;
use uuid::Uuid;

use super::campaign::{Campaign, campaign_id};
use crate::graphql::{
    ContextExt,
    connection::{build, page},
    org::OrgUnit,
};
use service::{
    campaigns::pledges::{
        self as svc, Checks, Decision, MyPledgeCursor, PledgeDetails, PledgeInput, QueueCursor, ReviewFilter,
        ReviewQuery,
    },
    domain::{GlobalId, NodeKind},
    error::ApiError,
};

/// Whom a pledge is for.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "PledgeKind", remote = "service::campaigns::pledges::PledgeKind")]
pub enum GqlPledgeKind {
    /// The member herself.
    Personal,
    /// Her household (`householdLabel`, `householdSize`).
    Household,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "PledgeStatus", remote = "service::campaigns::pledges::PledgeStatus")]
pub enum GqlPledgeStatus {
    /// Waiting for a review.
    Submitted,
    /// Every criterion found met.
    Certified,
    /// Sent back to the member with a comment; she may edit and resubmit it.
    Returned,
}

fn pledge_id(id: &ID, field: &'static str) -> Result<Uuid, ApiError> {
    GlobalId::decode_as(id, NodeKind::Pledge, field)
}

/// A member's pledge to a campaign for a year. Visible to her and to the member managers over
/// her branch (its reviewers).
pub struct Pledge(pub pledge::Model);

#[Object]
impl Pledge {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Pledge, self.0.id).encode().into()
    }

    async fn campaign(&self, ctx: &Context<'_>) -> Result<Campaign> {
        Ok(Campaign(ctx.loaders()?.campaigns.load_one(self.0.campaign_id).await?.ok_or(ApiError::NotFound)?))
    }

    async fn kind(&self) -> GqlPledgeKind {
        self.0.kind.into()
    }

    async fn year(&self) -> i32 {
        self.0.year
    }

    async fn household_label(&self) -> Option<&str> {
        self.0.household_label.as_deref()
    }

    /// People in the household.
    async fn household_size(&self) -> Option<i32> {
        self.0.household_size
    }

    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }

    async fn status(&self) -> GqlPledgeStatus {
        self.0.status.into()
    }

    /// Ids of the criteria the latest review found met (`CampaignCriterion.id`), in order.
    async fn checks(&self) -> Vec<ID> {
        svc::checks_of(&self.0).into_iter().map(ID::from).collect()
    }

    /// The latest review's comment (a resubmitted pledge keeps it until it is reviewed again).
    async fn review_comment(&self) -> Option<&str> {
        self.0.review_comment.as_deref()
    }

    async fn reviewed_at(&self) -> Option<DateTime<Utc>> {
        self.0.reviewed_at
    }

    /// When it was (last) submitted: the review queue's order.
    async fn submitted_at(&self) -> DateTime<Utc> {
        self.0.submitted_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The member's full name.
    async fn full_name(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(ctx.loaders()?.people.load_one(self.0.person_id).await?.ok_or(ApiError::NotFound)?.full_name)
    }

    /// Her branch when she pledged: who reviews it, and where a certification counts.
    async fn branch(&self, ctx: &Context<'_>) -> Result<OrgUnit> {
        Ok(OrgUnit(crate::graphql::unit(ctx, self.0.branch_id).await?.ok_or(ApiError::NotFound)?))
    }
}

/// A new pledge.
#[derive(InputObject)]
#[graphql(name = "PledgeInput")]
pub struct PledgeInputGql {
    pub kind: GqlPledgeKind,
    /// A year of the campaign's term.
    pub year: i32,
    /// For a household pledge (required then, 1–200 characters; not allowed for a personal one):
    /// e.g. "Hộ bà Nguyễn Thị Lan, tổ 5". One pledge per household, branch, campaign and year.
    pub household_label: Option<String>,
    /// For a household pledge (required then): 1–50 people.
    pub household_size: Option<i32>,
    /// At most 1,000 characters.
    pub note: Option<String>,
}

/// The changes to a returned pledge (its kind and year stay).
#[derive(InputObject)]
pub struct PledgeEditInput {
    pub household_label: Option<String>,
    pub household_size: Option<i32>,
    pub note: Option<String>,
}

impl From<PledgeEditInput> for PledgeDetails {
    fn from(i: PledgeEditInput) -> Self {
        PledgeDetails { household_label: i.household_label, household_size: i.household_size, note: i.note }
    }
}

#[derive(InputObject)]
pub struct PledgeReviewFilterInput {
    /// Only pledges of branches below this unit (which must be in reach).
    pub unit_id: Option<ID>,
    pub campaign_id: Option<ID>,
    /// `SUBMITTED` unless given; `null` for every status.
    #[graphql(default_with = "Some(GqlPledgeStatus::Submitted)")]
    pub status: Option<GqlPledgeStatus>,
}

impl Default for PledgeReviewFilterInput {
    fn default() -> Self {
        Self { unit_id: None, campaign_id: None, status: Some(GqlPledgeStatus::Submitted) }
    }
}

/// Extra fields of a pledge list (the member's own, or the review queue).
pub enum PledgeListFields {
    Mine(PersonId),
    Queue(ReviewQuery),
}

#[Object]
impl PledgeListFields {
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        let db = &ctx.state()?.db;
        Ok(match self {
            PledgeListFields::Mine(person) => svc::count_my_pledges(db, *person).await?,
            PledgeListFields::Queue(q) => svc::count_review_queue(db, q).await?,
        })
    }
}

#[derive(Default)]
pub struct PledgeQueryRoot;

#[Object]
impl PledgeQueryRoot {
    /// The caller's pledges to every campaign, newest first.
    async fn my_pledges(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Pledge, PledgeListFields>> {
        let viewer = ctx.auth()?.require()?;
        let page = page::<MyPledgeCursor>(first, after.as_deref())?;
        let (rows, has_next) = svc::my_pledges(ctx.call()?, page.first, page.after.as_ref()).await?;
        Ok(build(
            rows,
            has_next,
            page.after.is_some(),
            PledgeListFields::Mine(viewer.person_id),
            |p| MyPledgeCursor { created_at: p.created_at, id: p.id },
            Pledge,
        ))
    }

    /// Pledges for the caller to review (a member manager: `BRANCH_LEADER`, `UNIT_OFFICER`,
    /// `UNIT_ADMIN`), of the branches in her reach, oldest submission first (or `order:
    /// NEWEST_FIRST`); her own are not listed.
    async fn pledge_review_queue(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] filter: PledgeReviewFilterInput,
        order: Option<crate::graphql::connection::GqlQueueOrder>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Pledge, PledgeListFields>> {
        ctx.auth()?.require()?;
        let state = ctx.state()?;
        let page = page::<QueueCursor>(first, after.as_deref())?;
        let filter = ReviewFilter {
            unit_id: filter
                .unit_id
                .map(|u| GlobalId::decode_id::<UnitId>(&u, "filter.unitId"))
                .transpose()?,
            campaign_id: filter.campaign_id.map(|c| campaign_id(&c, "filter.campaignId")).transpose()?,
            status: filter.status.map(Into::into),
            order: order.unwrap_or_default().into(),
        };
        let q = svc::review_query(ctx.call()?, filter).await?;
        let (rows, has_next) = svc::review_queue(&state.db, &q, page.first, page.after.as_ref()).await?;
        Ok(build(
            rows,
            has_next,
            page.after.is_some(),
            PledgeListFields::Queue(q),
            |p| QueueCursor { submitted_at: p.submitted_at, id: p.id },
            Pledge,
        ))
    }
}

#[derive(Default)]
pub struct PledgeMutation;

#[Object]
impl PledgeMutation {
    /// Pledges to an active campaign for a year of its term, for herself or her household (an
    /// active member whose branch is in the campaign's subtree). `CONFLICT`: `NOT_A_MEMBER`,
    /// `WRONG_STATUS` (the campaign is not active), `ALREADY_PLEDGED`.
    async fn submit_pledge(
        &self,
        ctx: &Context<'_>,
        campaign_id: ID,
        input: PledgeInputGql,
    ) -> Result<Pledge> {
        ctx.auth()?.require()?;
        let id = super::campaign::campaign_id(&campaign_id, "campaignId")?;
        let input = PledgeInput {
            kind: input.kind.into(),
            year: input.year,
            details: PledgeDetails {
                household_label: input.household_label,
                household_size: input.household_size,
                note: input.note,
            },
        };
        Ok(Pledge(svc::submit_pledge(ctx.call()?, id, input).await.map_err(in_argument("input"))?))
    }

    /// The owner edits a returned pledge and submits it again (`CONFLICT` `WRONG_STATUS` unless
    /// it is returned and its campaign active).
    async fn resubmit_pledge(&self, ctx: &Context<'_>, id: ID, input: PledgeEditInput) -> Result<Pledge> {
        ctx.auth()?.require()?;
        Ok(Pledge(
            svc::resubmit_pledge(ctx.call()?, pledge_id(&id, "id")?, input.into())
                .await
                .map_err(in_argument("input"))?,
        ))
    }

    /// Certifies a submitted pledge: `checks` must list every criterion of the campaign
    /// (`BAD_USER_INPUT` `checks`: `CRITERIA_NOT_MET`, or `INVALID_ID` for an id that is not one
    /// of its criteria). `CONFLICT` `ALREADY_DECIDED` once reviewed. The member is notified.
    async fn certify_pledge(
        &self,
        ctx: &Context<'_>,
        id: ID,
        checks: Vec<ID>,
        comment: Option<String>,
    ) -> Result<Pledge> {
        ctx.auth()?.require()?;
        let id = pledge_id(&id, "id")?;
        let checks: Vec<String> = checks.into_iter().map(|c| c.0).collect();
        Ok(Pledge(
            svc::review_pledge(
                ctx.call()?,
                id,
                Decision::Certify,
                Checks::Listed(&checks),
                comment.as_deref(),
            )
            .await?,
        ))
    }

    /// Returns a submitted pledge to the member with a comment (1–1,000 characters) and the
    /// criteria found met so far. `CONFLICT` `ALREADY_DECIDED` once reviewed.
    async fn return_pledge(
        &self,
        ctx: &Context<'_>,
        id: ID,
        checks: Vec<ID>,
        comment: String,
    ) -> Result<Pledge> {
        ctx.auth()?.require()?;
        let id = pledge_id(&id, "id")?;
        let checks: Vec<String> = checks.into_iter().map(|c| c.0).collect();
        Ok(Pledge(
            svc::review_pledge(ctx.call()?, id, Decision::Return, Checks::Listed(&checks), Some(&comment))
                .await?,
        ))
    }

    /// Certifies many submitted pledges at once (1 to 100), every criterion of each pledge's
    /// campaign checked, each on its own as `certifyPledge` would: one outcome per id, in order.
    async fn certify_pledges(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
        comment: Option<String>,
    ) -> Result<Vec<Outcome<Pledge>>> {
        let call = ctx.call()?;
        let comment = comment.as_deref();
        let review =
            |ids: Vec<Uuid>| async move { svc::review_pledges(call, &ids, Decision::Certify, comment).await };
        Ok(bulk::run(ctx, ids, NodeKind::Pledge, "ids", review, Pledge).await?)
    }

    /// Returns many submitted pledges at once (1 to 100) with one comment, no criterion
    /// checked, each on its own as `returnPledge` would.
    async fn return_pledges(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
        comment: String,
    ) -> Result<Vec<Outcome<Pledge>>> {
        let call = ctx.call()?;
        let comment = comment.as_str();
        let review = |ids: Vec<Uuid>| async move {
            svc::review_pledges(call, &ids, Decision::Return, Some(comment)).await
        };
        Ok(bulk::run(ctx, ids, NodeKind::Pledge, "ids", review, Pledge).await?)
    }
}
