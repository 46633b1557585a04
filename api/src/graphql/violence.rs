//! Domestic-violence concerns over GraphQL (see `service::violence` for the rules).
//!
//! The types here render views the service has already shaped for their reader (see
//! `service::violence::officer` and `service::violence::reporter`): what a report says is
//! opened, withheld and de-identified there, never in a resolver. Every argument carrying it is
//! marked `secret` (async-graphql keeps such values out of its logging and tracing of
//! requests), and no error names a value, only a field.
//!
//! Three views of a report: [`ViolenceReportSummary`] (the queue: nothing anyone wrote),
//! [`ViolenceReport`] (the details, for case officers; each read logged) and
//! [`MyViolenceReport`] (the reporter's: its public steps, officers named by role).

use crate::graphql::errors::in_argument;
use async_graphql::{
    Context, Enum, ID, InputObject, Object, Result, SimpleObject, Subscription, connection::Connection,
};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use uuid::Uuid;

use super::{
    ContextExt,
    connection::{build, page},
    identity::PersonRef,
    org::OrgUnit,
    scalars::Date,
};
use service::{
    domain::{GlobalId, NodeKind},
    error::{ApiError, InputProblem},
    violence::{
        self as svc,
        officer::{self, AccessEntry, OfficerStep, OfficerView, ReportSummary},
        queue::{self, LogCursor, QueueCursor, QueueFilter},
        reporter::{self, Proof, ReporterAction},
        submit::{ReportInput, SafeContactInput},
        workflow::Action,
    },
};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ViolenceAffected", remote = "service::violence::Affected")]
pub enum GqlAffected {
    /// The reporter herself.
    #[graphql(name = "SELF")]
    OneSelf,
    FamilyMember,
    Neighbour,
    Child,
    Other,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ViolenceAgeGroup", remote = "service::violence::AgeGroup")]
pub enum GqlAgeGroup {
    /// Under 16.
    Child,
    /// 16 to 30.
    Youth,
    /// 31 to 59.
    Adult,
    /// 60 and over.
    Elderly,
    Unknown,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ViolenceKind", remote = "service::violence::ViolenceKind")]
pub enum GqlViolenceKind {
    Physical,
    Psychological,
    Sexual,
    Economic,
    Neglect,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "SafeContactChannel", remote = "service::violence::ContactChannel")]
pub enum GqlContactChannel {
    Call,
    Sms,
    /// Only through the app (messages on the report).
    InApp,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ViolenceReportStatus", remote = "service::violence::ReportStatus")]
pub enum GqlReportStatus {
    Submitted,
    Acknowledged,
    InProgress,
    Referred,
    Resolved,
    Closed,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ViolenceCloseReason", remote = "service::violence::CloseReason")]
pub enum GqlCloseReason {
    Resolved,
    Unfounded,
    Duplicate,
    Withdrawn,
    Other,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ReferralAgency", remote = "service::violence::Agency")]
pub enum GqlAgency {
    Police,
    /// The commune (ward) People's Committee.
    CommuneCommittee,
    HealthFacility,
    LegalAid,
    Shelter,
    Other,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ViolenceReportStepKind", remote = "service::violence::EventKind")]
pub enum GqlEventKind {
    Submitted,
    Acknowledged,
    /// Internal.
    Assigned,
    /// Internal.
    Note,
    /// From an officer to the reporter.
    Message,
    Referral,
    StatusChanged,
    Reopened,
    /// Internal: moved up the tree unacknowledged.
    Escalated,
    /// From the reporter.
    InformationAdded,
    Withdrawn,
    /// Internal: the assigned officer's case role ended; the report is back in the queue.
    Unassigned,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ViolenceActorRole", remote = "service::violence::ActorRole")]
pub enum GqlActorRole {
    Reporter,
    CaseOfficer,
    System,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ViolenceAccessAction", remote = "service::violence::AccessAction")]
pub enum GqlAccessAction {
    Submit,
    Read,
    ReadLog,
    Acknowledge,
    Assign,
    Note,
    Message,
    Referral,
    ChangeStatus,
    Reopen,
    Escalate,
    ReporterRead,
    AddInformation,
    Withdraw,
}

fn report_id(id: &ID, field: &'static str) -> Result<Uuid, ApiError> {
    GlobalId::decode_as(id, NodeKind::ViolenceReport, field)
}

fn report_gid(id: Uuid) -> ID {
    GlobalId::new(NodeKind::ViolenceReport, id).encode().into()
}

// ---- submission ----

#[derive(InputObject)]
#[graphql(name = "SafeContactInput")]
pub struct SafeContactGql {
    #[graphql(secret)]
    pub phone: Option<String>,
    /// When it is safe to call, in her words (e.g. "weekdays 9–11").
    #[graphql(secret)]
    pub safe_times: Option<String>,
    pub channel: Option<GqlContactChannel>,
}

#[derive(InputObject)]
#[graphql(name = "ViolenceReportInput")]
pub struct ViolenceReportInputGql {
    /// Where it happens: a ward/commune (or one of its branches).
    pub unit_id: ID,
    pub affected: GqlAffected,
    pub age_group: GqlAgeGroup,
    /// At least one.
    pub kinds: Vec<GqlViolenceKind>,
    pub immediate_danger: bool,
    pub children_involved: bool,
    /// What is happening (up to 5,000 characters).
    #[graphql(secret)]
    pub description: String,
    /// Where exactly, if she wants to say (up to 300 characters).
    #[graphql(secret)]
    pub address: Option<String>,
    #[graphql(secret)]
    pub contact: Option<SafeContactGql>,
    /// She agrees to be contacted through `contact`.
    #[graphql(default)]
    pub may_contact: bool,
    /// She agrees that it is shared with the authorities (police, commune committee).
    #[graphql(default)]
    pub may_share_with_authorities: bool,
    /// Generated by the app once per report (16–200 printable characters) and sent again on
    /// every retry: a retried submission never makes a second report.
    #[graphql(secret)]
    pub idempotency_key: String,
}

/// What the reporter keeps: the reference code, and for an anonymous report the PIN.
#[derive(SimpleObject)]
pub struct ViolenceReportReceipt {
    /// Quote it to follow the report (e.g. `BL-7K3M9Q2X`).
    reference_code: String,
    /// The PIN of an anonymous report, shown only here (the same on a retry of the same
    /// submission); `null` for a signed-in reporter, who follows it from her account.
    pin: Option<String>,
    status: GqlReportStatus,
    submitted_at: DateTime<Utc>,
}

// ---- the queue ----

/// A report in the queue: what it is about, never what anyone wrote.
pub struct ViolenceReportSummary(pub ReportSummary);

#[Object]
impl ViolenceReportSummary {
    async fn id(&self) -> ID {
        report_gid(self.0.id)
    }

