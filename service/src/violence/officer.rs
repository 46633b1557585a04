//! What case officers see of a report, built here so that no resolver, export or worker can
//! show them more or less than the rules say.
//!
//! - [`ReportSummary`]: the queue's and the console events' view — what a report is about,
//!   never what anyone wrote.
//! - [`OfficerView`]: the details, for a case officer whose reach covers the unit handling it
//!   (or the unit a pending transfer offers it to): every
//!   sealed field and every step's text already opened, internal steps included.
//! - [`AccessEntry`]: one access-log row.
//!
//! None of them names the reporter. A signed-in reporter's account is known to the service
//! (she follows her report from it), but officers learn only whether the report was anonymous,
//! and see her steps and reads as the role `REPORTER`: a report about someone's own household
//! must not become a way to find out who made it.

use crate::Call;
use chrono::{DateTime, NaiveDate, Utc};
use entities::ids::{PersonId, ReportId, UnitId};
use entities::{
    violence_access_log as access_log, violence_report as report, violence_report_event as event,
};
use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use super::{
    AccessAction, ActorRole, Affected, AgeGroup, Agency, CloseReason, ContactChannel, EventKind,
    ReportStatus, ViolenceKind, open_text, parse_kinds, queue,
    workflow::{self, Action},
};
use crate::{crypto::Keyring, error::ApiError};

/// A report as the queue shows it: what it is about, never what anyone wrote.
#[derive(Clone, Debug)]
pub struct ReportSummary {
    pub id: ReportId,
    pub reference_code: String,
    /// Where it happens.
    pub unit_id: UnitId,
    /// The unit whose case officers are notified of it now (escalation moves it up).
    pub routed_unit_id: UnitId,
    /// The unit whose case officers hold the case: the place until a transfer is accepted.
    pub handling_unit_id: UnitId,
    /// A transfer waiting for the receiving unit's answer.
    pub transfer: Option<PendingTransfer>,
    /// A closure waiting for a supervisor's approval.
    pub closure: Option<PendingClosure>,
    pub status: ReportStatus,
    pub urgent: bool,
    pub children_involved: bool,
    pub affected: Affected,
    pub age_group: AgeGroup,
    pub kinds: Vec<ViolenceKind>,
    /// The officer it is assigned to.
    pub assignee: Option<PersonId>,
    pub escalation_level: i32,
    /// Still unacknowledged past its deadline, as of when the summary was built.
    pub overdue: bool,
    pub submitted_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

impl ReportSummary {
    pub fn of(row: &report::Model) -> Result<Self, ApiError> {
        Ok(ReportSummary {
            id: row.id,
            reference_code: row.reference_code.clone(),
            unit_id: row.unit_id,
            routed_unit_id: row.routed_unit_id,
            handling_unit_id: row.handling_unit_id,
            transfer: match (row.transfer_to_unit_id, row.transfer_requested_by, row.transfer_requested_at) {
                (Some(to_unit), Some(requested_by), Some(requested_at)) => {
                    Some(PendingTransfer { to_unit, requested_by, requested_at })
                }
                _ => None,
            },
            closure: match (row.closure_requested_by, row.closure_requested_at, row.closure_requested_reason)
            {
                (Some(requested_by), Some(requested_at), Some(close_reason)) => {
                    Some(PendingClosure { requested_by, requested_at, close_reason })
                }
                _ => None,
            },
            status: row.status,
            urgent: row.urgent,
            children_involved: row.children_involved,
            affected: row.affected,
            age_group: row.age_group,
            kinds: parse_kinds(&row.kinds),
            assignee: row.assigned_to,
            escalation_level: row.escalation_level,
            overdue: queue::is_overdue(row, Utc::now()),
            submitted_at: row.submitted_at,
            acknowledged_at: row.acknowledged_at,
        })
    }
}

/// A transfer asked of another unit's case officers.
#[derive(Clone, Copy, Debug)]
pub struct PendingTransfer {
    pub to_unit: UnitId,
    pub requested_by: PersonId,
    pub requested_at: DateTime<Utc>,
}

/// A closure asked of a supervisor.
#[derive(Clone, Copy, Debug)]
pub struct PendingClosure {
    pub requested_by: PersonId,
    pub requested_at: DateTime<Utc>,
    pub close_reason: CloseReason,
}

/// Safe contact details, as the reporter gave them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafeContact {
    pub phone: Option<String>,
    pub safe_times: Option<String>,
    pub channel: Option<ContactChannel>,
}

