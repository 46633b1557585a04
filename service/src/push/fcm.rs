//! Firebase Cloud Messaging, HTTP v1 API.
//!
//! Authentication is a Google service account (the JSON key file the Firebase console gives,
//! `APP_PUSH_FCM_CREDENTIALS_FILE`): the sender signs a short JWT assertion with the account's
//! RSA key (RS256; `iss` the account's e-mail, `scope` FCM's, `aud` and the exchange address its
//! `token_uri`) and exchanges it for an OAuth access token, which it keeps until a minute before
//! it expires. Sends that find no valid token wait for one exchange (the cache is behind a lock),
//! so a burst of pushes costs one exchange, not one each. A `401` means the token was revoked or
//! expired early: the sender exchanges again once — only if no other send already did — and
//! retries that message once.
//!
//! Each device token gets its own `POST /v1/projects/{project}/messages:send` with the
//! notification's title and body, the inbox row's id as data (`notification_id`), and high
//! priority on Android. Answers:
//! - `200`: delivered to FCM;
//! - error code `UNREGISTERED` (`404`): [`PushError::Unregistered`], the token is deleted. Only
//!   this: a `404` without it (a wrong project or `APP_PUSH_FCM_URL`) and `SENDER_ID_MISMATCH`
//!   (a credentials file of another project) are configuration mistakes that must not wipe every
//!   device;
//! - `401 UNAUTHENTICATED`: the access token, see above;
//! - `429`, `5xx`, `401 THIRD_PARTY_AUTH_ERROR` (the APNs or web-push credentials in Firebase
//!   are wrong), `403 SENDER_ID_MISMATCH` and `403 PERMISSION_DENIED` (configuration, worth
//!   retrying once it is fixed): [`PushError::Transient`], with FCM's `Retry-After`;
//! - anything else (`400 INVALID_ARGUMENT`, a `404` without `UNREGISTERED`…):
//!   [`PushError::Rejected`].
//!
//! A failed token exchange is remembered for a few seconds: the sends waiting for the token
//! fail at once instead of each trying again (and each waiting for the timeout).
//!
//! Neither the private key, the access token, the device token nor the texts reach a log or an
//! error: errors say the HTTP status and FCM's error code only.

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::{sync::Mutex, time::Instant};

use super::{
    PushError, PushMessage, PushSender, PushSetupError, classify_transport, http_client, retry_after,
};
use crate::config::FcmConfig;

/// The OAuth scope of the FCM send API.
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// How long a signed assertion is valid (Google accepts at most an hour).
const ASSERTION_LIFETIME_SECS: i64 = 3600;
/// A cached access token is replaced this long before it expires, so no send carries a token
/// that expires on the way.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// How long a failed token exchange answers for the sends that wait for a token.
const FAILURE_MEMORY: Duration = Duration::from_secs(5);

/// The fields of a service-account key file the sender uses.
#[derive(Deserialize)]
struct ServiceAccount {
    project_id: String,
    client_email: String,
    private_key: SecretString,
    #[serde(default = "default_token_uri")]
    token_uri: String,
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".to_owned()
}

#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: SecretString,
    #[serde(default = "default_expiry")]
    expires_in: u64,
}

fn default_expiry() -> u64 {
    3600
}

/// The access token in use, and how many exchanges made it (a send that got a `401` with
/// token number `n` exchanges again only if the cache still holds number `n`).
struct CachedToken {
    token: SecretString,
    refresh_at: Instant,
    generation: u64,
}

/// Sends through FCM HTTP v1 (see the module docs).
pub struct FcmSender {
    client: reqwest::Client,
    key: EncodingKey,
    client_email: String,
    token_uri: String,
    send_url: String,
    cache: Mutex<Option<CachedToken>>,
    /// When the last exchange failed, and why: the sends waiting on the lock fail at once.
    last_failure: Mutex<Option<(Instant, String)>>,
    exchanges: Mutex<u64>,
}

impl FcmSender {
    /// Reads the service-account file named by the settings.
    pub fn from_config(config: &FcmConfig, timeout: Duration) -> Result<Self, PushSetupError> {
        const NAME: &str = "APP_PUSH_FCM_CREDENTIALS_FILE";
        let text = std::fs::read_to_string(&config.credentials_file)
            .map_err(|_| PushSetupError::Invalid { name: NAME, problem: "the file could not be read" })?;
        Self::new(&text, &config.url, timeout)
    }

    /// A sender from a service-account key (its JSON text) and FCM's base address.
    pub fn new(credentials: &str, base_url: &str, timeout: Duration) -> Result<Self, PushSetupError> {
        const NAME: &str = "APP_PUSH_FCM_CREDENTIALS_FILE";
        let account: ServiceAccount =
            serde_json::from_str(credentials).map_err(|_| PushSetupError::Invalid {
                name: NAME,
                problem: "not a service-account key (project_id, client_email, private_key)",
            })?;
        let key =
            EncodingKey::from_rsa_pem(account.private_key.expose_secret().as_bytes()).map_err(|_| {
                PushSetupError::Invalid { name: NAME, problem: "private_key is not an RSA key in PEM" }
            })?;
        if !(account.token_uri.starts_with("https://") || account.token_uri.starts_with("http://")) {
            return Err(PushSetupError::Invalid { name: NAME, problem: "token_uri is not an http(s) URL" });
        }
        let base = base_url.trim_end_matches('/');
        Ok(Self {
            client: http_client(timeout, false)?,
            key,
            client_email: account.client_email,
            token_uri: account.token_uri,
            send_url: format!("{base}/v1/projects/{}/messages:send", account.project_id),
            cache: Mutex::new(None),
            last_failure: Mutex::new(None),
            exchanges: Mutex::new(0),
        })
    }

