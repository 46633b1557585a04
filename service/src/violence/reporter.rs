//! The reporter's side after submission: following her report, adding information, withdrawing.
//!
//! A signed-in reporter proves the report is hers by her account; an anonymous one by the
//! reference code and PIN. PIN guessing is throttled per client address, and a reference locks
//! for a while after repeated wrong PINs (`APP_REPORT_PIN_MAX_FAILURES`,
//! `APP_REPORT_PIN_LOCK_MINS`). An unknown code and a wrong PIN answer alike (`NOT_FOUND`) and
//! take as long. She sees only the public steps, with officers named by role: every answer is a
//! [`ReporterView`], built here, so no caller can hand her more.

use crate::Call;
use chrono::{DateTime, Duration, Utc};
use entities::ids::{PersonId, ReportId};
use entities::{
    violence_access_log as access_log, violence_report as report, violence_report_event as event,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::{
    AccessAction, ActorRole, Agency, CloseReason, EventKind, MAX_TEXT, NewEvent, ReportStatus, add_event,
    case_officers_at, log_access, notify, open_text, publish_console_event, submit::required_prose,
};
use crate::{
    auth::{Viewer, verify_password},
    crypto::Keyring,
    db::{lock_by_id, split_page},
    error::{ApiError, ConflictKind},
    state::AppState,
    {
        RequestMeta,
        notifications::{NotificationKind, announce},
    },
};

/// How the reporter shows the report is hers.
pub enum Proof<'a> {
    Account { viewer: &'a Viewer, report_id: ReportId },
    Pin { code: String, pin: String },
}

/// A report as its reporter follows it: what she may see and nothing else. No officer is
/// named (steps carry the actor's role), no internal note or status reason is in it, and the
/// only texts are the officers' messages to her and what she added herself, already opened.
#[derive(Clone, Debug)]
pub struct ReporterView {
    pub id: ReportId,
    pub reference_code: String,
    pub status: ReportStatus,
    pub close_reason: Option<CloseReason>,
    pub submitted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The public steps, oldest first.
    pub timeline: Vec<ReporterStep>,
}

/// One public step of a report, as its reporter sees it.
#[derive(Clone, Debug)]
pub struct ReporterStep {
    pub kind: EventKind,
    pub at: DateTime<Utc>,
    pub actor_role: ActorRole,
    pub to_status: Option<ReportStatus>,
    pub close_reason: Option<CloseReason>,
    /// An officer's message, or what she added herself; `None` for every other step.
    pub text: Option<String>,
    pub agency: Option<Agency>,
}

/// The reporter's view of `row` from its public steps among `events` (texts opened with
/// `keys`, only where she may read them).
fn reporter_view(
    keys: &Keyring,
    row: report::Model,
    events: &[event::Model],
) -> Result<ReporterView, ApiError> {
    let timeline = events
        .iter()
        .filter(|e| e.report_id == row.id && e.public)
        .map(|e| {
            let kind = e.kind;
            let text = match kind {
                EventKind::Message | EventKind::InformationAdded => {
                    e.body.as_deref().map(|b| open_text(keys, b, e.id, "body")).transpose()?
                }
                _ => None,
            };
            Ok(ReporterStep {
                kind,
                at: e.created_at,
                actor_role: e.actor_role,
                to_status: e.to_status,
                close_reason: e.close_reason,
                text,
                agency: e.agency,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(ReporterView {
        status: row.status,
        close_reason: row.close_reason,
        id: row.id,
        reference_code: row.reference_code,
        submitted_at: row.submitted_at,
        updated_at: row.updated_at,
        timeline,
    })
}

/// The steps of `report_id` its reporter may see, oldest first.
async fn public_timeline(
    conn: &impl ConnectionTrait,
    ids: &[ReportId],
) -> Result<Vec<event::Model>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(event::Entity::find()
        .filter(event::Column::ReportId.is_in(ids.iter().copied()))
        .filter(event::Column::Public.eq(true))
        .order_by_asc(event::Column::CreatedAt)
        .order_by_asc(event::Column::Id)
        .all(conn)
        .await?)
}

/// Logs a reporter's read of each report (one statement).
async fn log_reads(
    conn: &impl ConnectionTrait,
    ids: &[ReportId],
    person: Option<PersonId>,
) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    access_log::Entity::insert_many(ids.iter().map(|&id| access_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        report_id: Set(id),
        person_id: Set(person),
        role: Set(ActorRole::Reporter),
        action: Set(AccessAction::ReporterRead),
        at: Set(now),
    }))
    .exec(conn)
    .await?;
    Ok(())
}

/// The reference code of `report` while `person` is its reporter.
pub async fn reference_of(
    conn: &impl sea_orm::ConnectionTrait,
    report: ReportId,
    person: PersonId,
) -> Result<Option<String>, ApiError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    Ok(entities::violence_report::Entity::find_by_id(report)
        .select_only()
        .column(entities::violence_report::Column::ReferenceCode)
        .filter(entities::violence_report::Column::ReporterId.eq(person))
        .into_tuple()
        .one(conn)
        .await?)
}

/// A page of the signed-in reporter's own reports, newest first, with their public steps
/// (three statements: the page, the steps, the access-log rows).
pub async fn my_reports(
    call: Call<'_>,
    first: u64,
    after: Option<&crate::violence::queue::LogCursor>,
) -> Result<(Vec<ReporterView>, bool), ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let conn = &state.db;
    let mut query = report::Entity::find().filter(report::Column::ReporterId.eq(viewer.person_id));
    if let Some(c) = after {
        query = query.filter(
            sea_orm::Condition::any().add(report::Column::SubmittedAt.lt(c.at)).add(
                sea_orm::Condition::all()
                    .add(report::Column::SubmittedAt.eq(c.at))
                    .add(report::Column::Id.lt(c.id)),
            ),
        );
    }
    let rows = query
        .order_by_desc(report::Column::SubmittedAt)
        .order_by_desc(report::Column::Id)
        .limit(first + 1)
        .all(conn)
        .await?;
    let (rows, has_next) = split_page(rows, first);
    let ids: Vec<ReportId> = rows.iter().map(|r| r.id).collect();
    let events = public_timeline(conn, &ids).await?;
    log_reads(conn, &ids, Some(viewer.person_id)).await?;
    let views = rows
        .into_iter()
        .map(|row| reporter_view(&state.report_keys, row, &events))
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok((views, has_next))
}

