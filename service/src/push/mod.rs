//! Push delivery: a background worker drains `push_outbox` through a [`PushSender`].
//!
//! Rows are queued by `notifications::enqueue` in the writer's transaction. Each round
//! the worker *claims* a small batch of due `PENDING` rows in a short transaction — on
//! PostgreSQL with `FOR UPDATE SKIP LOCKED`, so instances never claim the same rows — by
//! pushing their `next_attempt_at` past a lease; it then sends the batch concurrently outside any
//! transaction and records each outcome: `SENT` with `sent_at`; one more attempt with its error
//! and an exponential backoff (or the provider's `Retry-After`, whichever is longer); `FAILED`
//! after `APP_PUSH_MAX_ATTEMPTS` or when the provider refuses the message for good; and when the
//! provider says the device token is dead (the app was uninstalled), the token is deleted, with
//! every push still queued for it. An instance that dies mid-send leaves its rows to be retried
//! when the lease ends: delivery is at least once.
//!
//! Senders, chosen by `APP_PUSH_PROVIDERS` ([`sender_from_settings`]):
//! - [`LogPushSender`] (the default): no provider, it logs that a push would go out;
//! - [`fcm::FcmSender`]: Firebase Cloud Messaging HTTP v1 (Android, web, and iOS through FCM);
//! - [`apns::ApnsSender`]: Apple Push Notification service, token-based auth over HTTP/2.
//!
//! With both, [`PlatformRouter`] sends `IOS` tokens through APNs and the others through FCM.
//!
//! Neither the token nor the texts are ever logged or stored in `last_error`: only the outbox id,
//! the platform and the provider's status or error code.

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

pub mod apns;
pub mod fcm;

/// How long a claimed row is left to its instance before another may retry it.
const CLAIM_LEASE: Duration = Duration::from_secs(300);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// `last_error` is kept short (the column holds 255).
const MAX_ERROR_CHARS: usize = 200;

pub const PENDING: &str = "PENDING";
pub const SENT: &str = "SENT";
pub const FAILED: &str = "FAILED";

/// One push to one device. Its `Debug` leaves out the token and the texts.
#[derive(Clone, Copy)]
pub struct PushMessage<'a> {
    /// The outbox row: the provider's message id where it takes one (APNs' `apns-id`).
    pub id: Uuid,
    /// The device token, opaque.
    pub token: &'a str,
    /// `ANDROID`, `IOS` or `WEB`.
    pub platform: &'a str,
    /// Rendered in the recipient's language.
    pub title: &'a str,
    pub body: &'a str,
    /// The inbox row the push announces; the app opens it (data `notification_id`).
    pub notification_id: Uuid,
}

/// Why a push was not delivered. The text is stored in `last_error` and logged, so
/// implementations must keep tokens and message texts out of it.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Worth retrying later (provider unavailable, timeout, quota); `retry_after` is the wait
    /// the provider asked for, if it did.
    #[error("{reason}")]
    Transient { reason: String, retry_after: Option<Duration> },
    /// Refused for good (a message the provider will never take): not retried.
    #[error("{0}")]
    Rejected(String),
    /// The device token is dead (the app was uninstalled, or the token belongs to another app):
    /// the token is deleted with every push queued for it.
    #[error("{0}")]
    Unregistered(String),
}

impl std::fmt::Debug for PushMessage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushMessage")
            .field("id", &self.id)
            .field("platform", &self.platform)
            .field("notification_id", &self.notification_id)
            .finish_non_exhaustive()
    }
}

impl PushError {
    /// A transient failure without a provider-given wait.
    pub fn transient(reason: impl Into<String>) -> Self {
        PushError::Transient { reason: reason.into(), retry_after: None }
    }
}

