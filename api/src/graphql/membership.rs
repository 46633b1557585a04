//! GraphQL surface of membership: requests and their decision, the member's own membership and
//! history, officer actions, and the member directory.

use crate::graphql::errors::in_argument;
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, Upload, connection::Connection};
use chrono::{DateTime, Utc};
use entities::{membership, membership_event, membership_invitation, membership_request, person};
use uuid::Uuid;

use super::{
    ContextExt,
    connection::{build, page},
    identity::PersonRef,
    org::OrgUnit,
    scalars::Date,
    stored,
};
use service::{
    domain::{GlobalId, NodeKind},
    error::{ApiError, InputProblem},
    membership::{
        self as svc, Enrolment, EnrolmentOutcome, EnrolmentResult, EventKind, InvitationStatus, MemberCursor,
        MemberFilter, MemberQuery, MemberStatus, RequestFilter, RequestKind, RequestQuery, RequestStatus,
    },
};

/// Status of a membership.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "MembershipStatus", remote = "service::membership::MemberStatus")]
pub enum GqlMemberStatus {
    Active,
    Suspended,
    Left,
}

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

/// What happened to a membership.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "MembershipEventKind", remote = "service::membership::EventKind")]
pub enum GqlEventKind {
    Joined,
    Enrolled,
    Imported,
    Transferred,
    Suspended,
    Reinstated,
    Left,
}

async fn load_unit(ctx: &Context<'_>, id: Option<Uuid>) -> Result<Option<OrgUnit>> {
    let Some(id) = id else { return Ok(None) };
    Ok(crate::graphql::unit(ctx, id).await?.map(OrgUnit))
}

async fn load_person(ctx: &Context<'_>, id: Uuid) -> Result<person::Model> {
    Ok(ctx.loaders()?.people.load_one(id).await?.ok_or(ApiError::NotFound)?)
}

/// A membership of the union. Visible to the member herself and to member managers (branch
/// leaders, unit officers and admins) over its branch.
pub struct Membership(pub membership::Model);

#[Object]
impl Membership {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Membership, self.0.id).encode().into()
    }

    /// Citywide unique, e.g. `HN0000123`.
    async fn member_number(&self) -> &str {
        &self.0.member_number
    }

    async fn status(&self) -> Result<GqlMemberStatus> {
        Ok(stored(MemberStatus::parse(&self.0.status), "membership status")?.into())
    }

    async fn joined_at(&self) -> DateTime<Utc> {
        self.0.joined_at
    }

    async fn left_at(&self) -> Option<DateTime<Utc>> {
        self.0.left_at
    }

    async fn branch(&self, ctx: &Context<'_>) -> Result<OrgUnit> {
        // Her own active branch is in her scope, with its ancestors: the home screen's lists
        // read it anyway, so it costs no statement of its own (nor does its parent).
        if let Some(viewer) = ctx.auth()?.optional()?
            && viewer.person_id == self.0.person_id
            && self.0.status == MemberStatus::Active.as_str()
        {
            crate::graphql::viewer_scope(ctx, viewer).await?;
        }
        Ok(load_unit(ctx, Some(self.0.branch_id)).await?.ok_or(ApiError::NotFound)?)
    }

    async fn full_name(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(load_person(ctx, self.0.person_id).await?.full_name)
    }

    /// The member's phone: for herself and member managers only, who alone can see a membership.
    async fn phone(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(load_person(ctx, self.0.person_id).await?.phone)
    }

    async fn birth_date(&self, ctx: &Context<'_>) -> Result<Option<Date>> {
        Ok(load_person(ctx, self.0.person_id).await?.birth_date.map(Date))
    }

    /// Every change, oldest first.
    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<MembershipEvent>> {
        let events = ctx.loaders()?.membership_events.load_one(self.0.id).await?.unwrap_or_default();
        Ok(events.into_iter().map(MembershipEvent).collect())
    }
}

/// One change of a membership: who, when, from → to.
pub struct MembershipEvent(pub membership_event::Model);

