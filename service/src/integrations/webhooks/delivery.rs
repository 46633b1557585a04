//! Webhook delivery: a background worker on every instance drains `webhook_delivery`.
//!
//! Each round *claims* a batch of due `PENDING` deliveries of active subscriptions of live
//! clients in a short transaction — on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so instances
//! never claim the same rows — by pushing their `next_attempt_at` past a lease; it then posts
//! them, a few at once, outside any transaction, and records each outcome in a transaction of
//! its own:
//!
//! - a 2xx answer: `DELIVERED`, and the subscription's count of failures starts over;
//! - anything else (no answer in `APP_WEBHOOK_TIMEOUT_MS`, a redirect, an error status, a target
//!   that is no longer public): one more attempt after an exponential backoff, `FAILED` after
//!   `APP_WEBHOOK_MAX_ATTEMPTS`; the subscription counts the failure and is disabled (`FAILING`)
//!   after `APP_WEBHOOK_DISABLE_AFTER_FAILURES` in a row;
//! - 410 Gone: the receiver asked for no more, the subscription is disabled (`GONE`) at once.
//!
//! An instance that dies mid-post leaves its rows to be retried when the lease ends: delivery is
//! at least once, and the event id (`webhook-id`) lets the receiver drop a duplicate.
//!
//! **Signature** (Standard Webhooks): `webhook-id` (the event id), `webhook-timestamp` (Unix
//! seconds of this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `{id}.{timestamp}.{body}` with the subscription's secret (the bytes after `whsec_`, base64).
//!
//! Neither the secret nor the body nor the URL (whose query may hold a receiver's token) reaches
//! a log or `last_error`: only the delivery id, the status and the kind of failure.

