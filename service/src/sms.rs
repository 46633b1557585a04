//! SMS delivery: one-time codes and account notices, through an outbox drained by a worker.
//!
//! A writer queues a message with [`enqueue`] inside its own transaction (so a code exists
//! exactly when its message does) and calls [`AppState::sms_queued`]'s `notify_one` after
//! commit, which wakes this instance's worker at once: a code arrives in about the time the
//! gateway takes, while the outbox still retries what the gateway could not take (a timeout, a
//! 5xx) with backoff, on any instance. As the push outbox, rows are claimed with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL and leased, so delivery is at least once.
//!
//! What a message says (the text and its code) is stored sealed with the report keys (bound to
//! its row) until it is done; then the number and the message are erased and only the outcome
//! stays. A message is not sent after its expiry (a code nobody can use any more).
//!
//! Senders ([`SmsSender`]) are chosen by `APP_SMS_PROVIDER`:
//! - `log` ([`LogSmsSender`], development only — production refuses to start with it) prints
//!   the message, code included, in the server log, so a developer can register without a phone;
//! - `http` ([`HttpSmsSender`]) posts a JSON body built from a template to a gateway (the
//!   Vietnamese SMS brand-name and Zalo ZNS APIs are all of this shape), with a timeout; a 5xx,
//!   429, timeout or connection error is retried, another 4xx is given up. Neither the message,
//!   the code, the number nor the gateway's answer ever reaches a log or `last_error`.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use entities::sms_outbox::{self, SmsStatus};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set, TransactionTrait, sea_query::Expr,
};
use secrecy::ExposeSecret;
use serde_json::Value;
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    config::{GatewayAuth, Settings, SmsGateway},
    crypto::Keyring,
    error::ApiError,
    push::backoff,
    state::AppState,
    worker::PollingWorker,
};

/// How long a claimed row is left to its instance before another may retry it.
const CLAIM_LEASE: Duration = Duration::from_secs(60);
/// Rows claimed per round.
const BATCH: u64 = 20;

/// One message to one number.
pub struct SmsMessage<'a> {
    /// The outbox row (a gateway's idempotency or tracking id).
    pub id: Uuid,
    /// The recipient, normalised E.164 (`+84…`).
    pub to: &'a str,
    pub text: &'a str,
    /// The one-time code the text carries, if any (a Zalo ZNS template takes it apart).
    pub code: Option<&'a str>,
}

/// Why an SMS was not delivered. The text is stored in `last_error` and logged, so it must carry
/// neither the number, the message nor the gateway's answer.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// Worth retrying later (gateway down, timeout, throttled).
    #[error("{0}")]
    Transient(String),
    /// Refused for good (a number the gateway does not serve, a bad request).
    #[error("{0}")]
    Rejected(String),
}

/// Delivers one SMS (a brand-name SMS gateway, Zalo ZNS, a test double…).
#[async_trait::async_trait]
pub trait SmsSender: Send + Sync {
    async fn send(&self, message: &SmsMessage<'_>) -> Result<(), SmsError>;
}

/// Development only: prints the message, code included, in the server log (production refuses
/// to start with it).
pub struct LogSmsSender;

#[async_trait::async_trait]
impl SmsSender for LogSmsSender {
    async fn send(&self, message: &SmsMessage<'_>) -> Result<(), SmsError> {
        tracing::info!(
            to = message.to,
            text = message.text,
            "SMS (development log sender; no gateway configured)"
        );
        Ok(())
    }
}

/// Posts each message to an HTTP gateway (see module docs and `docs/configuration.md`).
pub struct HttpSmsSender {
    client: reqwest::Client,
    gateway: SmsGateway,
}

impl HttpSmsSender {
    pub fn new(gateway: SmsGateway) -> Result<Self, SmsError> {
        install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(gateway.timeout)
            .connect_timeout(gateway.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| SmsError::Rejected("the HTTP client could not be built".into()))?;
        Ok(Self { client, gateway })
    }