    async fn reference_code(&self) -> &str {
        &self.0.reference_code
    }

    /// Where it happens.
    async fn unit(&self, ctx: &Context<'_>) -> Result<OrgUnit> {
        Ok(OrgUnit(super::unit(ctx, self.0.unit_id).await?.ok_or(ApiError::NotFound)?))
    }

    /// The unit whose case officers hold it now (moved up by escalation).
    async fn routed_unit(&self, ctx: &Context<'_>) -> Result<OrgUnit> {
        Ok(OrgUnit(super::unit(ctx, self.0.routed_unit_id).await?.ok_or(ApiError::NotFound)?))
    }

    async fn status(&self) -> GqlReportStatus {
        self.0.status.into()
    }

    /// Someone is in immediate danger: it escalates after an hour unacknowledged.
    async fn urgent(&self) -> bool {
        self.0.urgent
    }

    async fn children_involved(&self) -> bool {
        self.0.children_involved
    }

    async fn affected(&self) -> GqlAffected {
        self.0.affected.into()
    }

    async fn age_group(&self) -> GqlAgeGroup {
        self.0.age_group.into()
    }

    async fn kinds(&self) -> Vec<GqlViolenceKind> {
        self.0.kinds.iter().copied().map(Into::into).collect()
    }

    async fn assigned_to_me(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(ctx.auth()?.optional()?.is_some_and(|v| self.0.assignee == Some(v.person_id)))
    }

    async fn escalation_level(&self) -> i32 {
        self.0.escalation_level
    }

    /// Still unacknowledged past its deadline.
    async fn overdue(&self) -> bool {
        self.0.overdue
    }

    async fn submitted_at(&self) -> DateTime<Utc> {
        self.0.submitted_at
    }

