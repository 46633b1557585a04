//! What case officers do with a report: acknowledge, assign, note, message the reporter, record
//! a referral, change the status with a reason, reopen.
//!
//! Every action runs in one transaction on the report's row, locked (`FOR UPDATE` on
//! PostgreSQL; SQLite serialises transactions): it checks the officer's access and the current
//! status, changes the row (its `version` goes up by one), appends the timeline step and the
//! access-log row, and queues notifications. Two officers acting at once are serialised, and
//! the second sees the first's result: an action the new status no longer allows is `CONFLICT`
//! `WRONG_STATUS`, never a corrupted state.
//!
//! Transitions (`changeViolenceReportStatus`):
//!
//! | to | from |
//! |---|---|
//! | `IN_PROGRESS` | `ACKNOWLEDGED`, `REFERRED` |
//! | `RESOLVED` | `ACKNOWLEDGED`, `IN_PROGRESS`, `REFERRED` |
//! | `CLOSED` (with a close reason) | any status but `CLOSED` (a `RESOLVED` case is closed without reopening it) |
//!
//! `acknowledge` takes `SUBMITTED` to `ACKNOWLEDGED` (and stops escalation); a referral takes
//! `ACKNOWLEDGED`, `IN_PROGRESS` or `REFERRED` to `REFERRED`; `reopen` takes `RESOLVED` or
//! `CLOSED` back to `IN_PROGRESS`. Asking `changeViolenceReportStatus` for any other target is
//! `BAD_USER_INPUT` on `status`.

use crate::Call;
use chrono::{NaiveDate, Utc};
use entities::ids::{PersonId, ReportId};
use entities::violence_report as report;
use sea_orm::{ActiveModelTrait, IntoActiveModel, Set, TransactionTrait};

use super::{
    AccessAction, ActorRole, Agency, CloseReason, EventKind, MAX_TEXT, NewEvent, ReportStatus, add_event,
    covers, log_access, notify, officer_report, publish_console_event,
    submit::{prose, required_prose},
};
use crate::{
    db::lock_by_id,
    domain::hanoi_day,
    error::{ApiError, ConflictKind, InputProblem},
    notifications::{NotificationKind, announce},
    state::AppState,
};

/// A case officer's action on a report.
#[derive(Clone, Debug)]
pub enum Action {
    Acknowledge,
    /// To another case officer in reach, or to herself (`None`).
    Assign {
        officer: Option<PersonId>,
    },
    /// Internal: never shown to the reporter.
    Note {
        text: String,
    },
    /// To the reporter.
    Message {
        text: String,
    },
    Referral {
        agency: Agency,
        on: NaiveDate,
        outcome: Option<String>,
    },
    ChangeStatus {
        to: ReportStatus,
        reason: String,
        close_reason: Option<CloseReason>,
    },
    Reopen {
        reason: String,
    },
}

fn wrong_status() -> ApiError {
    ApiError::Conflict(ConflictKind::WrongStatus)
}

/// Checks `action` against the current status; the new status, if it changes.
fn transition(current: ReportStatus, action: &Action) -> Result<Option<ReportStatus>, ApiError> {
    use ReportStatus::*;
    Ok(match action {
        Action::Acknowledge if current == Submitted => Some(Acknowledged),
        Action::Acknowledge => return Err(wrong_status()),
        Action::Assign { .. } if current.is_finished() => return Err(wrong_status()),
        Action::Assign { .. } | Action::Note { .. } | Action::Message { .. } => None,
        Action::Referral { .. } if matches!(current, Acknowledged | InProgress | Referred) => Some(Referred),
        Action::Referral { .. } => return Err(wrong_status()),
        Action::ChangeStatus { to, close_reason, .. } => {
            match (to, close_reason) {
                (Closed, None) => return Err(ApiError::bad_input("close_reason", InputProblem::Required)),
                (Closed, Some(_)) => {}
                (InProgress | Resolved, None) => {}
                (InProgress | Resolved, Some(_)) => {
                    return Err(ApiError::bad_input("close_reason", InputProblem::OutOfRange));
                }
                (Submitted | Acknowledged | Referred, _) => {
                    return Err(ApiError::bad_input("status", InputProblem::OutOfRange));
                }
            }
            let allowed = match to {
                InProgress => matches!(current, Acknowledged | Referred),
                Resolved => matches!(current, Acknowledged | InProgress | Referred),
                // A resolved case is closed as it is, without reopening it first.
                _ => current != Closed,
            };
            if !allowed {
                return Err(wrong_status());
            }
            Some(*to)
        }
        Action::Reopen { .. } if current.is_finished() => Some(InProgress),
        Action::Reopen { .. } => return Err(wrong_status()),
    })
}