#[Object]
impl MembershipEvent {
    async fn kind(&self) -> Result<GqlEventKind> {
        Ok(stored(EventKind::parse(&self.0.kind), "membership event")?.into())
    }

    async fn at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    #[allow(clippy::wrong_self_convention)] // a GraphQL field named fromBranch, not a conversion
    async fn from_branch(&self, ctx: &Context<'_>) -> Result<Option<OrgUnit>> {
        load_unit(ctx, self.0.from_branch_id).await
    }

    async fn to_branch(&self, ctx: &Context<'_>) -> Result<Option<OrgUnit>> {
        load_unit(ctx, self.0.to_branch_id).await
    }

    #[allow(clippy::wrong_self_convention)] // a GraphQL field, not a conversion
    async fn from_status(&self) -> Option<GqlMemberStatus> {
        self.0.from_status.as_deref().and_then(MemberStatus::parse).map(Into::into)
    }

    async fn to_status(&self) -> Option<GqlMemberStatus> {
        self.0.to_status.as_deref().and_then(MemberStatus::parse).map(Into::into)
    }

    /// The officer who acted; null when the member acted herself.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        let Some(id) = self.0.actor_id else { return Ok(None) };
        Ok(Some(PersonRef(load_person(ctx, id).await?)))
    }

    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
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

    async fn kind(&self) -> Result<GqlRequestKind> {
        Ok(stored(RequestKind::parse(&self.0.kind), "request kind")?.into())
    }

    async fn status(&self) -> Result<GqlRequestStatus> {
        Ok(stored(RequestStatus::parse(&self.0.status), "request status")?.into())
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

/// Status of a membership invitation.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "MembershipInvitationStatus", remote = "service::membership::InvitationStatus")]
pub enum GqlInvitationStatus {
    /// Waiting for her answer.
    Pending,
    Accepted,
    Declined,
    /// She became a member otherwise (another invitation accepted, a request approved).
    Cancelled,
    /// Not answered within 30 days.
    Expired,
}

/// An invitation to join a branch, sent when an officer enrolled the caller's phone number.
/// Only she sees it.
pub struct MembershipInvitation(pub membership_invitation::Model);

#[Object]
impl MembershipInvitation {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::MembershipInvitation, self.0.id).encode().into()
    }

    async fn status(&self) -> GqlInvitationStatus {
        InvitationStatus::of(&self.0, Utc::now()).into()
    }

    /// The branch she is invited to.
    async fn branch(&self, ctx: &Context<'_>) -> Result<OrgUnit> {
        Ok(load_unit(ctx, Some(self.0.branch_id)).await?.ok_or(ApiError::NotFound)?)
    }

    /// The officer who sent it.
    async fn invited_by(&self, ctx: &Context<'_>) -> Result<PersonRef> {
        Ok(PersonRef(load_person(ctx, self.0.invited_by).await?))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Past this, it can no longer be accepted.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }

    async fn responded_at(&self) -> Option<DateTime<Utc>> {
        self.0.responded_at
    }
}

/// What `enrolMember` did.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum EnrolmentStatus {
    /// The number was new: she is an active member now (`membership`), and claims her record
    /// when she registers with this number.
    Enrolled,
    /// The number belongs to someone the service knows: she was invited, and becomes a member
    /// when she accepts. Nothing about her is told.
    Invited,
}

/// The answer to `enrolMember`: what the officer typed (normalised), and the outcome.
pub struct EnrolMemberPayload(EnrolmentResult);

#[Object]
impl EnrolMemberPayload {
    async fn status(&self) -> EnrolmentStatus {
        match self.0.outcome {
            EnrolmentOutcome::Enrolled(_) => EnrolmentStatus::Enrolled,
            EnrolmentOutcome::Invited => EnrolmentStatus::Invited,
        }
    }

    /// The name as typed.
    async fn full_name(&self) -> &str {
        self.0.full_name.as_str()
    }

    /// The number as typed, in E.164.
    async fn phone(&self) -> &str {
        self.0.phone.as_str()
    }