    async fn acknowledged_at(&self) -> Option<DateTime<Utc>> {
        self.0.acknowledged_at
    }
}

/// Extra fields of the queue.
pub struct QueueFields(queue::QueueQuery);

#[Object]
impl QueueFields {
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(queue::count_queue(&ctx.state()?.db, &self.0).await?)
    }
}

#[derive(InputObject, Default)]
pub struct DateTimeRangeInput {
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
}

/// Whole Hanoi days, both ends included.
#[derive(InputObject, Default)]
pub struct DateRangeInput {
    pub from: Option<crate::graphql::scalars::Date>,
    pub to: Option<crate::graphql::scalars::Date>,
}

#[derive(InputObject, Default)]
pub struct ViolenceReportFilterInput {
    pub status: Option<GqlReportStatus>,
    pub urgent: Option<bool>,
    /// Only reports placed in this unit's subtree (in the caller's reach).
    pub unit_id: Option<ID>,
    #[graphql(default)]
    pub assigned_to_me: bool,
    /// Only those unacknowledged past their deadline (`true`), or only the others (`false`).
    pub overdue: Option<bool>,
    pub submitted_between: Option<DateTimeRangeInput>,
}

// ---- the details ----

pub struct SafeContact(officer::SafeContact);

/// Safe contact details, as the reporter gave them.
#[Object]
impl SafeContact {
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }

    async fn safe_times(&self) -> Option<&str> {
        self.0.safe_times.as_deref()
    }

    async fn channel(&self) -> Option<GqlContactChannel> {
        self.0.channel.map(Into::into)
    }
}

/// A report's details, for the case officers whose reach covers it (and its assigned officer).
pub struct ViolenceReport(OfficerView);

#[Object]
impl ViolenceReport {
    async fn id(&self) -> ID {
        report_gid(self.0.summary.id)
    }

    /// What the queue shows of it.
    async fn summary(&self) -> ViolenceReportSummary {
        ViolenceReportSummary(self.0.summary.clone())
    }

    async fn reference_code(&self) -> &str {
        &self.0.summary.reference_code
    }

    async fn status(&self) -> GqlReportStatus {
        self.0.summary.status.into()
    }

    async fn close_reason(&self) -> Option<GqlCloseReason> {
        self.0.close_reason.map(Into::into)
    }

    async fn immediate_danger(&self) -> bool {
        self.0.immediate_danger
    }

    /// Submitted without an account.
    async fn anonymous(&self) -> bool {
        self.0.anonymous
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }

    async fn contact(&self) -> Option<SafeContact> {
        self.0.contact.clone().map(SafeContact)
    }

    async fn may_contact(&self) -> bool {
        self.0.may_contact
    }

    async fn may_share_with_authorities(&self) -> bool {
        self.0.may_share
    }

    /// The officer it is assigned to.
    async fn assignee(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        person(ctx, self.0.summary.assignee).await
    }

    /// Goes up by one with every change.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// Every step, oldest first, internal ones included.
    async fn timeline(&self) -> Vec<ViolenceReportStep> {
        self.0.timeline.iter().cloned().map(ViolenceReportStep).collect()
    }
}

async fn person(ctx: &Context<'_>, id: Option<Uuid>) -> Result<Option<PersonRef>> {
    let Some(id) = id else { return Ok(None) };
    Ok(ctx.loaders()?.people.load_one(id).await?.map(PersonRef))
}

/// One step of a report, as case officers see it.
pub struct ViolenceReportStep(OfficerStep);

#[Object]
impl ViolenceReportStep {
    async fn kind(&self) -> GqlEventKind {
        self.0.kind.into()
    }

    /// Shown to the reporter too.
    async fn public(&self) -> bool {
        self.0.public
    }

    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    async fn actor_role(&self) -> GqlActorRole {
        self.0.actor_role.into()
    }

    /// The officer who acted (never the reporter: she is `actorRole` only).
    async fn officer(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        person(ctx, self.0.officer).await
    }

    #[allow(clippy::wrong_self_convention)] // a GraphQL field named fromStatus, not a conversion
    async fn from_status(&self) -> Option<GqlReportStatus> {
        self.0.from_status.map(Into::into)
    }

    async fn to_status(&self) -> Option<GqlReportStatus> {
        self.0.to_status.map(Into::into)
    }

    async fn close_reason(&self) -> Option<GqlCloseReason> {
        self.0.close_reason.map(Into::into)
    }

