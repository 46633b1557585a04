//! The reporter's side after submission (see `service::violence::reporter`): following,
//! adding information, withdrawing.

use async_graphql::{Context, ID, InputObject, Object, Result, connection::Connection};
use chrono::{DateTime, Utc};

use super::*;
use crate::graphql::{
    ContextExt,
    connection::{build, page},
};
use service::{
    error::{ApiError, InputProblem},
    violence::{
        queue::LogCursor,
        reporter::{self, Proof, ReporterAction},
    },
};

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

#[derive(Default)]
pub struct ReporterQuery;

#[Object]
impl ReporterQuery {
    /// The signed-in reporter's own reports, newest first.
    async fn my_violence_reports(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, MyViolenceReport>> {
        ctx.auth()?.require()?;
        let page = page::<LogCursor>(first, after.as_deref())?;
        let (views, has_next) = reporter::my_reports(ctx.call()?, page.first, page.after.as_ref()).await?;
        Ok(build(
            views,
            has_next,
            page.after.is_some(),
            async_graphql::connection::EmptyFields,
            |v| LogCursor { at: v.submitted_at, id: v.id.uuid() },
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
        Ok(MyViolenceReport(reporter::follow(ctx.call()?, Proof::Pin { code, pin }).await?))
    }
}

#[derive(Default)]
pub struct ReporterMutation;

#[Object]
impl ReporterMutation {
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
            reporter::act(ctx.call()?, proof, ReporterAction::AddInformation { text }).await?,
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
        Ok(MyViolenceReport(reporter::act(ctx.call()?, proof, ReporterAction::Withdraw { reason }).await?))
    }
}