/// Normalises a typed reference code (`bl-7k3m 9q2x` → `BL-7K3M9Q2X`).
fn normalise_code(raw: &str) -> String {
    let compact: String =
        raw.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_uppercase();
    match compact.strip_prefix("BL") {
        Some(rest) => format!("BL-{rest}"),
        None => compact,
    }
}

/// The report a proof opens, or `NOT_FOUND` — also while the reference is locked, so that a
/// locked code answers exactly like an unknown one (`RATE_LIMITED` only when the caller's
/// address has tried too many PINs, whatever the codes).
///
/// Wrong PINs lock a reference per (code, client address) after `APP_REPORT_PIN_MAX_FAILURES`,
/// so a stranger who knows the code cannot lock its reporter out from elsewhere; a slower limit
/// over all addresses (`APP_REPORT_PIN_MAX_FAILURES_TOTAL`, kept on the report's row) stops
/// distributed guessing. Every attempt is counted before the PIN is checked.
async fn prove(state: &AppState, meta: &RequestMeta, proof: &Proof<'_>) -> Result<report::Model, ApiError> {
    let (code, pin) = match proof {
        Proof::Account { viewer, report_id } => {
            let row = report::Entity::find_by_id(*report_id).one(&state.db).await?;
            return row.filter(|r| r.reporter_id == Some(viewer.person_id)).ok_or(ApiError::NotFound);
        }
        Proof::Pin { code, pin } => (normalise_code(code), pin.trim().to_owned()),
    };
    let s = &state.settings;
    let tries = state.cache.hit(&format!("vr:pin:{}", meta.client_addr), s.report_pin_window).await?;
    if tries.count > u64::from(s.report_pin_max_per_address) {
        return Err(ApiError::RateLimited { retry_after_secs: Ord::max(tries.resets_in.as_secs(), 1) });
    }
    // Counted for unknown codes too, so nothing tells a locked code from an unknown one.
    let pair_key = format!("vr:pin:pair:{code}:{}", meta.client_addr);
    let pair = state.cache.hit(&pair_key, s.report_pin_lock).await?;
    let row = report::Entity::find().filter(report::Column::ReferenceCode.eq(&code)).one(&state.db).await?;
    // An unknown code, a report followed by account, or a locked reference checks against a
    // dummy hash: it takes as long as a wrong PIN and answers the same.
    let refuse = |pin: String| async move {
        verify_password(pin, None).await?;
        Err::<report::Model, _>(ApiError::NotFound)
    };
    let Some(row) = row.filter(|r| r.pin_hash.is_some()) else { return refuse(pin).await };
    if pair.count > u64::from(s.report_pin_max_failures) || !take_global_attempt(state, &row).await? {
        return refuse(pin).await;
    }
    let hash = row.pin_hash.clone();
    if !(pin.len() <= 32 && verify_password(pin, hash).await?) {
        return Err(ApiError::NotFound);
    }
    // The right PIN: the counts start again.
    report::Entity::update_many()
        .col_expr(report::Column::PinFailures, Expr::val(0))
        .col_expr(report::Column::PinLockedAt, Expr::val(None::<chrono::DateTime<Utc>>))
        .filter(report::Column::Id.eq(row.id))
        .exec(&state.db)
        .await?;
    state.cache.clear(&pair_key).await.ok();
    Ok(row)
}