/// A report's details, for the case officers whose reach covers it.
#[derive(Clone, Debug)]
pub struct OfficerView {
    pub summary: ReportSummary,
    pub close_reason: Option<CloseReason>,
    pub immediate_danger: bool,
    /// Submitted without an account (who she is, when she had one, is not shown).
    pub anonymous: bool,
    pub description: String,
    pub address: Option<String>,
    pub contact: Option<SafeContact>,
    pub may_contact: bool,
    pub may_share: bool,
    /// Goes up by one with every change (the client's optimistic-concurrency token).
    pub version: i32,
    /// Every step, oldest first, internal ones included.
    pub timeline: Vec<OfficerStep>,
}

/// One step of a report, as case officers see it.
#[derive(Clone, Debug)]
pub struct OfficerStep {
    pub kind: EventKind,
    /// Shown to the reporter too.
    pub public: bool,
    pub at: DateTime<Utc>,
    pub actor_role: ActorRole,
    /// The officer who acted; `None` for the reporter and the system.
    pub officer: Option<PersonId>,
    pub from_status: Option<ReportStatus>,
    pub to_status: Option<ReportStatus>,
    pub close_reason: Option<CloseReason>,
    /// The note, message, added information, reason or referral outcome, opened.
    pub text: Option<String>,
    pub agency: Option<Agency>,
    pub referred_on: Option<NaiveDate>,
    /// For an escalation, the unit it moved to.
    pub unit_id: Option<UnitId>,
    /// For an assignment, the officer assigned.
    pub assignee: Option<PersonId>,
}

/// One row of a report's access log.
#[derive(Clone, Debug)]
pub struct AccessEntry {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub role: ActorRole,
    pub action: AccessAction,
    /// The officer; `None` for the reporter (signed in or not) and the system.
    pub person: Option<PersonId>,
}

impl AccessEntry {
    pub fn of(row: &access_log::Model) -> Result<Self, ApiError> {
        let role = row.role;
        Ok(AccessEntry {
            id: row.id,
            at: row.at,
            role,
            action: row.action,
            person: if role == ActorRole::CaseOfficer { row.person_id } else { None },
        })
    }
}

impl OfficerStep {
    fn of(keys: &Keyring, e: &event::Model) -> Result<Self, ApiError> {
        let actor_role = e.actor_role;
        Ok(OfficerStep {
            kind: e.kind,
            public: e.public,
            at: e.created_at,
            actor_role,
            officer: if actor_role == ActorRole::CaseOfficer { e.actor_id } else { None },
            from_status: e.from_status,
            to_status: e.to_status,
            close_reason: e.close_reason,
            text: e.body.as_deref().map(|b| open_text(keys, b, e.id, "body")).transpose()?,
            agency: e.agency,
            referred_on: e.referred_on,
            unit_id: e.unit_id,
            assignee: e.assignee_id,
        })
    }
}

