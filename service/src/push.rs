//! Push delivery: a background worker drains `push_outbox` through a [`PushSender`].
//!
//! Rows are queued by `notifications::enqueue` in the writer's transaction. Each round
//! the worker *claims* a small batch of due `PENDING` rows in a short transaction — on
//! PostgreSQL with `FOR UPDATE SKIP LOCKED`, so instances never claim the same rows — by
//! pushing their `next_attempt_at` past a lease; it then sends outside any transaction and
//! records each outcome: `SENT` with `sent_at`, or one more attempt with its error and an
//! exponential backoff, and `FAILED` after `APP_PUSH_MAX_ATTEMPTS` (or at once when the provider
//! rejects the token). An instance that dies mid-send leaves its rows to be retried when the
//! lease ends: delivery is at least once.
//!
//! Neither the token nor the texts are ever logged: only the outbox id and the platform.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use entities::{push_outbox, push_token};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait, sea_query::Expr,
};
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    config::Settings,
    worker::{self, PollingWorker},
};

/// How long a claimed row is left to its instance before another may retry it.
const CLAIM_LEASE: Duration = Duration::from_secs(300);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// `last_error` is kept short (the column holds 255).
const MAX_ERROR_CHARS: usize = 200;

pub const PENDING: &str = "PENDING";
pub const SENT: &str = "SENT";
pub const FAILED: &str = "FAILED";

/// Why a push was not delivered. The text is stored in `last_error` and logged, so
/// implementations must keep tokens and message texts out of it.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Worth retrying later (provider unavailable, timeout, quota).
    #[error("{0}")]
    Transient(String),
    /// Refused for good (e.g. the app was uninstalled and the token is dead): not retried.
    #[error("{0}")]
    Rejected(String),
}

/// Delivers one push to one device (FCM, APNs, Web Push… behind one interface).
#[async_trait::async_trait]
pub trait PushSender: Send + Sync {
    async fn send(&self, token: &str, platform: &str, title: &str, body: &str) -> Result<(), PushError>;
}

/// The shipped sender: no provider, it only logs that a push would go out (the worker's span
/// carries the outbox id; the token and texts are left out).
pub struct LogPushSender;

#[async_trait::async_trait]
impl PushSender for LogPushSender {
    async fn send(&self, _token: &str, platform: &str, _title: &str, _body: &str) -> Result<(), PushError> {
        tracing::info!(platform, "push delivered (log sender, no provider configured)");
        Ok(())
    }
}

/// Tuning of the worker, from the settings.
#[derive(Clone, Copy, Debug)]
pub struct PushConfig {
    pub poll_interval: Duration,
    pub batch_size: u64,
    pub max_attempts: u32,
    pub backoff_base: Duration,
}

impl PushConfig {
    pub fn from_settings(s: &Settings) -> Self {
        Self {
            poll_interval: s.push_poll_interval,
            batch_size: s.push_batch_size.max(1),
            max_attempts: s.push_max_attempts.max(1),
            backoff_base: s.push_backoff_base,
        }
    }
}

/// Wait before the next attempt after `attempts` failed ones: base × 2^(attempts − 1), capped.
pub fn backoff(base: Duration, attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(31));
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

/// Spawns the push worker on the current Tokio runtime: a full batch suggests a backlog, so
/// the next one follows at once.
pub fn spawn_worker(
    db: DatabaseConnection,
    config: PushConfig,
    sender: Arc<dyn PushSender>,
) -> PollingWorker {
    PollingWorker::spawn("push", config.poll_interval, move || {
        let (db, sender) = (db.clone(), sender.clone());
        async move {
            let n = run_batch(&db, &config, sender.as_ref()).await?;
            Ok::<_, DbErr>(n as u64 >= config.batch_size)
        }
    })
}

/// Claims one batch of due pushes, sends them and records the outcomes. Returns how many were
/// claimed.
pub async fn run_batch(
    db: &DatabaseConnection,
    config: &PushConfig,
    sender: &dyn PushSender,
) -> Result<usize, DbErr> {
    let claimed = claim(db, config.batch_size).await?;
    let n = claimed.len();
    for (row, token) in claimed {
        let span = tracing::info_span!("push", outbox_id = %row.id, platform = %token.platform);
        let outcome =
            sender.send(&token.token, &token.platform, &row.title, &row.body).instrument(span.clone()).await;
        record(db, config, &row, outcome).instrument(span).await?;
    }
    Ok(n)
}

