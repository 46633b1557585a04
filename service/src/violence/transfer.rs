//! Case handling between units, as Primero does it: transfers and supervised closing.
//!
//! **Transfer.** A case officer holding a report (`ACKNOWLEDGED`, `IN_PROGRESS` or `REFERRED`)
//! asks another unit's case officers to take it, with a reason. Until one of them answers it
//! stays with the sender, who keeps working it and may take the request back; the receiving
//! officers may read it (logged) to decide, and see it in their queue. Accepting moves the case:
//! the receiving unit becomes the handling unit (the place stays where it happens, and counts
//! there), the accepting officer is assigned, and the sender's officers lose it unless their
//! reach covers the new unit too. Declining needs a reason and leaves it with the sender. One
//! request at a time; a closed or resolved report cannot be transferred (closing or resolving
//! drops a pending request).
//!
//! **Supervised closing.** A unit may require a supervisor's approval for closing
//! (`org_unit.case_closure_approval`, inherited by its subtree). There, a case officer asks
//! (`request_closure`, with the close reason and why); a supervisor — a case officer whose role
//! sits strictly above the unit whose case officers hold the report (the handling unit's nearest
//! unit with case officers), not the one who asked — approves (the report is
//! closed with the reason asked for) or rejects with a reason. A supervisor closes directly. A
//! case handled at the root of the tree has nobody above it and closes without approval.
//!
//! Every step locks the report's row, checks access and state, appends an internal timeline
//! step (the reporter sees only the closing itself) and an access-log row, and notifies the
//! people concerned with neutral texts, as every other case action does.

use chrono::Utc;
use entities::ids::{PersonId, ReportId, UnitId};
use entities::{violence_report as report, violence_report_event as event};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::{
    AccessAction, ActorRole, CloseReason, EventKind, MAX_TEXT, NewEvent, ReportStatus, access, add_event,
    case_officers_at, covers, log_access, nearest_with_case_officers, notify, officer_report,
    publish_console_event, submit::required_prose,
};
use crate::{
    Call,
    authz::{self, Capability},
    db::{lock_by_id, stmt},
    error::{ApiError, ConflictKind, InputProblem},
    notifications::{NotificationKind, announce},
};

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

/// Whether closing `row` needs a supervisor's approval: the unit handling it or one above it
/// requires it, and the unit whose case officers hold it (`routed_unit_id`) is not the root
/// (nobody stands above the root).
pub async fn approval_required(conn: &impl ConnectionTrait, row: &report::Model) -> Result<bool, ApiError> {
    let found = Count::find_by_statement(stmt(
        conn.get_database_backend(),
        "SELECT COUNT(*) AS n FROM org_unit_closure c JOIN org_unit u ON u.id = c.ancestor_id \
         WHERE c.descendant_id = ? AND u.case_closure_approval = ? \
         AND EXISTS (SELECT 1 FROM org_unit h WHERE h.id = ? AND h.parent_id IS NOT NULL)",
        [row.handling_unit_id.into(), true.into(), row.routed_unit_id.into()],
    ))
    .one(conn)
    .await?;
    Ok(found.is_some_and(|c| c.n > 0))
}

/// Whether `person` supervises the case officers holding `row`: her case role sits strictly
/// above their unit (`routed_unit_id`, the handling unit's nearest unit with case officers).
pub async fn supervises(
    conn: &impl ConnectionTrait,
    person: PersonId,
    row: &report::Model,
) -> Result<bool, ApiError> {
    let held = authz::roles_over(conn, person, row.routed_unit_id).await?;
    Ok(held
        .iter()
        .any(|&(role, distance)| distance > 0 && Capability::HandleViolenceReports.granted_by(role)))
}

/// `CONFLICT` `CLOSURE_APPROVAL_REQUIRED` when `person` may not close `row` without approval.
pub(super) async fn check_direct_close(
    conn: &impl ConnectionTrait,
    person: PersonId,
    row: &report::Model,
) -> Result<(), ApiError> {
    if approval_required(conn, row).await? && !supervises(conn, person, row).await? {
        return Err(ApiError::Conflict(ConflictKind::ClosureApprovalRequired));
    }
    Ok(())
}