/// The officers' view of `row` and its steps `events` (sealed texts opened with `keys`).
pub fn officer_view(
    keys: &Keyring,
    row: &report::Model,
    events: &[event::Model],
) -> Result<OfficerView, ApiError> {
    let open =
        |sealed: Option<&[u8]>, field: &str| sealed.map(|s| open_text(keys, s, row.id, field)).transpose();
    let contact = match open(row.contact.as_deref(), "contact")? {
        None => None,
        Some(json) => {
            let v: serde_json::Value =
                serde_json::from_str(&json).map_err(|_| ApiError::internal("sealed contact is not JSON"))?;
            let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
            Some(SafeContact {
                phone: text("phone"),
                safe_times: text("safeTimes"),
                channel: text("channel").and_then(|c| ContactChannel::parse(&c)),
            })
        }
    };
    Ok(OfficerView {
        summary: ReportSummary::of(row)?,
        close_reason: row.close_reason,
        immediate_danger: row.immediate_danger,
        anonymous: row.reporter_id.is_none(),
        description: open(Some(&row.description), "description")?.unwrap_or_default(),
        address: open(row.address.as_deref(), "address")?,
        contact,
        may_contact: row.may_contact,
        may_share: row.may_share,
        version: row.version,
        timeline: events
            .iter()
            .filter(|e| e.report_id == row.id)
            .map(|e| OfficerStep::of(keys, e))
            .collect::<Result<_, _>>()?,
    })
}

/// A report's details for a case officer whose reach covers it; `NOT_FOUND` for anyone else.
/// The read is logged.
pub async fn read(call: Call<'_>, id: ReportId) -> Result<OfficerView, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let (row, events) = queue::read_report(&state.db, viewer, id).await?;
    officer_view(&state.report_keys, &row, &events)
}

/// Acts on a report as a case officer (see [`workflow::act`]) and answers with the report as
/// it now stands.
pub async fn act(call: Call<'_>, id: ReportId, action: Action) -> Result<OfficerView, ApiError> {
    let (state, _viewer) = (call.state, call.viewer()?);
    let row = workflow::act(call, id, action).await?;
    let events = queue::timeline(&state.db, row.id).await?;
    officer_view(&state.report_keys, &row, &events)
}

/// Takes a transfer or closure step (see [`super::transfer`]) and answers with the report as
/// it now stands.
pub async fn transfer_step(
    call: Call<'_>,
    id: ReportId,
    step: super::transfer::Step,
) -> Result<OfficerView, ApiError> {
    let row = super::transfer::step(call, id, step).await?;
    let events = queue::timeline(&call.state.db, row.id).await?;
    officer_view(&call.state.report_keys, &row, &events)
}

/// Acts alike on many reports (acknowledging or assigning them; see [`crate::bulk`]), each as
/// [`act`] would, on its own.
pub async fn act_on_many(
    call: Call<'_>,
    ids: &[ReportId],
    action: Action,
) -> Result<Vec<Result<OfficerView, ApiError>>, ApiError> {
    call.viewer()?;
    crate::bulk::check_max(ids.len(), "ids")?;
    Ok(crate::bulk::each(ids, |id| act(call, id, action.clone())).await)
}

/// A page of the queue as summaries (see [`queue::queue`]).
pub async fn queue_page(
    conn: &impl ConnectionTrait,
    q: &queue::QueueQuery,
    first: u64,
    after: Option<&queue::QueueCursor>,
) -> Result<(Vec<ReportSummary>, bool), ApiError> {
    let (rows, has_next) = queue::queue(conn, q, first, after).await?;
    Ok((rows.iter().map(ReportSummary::of).collect::<Result<_, _>>()?, has_next))
}

/// A page of a report's access log (see [`queue::access_log_page`]).
pub async fn access_log_page(
    call: Call<'_>,
    id: ReportId,
    first: u64,
    after: Option<&queue::LogCursor>,
) -> Result<(Vec<AccessEntry>, bool), ApiError> {
    let (conn, viewer) = (&call.state.db, call.viewer()?);
    // Who read a report is the most sensitive thing the console shows: it needs a recent
    // step-up, asked only of those who may read it (anyone else gets `NOT_FOUND` as before).
    let held = report::Entity::find_by_id(id).one(conn).await?.ok_or(ApiError::NotFound)?.handling_unit_id;
    if !super::covers(conn, viewer.person_id, held).await? {
        return Err(ApiError::NotFound);
    }
    crate::identity::mfa::require_step_up(call).await?;
    let (rows, has_next) = queue::access_log_page(conn, viewer, id, first, after).await?;
    Ok((rows.iter().map(AccessEntry::of).collect::<Result<_, _>>()?, has_next))
}
