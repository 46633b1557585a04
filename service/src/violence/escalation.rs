//! Escalation: a report still unacknowledged at its deadline (`APP_REPORT_ESCALATE_URGENT_MINS`
//! after submission when urgent, `APP_REPORT_ESCALATE_MINS` otherwise) moves to the case
//! officers of the next unit up that has any, who are notified; the step goes on the timeline
//! (internal) and the deadline starts again, until someone acknowledges it or the top is
//! reached.
//!
//! The deadline is a column, so escalation survives restarts. Every instance runs the worker:
//! a round claims due reports with `FOR UPDATE SKIP LOCKED` on PostgreSQL, and each escalation
//! is a conditional update on the deadline it saw, so two instances never escalate a report
//! twice. A round takes `now` as an argument: tests drive the clock.

use chrono::{DateTime, Utc};
use entities::violence_report as report;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType},
};

use super::{
    AccessAction, ActorRole, EventKind, NewEvent, ReportStatus, add_event, case_officers_at, log_access,
    nearest_with_case_officers, notify, publish_console_event, submit::escalation_deadline,
};
use crate::{
    error::ApiError,
    notifications::{NotificationKind, announce},
    state::AppState,
    worker::PollingWorker,
};

/// Most reports one round escalates (one transaction).
const BATCH: u64 = 100;

/// Escalates the reports due at `now`; whether a full batch was due (more may wait).
pub async fn run_round(state: &AppState, now: DateTime<Utc>) -> Result<bool, ApiError> {
    let txn = state.db.begin().await?;
    if state.db.get_database_backend() == DbBackend::Sqlite {
        // Take SQLite's write lock first (as `BEGIN IMMEDIATE` would): a second instance then
        // waits for this round instead of failing when it tries to write after reading.
        txn.execute_unprepared("UPDATE violence_report SET version = version WHERE 0 = 1").await?;
    }
    let mut due = report::Entity::find()
        .filter(report::Column::Status.eq(ReportStatus::Submitted.as_str()))
        .filter(report::Column::EscalateAt.lte(now))
        .order_by_asc(report::Column::EscalateAt)
        .limit(BATCH);
    if state.db.get_database_backend() == DbBackend::Postgres {
        due = due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let due = due.all(&txn).await?;
    let full = due.len() as u64 == BATCH;
    let mut notes = Vec::new();
    let mut moved = Vec::new();
    for row in due {
        let next = nearest_with_case_officers(&txn, row.routed_unit_id, true).await?;
        let mut update = report::Entity::update_many()
            .filter(report::Column::Id.eq(row.id))
            .filter(report::Column::Status.eq(ReportStatus::Submitted.as_str()))
            .filter(report::Column::EscalateAt.eq(row.escalate_at));
        update = match next {
            // The top: nobody further up; it stays overdue in every console that reaches it.
            None => update.col_expr(report::Column::EscalateAt, Expr::val(None::<DateTime<Utc>>)),
            Some(unit) => update
                .col_expr(report::Column::RoutedUnitId, Expr::val(unit))
                .col_expr(report::Column::EscalationLevel, Expr::col(report::Column::EscalationLevel).add(1))
                .col_expr(report::Column::Version, Expr::col(report::Column::Version).add(1))
                .col_expr(report::Column::UpdatedAt, Expr::val(now))
                .col_expr(
                    report::Column::EscalateAt,
                    Expr::val(Some(escalation_deadline(state, row.urgent, now))),
                ),
        };
        if update.exec(&txn).await?.rows_affected == 0 {
            continue;
        }
        let Some(unit) = next else { continue };
        let mut event = NewEvent::new(EventKind::Escalated, None, ActorRole::System);
        event.unit_id = Some(unit);
        add_event(&txn, &state.report_keys, row.id, event, now).await?;
        log_access(&txn, row.id, None, ActorRole::System, AccessAction::Escalate, now).await?;
        let officers = case_officers_at(&txn, unit).await?;
        notes.extend(notify(&txn, &officers, NotificationKind::ViolenceReportEscalated, row.id).await?);
        moved.push(row);
    }
    txn.commit().await?;
    announce(state, &notes).await;
    for row in &moved {
        publish_console_event(state, row, "ESCALATED").await;
    }
    if !moved.is_empty() {
        tracing::info!(escalated = moved.len(), "escalated unacknowledged reports");
    }
    Ok(full)
}

/// Starts the escalation worker on the current Tokio runtime.
pub fn spawn_worker(state: AppState) -> PollingWorker {
    let poll = state.settings.report_escalation_poll_interval;
    PollingWorker::spawn("escalation", poll, move || {
        let state = state.clone();
        async move { run_round(&state, Utc::now()).await }
    })
}