    /// The note, message, added information, reason or referral outcome.
    async fn text(&self) -> Option<&str> {
        self.0.text.as_deref()
    }

    async fn agency(&self) -> Option<GqlAgency> {
        self.0.agency.map(Into::into)
    }

    async fn referred_on(&self) -> Option<Date> {
        self.0.referred_on.map(Date)
    }

    /// For an escalation, the unit it moved to.
    async fn unit(&self, ctx: &Context<'_>) -> Result<Option<OrgUnit>> {
        let Some(id) = self.0.unit_id else { return Ok(None) };
        Ok(super::unit(ctx, id).await?.map(OrgUnit))
    }

    /// For an assignment, the officer assigned.
    async fn assignee(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        person(ctx, self.0.assignee).await
    }
}

// ---- the reporter's view ----

/// A report as its reporter follows it.
pub struct MyViolenceReport(reporter::ReporterView);

#[Object]
impl MyViolenceReport {
    /// For `addViolenceReportInformation` and `withdrawViolenceReport` when signed in.
    async fn id(&self) -> ID {
        report_gid(self.0.id)
    }

    async fn reference_code(&self) -> &str {
        &self.0.reference_code
    }

    async fn status(&self) -> GqlReportStatus {
        self.0.status.into()
    }

    async fn close_reason(&self) -> Option<GqlCloseReason> {
        self.0.close_reason.map(Into::into)
    }

    async fn submitted_at(&self) -> DateTime<Utc> {
        self.0.submitted_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// Its public steps, oldest first: officers appear by role only, and only messages and
    /// her own additions carry text.
    async fn timeline(&self) -> Vec<ReporterStep> {
        self.0.timeline.iter().cloned().map(ReporterStep).collect()
    }
}

/// One public step, as the reporter sees it.
pub struct ReporterStep(reporter::ReporterStep);

#[Object]
impl ReporterStep {
    async fn kind(&self) -> GqlEventKind {
        self.0.kind.into()
    }

    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    async fn actor_role(&self) -> GqlActorRole {
        self.0.actor_role.into()
    }

    async fn to_status(&self) -> Option<GqlReportStatus> {
        self.0.to_status.map(Into::into)
    }

    async fn close_reason(&self) -> Option<GqlCloseReason> {
        self.0.close_reason.map(Into::into)
    }

    /// An officer's message, or what she added herself.
    async fn text(&self) -> Option<&str> {
        self.0.text.as_deref()
    }

    async fn agency(&self) -> Option<GqlAgency> {
        self.0.agency.map(Into::into)
    }
}

/// An anonymous reporter's proof.
#[derive(InputObject)]
pub struct ReportReferenceInput {
    pub code: String,
    #[graphql(secret)]
    pub pin: String,
}

fn proof<'a>(
    ctx: &'a Context<'_>,
    report_id: Option<ID>,
    reference: Option<ReportReferenceInput>,
) -> Result<Proof<'a>, ApiError> {
    match (report_id, reference) {
        (Some(id), None) => {
            let viewer = ctx.auth()?.require()?;
            Ok(Proof::Account { viewer, report_id: self::report_id(&id, "reportId")? })
        }
        (None, Some(r)) => Ok(Proof::Pin { code: r.code, pin: r.pin }),
        _ => Err(ApiError::bad_input("reportId", InputProblem::ExactlyOne)),
    }
}

// ---- access log and counts ----

/// One row of a report's access log.
pub struct ViolenceAccessLogEntry(AccessEntry);

#[Object]
impl ViolenceAccessLogEntry {
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    async fn role(&self) -> GqlActorRole {
        self.0.role.into()
    }

    async fn action(&self) -> GqlAccessAction {
        self.0.action.into()
    }