    /// How many times an access token was fetched (tests count the exchanges of a burst).
    pub async fn exchanges(&self) -> u64 {
        *self.exchanges.lock().await
    }

    /// A valid access token and its generation. `stale`: the generation a send was just refused
    /// with; if the cache still holds it, a new one is fetched.
    async fn access_token(&self, stale: Option<u64>) -> Result<(SecretString, u64), PushError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && Instant::now() < c.refresh_at
            && stale != Some(c.generation)
        {
            return Ok((c.token.clone(), c.generation));
        }
        {
            let failure = self.last_failure.lock().await;
            if let Some((at, reason)) = failure.as_ref()
                && at.elapsed() < FAILURE_MEMORY
            {
                return Err(PushError::transient(reason.clone()));
            }
        }
        let answer = match self.exchange().await {
            Ok(answer) => answer,
            Err(e) => {
                *self.last_failure.lock().await = Some((Instant::now(), e.to_string()));
                return Err(e);
            }
        };
        let generation = cache.as_ref().map_or(1, |c| c.generation + 1);
        let lifetime = Duration::from_secs(answer.expires_in).saturating_sub(REFRESH_MARGIN);
        *cache = Some(CachedToken {
            token: answer.access_token.clone(),
            refresh_at: Instant::now() + lifetime,
            generation,
        });
        Ok((answer.access_token, generation))
    }

    /// Signs an assertion and exchanges it at the account's `token_uri`.
    async fn exchange(&self) -> Result<TokenAnswer, PushError> {
        *self.exchanges.lock().await += 1;
        let now = Utc::now().timestamp();
        let claims = Assertion {
            iss: &self.client_email,
            scope: SCOPE,
            aud: &self.token_uri,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        };
        let assertion = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|_| PushError::Rejected("FCM: the assertion could not be signed".into()))?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", &assertion)
            .finish();
        let response = self
            .client
            .post(&self.token_uri)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|e| classify_transport("FCM token exchange", &e))?;
        let status = response.status();
        if !status.is_success() {
            // A refused assertion is a configuration problem (a revoked key, a wrong clock):
            // retried with backoff, so pushes flow again once it is fixed.
            return Err(PushError::Transient {
                reason: format!("FCM token exchange answered {}", status.as_u16()),
                retry_after: retry_after(response.headers()),
            });
        }
        response
            .json::<TokenAnswer>()
            .await
            .map_err(|_| PushError::transient("FCM token exchange sent an unreadable answer"))
    }

    fn body(message: &PushMessage<'_>) -> Value {
        json!({
            "message": {
                "token": message.token,
                "notification": { "title": message.title, "body": message.body },
                "data": { "notification_id": message.notification_id.to_string() },
                "android": { "priority": "HIGH" },
            }
        })
    }

    /// One attempt with `token`: `Ok(None)` when delivered, `Ok(Some(()))` when FCM refused the
    /// access token (`401 UNAUTHENTICATED`).
    async fn post(&self, message: &PushMessage<'_>, token: &SecretString) -> Result<Option<()>, PushError> {
        let response = self
            .client
            .post(&self.send_url)
            .bearer_auth(token.expose_secret())
            .json(&Self::body(message))
            .send()
            .await
            .map_err(|e| classify_transport("FCM", &e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(None);
        }
        let wait = retry_after(response.headers());
        let code = error_code(response).await;
        if status == reqwest::StatusCode::UNAUTHORIZED && matches!(code.as_str(), "" | "UNAUTHENTICATED") {
            return Ok(Some(()));
        }
        let reason = format!("FCM answered {} {code}", status.as_u16()).trim_end().to_owned();
        Err(match (status.as_u16(), code.as_str()) {
            (_, "UNREGISTERED") => PushError::Unregistered(reason),
            (429 | 500..=599, _) | (401, _) | (403, "SENDER_ID_MISMATCH" | "PERMISSION_DENIED") => {
                tracing::warn!(status = status.as_u16(), code = %code, "FCM refused a push: check the push configuration if this repeats");
                PushError::Transient { reason, retry_after: wait }
            }
            _ => PushError::Rejected(reason),
        })
    }
}

/// FCM's error code: the `errorCode` of its `FcmError` detail, else the error's `status`. Only a
/// short upper-case word is kept (the message could echo the request).
async fn error_code(response: reqwest::Response) -> String {
    let Ok(body) = response.json::<Value>().await else { return String::new() };
    let error = &body["error"];
    let detail = error["details"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|d| d.get("errorCode").and_then(Value::as_str));
    let code = detail.or_else(|| error["status"].as_str()).unwrap_or("");
    if code.len() <= 40 && code.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
        code.to_owned()
    } else {
        String::new()
    }
}

#[async_trait::async_trait]
impl PushSender for FcmSender {
    async fn send(&self, message: &PushMessage<'_>) -> Result<(), PushError> {
        let (token, generation) = self.access_token(None).await?;
        if self.post(message, &token).await?.is_none() {
            return Ok(());
        }
        // Refused: fetch a new token once (unless another send already has) and try again.
        let (token, _) = self.access_token(Some(generation)).await?;
        match self.post(message, &token).await? {
            None => Ok(()),
            Some(()) => Err(PushError::transient("FCM refused a fresh access token (401)")),
        }
    }
}