/// Checks the free text of an action before anything is locked.
fn check_text(action: &mut Action) -> Result<(), ApiError> {
    match action {
        Action::Note { text } | Action::Message { text } => *text = required_prose(text, MAX_TEXT, "text")?,
        Action::ChangeStatus { reason, .. } | Action::Reopen { reason } => {
            *reason = required_prose(reason, MAX_TEXT, "reason")?;
        }
        Action::Referral { on, outcome, .. } => {
            if *on > hanoi_day(Utc::now()) {
                return Err(ApiError::bad_input("referred_on", InputProblem::OutOfRange));
            }
            if let Some(text) = outcome.take() {
                *outcome = prose(&text, MAX_TEXT, "outcome")?;
            }
        }
        Action::Acknowledge | Action::Assign { .. } => {}
    }
    Ok(())
}

/// Runs a case officer's action (see the module docs); the report as it now is.
pub(super) async fn act(
    call: Call<'_>,
    report_id: ReportId,
    mut action: Action,
) -> Result<report::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    check_text(&mut action)?;
    let keys = &state.report_keys;
    let txn = state.db.begin().await?;
    let row = officer_report(&txn, viewer, lock_by_id::<report::Entity>(&txn, report_id).await?).await?;
    let current = row.status;
    let next = transition(current, &action)?;
    if next == Some(ReportStatus::Closed) {
        super::transfer::check_direct_close(&txn, viewer.person_id, &row).await?;
    }
    let now = Utc::now();
    let me = Some(viewer.person_id);
    let mut event = match &action {
        Action::Acknowledge => NewEvent::new(EventKind::Acknowledged, me, ActorRole::CaseOfficer),
        Action::Assign { .. } => NewEvent::new(EventKind::Assigned, me, ActorRole::CaseOfficer),
        Action::Note { .. } => NewEvent::new(EventKind::Note, me, ActorRole::CaseOfficer),
        Action::Message { .. } => NewEvent::new(EventKind::Message, me, ActorRole::CaseOfficer),
        Action::Referral { .. } => NewEvent::new(EventKind::Referral, me, ActorRole::CaseOfficer),
        Action::ChangeStatus { .. } => NewEvent::new(EventKind::StatusChanged, me, ActorRole::CaseOfficer),
        Action::Reopen { .. } => NewEvent::new(EventKind::Reopened, me, ActorRole::CaseOfficer),
    };
    let mut model = row.clone().into_active_model();
    let mut reporter_kind = None;
    let mut assignee_note = None;
    let access = match action {
        Action::Acknowledge => {
            model.acknowledged_at = Set(Some(now));
            model.escalate_at = Set(None);
            reporter_kind = Some(NotificationKind::ViolenceReportUpdated);
            AccessAction::Acknowledge
        }
        Action::Assign { officer } => {
            let officer = officer.unwrap_or(viewer.person_id);
            // Her roles stay as read until this commits: a revocation running now either waits
            // and then takes this assignment back, or went first and is seen here.
            super::lock_roles(&txn, officer).await?;
            if !covers(&txn, officer, row.handling_unit_id).await? {
                // Someone out of reach is a wrong id; the assigned officer whose role has gone
                // cannot take it again herself.
                return Err(if officer == viewer.person_id {
                    ApiError::Forbidden
                } else {
                    ApiError::bad_input("officer_id", InputProblem::InvalidId)
                });
            }
            model.assigned_to = Set(Some(officer));
            event.assignee_id = Some(officer);
            if officer != viewer.person_id {
                assignee_note = Some(officer);
            }
            AccessAction::Assign
        }
        Action::Note { text } => {
            event.body = Some(text);
            AccessAction::Note
        }
        Action::Message { text } => {
            event.body = Some(text);
            reporter_kind = Some(NotificationKind::ViolenceReportMessage);
            AccessAction::Message
        }
        Action::Referral { agency, on, outcome } => {
            event.agency = Some(agency);
            event.referred_on = Some(on);
            event.body = outcome;
            reporter_kind = Some(NotificationKind::ViolenceReportUpdated);
            AccessAction::Referral
        }
        Action::ChangeStatus { to, reason, close_reason } => {
            event.body = Some(reason);
            event.close_reason = close_reason;
            model.close_reason = Set(close_reason);
            model.closed_at = Set(to.is_finished().then_some(now));
            model.escalate_at = Set(None);
            reporter_kind = Some(NotificationKind::ViolenceReportUpdated);
            AccessAction::ChangeStatus
        }
        Action::Reopen { reason } => {
            event.body = Some(reason);
            model.close_reason = Set(None);
            model.closed_at = Set(None);
            reporter_kind = Some(NotificationKind::ViolenceReportUpdated);
            AccessAction::Reopen
        }
    };
    if let Some(next) = next {
        event.from_status = Some(current);
        event.to_status = Some(next);
        model.status = Set(next);
        super::transfer::drop_pending(&mut model, next);
    }
    model.version = Set(row.version + 1);
    model.updated_at = Set(now);
    let saved = model.update(&txn).await?;
    add_event(&txn, keys, row.id, event, now).await?;
    log_access(&txn, row.id, me, ActorRole::CaseOfficer, access, now).await?;
    let mut notes = Vec::new();
    if let (Some(kind), Some(reporter)) = (reporter_kind, row.reporter_id) {
        notes.extend(super::notify_reporter(&txn, reporter, kind, row.id).await?);
    }
    if let Some(officer) = assignee_note {
        notes.extend(notify(&txn, &[officer], NotificationKind::ViolenceReportAssigned, row.id).await?);
    }
    txn.commit().await?;
    announce(state, &notes).await;
    publish_console_event(state, &saved, "UPDATED").await;
    Ok(saved)
}