    /// The officer; `null` for the reporter (signed in or not: officers see her only as a
    /// role) and the system.
    async fn person(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        person(ctx, self.0.person).await
    }
}

#[derive(SimpleObject)]
pub struct ViolenceStatusCount {
    status: GqlReportStatus,
    count: u64,
}

/// Counts of a subtree's reports. A case officer whose reach covers the unit gets them exact
/// and by status; any other officer over it gets the coarse total only (`coarse`): counted over
/// whole calendar months, `null` below 5, rounded down to a multiple of 5 above, and the rest
/// `null` or empty — so no count singles out a report.
#[derive(SimpleObject)]
pub struct ViolenceReportCounts {
    /// Whether these are the coarse totals (see the type).
    coarse: bool,
    total: Option<u64>,
    /// Not resolved or closed.
    open: Option<u64>,
    urgent_open: Option<u64>,
    /// Unacknowledged past the deadline.
    overdue: Option<u64>,
    by_status: Vec<ViolenceStatusCount>,
}

/// What a console hears: which report, what happened to it, whether it is urgent.
#[derive(SimpleObject)]
pub struct ViolenceReportEvent {
    /// `SUBMITTED`, `UPDATED` or `ESCALATED`.
    event: String,
    report: ViolenceReportSummary,
}

// ---- roots ----

#[derive(Default)]
pub struct ViolenceQuery;

#[Object]
impl ViolenceQuery {
    /// The case officer's queue: reports in her reach (and those assigned to her), urgent
    /// first, then oldest. Nothing anyone wrote is in it: open one with `violenceReport`.
    #[graphql(complexity = "super::connection::page_complexity(first, child_complexity)")]
    async fn violence_reports(
        &self,
        ctx: &Context<'_>,
        filter: Option<ViolenceReportFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, ViolenceReportSummary, QueueFields>> {
        let viewer = ctx.auth()?.require()?;
        let filter = filter.unwrap_or_default();
        let db = &ctx.state()?.db;
        let page = page::<QueueCursor>(first, after.as_deref())?;
        let range = filter.submitted_between.unwrap_or_default();
        let filter = QueueFilter {
            status: filter.status.map(Into::into),
            urgent: filter.urgent,
            unit: filter
                .unit_id
                .map(|u| GlobalId::decode_as(&u, NodeKind::OrgUnit, "filter.unitId"))
                .transpose()?,
            assigned_to_me: filter.assigned_to_me,
            overdue: filter.overdue,
            submitted_from: range.from,
            submitted_to: range.to,
        };
        let q = queue::queue_query(db, viewer, &filter).await?;
        let (rows, has_next) = officer::queue_page(db, &q, page.first, page.after.as_ref()).await?;
        Ok(build(
            rows,
            has_next,
            page.after.is_some(),
            QueueFields(q),
            |r| QueueCursor { urgent: r.urgent, submitted_at: r.submitted_at, id: r.id },
            ViolenceReportSummary,
        ))
    }

    /// A report's details, for a case officer whose reach covers it or its assigned officer
    /// (`NOT_FOUND` for anyone else). Each call is written to the access log.
    async fn violence_report(&self, ctx: &Context<'_>, id: ID) -> Result<ViolenceReport> {
        let viewer = ctx.auth()?.require()?;
        Ok(ViolenceReport(officer::read(ctx.state()?, viewer, report_id(&id, "id")?).await?))
    }

    /// Who read or changed a report, oldest first: for the case officers whose reach covers
    /// it. Reading the log is logged too.
    #[graphql(complexity = "super::connection::page_complexity(first, child_complexity)")]
    async fn violence_report_access_log(
        &self,
        ctx: &Context<'_>,
        report_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, ViolenceAccessLogEntry>> {
        let viewer = ctx.auth()?.require()?;
        let page = page::<LogCursor>(first, after.as_deref())?;
        let id = self::report_id(&report_id, "reportId")?;
        let (rows, has_next) =
            officer::access_log_page(&ctx.state()?.db, viewer, id, page.first, page.after.as_ref()).await?;
        Ok(build(
            rows,
            has_next,
            page.after.is_some(),
            async_graphql::connection::EmptyFields,
            |r| LogCursor { at: r.at, id: r.id },
            ViolenceAccessLogEntry,
        ))
    }

    /// Counts of the reports placed in a unit's subtree and submitted on the given Hanoi days,
    /// for any officer with a role over it: exact for a case officer whose reach covers it,
    /// coarse for the others (see `ViolenceReportCounts`).
    async fn violence_report_counts(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        submitted_on: Option<DateRangeInput>,
    ) -> Result<ViolenceReportCounts> {
        let viewer = ctx.auth()?.require()?;
        let unit = GlobalId::decode_as(&unit_id, NodeKind::OrgUnit, "unitId")?;
        let range = submitted_on.unwrap_or_default();
        let to = match range.to {
            Some(d) => {
                Some(d.0.succ_opt().ok_or(ApiError::bad_input("submittedOn.to", InputProblem::OutOfRange))?)
            }
            None => None,
        };
        let c = queue::counts(&ctx.state()?.db, viewer, unit, range.from.map(|d| d.0), to).await?;
        Ok(ViolenceReportCounts {
            coarse: c.coarse,
            total: c.total,
            open: c.open,
            urgent_open: c.urgent_open,
            overdue: c.overdue,
            by_status: c
                .by_status
                .into_iter()
                .map(|(s, n)| ViolenceStatusCount { status: s.into(), count: n })
                .collect(),
        })
    }

    /// The signed-in reporter's own reports, newest first.
    #[graphql(complexity = "super::connection::page_complexity(first, child_complexity)")]
    async fn my_violence_reports(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, MyViolenceReport>> {
        let viewer = ctx.auth()?.require()?;
        let page = page::<LogCursor>(first, after.as_deref())?;
        let (views, has_next) =
            reporter::my_reports(ctx.state()?, viewer, page.first, page.after.as_ref()).await?;
        Ok(build(
            views,
            has_next,
            page.after.is_some(),
            async_graphql::connection::EmptyFields,
            |v| LogCursor { at: v.submitted_at, id: v.id },
            MyViolenceReport,
        ))
    }

    /// An anonymous reporter follows her report with its reference code and PIN. An unknown
    /// code and a wrong PIN both answer `NOT_FOUND`; repeated wrong PINs lock the reference
    /// for a while (`RATE_LIMITED`).
    async fn violence_report_by_reference(
        &self,
        ctx: &Context<'_>,
        code: String,
        #[graphql(secret)] pin: String,
    ) -> Result<MyViolenceReport> {
        Ok(MyViolenceReport(reporter::follow(ctx.state()?, ctx.meta()?, Proof::Pin { code, pin }).await?))
    }
}

#[derive(InputObject)]
pub struct ReferralInput {
    pub agency: GqlAgency,
    /// When it was referred (not in the future).
    pub referred_on: Date,
    /// What came of it, when known.
    #[graphql(secret)]
    pub outcome: Option<String>,
}

#[derive(Default)]
pub struct ViolenceMutation;

async fn officer_act(ctx: &Context<'_>, id: &ID, action: Action) -> Result<ViolenceReport> {
    let viewer = ctx.auth()?.require()?;
    Ok(ViolenceReport(officer::act(ctx.state()?, viewer, report_id(id, "id")?, action).await?))
}

#[Object]
impl ViolenceMutation {
    /// Reports a domestic-violence concern, signed in or anonymously (see
    /// `ViolenceReportInput.idempotencyKey` for retries). Routed to the case officers of the
    /// place, or of its nearest unit above that has any, who are notified at once.
    async fn submit_violence_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] input: ViolenceReportInputGql,
    ) -> Result<ViolenceReportReceipt> {
        let state = ctx.state()?;
        let viewer = ctx.auth()?.optional()?;
        let unit_id = GlobalId::decode_as(&input.unit_id, NodeKind::OrgUnit, "input.unitId")?;
        let contact = input.contact.map(|c| SafeContactInput {
            phone: c.phone,
            safe_times: c.safe_times,
            channel: c.channel.map(Into::into),
        });
        let receipt = svc::submit::submit(
            state,
            viewer,
            ctx.meta()?,
            ReportInput {
                unit_id,
                affected: input.affected.into(),
                age_group: input.age_group.into(),
                kinds: input.kinds.into_iter().map(Into::into).collect(),
                immediate_danger: input.immediate_danger,
                children_involved: input.children_involved,
                description: input.description,
                address: input.address,
                contact,
                may_contact: input.may_contact,
                may_share: input.may_share_with_authorities,
                idempotency_key: input.idempotency_key,
            },
        )
        .await
        .map_err(in_argument("input"))?;
        Ok(ViolenceReportReceipt {
            reference_code: receipt.reference_code,
            pin: receipt.pin,
            status: receipt.status.into(),
            submitted_at: receipt.submitted_at,
        })
    }

    /// Takes a submitted report (`CONFLICT` `WRONG_STATUS` once someone has); stops its
    /// escalation.
    async fn acknowledge_violence_report(&self, ctx: &Context<'_>, id: ID) -> Result<ViolenceReport> {
        officer_act(ctx, &id, Action::Acknowledge).await
    }

    /// Assigns the report to a case officer whose reach covers it, or to the caller.
    async fn assign_violence_report(
        &self,
        ctx: &Context<'_>,
        id: ID,
        officer_id: Option<ID>,
    ) -> Result<ViolenceReport> {
        let officer =
            officer_id.map(|o| GlobalId::decode_as(&o, NodeKind::Person, "officerId")).transpose()?;
        officer_act(ctx, &id, Action::Assign { officer }).await
    }

    /// An internal note (never shown to the reporter).
    async fn add_violence_report_note(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(secret)] text: String,
    ) -> Result<ViolenceReport> {
        officer_act(ctx, &id, Action::Note { text }).await
    }

