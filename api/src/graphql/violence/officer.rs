//! A report's details and access log, for the case officers whose reach covers it (see
//! `service::violence::officer`, which builds the views these types render).

use async_graphql::{Context, ID, Object, Result, connection::Connection};
use chrono::{DateTime, Utc};

use super::*;
use crate::graphql::{
    ContextExt,
    connection::{build, page},
    identity::PersonRef,
    org::OrgUnit,
    scalars::Date,
};
use service::violence::{
    officer::{self, AccessEntry, OfficerStep, OfficerView},
    queue::LogCursor,
};

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
pub struct ViolenceReport(pub(super) OfficerView);

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
        PersonRef::load(ctx, self.0.summary.assignee).await
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
        PersonRef::load(ctx, self.0.officer).await
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
        Ok(crate::graphql::unit(ctx, id).await?.map(OrgUnit))
    }

    /// For an assignment, the officer assigned.
    async fn assignee(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        PersonRef::load(ctx, self.0.assignee).await
    }
}

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
        PersonRef::load(ctx, self.0.person).await
    }
}

#[derive(Default)]
pub struct OfficerQuery;

#[Object]
impl OfficerQuery {
    /// A report's details, for a case officer whose reach covers it or its assigned officer
    /// (`NOT_FOUND` for anyone else). Each call is written to the access log.
    async fn violence_report(&self, ctx: &Context<'_>, id: ID) -> Result<ViolenceReport> {
        ctx.auth()?.require()?;
        Ok(ViolenceReport(officer::read(ctx.call()?, report_id(&id, "id")?).await?))
    }

    /// Who read or changed a report, oldest first: for the case officers whose reach covers
    /// it. Reading the log is logged too.
    async fn violence_report_access_log(
        &self,
        ctx: &Context<'_>,
        report_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, ViolenceAccessLogEntry>> {
        ctx.auth()?.require()?;
        let page = page::<LogCursor>(first, after.as_deref())?;
        let id = self::report_id(&report_id, "reportId")?;
        let (rows, has_next) =
            officer::access_log_page(ctx.call()?, id, page.first, page.after.as_ref()).await?;
        Ok(build(
            rows,
            has_next,
            page.after.is_some(),
            async_graphql::connection::EmptyFields,
            |r| LogCursor { at: r.at, id: r.id },
            ViolenceAccessLogEntry,
        ))
    }
}