/// What [`release_assignments`] took back: the reports (as saved) and the notices queued, to be
/// announced once the transaction has committed.
pub struct Released {
    pub reports: Vec<report::Model>,
    pub notes: Vec<entities::notification::Model>,
}

/// Takes back the reports assigned to `person` that her current roles no longer cover (a
/// `CASE_OFFICER` role of hers has just ended, inside `txn`): an assignment alone grants nothing.
/// Each goes back to its unit's queue, with an `UNASSIGNED` step on the timeline (by the
/// system) and a notice to the case officers it is routed to.
pub async fn release_assignments(
    txn: &impl sea_orm::ConnectionTrait,
    keys: &crate::crypto::Keyring,
    person: PersonId,
) -> Result<Released, ApiError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    let mut query = report::Entity::find().filter(report::Column::AssignedTo.eq(person));
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    let now = Utc::now();
    let mut released = Released { reports: Vec::new(), notes: Vec::new() };
    for row in query.all(txn).await? {
        if covers(txn, person, row.handling_unit_id).await? {
            continue;
        }
        let mut model = row.clone().into_active_model();
        model.assigned_to = Set(None);
        model.version = Set(row.version + 1);
        model.updated_at = Set(now);
        let saved = model.update(txn).await?;
        let mut event = NewEvent::new(EventKind::Unassigned, None, ActorRole::System);
        event.assignee_id = Some(person);
        add_event(txn, keys, row.id, event, now).await?;
        let officers = super::case_officers_at(txn, row.routed_unit_id).await?;
        released
            .notes
            .extend(notify(txn, &officers, NotificationKind::ViolenceReportUnassigned, row.id).await?);
        released.reports.push(saved);
    }
    Ok(released)
}

/// Tells the consoles and the case officers about [`release_assignments`], after the commit.
pub async fn announce_released(state: &AppState, released: Released) {
    announce(state, &released.notes).await;
    for row in &released.reports {
        publish_console_event(state, row, "UPDATED").await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(to: ReportStatus, close: Option<CloseReason>) -> Action {
        Action::ChangeStatus { to, reason: "x".into(), close_reason: close }
    }

    #[test]
    fn the_transition_table_holds() {
        use ReportStatus::*;
        let all = ReportStatus::ALL;
        for &from in all {
            let ack = transition(from, &Action::Acknowledge);
            assert_eq!(ack.is_ok(), from == Submitted, "acknowledge from {from:?}");
            let reopen = transition(from, &Action::Reopen { reason: "x".into() });
            assert_eq!(reopen.is_ok(), from.is_finished(), "reopen from {from:?}");
            let refer = transition(
                from,
                &Action::Referral { agency: Agency::Police, on: NaiveDate::MIN, outcome: None },
            );
            assert_eq!(
                refer.is_ok(),
                matches!(from, Acknowledged | InProgress | Referred),
                "refer from {from:?}"
            );
            let progress = transition(from, &change(InProgress, None));
            assert_eq!(
                progress.is_ok(),
                matches!(from, Acknowledged | Referred),
                "in progress from {from:?}"
            );
            let resolve = transition(from, &change(Resolved, None));
            assert_eq!(resolve.is_ok(), matches!(from, Acknowledged | InProgress | Referred));
            let close = transition(from, &change(Closed, Some(CloseReason::Unfounded)));
            assert_eq!(close.is_ok(), from != Closed, "close from {from:?}");
            for target in [Submitted, Acknowledged, Referred] {
                assert!(matches!(
                    transition(from, &change(target, None)),
                    Err(ApiError::BadInput { field: "status", .. })
                ));
            }
        }
        assert!(matches!(
            transition(Acknowledged, &change(Closed, None)),
            Err(ApiError::BadInput { field: "close_reason", .. })
        ));
        assert!(matches!(
            transition(Acknowledged, &change(Resolved, Some(CloseReason::Other))),
            Err(ApiError::BadInput { field: "close_reason", .. })
        ));
    }
}