    /// A message to the reporter (she sees it on her report; signed in, she is notified).
    async fn message_violence_reporter(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(secret)] text: String,
    ) -> Result<ViolenceReport> {
        officer_act(ctx, &id, Action::Message { text }).await
    }

    /// Records a referral; the report becomes `REFERRED`.
    async fn record_violence_referral(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(secret)] input: ReferralInput,
    ) -> Result<ViolenceReport> {
        let action =
            Action::Referral { agency: input.agency.into(), on: input.referred_on.0, outcome: input.outcome };
        officer_act(ctx, &id, action).await
    }

    /// Moves the report to `IN_PROGRESS`, `RESOLVED` or `CLOSED` (with `closeReason`), with a
    /// reason (see the service docs for which moves are allowed).
    async fn change_violence_report_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: GqlReportStatus,
        #[graphql(secret)] reason: String,
        close_reason: Option<GqlCloseReason>,
    ) -> Result<ViolenceReport> {
        let action =
            Action::ChangeStatus { to: status.into(), reason, close_reason: close_reason.map(Into::into) };
        officer_act(ctx, &id, action).await
    }

    /// Reopens a resolved or closed report (back to `IN_PROGRESS`), with a reason.
    async fn reopen_violence_report(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(secret)] reason: String,
    ) -> Result<ViolenceReport> {
        officer_act(ctx, &id, Action::Reopen { reason }).await
    }

