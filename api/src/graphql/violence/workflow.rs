//! The case officers' actions on a report (see `service::violence::workflow`).

use async_graphql::{Context, ID, InputObject, Object, Result};
use entities::ids::{PersonId, ReportId};

use super::*;
use crate::graphql::{
    ContextExt,
    bulk::{self, Outcome},
    scalars::Date,
};
use service::{
    domain::{GlobalId, NodeId, NodeKind},
    violence::{
        officer::{self},
        transfer::Step,
        workflow::Action,
    },
};

#[derive(InputObject)]
pub struct ReferralInput {
    pub agency: GqlAgency,
    /// When it was referred (not in the future).
    pub referred_on: Date,
    /// What came of it, when known.
    #[graphql(secret)]
    pub outcome: Option<String>,
}

async fn transfer_step(ctx: &Context<'_>, id: &ID, step: Step) -> Result<ViolenceReport> {
    ctx.auth()?.require()?;
    Ok(ViolenceReport(officer::transfer_step(ctx.call()?, report_id(id, "id")?, step).await?))
}

async fn officer_act(ctx: &Context<'_>, id: &ID, action: Action) -> Result<ViolenceReport> {
    ctx.auth()?.require()?;
    Ok(ViolenceReport(officer::act(ctx.call()?, report_id(id, "id")?, action).await?))
}

/// `action` on many reports, one outcome per id.
async fn officer_act_on_many(
    ctx: &Context<'_>,
    ids: Vec<ID>,
    action: Action,
) -> Result<Vec<Outcome<ViolenceReport>>> {
    let call = ctx.call()?;
    let act = |ids: Vec<uuid::Uuid>| async move {
        let ids: Vec<ReportId> = ids.into_iter().map(ReportId::from_uuid).collect();
        officer::act_on_many(call, &ids, action).await
    };
    Ok(bulk::run(ctx, ids, NodeKind::ViolenceReport, "ids", act, ViolenceReport).await?)
}

#[derive(Default)]
pub struct WorkflowMutation;

#[Object]
impl WorkflowMutation {
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
        let officer = officer_id.map(|o| GlobalId::decode_id::<PersonId>(&o, "officerId")).transpose()?;
        officer_act(ctx, &id, Action::Assign { officer }).await
    }

    /// Takes many submitted reports at once (1 to 100), each on its own as
    /// `acknowledgeViolenceReport` would: one outcome per id, in order.
    async fn acknowledge_violence_reports(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> Result<Vec<Outcome<ViolenceReport>>> {
        officer_act_on_many(ctx, ids, Action::Acknowledge).await
    }

    /// Assigns many reports at once (1 to 100) to one case officer, or to the caller, each on
    /// its own as `assignViolenceReport` would.
    async fn assign_violence_reports(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
        officer_id: Option<ID>,
    ) -> Result<Vec<Outcome<ViolenceReport>>> {
        let officer = officer_id.map(|o| GlobalId::decode_id::<PersonId>(&o, "officerId")).transpose()?;
        officer_act_on_many(ctx, ids, Action::Assign { officer }).await
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

    /// A message to the reporter (she sees it on her report; signed in, she is notified unless she
    /// turned `VIOLENCE_REPORTS` notices off).
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

    /// Asks the case officers of `toUnitId` (a unit with case officers at or above it, other
    /// than the one holding the case) to take an `ACKNOWLEDGED`, `IN_PROGRESS` or `REFERRED`
    /// report, with a reason. It stays with the caller's unit until they answer;
    /// `CONFLICT` `REQUEST_PENDING` while a transfer or a closure request is pending.
    async fn request_violence_report_transfer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        to_unit_id: ID,
        #[graphql(secret)] reason: String,
    ) -> Result<ViolenceReport> {
        let to = GlobalId::decode_id::<entities::ids::UnitId>(&to_unit_id, "toUnitId")?;
        transfer_step(ctx, &id, Step::RequestTransfer { to, reason }).await
    }

    /// Takes a report offered to the caller's unit: her unit now handles it and it is assigned
    /// to her. `CONFLICT` `ALREADY_DECIDED` when no transfer is pending any more.
    async fn accept_violence_report_transfer(&self, ctx: &Context<'_>, id: ID) -> Result<ViolenceReport> {
        transfer_step(ctx, &id, Step::AcceptTransfer).await
    }

    /// Declines a report offered to the caller's unit, with a reason; it stays with the sender.
    async fn decline_violence_report_transfer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(secret)] reason: String,
    ) -> Result<ViolenceReport> {
        transfer_step(ctx, &id, Step::DeclineTransfer { reason }).await
    }

    /// Takes back a transfer request nobody has answered yet.
    async fn cancel_violence_report_transfer(&self, ctx: &Context<'_>, id: ID) -> Result<ViolenceReport> {
        transfer_step(ctx, &id, Step::CancelTransfer).await
    }

    /// Asks a supervisor (a case officer above the unit holding the case) to close the report
    /// with `closeReason`, saying why. Where the unit requires approval
    /// (`OrgUnit.caseClosureApproval`), this is how its case officers close a report.
    async fn request_violence_report_closure(
        &self,
        ctx: &Context<'_>,
        id: ID,
        close_reason: GqlCloseReason,
        #[graphql(secret)] reason: String,
    ) -> Result<ViolenceReport> {
        transfer_step(ctx, &id, Step::RequestClosure { close_reason: close_reason.into(), reason }).await
    }

    /// Approves a pending closure (a supervisor other than the one who asked): the report is
    /// closed with the close reason asked for.
    async fn approve_violence_report_closure(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(secret)] reason: Option<String>,
    ) -> Result<ViolenceReport> {
        transfer_step(ctx, &id, Step::ApproveClosure { reason }).await
    }

    /// Rejects a pending closure, with a reason: the report stays open.
    async fn reject_violence_report_closure(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(secret)] reason: String,
    ) -> Result<ViolenceReport> {
        transfer_step(ctx, &id, Step::RejectClosure { reason }).await
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
}