/// Delivers one push to one device (FCM, APNs, Web Push… behind one interface).
#[async_trait::async_trait]
pub trait PushSender: Send + Sync {
    async fn send(&self, message: &PushMessage<'_>) -> Result<(), PushError>;
}

/// The default sender: no provider, it only logs that a push would go out (the worker's span
/// carries the outbox id; the token and texts are left out).
pub struct LogPushSender;

#[async_trait::async_trait]
impl PushSender for LogPushSender {
    async fn send(&self, message: &PushMessage<'_>) -> Result<(), PushError> {
        tracing::info!(platform = message.platform, "push delivered (log sender, no provider configured)");
        Ok(())
    }
}

/// Sends `IOS` tokens through APNs (or FCM when only FCM is configured: it delivers to iOS too)
/// and every other platform through FCM. A push for a platform no configured provider serves
/// (an Android device with `APP_PUSH_PROVIDERS=apns`) is refused, not pretended sent.
pub struct PlatformRouter {
    pub fcm: Option<Arc<dyn PushSender>>,
    pub apns: Option<Arc<dyn PushSender>>,
}

#[async_trait::async_trait]
impl PushSender for PlatformRouter {
    async fn send(&self, message: &PushMessage<'_>) -> Result<(), PushError> {
        let sender = if message.platform == "IOS" {
            self.apns.as_ref().or(self.fcm.as_ref())
        } else {
            self.fcm.as_ref()
        };
        match sender {
            Some(sender) => sender.send(message).await,
            None => {
                Err(PushError::Rejected(format!("no push provider for {} is configured", message.platform)))
            }
        }
    }
}

/// Why a configured provider could not be set up. Names the setting, never a key's content.
#[derive(Debug, thiserror::Error)]
pub enum PushSetupError {
    #[error("{name}: {problem}")]
    Invalid { name: &'static str, problem: &'static str },
}

/// The sender `APP_PUSH_PROVIDERS` asks for: the log sender, FCM, APNs, or both behind a
/// [`PlatformRouter`]. Reads the key files named by the settings (at startup, once).
pub fn sender_from_settings(settings: &Settings) -> Result<Arc<dyn PushSender>, PushSetupError> {
    let push = &settings.push_providers;
    let timeout = settings.push_timeout;
    let fcm = match &push.fcm {
        Some(c) => Some(Arc::new(fcm::FcmSender::from_config(c, timeout)?) as Arc<dyn PushSender>),
        None => None,
    };
    let apns = match &push.apns {
        Some(c) => Some(Arc::new(apns::ApnsSender::from_config(c, timeout)?) as Arc<dyn PushSender>),
        None => None,
    };
    Ok(match (fcm, apns) {
        (None, None) => Arc::new(LogPushSender),
        (fcm, apns) => Arc::new(PlatformRouter { fcm, apns }),
    })
}

/// The HTTP client of a provider: a timeout on the whole exchange and on connecting, no
/// redirects; `h2c` speaks HTTP/2 without TLS from the first byte (APNs test doubles on
/// `http://`; real APNs negotiates HTTP/2 over TLS).
pub(crate) fn http_client(timeout: Duration, h2c: bool) -> Result<reqwest::Client, PushSetupError> {
    crate::sms::install_tls_provider();
    let builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    let builder = if h2c { builder.http2_prior_knowledge() } else { builder };
    builder.build().map_err(|_| PushSetupError::Invalid {
        name: "APP_PUSH_PROVIDERS",
        problem: "the HTTP client could not be built",
    })
}

/// A transport failure, said without the URL (which carries a token on APNs).
pub(crate) fn classify_transport(provider: &str, err: &reqwest::Error) -> PushError {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_decode() || err.is_body() {
        "sent an unreadable answer"
    } else {
        "request failed"
    };
    PushError::transient(format!("{provider} {what}"))
}

/// `Retry-After` in seconds (the form both providers use), at most an hour.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(MAX_BACKOFF))
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

/// Claims one batch of due pushes, sends them (concurrently: a provider answers in tens of
/// milliseconds, and a campaign's fan-out queues thousands) and records the outcomes. Returns
/// how many were claimed.
pub async fn run_batch(
    db: &DatabaseConnection,
    config: &PushConfig,
    sender: &dyn PushSender,
) -> Result<usize, DbErr> {
    let claimed = claim(db, config.batch_size).await?;
    let n = claimed.len();
    let sends = claimed.into_iter().map(|(row, token)| async move {
        let span = tracing::info_span!("push", outbox_id = %row.id, platform = %token.platform);
        let message = PushMessage {
            id: row.id,
            token: &token.token,
            platform: &token.platform,
            title: &row.title,
            body: &row.body,
            notification_id: row.notification_id,
        };
        let outcome = sender.send(&message).instrument(span.clone()).await;
        record(db, config, &row, outcome).instrument(span).await
    });
    for result in futures_util::future::join_all(sends).await {
        result?;
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
/// meanwhile took its rows with it). A dead token is deleted, and its queued rows with it.
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
        Err(PushError::Unregistered(reason)) => {
            tracing::info!(attempts, error = %short(&reason), "push token unregistered by the provider; removed");
            // Cascades to every row still queued for the device, this one included.
            push_token::Entity::delete_many()
                .filter(push_token::Column::Id.eq(row.push_token_id))
                .exec(conn)
                .await?;
            return Ok(());
        }
        Err(err) => {
            let (give_up, asked) = match &err {
                PushError::Transient { retry_after, .. } => {
                    (attempts as u32 >= config.max_attempts, *retry_after)
                }
                _ => (true, None),
            };
            let message = short(&err.to_string());
            tracing::warn!(attempts, give_up, error = %message, "push not delivered");
            let update = update.col_expr(push_outbox::Column::LastError, Expr::value(message));
            if give_up {
                update.col_expr(push_outbox::Column::Status, Expr::value(FAILED))
            } else {
                let wait = backoff(config.backoff_base, attempts as u32).max(asked.unwrap_or_default());
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
