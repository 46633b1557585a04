//! Apple Push Notification service, token-based authentication over HTTP/2.
//!
//! The sender signs a provider token with the team's `.p8` key (ES256; header `kid` the key id,
//! claims `iss` the team id and `iat`) and reuses it for 50 minutes (Apple refuses tokens older
//! than an hour and throttles ones renewed more often than every 20 minutes). A
//! `403 ExpiredProviderToken` makes a new token once (unless another send already did) and
//! retries that message once.
//!
//! Each device token gets `POST /3/device/{token}` with `apns-topic` (the app's bundle id),
//! `apns-push-type: alert`, `apns-priority: 10`, `apns-id` (the outbox row), and an alert with
//! the title and body plus the inbox row's id (`notification_id`). Answers:
//! - `200`: accepted;
//! - `410` (`Unregistered`: the app is gone from the device): [`PushError::Unregistered`], the
//!   token is deleted. Only this: `400 BadDeviceToken` and `DeviceTokenNotForTopic` are also
//!   what a sandbox/production mismatch or a wrong topic answer, mistakes that must not wipe
//!   every iPhone's token;
//! - `429`, `5xx`, and `403` other than an expired token (`InvalidProviderToken`: a wrong key id
//!   or team; worth retrying once the configuration is fixed): [`PushError::Transient`];
//! - anything else (`400 BadDeviceToken`, `413 PayloadTooLarge`…): [`PushError::Rejected`].
//!
//! A token that is not hexadecimal (an FCM token registered as `IOS`) is refused before
//! anything is sent.
//!
//! An `https://` address negotiates HTTP/2 over TLS (ALPN), as Apple requires; an `http://`
//! one (a local test double) speaks HTTP/2 from the first byte. The key, the provider token,
//! the device token (which is in the path) and the texts never reach a log or an error.

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::{sync::Mutex, time::Instant};

use super::{PushError, PushMessage, PushSender, PushSetupError, classify_transport, http_client};
use crate::config::ApnsConfig;

/// How long one provider token is used.
const TOKEN_LIFETIME: Duration = Duration::from_secs(50 * 60);

#[derive(Serialize)]
struct ProviderClaims<'a> {
    iss: &'a str,
    iat: i64,
}

struct CachedToken {
    jwt: String,
    renew_at: Instant,
    generation: u64,
}

/// Sends through APNs (see the module docs).
pub struct ApnsSender {
    client: reqwest::Client,
    key: EncodingKey,
    key_id: String,
    team_id: String,
    topic: String,
    base_url: String,
    cache: Mutex<Option<CachedToken>>,
}

impl ApnsSender {
    /// Reads the `.p8` key named by the settings.
    pub fn from_config(config: &ApnsConfig, timeout: Duration) -> Result<Self, PushSetupError> {
        let pem = std::fs::read(&config.key_file).map_err(|_| PushSetupError::Invalid {
            name: "APP_PUSH_APNS_KEY_FILE",
            problem: "the file could not be read",
        })?;
        Self::new(&pem, config, timeout)
    }

    /// A sender from the key's PEM text (PKCS#8, as Apple issues `.p8` files).
    pub fn new(pem: &[u8], config: &ApnsConfig, timeout: Duration) -> Result<Self, PushSetupError> {
        let key = EncodingKey::from_ec_pem(pem).map_err(|_| PushSetupError::Invalid {
            name: "APP_PUSH_APNS_KEY_FILE",
            problem: "not a P-256 private key in PEM (an APNs .p8 key)",
        })?;
        let base_url = config.url.trim_end_matches('/').to_owned();
        Ok(Self {
            client: http_client(timeout, base_url.starts_with("http://"))?,
            key,
            key_id: config.key_id.clone(),
            team_id: config.team_id.clone(),
            topic: config.topic.clone(),
            base_url,
            cache: Mutex::new(None),
        })
    }

    /// The provider token and its generation; `stale`: the generation APNs just called expired.
    async fn provider_token(&self, stale: Option<u64>) -> Result<(String, u64), PushError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && Instant::now() < c.renew_at
            && stale != Some(c.generation)
        {
            return Ok((c.jwt.clone(), c.generation));
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        let claims = ProviderClaims { iss: &self.team_id, iat: Utc::now().timestamp() };
        let jwt = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|_| PushError::Rejected("APNs: the provider token could not be signed".into()))?;
        let generation = cache.as_ref().map_or(1, |c| c.generation + 1);
        *cache =
            Some(CachedToken { jwt: jwt.clone(), renew_at: Instant::now() + TOKEN_LIFETIME, generation });
        Ok((jwt, generation))
    }

    fn payload(message: &PushMessage<'_>) -> Value {
        json!({
            "aps": {
                "alert": { "title": message.title, "body": message.body },
                "sound": "default",
            },
            "notification_id": message.notification_id.to_string(),
        })
    }

    /// One attempt: `Ok(true)` when accepted, `Ok(false)` when APNs called the provider token
    /// expired.
    async fn post(&self, message: &PushMessage<'_>, jwt: &str) -> Result<bool, PushError> {
        // Device tokens are hex; anything else could not be a path segment.
        if message.token.is_empty() || !message.token.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(PushError::Rejected("APNs: the device token is not hexadecimal".into()));
        }
        let response = self
            .client
            .post(format!("{}/3/device/{}", self.base_url, message.token))
            .bearer_auth(jwt)
            .header("apns-topic", &self.topic)
            .header("apns-push-type", "alert")
            .header("apns-priority", "10")
            .header("apns-id", message.id.to_string())
            .json(&Self::payload(message))
            .send()
            .await
            .map_err(|e| classify_transport("APNs", &e))?;
        let status = response.status().as_u16();
        if status == 200 {
            return Ok(true);
        }
        let wait = super::retry_after(response.headers());
        let reason = response
            .json::<Value>()
            .await
            .ok()
            .and_then(|v| v.get("reason").and_then(Value::as_str).map(str::to_owned))
            .filter(|r| r.len() <= 40 && r.chars().all(|c| c.is_ascii_alphanumeric()))
            .unwrap_or_default();
        if status == 403 && reason == "ExpiredProviderToken" {
            return Ok(false);
        }
        let text = format!("APNs answered {status} {reason}").trim_end().to_owned();
        Err(match status {
            410 => PushError::Unregistered(text),
            403 | 429 | 500..=599 => {
                if status == 403 {
                    tracing::warn!(reason = %reason, "APNs refused the provider token: check APP_PUSH_APNS_KEY_ID and _TEAM_ID");
                }
                PushError::Transient { reason: text, retry_after: wait }
            }
            _ => {
                if matches!(reason.as_str(), "BadDeviceToken" | "DeviceTokenNotForTopic" | "TopicDisallowed")
                {
                    tracing::warn!(reason = %reason, "APNs refused a device token: if this repeats, check APP_PUSH_APNS_URL (sandbox or production) and APP_PUSH_APNS_TOPIC");
                }
                PushError::Rejected(text)
            }
        })
    }
}

#[async_trait::async_trait]
impl PushSender for ApnsSender {
    async fn send(&self, message: &PushMessage<'_>) -> Result<(), PushError> {
        let (jwt, generation) = self.provider_token(None).await?;
        if self.post(message, &jwt).await? {
            return Ok(());
        }
        let (jwt, _) = self.provider_token(Some(generation)).await?;
        if self.post(message, &jwt).await? {
            Ok(())
        } else {
            Err(PushError::transient("APNs refused a fresh provider token (ExpiredProviderToken)"))
        }
    }
}