    /// The birth date as typed.
    async fn birth_date(&self) -> Option<Date> {
        self.0.birth_date.map(Date)
    }

    /// The new membership, when `ENROLLED`.
    async fn membership(&self) -> Option<Membership> {
        match &self.0.outcome {
            EnrolmentOutcome::Enrolled(m) => Some(Membership(m.clone())),
            EnrolmentOutcome::Invited => None,
        }
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

/// Extra fields of the member directory.
pub struct MemberListFields(MemberQuery);

#[Object]
impl MemberListFields {
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(svc::count_members(&ctx.state()?.db, &self.0).await?)
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

fn unit_arg(id: Option<ID>, field: &'static str) -> Result<Option<Uuid>, ApiError> {
    id.map(|u| GlobalId::decode_as(&u, NodeKind::OrgUnit, field)).transpose()
}

#[derive(Default)]
pub struct MembershipQuery;

#[Object]
impl MembershipQuery {
    /// Requests in the caller's reach (member managers), oldest first.
    #[graphql(complexity = "super::connection::page_complexity(first, child_complexity)")]
    async fn membership_requests(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] filter: MembershipRequestFilter,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, MembershipRequest, RequestListFields>> {
        let viewer = ctx.auth()?.require()?;
        let state = ctx.state()?;
        let page = page::<Uuid>(first, after.as_deref())?;
        let filter = RequestFilter {
            unit_id: unit_arg(filter.unit_id, "filter.unitId")?,
            status: filter.status.map(Into::into),
            submitted_from: filter.submitted_from,
            submitted_to: filter.submitted_before,
        };
        let q = svc::request_query(state, viewer, filter).await?;
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

    /// The caller's membership invitations, newest first (at most 50).
    async fn my_membership_invitations(&self, ctx: &Context<'_>) -> Result<Vec<MembershipInvitation>> {
        let viewer = ctx.auth()?.require()?;
        Ok(svc::my_invitations(&ctx.state()?.db, viewer.person_id)
            .await?
            .into_iter()
            .map(MembershipInvitation)
            .collect())
    }

    /// Members in the caller's reach (member managers), by name.
    #[graphql(complexity = "super::connection::page_complexity(first, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] filter: MemberFilterInput,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Membership, MemberListFields>> {
        let viewer = ctx.auth()?.require()?;
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
        let q = svc::member_query(state, viewer, filter).await.map_err(in_argument("filter"))?;
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

#[derive(InputObject)]
pub struct EnrolMemberInput {
    pub full_name: String,
    pub phone: String,
    pub birth_date: Option<Date>,
    pub branch_id: ID,
}

fn request_id(id: &ID) -> Result<Uuid, ApiError> {
    GlobalId::decode_as(id, NodeKind::MembershipRequest, "id")
}

fn membership_id(id: &ID) -> Result<Uuid, ApiError> {
    GlobalId::decode_as(id, NodeKind::Membership, "id")
}

#[derive(Default)]
pub struct MembershipMutation;

#[Object]
impl MembershipMutation {
    /// Asks to join a branch. `CONFLICT` if already a member or a request is pending.
    async fn request_membership(
        &self,
        ctx: &Context<'_>,
        input: RequestMembershipInput,
    ) -> Result<MembershipRequest> {
        let viewer = ctx.auth()?.require()?;
        let branch = GlobalId::decode_as(&input.branch_id, NodeKind::OrgUnit, "branchId")?;
        Ok(MembershipRequest(
            svc::request_membership(ctx.state()?, viewer, branch, input.note.as_deref()).await?,
        ))
    }

    /// Asks to move one's membership to another branch; the receiving branch decides.
    async fn request_transfer(
        &self,
        ctx: &Context<'_>,
        input: RequestTransferInput,
    ) -> Result<MembershipRequest> {
        let viewer = ctx.auth()?.require()?;
        let to = GlobalId::decode_as(&input.to_branch_id, NodeKind::OrgUnit, "toBranchId")?;
        Ok(MembershipRequest(svc::request_transfer(ctx.state()?, viewer, to, input.note.as_deref()).await?))
    }

    /// Withdraws one's own pending request.
    async fn cancel_membership_request(&self, ctx: &Context<'_>, id: ID) -> Result<MembershipRequest> {
        let viewer = ctx.auth()?.require()?;
        Ok(MembershipRequest(svc::cancel_request(ctx.state()?, viewer, request_id(&id)?).await?))
    }

    /// Approves a pending request (a member manager over the branch). `CONFLICT` if it was
    /// decided meanwhile.
    async fn approve_membership_request(&self, ctx: &Context<'_>, id: ID) -> Result<MembershipRequest> {
        let viewer = ctx.auth()?.require()?;
        Ok(MembershipRequest(svc::decide_request(ctx.state()?, viewer, request_id(&id)?, true, None).await?))
    }

    /// Rejects a pending request with a reason the applicant will see.
    async fn reject_membership_request(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> Result<MembershipRequest> {
        let viewer = ctx.auth()?.require()?;
        Ok(MembershipRequest(
            svc::decide_request(ctx.state()?, viewer, request_id(&id)?, false, Some(&reason)).await?,
        ))
    }

    /// Leaves the union.
    async fn leave_union(&self, ctx: &Context<'_>, reason: String) -> Result<Membership> {
        let viewer = ctx.auth()?.require()?;
        Ok(Membership(svc::leave_union(ctx.state()?, viewer, &reason).await?))
    }

    /// Suspends an active membership (a member manager over its branch).
    async fn suspend_membership(&self, ctx: &Context<'_>, id: ID, reason: String) -> Result<Membership> {
        let viewer = ctx.auth()?.require()?;
        Ok(Membership(svc::set_suspended(ctx.state()?, viewer, membership_id(&id)?, true, &reason).await?))
    }

    /// Reinstates a suspended membership.
    async fn reinstate_membership(&self, ctx: &Context<'_>, id: ID, reason: String) -> Result<Membership> {
        let viewer = ctx.auth()?.require()?;
        Ok(Membership(svc::set_suspended(ctx.state()?, viewer, membership_id(&id)?, false, &reason).await?))
    }

    /// Enrols a person directly (a member manager over the branch). A number new to the service
    /// becomes an active member at once, who claims the record when she registers with it; a
    /// number the service knows gets an invitation she accepts or declines. The answer repeats
    /// what was typed, never what is stored. `CONFLICT` `ALREADY_MEMBER` only for a member of a
    /// branch in the caller's reach; `RATE_LIMITED` past the hourly enrolments per officer.
    async fn enrol_member(&self, ctx: &Context<'_>, input: EnrolMemberInput) -> Result<EnrolMemberPayload> {
        let viewer = ctx.auth()?.require()?;
        let enrolment = Enrolment {
            full_name: input.full_name,
            phone: input.phone,
            birth_date: input.birth_date.map(|d| d.0),
            branch_id: GlobalId::decode_as(&input.branch_id, NodeKind::OrgUnit, "branchId")?,
        };
        Ok(EnrolMemberPayload(svc::enrol_member(ctx.state()?, viewer, enrolment).await?))
    }

    /// Accepts or declines one of the caller's open invitations. Accepting makes her an active
    /// member of the branch, or moves her active membership there. `CONFLICT` `WRONG_STATUS`
    /// when it is no longer open, `ALREADY_MEMBER` when she is a member of that branch.
    async fn respond_to_membership_invitation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        accept: bool,
    ) -> Result<MembershipInvitation> {
        let viewer = ctx.auth()?.require()?;
        let id = GlobalId::decode_as(&id, NodeKind::MembershipInvitation, "id")?;
        Ok(MembershipInvitation(svc::respond_to_invitation(ctx.state()?, viewer, id, accept).await?))
    }

    /// Imports members from a CSV file (the usual spreadsheet export) for branches in the
    /// caller's reach (a member manager). Give exactly one of `file` (a multipart upload) or
    /// `csv` (the text, for small files pasted in GraphiQL). Valid rows are applied in one
    /// transaction; the report gives each rejected row's line and reason. `dryRun` only reports.
    async fn import_members(
        &self,
        ctx: &Context<'_>,
        file: Option<Upload>,
        #[graphql(secret)] csv: Option<String>,
        #[graphql(default_with = "Some(false)")] dry_run: Option<bool>,
    ) -> Result<MemberImportReport> {
        let viewer = ctx.auth()?.require()?;
        let state = ctx.state()?;
        let dry_run = dry_run.unwrap_or(false);
        let report = match (file, csv) {
            (Some(file), None) => {
                let upload =
                    file.value(ctx).map_err(|_| ApiError::bad_input("file", InputProblem::Required))?;
                svc::import_members(state, viewer, &upload.content, dry_run).await?
            }
            (None, Some(csv)) => {
                svc::import_members(state, viewer, csv.as_bytes(), dry_run).await.map_err(|e| match e {
                    // The file-level error names the argument the text came in.
                    ApiError::BadInput { field: svc::IMPORT_FIELD, problem } => {
                        ApiError::bad_input("csv", problem)
                    }
                    other => other,
                })?
            }
            (Some(_), Some(_)) => return Err(ApiError::bad_input("csv", InputProblem::ExactlyOne).into()),
            (None, None) => return Err(ApiError::bad_input("file", InputProblem::ExactlyOne).into()),
        };
        Ok(MemberImportReport(report))
    }
}

/// Why an imported row was rejected.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "MemberImportRejectionReason", remote = "service::membership::RejectReason")]
pub enum GqlRejectReason {
    /// The full name is missing or not 2–120 letters.
    InvalidName,
    /// Not a Vietnamese mobile number.
    InvalidPhone,
    /// Not `dd/mm/yyyy`, `d/m/yyyy` or `yyyy-mm-dd`, in the future, or over 120 years ago.
    InvalidBirthDate,
    /// No branch with this code in your reach.
    UnknownBranch,
    /// The same phone number is on an earlier line, which is the one considered.
    DuplicateInFile,
    /// A current member of another branch in your reach (a transfer moves her). A member of a
    /// branch outside your reach is invited like any known number.
    MemberElsewhere,
}

/// The outcome of a member import.
pub struct MemberImportReport(svc::ImportReport);

#[Object]
impl MemberImportReport {
    /// Data rows in the file (blank rows are not counted).
    async fn total_rows(&self) -> u64 {
        self.0.total_rows
    }

    /// Rows that became new memberships. In a dry run: rows that would be imported or invited
    /// (a dry run does not tell new numbers from known ones).
    async fn imported(&self) -> u64 {
        self.0.imported
    }

    /// Rows whose number the service already knew: an invitation was sent, and she becomes a
    /// member when she accepts. Always 0 in a dry run.
    async fn invited(&self) -> u64 {
        self.0.invited_lines.len() as u64
    }

    /// The lines (the header is line 1) of the `invited` rows, in order.
    async fn invited_lines(&self) -> &[u64] {
        &self.0.invited_lines
    }

    /// Rows whose person is already a member of that branch: nothing to do.
    async fn unchanged(&self) -> u64 {
        self.0.unchanged
    }

    /// Rejected rows, in line order.
    async fn rejected(&self) -> Vec<MemberImportRejection> {
        self.0.rejected.iter().cloned().map(MemberImportRejection).collect()
    }

    /// True when nothing was written.
    async fn dry_run(&self) -> bool {
        self.0.dry_run
    }
}

/// One rejected row of an import.
pub struct MemberImportRejection(svc::ImportRejection);

#[Object]
impl MemberImportRejection {
    /// The line in the file (the header is line 1).
    async fn line(&self) -> u64 {
        self.0.line
    }

    async fn reason(&self) -> GqlRejectReason {
        self.0.reason.into()
    }

    /// The offending value (at most 100 characters), when there is one.
    async fn value(&self) -> Option<&str> {
        self.0.value.as_deref()
    }
}