use std::{collections::HashMap, sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::Utc;
use entities::{webhook_delivery as wd, webhook_event as we, webhook_subscription as ws};
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use sea_orm::{
    ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
    sea_query::{Expr, ExprTrait, Query},
};
use sha2::Sha256;
use tracing::Instrument;
use uuid::Uuid;

use super::{DeliveryStatus, DisabledReason, SubscriptionStatus, target};
use crate::{
    config::WebhookSettings,
    crypto::Keyring,
    push::backoff,
    state::AppState,
    worker::{self, PollingWorker},
};

/// How long a claimed row is left to its instance before another may retry it: at least five
/// minutes, and twice what a whole batch may take (its posts, `concurrency` at a time, each up
/// to the timeout), so a lease never ends while its instance is still at work.
fn claim_lease(settings: &WebhookSettings) -> Duration {
    let rounds = settings.batch_size.div_ceil(settings.concurrency.max(1) as u64) + 1;
    let batch = settings.timeout.saturating_mul(u32::try_from(rounds).unwrap_or(u32::MAX));
    batch.saturating_mul(2).max(Duration::from_secs(300))
}

/// The `webhook-signature` value of one attempt: `v1,` and the base64 of HMAC-SHA256 over
/// `{id}.{timestamp}.{body}` keyed with the secret's bytes.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    #[allow(clippy::expect_used)] // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// A delivery's secret could not be opened: the key that sealed it is not configured here.
const SECRET_UNAVAILABLE: &str = "SECRET_UNAVAILABLE";

/// Why an attempt failed, kept as a stable code in `last_error` (free of the URL, the body and
/// the secret).
#[derive(Debug)]
enum Failure {
    /// `HTTP_STATUS`: the receiver answered with this status (not 2xx; redirects included).
    Status(u16),
    /// No answer: `TIMEOUT`, `CONNECTION_FAILED`, `REQUEST_FAILED`, `TARGET_NOT_ALLOWED` (the URL
    /// as written is no longer allowed), `TARGET_NOT_PUBLIC` (its name resolves to an address
    /// that is not public), `SECRET_UNAVAILABLE` (its sealing key is not configured: neither an
    /// attempt nor a failure, retried in an hour).
    NoAnswer(&'static str),
}

impl Failure {
    fn status(&self) -> Option<i32> {
        match self {
            Failure::Status(s) => Some(i32::from(*s)),
            Failure::NoAnswer(_) => None,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Failure::Status(_) => "HTTP_STATUS",
            Failure::NoAnswer(code) => code,
        }
    }
}

/// Posts signed deliveries. In production it connects only to public addresses
/// ([`target::PublicResolver`]), never through a proxy and never following a redirect.
pub struct Poster {
    client: reqwest::Client,
    allow_private: bool,
}

impl Poster {
    pub fn new(settings: &WebhookSettings) -> Result<Self, reqwest::Error> {
        crate::sms::install_tls_provider();
        let mut builder = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent("phunu-webhooks/1");
        if !settings.allow_private_targets {
            builder = builder.dns_resolver(Arc::new(target::PublicResolver));
        }
        Ok(Self { client: builder.build()?, allow_private: settings.allow_private_targets })
    }

    async fn post(&self, url: &str, id: &str, key: &[u8], body: &str) -> Result<u16, Failure> {
        // Checked again at each delivery: a URL is kept as it was allowed, but the rule holds now.
        let url = target::parse_url(url, self.allow_private, "url")
            .map_err(|_| Failure::NoAnswer("TARGET_NOT_ALLOWED"))?;
        let timestamp = Utc::now().timestamp();
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", sign(key, id, timestamp, body))
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| {
                // reqwest's own text names the URL: say only what kind of failure it was.
                Failure::NoAnswer(if refused_by_resolver(&e) {
                    "TARGET_NOT_PUBLIC"
                } else if e.is_timeout() {
                    "TIMEOUT"
                } else if e.is_connect() {
                    "CONNECTION_FAILED"
                } else {
                    "REQUEST_FAILED"
                })
            })?;
        let status = response.status().as_u16();
        if response.status().is_success() { Ok(status) } else { Err(Failure::Status(status)) }
    }
}

/// Whether the resolver refused the target's name (somewhere down the error's chain of causes).
fn refused_by_resolver(e: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cause {
        if matches!(c.downcast_ref::<target::ResolveError>(), Some(target::ResolveError::NotPublic)) {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Spawns the webhook worker: every poll interval, and at once when this instance queues a
/// delivery.
pub fn spawn_worker(state: AppState, poster: Arc<Poster>) -> PollingWorker {
    let settings = state.settings.webhooks;
    let nudge = state.webhooks_queued.clone();
    PollingWorker::spawn_nudged("webhooks", settings.poll_interval, nudge, move || {
        let (state, poster) = (state.clone(), poster.clone());
        async move {
            let n = run_batch(&state, &poster).await?;
            Ok::<_, DbErr>(n as u64 >= settings.batch_size)
        }
    })
}

/// One claimed delivery, with what posting it needs.
struct Claimed {
    delivery: wd::Model,
    event: we::Model,
    subscription: ws::Model,
}

/// Claims one batch of due deliveries, posts them and records the outcomes. Returns how many
/// were claimed.
pub async fn run_batch(state: &AppState, poster: &Poster) -> Result<usize, DbErr> {
    let settings = state.settings.webhooks;
    let claimed = claim(&state.db, settings.batch_size, claim_lease(&settings)).await?;
    let n = claimed.len();
    let keys = state.report_keys.as_ref();
    let mut outcomes = futures_util::stream::iter(claimed)
        .map(|c| {
            let span =
                tracing::info_span!("webhook", delivery = %c.delivery.id, event_type = %c.event.event_type);
            async move {
                let outcome = attempt(poster, keys, &c).await;
                (c, outcome)
            }
            .instrument(span)
        })
        .buffer_unordered(settings.concurrency.max(1));
    while let Some((c, outcome)) = outcomes.next().await {
        let span = tracing::info_span!("webhook", delivery = %c.delivery.id);
        record(&state.db, &settings, &c, outcome).instrument(span).await?;
    }
    Ok(n)
}

async fn attempt(poster: &Poster, keys: &Keyring, c: &Claimed) -> Result<u16, Failure> {
    let context = super::secret_context(c.subscription.id);
    let key =
        keys.open(&c.subscription.secret, &context).map_err(|_| Failure::NoAnswer(SECRET_UNAVAILABLE))?;
    poster.post(&c.subscription.url, &c.event.id.to_string(), &key, &c.event.payload).await
}

/// Due deliveries of active subscriptions of live clients, with their events and subscriptions,
/// leased to this instance.
async fn claim(db: &sea_orm::DatabaseConnection, batch: u64, lease: Duration) -> Result<Vec<Claimed>, DbErr> {
    let txn = db.begin().await?;
    let now = Utc::now();
    let live_clients = super::live_clients(now);
    let active = Query::select()
        .column(ws::Column::Id)
        .from(ws::Entity)
        .and_where(Expr::col(ws::Column::Status).eq(SubscriptionStatus::Active.as_str()))
        .and_where(Expr::col(ws::Column::ClientId).in_subquery(live_clients))
        .to_owned();
    let due = wd::Entity::find()
        .filter(wd::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(wd::Column::NextAttemptAt.lte(now))
        .filter(wd::Column::SubscriptionId.in_subquery(active))
        .order_by_asc(wd::Column::NextAttemptAt)
        .limit(batch);
    let columns = (wd::Column::Id, wd::Column::NextAttemptAt);
    let rows = worker::lease_due(&txn, due, columns, |r| r.id, now, lease).await?;
    if rows.is_empty() {
        txn.commit().await?;
        return Ok(Vec::new());
    }
    let events: HashMap<Uuid, we::Model> = we::Entity::find()
        .filter(we::Column::Id.is_in(rows.iter().map(|r| r.event_id)))
        .all(&txn)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    let subscriptions: HashMap<Uuid, ws::Model> = ws::Entity::find()
        .filter(ws::Column::Id.is_in(rows.iter().map(|r| r.subscription_id)))
        .all(&txn)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    txn.commit().await?;
    Ok(rows
        .into_iter()
        .filter_map(|delivery| {
            let event = events.get(&delivery.event_id)?.clone();
            let subscription = subscriptions.get(&delivery.subscription_id)?.clone();
            Some(Claimed { delivery, event, subscription })
        })
        .collect())
}

/// Writes the outcome of one attempt to the delivery and its subscription, in one transaction
/// that locks the subscription first. Only a delivery still `PENDING` changes.
async fn record(
    db: &sea_orm::DatabaseConnection,
    settings: &WebhookSettings,
    c: &Claimed,
    outcome: Result<u16, Failure>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let attempts = c.delivery.attempts.saturating_add(1);
    let txn = db.begin().await?;
    // The subscription first, as deleting one does (`webhooks::delete_subscription`): taking the
    // delivery first would deadlock with it. Deleted meanwhile: nothing to record.
    if crate::db::lock_by_id::<ws::Entity>(&txn, c.subscription.id).await?.is_none() {
        return txn.commit().await;
    }
    if matches!(outcome, Err(Failure::NoAnswer(SECRET_UNAVAILABLE))) {
        // Our fault, not the receiver's: no attempt counted, no failure against the
        // subscription; tried again in an hour (by an instance that has the key, or this one
        // once it is configured).
        tracing::error!("webhook not signed: the key that sealed its secret is not configured");
        wd::Entity::update_many()
            .filter(wd::Column::Id.eq(c.delivery.id))
            .filter(wd::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .col_expr(wd::Column::LastError, Expr::value(SECRET_UNAVAILABLE))
            .col_expr(wd::Column::NextAttemptAt, Expr::value(now + chrono::Duration::hours(1)))
            .exec(&txn)
            .await?;
        return txn.commit().await;
    }
    let update = wd::Entity::update_many()
        .filter(wd::Column::Id.eq(c.delivery.id))
        .filter(wd::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .col_expr(wd::Column::Attempts, Expr::value(attempts))
        .col_expr(wd::Column::LastAttemptAt, Expr::value(now));
    let subscription = ws::Entity::update_many().filter(ws::Column::Id.eq(c.subscription.id));
    match outcome {
        Ok(status) => {
            tracing::debug!(attempts, status, "webhook delivered");
            update
                .col_expr(wd::Column::Status, Expr::value(DeliveryStatus::Delivered.as_str()))
                .col_expr(wd::Column::DeliveredAt, Expr::value(now))
                .col_expr(wd::Column::LastStatus, Expr::value(i32::from(status)))
                .col_expr(wd::Column::LastError, Expr::value(Option::<String>::None))
                .exec(&txn)
                .await?;
            subscription
                .col_expr(ws::Column::Failures, Expr::value(0))
                .col_expr(ws::Column::LastSuccessAt, Expr::value(now))
                .exec(&txn)
                .await?;
        }
        Err(failure) => {
            let gone = matches!(failure, Failure::Status(410));
            let give_up = gone || attempts as u32 >= settings.max_attempts;
            tracing::warn!(
                attempts,
                give_up,
                status = failure.status(),
                error = failure.code(),
                "webhook not delivered"
            );
            let update = update
                .col_expr(wd::Column::LastStatus, Expr::value(failure.status()))
                .col_expr(wd::Column::LastError, Expr::value(failure.code()));
            let update = if give_up {
                update.col_expr(wd::Column::Status, Expr::value(DeliveryStatus::Failed.as_str()))
            } else {
                let wait = backoff(settings.backoff_base, attempts as u32);
                let wait = chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::hours(1));
                update.col_expr(wd::Column::NextAttemptAt, Expr::value(now + wait))
            };
            update.exec(&txn).await?;
            subscription
                .col_expr(ws::Column::Failures, Expr::col(ws::Column::Failures).add(1))
                .col_expr(ws::Column::LastFailureAt, Expr::value(now))
                .exec(&txn)
                .await?;
            let threshold = i32::try_from(settings.disable_after_failures).unwrap_or(i32::MAX);
            let mut disable = ws::Entity::update_many()
                .col_expr(ws::Column::Status, Expr::value(SubscriptionStatus::Disabled.as_str()))
                .col_expr(ws::Column::DisabledAt, Expr::value(now))
                .col_expr(ws::Column::UpdatedAt, Expr::value(now))
                .filter(ws::Column::Id.eq(c.subscription.id))
                .filter(ws::Column::Status.eq(SubscriptionStatus::Active.as_str()));
            disable = if gone {
                disable.col_expr(ws::Column::DisabledReason, Expr::value(DisabledReason::Gone.as_str()))
            } else {
                disable
                    .col_expr(ws::Column::DisabledReason, Expr::value(DisabledReason::Failing.as_str()))
                    .filter(ws::Column::Failures.gte(threshold))
            };
            if disable.exec(&txn).await?.rows_affected > 0 {
                tracing::warn!(
                    event = "webhook_disabled",
                    subscription = %c.subscription.id,
                    reason = if gone { "GONE" } else { "FAILING" },
                    "webhook subscription disabled"
                );
            }
        }
    }
    txn.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_outlasts_the_slowest_batch() {
        let mut s = crate::config::Settings::from_vars(&Default::default()).unwrap().webhooks;
        assert_eq!(claim_lease(&s), Duration::from_secs(300));
        // 20 posts, 8 at a time, up to two minutes each: 3 rounds (+1 for the records) × 2.
        s.timeout = Duration::from_secs(120);
        assert_eq!(claim_lease(&s), Duration::from_secs(120 * 4 * 2));
    }

    #[test]
    fn the_signature_is_the_one_of_the_standard_webhooks_test_vector() {
        // From the Standard Webhooks reference libraries' tests.
        let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