/// Counts one attempt on the report's row, across all addresses, before the PIN is checked: one
/// conditional statement, so parallel guesses each need a slot; once the count reaches the
/// total limit the reference is locked for `APP_REPORT_PIN_LOCK_MINS` (a lock that has run out
/// starts the count again). `false` while locked.
async fn take_global_attempt(state: &AppState, row: &report::Model) -> Result<bool, ApiError> {
    let s = &state.settings;
    let now = Utc::now();
    let lock = Duration::from_std(s.report_pin_lock).unwrap_or(Duration::hours(1));
    let max = s.report_pin_max_failures_total as i32;
    let expired = now - lock;
    let next = Expr::case(Expr::col(report::Column::PinLockedAt).lte(expired), 1)
        .finally(Expr::col(report::Column::PinFailures).add(1));
    let taken = report::Entity::update_many()
        .col_expr(report::Column::PinFailures, Expr::Case(Box::new(next.clone())))
        .col_expr(
            report::Column::PinLockedAt,
            Expr::Case(Box::new(
                Expr::case(Expr::Case(Box::new(next)).gte(max), Expr::val(now))
                    .finally(Expr::val(None::<chrono::DateTime<Utc>>)),
            )),
        )
        .filter(report::Column::Id.eq(row.id))
        .filter(
            sea_orm::Condition::any()
                .add(
                    sea_orm::Condition::all()
                        .add(report::Column::PinLockedAt.is_null())
                        .add(report::Column::PinFailures.lt(max)),
                )
                .add(report::Column::PinLockedAt.lte(expired)),
        )
        .exec(&state.db)
        .await?;
    Ok(taken.rows_affected > 0)
}

fn reporter_id(proof: &Proof<'_>) -> Option<PersonId> {
    match proof {
        Proof::Account { viewer, .. } => Some(viewer.person_id),
        Proof::Pin { .. } => None,
    }
}

/// A report and its public steps, for its reporter. The read is logged.
pub async fn follow(call: Call<'_>, proof: Proof<'_>) -> Result<ReporterView, ApiError> {
    let (state, meta) = (call.state, call.meta);
    let row = prove(state, meta, &proof).await?;
    let events = public_timeline(&state.db, &[row.id]).await?;
    log_reads(&state.db, &[row.id], reporter_id(&proof)).await?;
    reporter_view(&state.report_keys, row, &events)
}

/// What the reporter does after submitting.
pub enum ReporterAction {
    /// More information (it goes on the timeline, sealed).
    AddInformation { text: String },
    /// Withdraws the report (closed, reason `WITHDRAWN`), optionally saying why.
    Withdraw { reason: Option<String> },
}

/// Adds information to, or withdraws, an unfinished report; the case officers holding it (and
/// the assigned officer) are told, neutrally.
pub async fn act(call: Call<'_>, proof: Proof<'_>, action: ReporterAction) -> Result<ReporterView, ApiError> {
    let (state, meta) = (call.state, call.meta);
    let action = match action {
        ReporterAction::AddInformation { text } => {
            ReporterAction::AddInformation { text: required_prose(&text, MAX_TEXT, "text")? }
        }
        ReporterAction::Withdraw { reason } => ReporterAction::Withdraw {
            reason: reason.map(|r| required_prose(&r, MAX_TEXT, "reason")).transpose()?,
        },
    };
    let proven = prove(state, meta, &proof).await?;
    let person = reporter_id(&proof);
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let row = lock_by_id::<report::Entity>(&txn, proven.id).await?.ok_or(ApiError::NotFound)?;
    let current = row.status;
    if current.is_finished() {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    let mut model = row.clone().into_active_model();
    let (event, access) = match action {
        ReporterAction::AddInformation { text } => {
            let mut e = NewEvent::new(EventKind::InformationAdded, person, ActorRole::Reporter);
            e.body = Some(text);
            (e, AccessAction::AddInformation)
        }
        ReporterAction::Withdraw { reason } => {
            let mut e = NewEvent::new(EventKind::Withdrawn, person, ActorRole::Reporter);
            e.body = reason;
            e.from_status = Some(current);
            e.to_status = Some(ReportStatus::Closed);
            e.close_reason = Some(CloseReason::Withdrawn);
            model.status = Set(ReportStatus::Closed);
            model.close_reason = Set(Some(CloseReason::Withdrawn));
            model.closed_at = Set(Some(now));
            model.escalate_at = Set(None);
            (e, AccessAction::Withdraw)
        }
    };
    model.version = Set(row.version + 1);
    model.updated_at = Set(now);
    let saved = model.update(&txn).await?;
    add_event(&txn, &state.report_keys, row.id, event, now).await?;
    log_access(&txn, row.id, person, ActorRole::Reporter, access, now).await?;
    let mut officers = case_officers_at(&txn, row.routed_unit_id).await?;
    if let Some(assignee) = row.assigned_to
        && !officers.contains(&assignee)
    {
        officers.push(assignee);
    }
    let notes = notify(&txn, &officers, NotificationKind::ViolenceReportUpdated, row.id).await?;
    txn.commit().await?;
    announce(state, &notes).await;
    publish_console_event(state, &saved, "UPDATED").await;
    let events = public_timeline(&state.db, &[saved.id]).await?;
    reporter_view(&state.report_keys, saved, &events)
}

#[cfg(test)]
mod tests {
    use super::normalise_code;

    #[test]
    fn typed_codes_are_normalised() {
        assert_eq!(normalise_code(" bl-7k3m 9q2x "), "BL-7K3M9Q2X");
        assert_eq!(normalise_code("BL7K3M9Q2X"), "BL-7K3M9Q2X");
    }
}