    /// The reporter adds information: by `reportId` signed in, or by `reference` (code and
    /// PIN) anonymously — exactly one of them.
    async fn add_violence_report_information(
        &self,
        ctx: &Context<'_>,
        report_id: Option<ID>,
        #[graphql(secret)] reference: Option<ReportReferenceInput>,
        #[graphql(secret)] text: String,
    ) -> Result<MyViolenceReport> {
        let proof = proof(ctx, report_id, reference)?;
        Ok(MyViolenceReport(
            reporter::act(ctx.state()?, ctx.meta()?, proof, ReporterAction::AddInformation { text }).await?,
        ))
    }

    /// The reporter withdraws her report (it is closed, reason `WITHDRAWN`).
    async fn withdraw_violence_report(
        &self,
        ctx: &Context<'_>,
        report_id: Option<ID>,
        #[graphql(secret)] reference: Option<ReportReferenceInput>,
        #[graphql(secret)] reason: Option<String>,
    ) -> Result<MyViolenceReport> {
        let proof = proof(ctx, report_id, reference)?;
        Ok(MyViolenceReport(
            reporter::act(ctx.state()?, ctx.meta()?, proof, ReporterAction::Withdraw { reason }).await?,
        ))
    }
}

#[derive(Default)]
pub struct ViolenceSubscription;

#[Subscription]
impl ViolenceSubscription {
    /// Live events of the reports in the caller's reach as a case officer (or under `unitId`,
    /// in her reach): a new report, a change, an escalation. Each event is checked against her
    /// current roles before it is sent. Ends when the session is revoked.
    async fn violence_report_events(
        &self,
        ctx: &Context<'_>,
        unit_id: Option<ID>,
    ) -> Result<impl Stream<Item = ViolenceReportEvent> + use<>> {
        let viewer = *ctx.auth()?.require()?;
        let state = ctx.state()?;
        let unit = unit_id.map(|u| GlobalId::decode_as(&u, NodeKind::OrgUnit, "unitId")).transpose()?;
        let stream = svc::console_events(state, viewer, unit).await?;
        Ok(stream.map(|(event, row)| ViolenceReportEvent { event, report: ViolenceReportSummary(row) }))
    }
}
