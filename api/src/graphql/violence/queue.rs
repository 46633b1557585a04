//! The case officers' queue and counts (see `service::violence::queue`): summaries only, never
//! what anyone wrote; and the console's live events.

use async_graphql::{
    Context, ID, InputObject, Object, Result, SimpleObject, Subscription, connection::Connection,
};
use chrono::{DateTime, Utc};
use entities::ids::UnitId;
use futures_util::{Stream, StreamExt};

use super::*;
use crate::graphql::{
    ContextExt,
    connection::{build, page},
    org::OrgUnit,
};
use service::{
    db::TimeOrder,
    domain::GlobalId,
    error::{ApiError, InputProblem},
    violence::{
        self as svc,
        officer::{self, ReportSummary},
        queue::{self, QueueCursor, QueueFilter, QueueOrder},
    },
};

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
        Ok(OrgUnit(crate::graphql::unit(ctx, self.0.unit_id).await?.ok_or(ApiError::NotFound)?))
    }

    /// The unit whose case officers hold it now (moved up by escalation).
    async fn routed_unit(&self, ctx: &Context<'_>) -> Result<OrgUnit> {
        Ok(OrgUnit(crate::graphql::unit(ctx, self.0.routed_unit_id).await?.ok_or(ApiError::NotFound)?))
    }

    /// The unit whose case officers hold the case: where it happens, until a transfer is
    /// accepted.
    async fn handling_unit(&self, ctx: &Context<'_>) -> Result<OrgUnit> {
        Ok(OrgUnit(crate::graphql::unit(ctx, self.0.handling_unit_id).await?.ok_or(ApiError::NotFound)?))
    }

    /// A transfer waiting for the receiving unit's case officers.
    async fn pending_transfer(&self) -> Option<ViolenceReportTransfer> {
        self.0.transfer.map(ViolenceReportTransfer)
    }

    /// A closure waiting for a supervisor's approval.
    async fn pending_closure(&self) -> Option<ViolenceReportClosureRequest> {
        self.0.closure.map(ViolenceReportClosureRequest)
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

/// A transfer asked of another unit's case officers.
pub struct ViolenceReportTransfer(officer::PendingTransfer);

#[Object]
impl ViolenceReportTransfer {
    /// The unit whose case officers are asked to take the case.
    async fn to_unit(&self, ctx: &Context<'_>) -> Result<OrgUnit> {
        Ok(OrgUnit(crate::graphql::unit(ctx, self.0.to_unit).await?.ok_or(ApiError::NotFound)?))
    }

    async fn requested_by(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::identity::PersonRef>> {
        crate::graphql::identity::PersonRef::load(ctx, Some(self.0.requested_by)).await
    }

    async fn requested_at(&self) -> DateTime<Utc> {
        self.0.requested_at
    }
}

/// A closure asked of a supervisor.
pub struct ViolenceReportClosureRequest(officer::PendingClosure);

#[Object]
impl ViolenceReportClosureRequest {
    async fn requested_by(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::identity::PersonRef>> {
        crate::graphql::identity::PersonRef::load(ctx, Some(self.0.requested_by)).await
    }

    async fn requested_at(&self) -> DateTime<Utc> {
        self.0.requested_at
    }

    /// The close reason the report gets when approved.
    async fn close_reason(&self) -> GqlCloseReason {
        self.0.close_reason.into()
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

/// The order of the violence-report queue.
#[derive(async_graphql::Enum, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // the values read URGENT_FIRST, OLDEST_FIRST, NEWEST_FIRST
pub enum ViolenceQueueOrder {
    /// Reports in immediate danger first, then the oldest.
    #[default]
    UrgentFirst,
    /// By submission, the oldest first.
    OldestFirst,
    /// By submission, the newest first.
    NewestFirst,
}

#[derive(Default)]
pub struct QueueQuery;

#[Object]
impl QueueQuery {
    /// The case officer's queue: reports in her reach (and those assigned to her), urgent
    /// first, then oldest (or by submission alone, `order: OLDEST_FIRST` or `NEWEST_FIRST`).
    /// Nothing anyone wrote is in it: open one with `violenceReport`.
    async fn violence_reports(
        &self,
        ctx: &Context<'_>,
        filter: Option<ViolenceReportFilterInput>,
        order: Option<ViolenceQueueOrder>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, ViolenceReportSummary, QueueFields>> {
        ctx.auth()?.require()?;
        let filter = filter.unwrap_or_default();
        let db = &ctx.state()?.db;
        let page = page::<QueueCursor>(first, after.as_deref())?;
        let range = filter.submitted_between.unwrap_or_default();
        let filter = QueueFilter {
            status: filter.status.map(Into::into),
            urgent: filter.urgent,
            unit: filter.unit_id.map(|u| GlobalId::decode_id::<UnitId>(&u, "filter.unitId")).transpose()?,
            assigned_to_me: filter.assigned_to_me,
            overdue: filter.overdue,
            submitted_from: range.from,
            submitted_to: range.to,
            order: match order.unwrap_or_default() {
                ViolenceQueueOrder::UrgentFirst => QueueOrder::UrgentFirst,
                ViolenceQueueOrder::OldestFirst => QueueOrder::Submitted(TimeOrder::OldestFirst),
                ViolenceQueueOrder::NewestFirst => QueueOrder::Submitted(TimeOrder::NewestFirst),
            },
        };
        let q = queue::queue_query(ctx.call()?, &filter).await?;
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
}

/// Counts (after the details in the schema, where they have always been).
#[derive(Default)]
pub struct CountsQuery;

#[Object]
impl CountsQuery {
    /// Counts of the reports placed in a unit's subtree and submitted on the given Hanoi days,
    /// for any officer with a role over it: exact for a case officer whose reach covers it,
    /// coarse for the others (see `ViolenceReportCounts`).
    async fn violence_report_counts(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        submitted_on: Option<DateRangeInput>,
    ) -> Result<ViolenceReportCounts> {
        ctx.auth()?.require()?;
        let unit = GlobalId::decode_id::<UnitId>(&unit_id, "unitId")?;
        let range = submitted_on.unwrap_or_default();
        let to = match range.to {
            Some(d) => {
                Some(d.0.succ_opt().ok_or(ApiError::bad_input("submittedOn.to", InputProblem::OutOfRange))?)
            }
            None => None,
        };
        let c = queue::counts(ctx.call()?, unit, range.from.map(|d| d.0), to).await?;
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
        ctx.auth()?.require()?;
        let unit = unit_id.map(|u| GlobalId::decode_id::<UnitId>(&u, "unitId")).transpose()?;
        let stream = svc::console_events(ctx.call()?, unit).await?;
        Ok(stream.map(|(event, row)| ViolenceReportEvent { event, report: ViolenceReportSummary(row) }))
    }
}