/// Due rows with their tokens, leased to this instance.
async fn claim(
    db: &DatabaseConnection,
    batch: u64,
) -> Result<Vec<(push_outbox::Model, push_token::Model)>, DbErr> {
    let txn = db.begin().await?;
    let now = Utc::now();
    let due = push_outbox::Entity::find()
        .filter(push_outbox::Column::Status.eq(PENDING))
        .filter(push_outbox::Column::NextAttemptAt.lte(now))
        .order_by_asc(push_outbox::Column::NextAttemptAt)
        .limit(batch);
    let columns = (push_outbox::Column::Id, push_outbox::Column::NextAttemptAt);
    let rows = worker::lease_due(&txn, due, columns, |r| r.id, now, CLAIM_LEASE).await?;
    if rows.is_empty() {
        txn.commit().await?;
        return Ok(Vec::new());
    }
    let tokens = push_token::Entity::find()
        .filter(push_token::Column::Id.is_in(rows.iter().map(|r| r.push_token_id)))
        .all(&txn)
        .await?;
    txn.commit().await?;
    let by_id: std::collections::HashMap<Uuid, push_token::Model> =
        tokens.into_iter().map(|t| (t.id, t)).collect();
    // Several rows of a batch may go to one device. A row whose token is gone was deleted with
    // it (cascade): nothing to send.
    Ok(rows.into_iter().filter_map(|r| by_id.get(&r.push_token_id).cloned().map(|t| (r, t))).collect())
}

/// Writes the outcome of one attempt. Only a row still `PENDING` changes (a token unregistered
/// meanwhile took its rows with it).
async fn record(
    conn: &impl ConnectionTrait,
    config: &PushConfig,
    row: &push_outbox::Model,
    outcome: Result<(), PushError>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let attempts = row.attempts.saturating_add(1);
    let update = push_outbox::Entity::update_many()
        .filter(push_outbox::Column::Id.eq(row.id))
        .filter(push_outbox::Column::Status.eq(PENDING))
        .col_expr(push_outbox::Column::Attempts, Expr::value(attempts));
    let update = match outcome {
        Ok(()) => {
            tracing::debug!(attempts, "push sent");
            update
                .col_expr(push_outbox::Column::Status, Expr::value(SENT))
                .col_expr(push_outbox::Column::SentAt, Expr::value(now))
        }
        Err(err) => {
            let give_up = matches!(err, PushError::Rejected(_)) || attempts as u32 >= config.max_attempts;
            let message = short(&err.to_string());
            tracing::warn!(attempts, give_up, error = %message, "push not delivered");
            let update = update.col_expr(push_outbox::Column::LastError, Expr::value(message));
            if give_up {
                update.col_expr(push_outbox::Column::Status, Expr::value(FAILED))
            } else {
                let wait = backoff(config.backoff_base, attempts as u32);
                let wait = chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::hours(1));
                update.col_expr(push_outbox::Column::NextAttemptAt, Expr::value(now + wait))
            }
        }
    };
    update.exec(conn).await?;
    Ok(())
}

fn short(message: &str) -> String {
    let message = message.trim();
    if message.is_empty() {
        return "delivery failed".to_owned();
    }
    message.chars().take(MAX_ERROR_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_is_capped() {
        let base = Duration::from_secs(30);
        assert_eq!(backoff(base, 1), Duration::from_secs(30));
        assert_eq!(backoff(base, 2), Duration::from_secs(60));
        assert_eq!(backoff(base, 4), Duration::from_secs(240));
        assert_eq!(backoff(base, 10), MAX_BACKOFF);
        assert_eq!(backoff(base, 1000), MAX_BACKOFF);
    }

    #[test]
    fn errors_are_kept_short() {
        assert_eq!(short(""), "delivery failed");
        assert_eq!(short(&"x".repeat(1000)).chars().count(), MAX_ERROR_CHARS);
    }
}