/// Drops what a finished report no longer waits for: a transfer once it is resolved or closed,
/// a closure request once it is closed.
pub(super) fn drop_pending(model: &mut report::ActiveModel, to: ReportStatus) {
    if to.is_finished() {
        clear_transfer(model);
    }
    if to == ReportStatus::Closed {
        clear_closure(model);
    }
}

fn clear_transfer(model: &mut report::ActiveModel) {
    model.transfer_to_unit_id = Set(None);
    model.transfer_requested_by = Set(None);
    model.transfer_requested_at = Set(None);
}

fn clear_closure(model: &mut report::ActiveModel) {
    model.closure_requested_by = Set(None);
    model.closure_requested_at = Set(None);
    model.closure_requested_reason = Set(None);
}

/// A step of this module.
#[derive(Clone, Debug)]
pub enum Step {
    /// Ask `to`'s case officers to take the case.
    RequestTransfer { to: UnitId, reason: String },
    /// A receiving officer takes the case.
    AcceptTransfer,
    /// A receiving officer declines it.
    DeclineTransfer { reason: String },
    /// The sender takes the request back.
    CancelTransfer,
    /// Ask a supervisor to close the case.
    RequestClosure { close_reason: CloseReason, reason: String },
    /// A supervisor closes it as asked.
    ApproveClosure { reason: Option<String> },
    /// A supervisor sends it back open.
    RejectClosure { reason: String },
}

impl Step {
    fn check_text(&mut self) -> Result<(), ApiError> {
        match self {
            Step::RequestTransfer { reason, .. }
            | Step::DeclineTransfer { reason }
            | Step::RequestClosure { reason, .. }
            | Step::RejectClosure { reason } => *reason = required_prose(reason, MAX_TEXT, "reason")?,
            Step::ApproveClosure { reason } => {
                if let Some(text) = reason.take() {
                    *reason = super::submit::prose(&text, MAX_TEXT, "reason")?;
                }
            }
            Step::AcceptTransfer | Step::CancelTransfer => {}
        }
        Ok(())
    }
}

/// Checks that `me` may answer the pending closure request of `row` (a supervisor, not the
/// one who asked), clears it and tells the requester; the close reason asked for.
async fn answer_closure(
    txn: &impl ConnectionTrait,
    me: PersonId,
    row: &report::Model,
    model: &mut report::ActiveModel,
    notes: &mut Vec<entities::notification::Model>,
) -> Result<CloseReason, ApiError> {
    let (Some(requester), Some(close_reason)) = (row.closure_requested_by, row.closure_requested_reason)
    else {
        return Err(decided());
    };
    if requester == me || !supervises(txn, me, row).await? {
        return Err(ApiError::Forbidden);
    }
    clear_closure(model);
    notes.extend(notify(txn, &[requester], NotificationKind::ViolenceReportUpdated, row.id).await?);
    Ok(close_reason)
}

/// Whether the last transfer of `row` was offered to a unit `me` answers for: she saw the offer,
/// so when another officer's answer has taken it away she is told it is decided, not that the
/// report does not exist.
async fn last_offered_to_her(
    conn: &impl ConnectionTrait,
    me: PersonId,
    row: &report::Model,
) -> Result<bool, ApiError> {
    let offered = event::Entity::find()
        .select_only()
        .column(event::Column::UnitId)
        .filter(event::Column::ReportId.eq(row.id))
        .filter(event::Column::Kind.eq(EventKind::TransferRequested))
        .order_by_desc(event::Column::CreatedAt)
        .into_tuple::<Option<UnitId>>()
        .one(conn)
        .await?
        .flatten();
    match offered {
        Some(unit) => covers(conn, me, unit).await,
        None => Ok(false),
    }
}

fn pending() -> ApiError {
    ApiError::Conflict(ConflictKind::RequestPending)
}

fn decided() -> ApiError {
    ApiError::Conflict(ConflictKind::AlreadyDecided)
}