    /// The request body: the template with its placeholders filled in, each inside the JSON
    /// string that holds it (so no value can break out of its string).
    fn body(&self, message: &SmsMessage<'_>) -> Value {
        let digits = message.to.trim_start_matches('+');
        let local =
            digits.strip_prefix("84").map(|rest| format!("0{rest}")).unwrap_or_else(|| digits.to_owned());
        let id = message.id.to_string();
        let key = self.gateway.key.as_ref().map(|k| k.expose_secret().to_owned()).unwrap_or_default();
        let fill = |s: &str| {
            s.replace("{{phone}}", message.to)
                .replace("{{phone_digits}}", digits)
                .replace("{{phone_local}}", &local)
                .replace("{{text}}", message.text)
                .replace("{{code}}", message.code.unwrap_or(""))
                .replace("{{id}}", &id)
                .replace("{{key}}", &key)
        };
        map_strings(&self.gateway.template, &fill)
    }
}

/// Makes rustls over ring (already in the tree through the database driver) the TLS provider of
/// this process, for the HTTP clients; installing it again is harmless.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn map_strings(value: &Value, f: &impl Fn(&str) -> String) -> Value {
    match value {
        Value::String(s) => Value::String(f(s)),
        Value::Array(items) => Value::Array(items.iter().map(|v| map_strings(v, f)).collect()),
        Value::Object(fields) => {
            Value::Object(fields.iter().map(|(k, v)| (k.clone(), map_strings(v, f))).collect())
        }
        other => other.clone(),
    }
}

#[async_trait::async_trait]
impl SmsSender for HttpSmsSender {
    async fn send(&self, message: &SmsMessage<'_>) -> Result<(), SmsError> {
        let mut request = self.client.post(&self.gateway.url).json(&self.body(message));
        if let Some(key) = &self.gateway.key {
            request = match &self.gateway.auth {
                GatewayAuth::Bearer => request.bearer_auth(key.expose_secret()),
                GatewayAuth::Basic => request.basic_auth(key.expose_secret(), Some("")),
                GatewayAuth::Header(name) => request.header(name.as_str(), key.expose_secret()),
                GatewayAuth::InBody => request,
            };
        }
        // reqwest's own error text names the URL, which may carry a key: say what kind it was.
        let response = request.send().await.map_err(|e| {
            SmsError::Transient(
                if e.is_timeout() {
                    "gateway timeout"
                } else if e.is_connect() {
                    "gateway unreachable"
                } else {
                    "gateway request failed"
                }
                .into(),
            )
        })?;
        let status = response.status();
        if status.as_u16() == 429 || status.as_u16() == 408 || status.is_server_error() {
            return Err(SmsError::Transient(format!("gateway status {}", status.as_u16())));
        }
        if !status.is_success() {
            return Err(SmsError::Rejected(format!("gateway status {}", status.as_u16())));
        }
        let Some((pointer, expected)) = &self.gateway.success else { return Ok(()) };
        // The answer may echo the message: it is read here and never stored or logged.
        let answer: Value =
            response.json().await.map_err(|_| SmsError::Transient("gateway answer is not JSON".into()))?;
        let found = match answer.pointer(pointer) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        if &found == expected {
            Ok(())
        } else {
            Err(SmsError::Transient(format!("gateway did not confirm ({pointer})")))
        }
    }
}

/// The sender `APP_SMS_PROVIDER` names.
pub fn sender_from_settings(settings: &Settings) -> Result<Arc<dyn SmsSender>, SmsError> {
    Ok(match &settings.sms_gateway {
        Some(gateway) => Arc::new(HttpSmsSender::new(gateway.clone())?),
        None => Arc::new(LogSmsSender),
    })
}

/// A message to queue.
pub struct NewSms {
    pub to: String,
    /// What it is (a code's purpose, or a notice such as `PASSWORD_RESET`): kept after the
    /// message is erased.
    pub kind: &'static str,
    pub text: String,
    pub code: Option<String>,
    /// Not sent after this.
    pub expires_at: DateTime<Utc>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    text: String,
    code: Option<String>,
}

fn context(id: Uuid) -> Vec<u8> {
    format!("sms_outbox:{id}:payload").into_bytes()
}

/// Queues a message inside the caller's transaction, sealed; the caller wakes the worker after
/// commit (`state.sms_queued.notify_one()`).
pub async fn enqueue(conn: &impl ConnectionTrait, keys: &Keyring, sms: NewSms) -> Result<Uuid, ApiError> {
    let id = Uuid::now_v7();
    let payload = serde_json::to_vec(&Payload { text: sms.text, code: sms.code })
        .map_err(|e| ApiError::internal(format_args!("sms payload: {e}")))?;
    let sealed =
        keys.seal(&payload, &context(id)).map_err(|e| ApiError::internal(format_args!("seal sms: {e}")))?;
    let now = Utc::now();
    sms_outbox::ActiveModel {
        id: Set(id),
        phone: Set(Some(sms.to)),
        kind: Set(sms.kind.to_owned()),
        payload: Set(Some(sealed)),
        status: Set(SmsStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        expires_at: Set(sms.expires_at),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok(id)
}

/// Tuning of the worker, from the settings.
#[derive(Clone, Copy, Debug)]
pub struct SmsConfig {
    pub poll_interval: Duration,
    pub max_attempts: u32,
    pub backoff_base: Duration,
}

impl SmsConfig {
    pub fn from_settings(s: &Settings) -> Self {
        Self {
            poll_interval: s.sms_poll_interval,
            max_attempts: s.sms_max_attempts.max(1),
            backoff_base: s.sms_backoff_base,
        }
    }
}

/// Spawns the SMS worker: it runs every poll interval and at once when this instance queues a
/// message.
pub fn spawn_worker(state: AppState, config: SmsConfig, sender: Arc<dyn SmsSender>) -> PollingWorker {
    let nudge = state.sms_queued.clone();
    PollingWorker::spawn_nudged("sms", config.poll_interval, nudge, move || {
        let (state, sender) = (state.clone(), sender.clone());
        async move {
            let n = run_batch(&state, &config, sender.as_ref()).await?;
            Ok::<_, DbErr>(n as u64 >= BATCH)
        }
    })
}

/// Claims one batch of due messages, sends them and records the outcomes; how many it claimed.
pub async fn run_batch(state: &AppState, config: &SmsConfig, sender: &dyn SmsSender) -> Result<usize, DbErr> {
    let claimed = claim(&state.db).await?;
    let n = claimed.len();
    for row in claimed {
        let span = tracing::info_span!("sms", outbox_id = %row.id, kind = %row.kind);
        let outcome = match open(&state.report_keys, &row) {
            _ if row.expires_at <= Utc::now() => {
                Err(SmsError::Rejected("expired before it could be sent".into()))
            }
            Some((to, payload)) => {
                let message =
                    SmsMessage { id: row.id, to: &to, text: &payload.text, code: payload.code.as_deref() };
                sender.send(&message).instrument(span.clone()).await
            }
            None => Err(SmsError::Rejected("the message could not be opened".into())),
        };
        record(&state.db, config, &row, outcome).instrument(span).await?;
    }
    Ok(n)
}

fn open(keys: &Keyring, row: &sms_outbox::Model) -> Option<(String, Payload)> {
    let bytes = keys.open(row.payload.as_deref()?, &context(row.id)).ok()?;
    Some((row.phone.clone()?, serde_json::from_slice(&bytes).ok()?))
}

/// Due rows, leased to this instance.
async fn claim(db: &sea_orm::DatabaseConnection) -> Result<Vec<sms_outbox::Model>, DbErr> {
    let txn = db.begin().await?;
    let now = Utc::now();
    let due = sms_outbox::Entity::find()
        .filter(sms_outbox::Column::Status.eq(SmsStatus::Pending))
        .filter(sms_outbox::Column::NextAttemptAt.lte(now))
        .order_by_asc(sms_outbox::Column::NextAttemptAt)
        .limit(BATCH);
    let columns = (sms_outbox::Column::Id, sms_outbox::Column::NextAttemptAt);
    let rows = crate::worker::lease_due(&txn, due, columns, |r| r.id, now, CLAIM_LEASE).await?;
    txn.commit().await?;
    Ok(rows)
}

/// Writes the outcome of one attempt; a row that is done loses its number and message.
async fn record(
    conn: &impl ConnectionTrait,
    config: &SmsConfig,
    row: &sms_outbox::Model,
    outcome: Result<(), SmsError>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let attempts = row.attempts.saturating_add(1);
    let update = sms_outbox::Entity::update_many()
        .filter(sms_outbox::Column::Id.eq(row.id))
        .filter(sms_outbox::Column::Status.eq(SmsStatus::Pending))
        .col_expr(sms_outbox::Column::Attempts, Expr::value(attempts));
    let erase = |update: sea_orm::UpdateMany<sms_outbox::Entity>| {
        update
            .col_expr(sms_outbox::Column::Phone, Expr::value(Option::<String>::None))
            .col_expr(sms_outbox::Column::Payload, Expr::value(Option::<Vec<u8>>::None))
    };
    let update = match outcome {
        Ok(()) => {
            tracing::info!(attempts, "SMS handed to the gateway");
            erase(update)
                .col_expr(sms_outbox::Column::Status, Expr::value(SmsStatus::Sent.as_str()))
                .col_expr(sms_outbox::Column::SentAt, Expr::value(now))
        }
        Err(err) => {
            let give_up = matches!(err, SmsError::Rejected(_))
                || attempts as u32 >= config.max_attempts
                || row.expires_at <= now;
            let message: String = err.to_string().chars().take(200).collect();
            tracing::warn!(attempts, give_up, error = %message, "SMS not delivered");
            let update = update.col_expr(sms_outbox::Column::LastError, Expr::value(message));
            if give_up {
                erase(update).col_expr(sms_outbox::Column::Status, Expr::value(SmsStatus::Failed.as_str()))
            } else {
                let wait = backoff(config.backoff_base, attempts as u32);
                let wait = chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::minutes(1));
                update.col_expr(sms_outbox::Column::NextAttemptAt, Expr::value(now + wait))
            }
        }
    };
    update.exec(conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn gateway(template: &str) -> SmsGateway {
        SmsGateway {
            url: "http://127.0.0.1:9/send".into(),
            key: Some(SecretString::from("k-123")),
            auth: GatewayAuth::InBody,
            template: serde_json::from_str(template).unwrap(),
            success: None,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_template_is_filled_inside_its_strings() {
        let sender = HttpSmsSender::new(gateway(
            r#"{"Phone":"{{phone_local}}","to":["{{phone_digits}}"],"Content":"{{text}}",
                "data":{"otp":"{{code}}","n":1},"ApiKey":"{{key}}","ref":"{{id}}"}"#,
        ))
        .unwrap();
        let id = Uuid::now_v7();
        let text = r#"Mã "x" là 123456"#;
        let body = sender.body(&SmsMessage { id, to: "+84912345678", text, code: Some("123456") });
        assert_eq!(body["Phone"], "0912345678");
        assert_eq!(body["to"][0], "84912345678");
        // A quote in the text stays inside its string.
        assert_eq!(body["Content"], text);
        assert_eq!(body["data"]["otp"], "123456");
        assert_eq!(body["data"]["n"], 1);
        assert_eq!(body["ApiKey"], "k-123");
        assert_eq!(body["ref"], id.to_string());
    }
}