/// Takes a step (see the module docs); the report as it now is.
pub(super) async fn step(
    call: Call<'_>,
    report_id: ReportId,
    mut step: Step,
) -> Result<report::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    step.check_text()?;
    let me = viewer.person_id;
    let txn = state.db.begin().await?;
    let locked = lock_by_id::<report::Entity>(&txn, report_id).await?;
    // Only those answering a transfer act on a report they do not hold.
    let row = match step {
        Step::AcceptTransfer | Step::DeclineTransfer { .. } => {
            let row = locked.ok_or(ApiError::NotFound)?;
            match access(&txn, viewer, &row).await? {
                // Answered already by someone else: she was offered it, so it is no secret.
                super::Access::None if last_offered_to_her(&txn, me, &row).await? => {
                    return Err(decided());
                }
                super::Access::None => return Err(ApiError::NotFound),
                // Offered to her unit: `access` has checked that her reach covers it.
                super::Access::Receiving => {}
                super::Access::CaseOfficer => {
                    let Some(to) = row.transfer_to_unit_id else { return Err(decided()) };
                    // Holding the case is not answering for the receiving unit.
                    if !covers(&txn, me, to).await? {
                        return Err(ApiError::Forbidden);
                    }
                }
            }
            row
        }
        _ => officer_report(&txn, viewer, locked).await?,
    };
    let now = Utc::now();
    let mut model = row.clone().into_active_model();
    let mut notes = Vec::new();
    let (event, access_action) = match step {
        Step::RequestTransfer { to, reason } => {
            if !matches!(
                row.status,
                ReportStatus::Acknowledged | ReportStatus::InProgress | ReportStatus::Referred
            ) {
                return Err(ApiError::Conflict(ConflictKind::WrongStatus));
            }
            if row.transfer_to_unit_id.is_some() || row.closure_requested_by.is_some() {
                return Err(pending());
            }
            // An unknown unit is a wrong id; any other failure (an outage) is what it is.
            let to_unit = crate::org::get_unit(&txn, to).await.map_err(|e| match e {
                ApiError::NotFound => ApiError::bad_input("to_unit_id", InputProblem::InvalidId),
                other => other,
            })?;
            // A merged unit takes nothing new: the case goes to the unit it was merged into.
            if to_unit.status != crate::org::UnitStatus::Active {
                return Err(ApiError::Conflict(crate::error::ConflictKind::UnitMerged));
            }
            if to == row.handling_unit_id {
                return Err(ApiError::bad_input("to_unit_id", InputProblem::InvalidId));
            }
            // Somebody there must be able to answer.
            let Some(answering) = nearest_with_case_officers(&txn, to, false).await? else {
                return Err(ApiError::bad_input("to_unit_id", InputProblem::InvalidId));
            };
            model.transfer_to_unit_id = Set(Some(to));
            model.transfer_requested_by = Set(Some(me));
            model.transfer_requested_at = Set(Some(now));
            let officers: Vec<PersonId> =
                case_officers_at(&txn, answering).await?.into_iter().filter(|&p| p != me).collect();
            notes.extend(
                notify(&txn, &officers, NotificationKind::ViolenceReportTransferOffered, row.id).await?,
            );
            let mut event = NewEvent::new(EventKind::TransferRequested, Some(me), ActorRole::CaseOfficer);
            event.unit_id = Some(to);
            event.body = Some(reason);
            (event, AccessAction::Transfer)
        }
        Step::AcceptTransfer => {
            let to = row.transfer_to_unit_id.ok_or_else(decided)?;
            super::lock_roles(&txn, me).await?;
            model.handling_unit_id = Set(to);
            model.routed_unit_id = Set(nearest_with_case_officers(&txn, to, false).await?.unwrap_or(to));
            model.assigned_to = Set(Some(me));
            clear_transfer(&mut model);
            if let Some(sender) = row.transfer_requested_by {
                notes.extend(notify(&txn, &[sender], NotificationKind::ViolenceReportUpdated, row.id).await?);
            }
            let mut event = NewEvent::new(EventKind::TransferAccepted, Some(me), ActorRole::CaseOfficer);
            event.unit_id = Some(to);
            event.assignee_id = Some(me);
            (event, AccessAction::Transfer)
        }
        Step::DeclineTransfer { reason } => {
            clear_transfer(&mut model);
            if let Some(sender) = row.transfer_requested_by {
                notes.extend(notify(&txn, &[sender], NotificationKind::ViolenceReportUpdated, row.id).await?);
            }
            let mut event = NewEvent::new(EventKind::TransferDeclined, Some(me), ActorRole::CaseOfficer);
            event.unit_id = row.transfer_to_unit_id;
            event.body = Some(reason);
            (event, AccessAction::Transfer)
        }
        Step::CancelTransfer => {
            let Some(to) = row.transfer_to_unit_id else { return Err(decided()) };
            clear_transfer(&mut model);
            let mut event = NewEvent::new(EventKind::TransferCancelled, Some(me), ActorRole::CaseOfficer);
            event.unit_id = Some(to);
            (event, AccessAction::Transfer)
        }
        Step::RequestClosure { close_reason, reason } => {
            if row.status == ReportStatus::Closed {
                return Err(ApiError::Conflict(ConflictKind::WrongStatus));
            }
            if row.closure_requested_by.is_some() || row.transfer_to_unit_id.is_some() {
                return Err(pending());
            }
            model.closure_requested_by = Set(Some(me));
            model.closure_requested_at = Set(Some(now));
            model.closure_requested_reason = Set(Some(close_reason));
            // The nearest supervisors above are told; any supervisor above may answer.
            if let Some(unit) = nearest_with_case_officers(&txn, row.routed_unit_id, true).await? {
                let officers: Vec<PersonId> =
                    case_officers_at(&txn, unit).await?.into_iter().filter(|&p| p != me).collect();
                notes.extend(
                    notify(&txn, &officers, NotificationKind::ViolenceReportClosureRequested, row.id).await?,
                );
            }
            let mut event = NewEvent::new(EventKind::ClosureRequested, Some(me), ActorRole::CaseOfficer);
            event.close_reason = Some(close_reason);
            event.body = Some(reason);
            (event, AccessAction::Closure)
        }
        Step::ApproveClosure { reason } => {
            let close_reason = answer_closure(&txn, me, &row, &mut model, &mut notes).await?;
            model.status = Set(ReportStatus::Closed);
            model.close_reason = Set(Some(close_reason));
            model.closed_at = Set(Some(now));
            model.escalate_at = Set(None);
            if let Some(reporter) = row.reporter_id {
                notes.extend(
                    super::notify_reporter(&txn, reporter, NotificationKind::ViolenceReportUpdated, row.id)
                        .await?,
                );
            }
            let mut event = NewEvent::new(EventKind::ClosureApproved, Some(me), ActorRole::CaseOfficer);
            event.from_status = Some(row.status);
            event.to_status = Some(ReportStatus::Closed);
            event.close_reason = Some(close_reason);
            event.body = reason;
            (event, AccessAction::Closure)
        }
        Step::RejectClosure { reason } => {
            answer_closure(&txn, me, &row, &mut model, &mut notes).await?;
            let mut event = NewEvent::new(EventKind::ClosureRejected, Some(me), ActorRole::CaseOfficer);
            event.body = Some(reason);
            (event, AccessAction::Closure)
        }
    };
    model.version = Set(row.version + 1);
    model.updated_at = Set(now);
    let saved = model.update(&txn).await?;
    add_event(&txn, &state.report_keys, row.id, event, now).await?;
    log_access(&txn, row.id, Some(me), ActorRole::CaseOfficer, access_action, now).await?;
    txn.commit().await?;
    announce(state, &notes).await;
    publish_console_event(state, &saved, "UPDATED").await;
    // The sender's consoles hear the case leave them.
    if row.handling_unit_id != saved.handling_unit_id {
        publish_console_event(state, &row, "UPDATED").await;
    }
    Ok(saved)
}
