//! A fake APNs provider API over HTTP/2 without TLS (h2c, prior knowledge), on the `h2` crate.
//!
//! It checks each request as Apple does: `POST /3/device/{token}`, the provider token (ES256
//! under the test key's public half, `kid` the key id, `iss` the team id, `iat` within the last
//! hour), `apns-topic`, `apns-push-type`, `apns-priority`, `apns-id`, and a JSON body with an
//! `aps.alert`. It answers by the device token: `dead…` is `410 Unregistered`, `bad0…` is
//! `400 BadDeviceToken`, `ba5e…` is `429 TooManyRequests`, anything else `200`. Provider tokens
//! issued at or before the second the test [`FakeApns::expire_tokens`] named answer
//! `403 ExpiredProviderToken`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use bytes::Bytes;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub const KEY_ID: &str = "TESTKEY001";
pub const TEAM_ID: &str = "TESTTEAM01";
pub const TOPIC: &str = "vn.phunuthudo.app";
const PUBLIC_KEY: &[u8] = include_bytes!("../../fixtures/keys/apns-test-public.pem");
pub const KEY_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys/apns-test.p8");

/// One request as received, with the answer given.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
    /// The provider token it carried.
    pub jwt: String,
    pub status: u16,
    pub reason: Option<String>,
}

#[derive(Default)]
struct Shared {
    deliveries: Mutex<Vec<Delivery>>,
    /// Provider tokens with `iat` at or before this are expired.
    expired_through: Mutex<Option<i64>>,
}

pub struct FakeApns {
    /// The provider API's base address (`APP_PUSH_APNS_URL`).
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeApns {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let shared = Arc::new(Shared::default());
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let shared = accepting.clone();
                tokio::spawn(async move {
                    let Ok(mut connection) = h2::server::handshake(socket).await else { return };
                    while let Some(Ok((request, respond))) = connection.accept().await {
                        tokio::spawn(answer(request, respond, shared.clone()));
                    }
                });
            }
        });
        Self { url, shared, task }
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.deliveries.lock().unwrap().clone()
    }

    /// Every provider token issued up to now (by `iat`, whole seconds) is expired from now on.
    pub fn expire_tokens(&self) {
        *self.shared.expired_through.lock().unwrap() = Some(chrono::Utc::now().timestamp());
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

async fn answer(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    shared: Arc<Shared>,
) {
    let (parts, mut stream) = request.into_parts();
    let mut raw = Vec::new();
    while let Some(Ok(chunk)) = stream.data().await {
        let _ = stream.flow_control().release_capacity(chunk.len());
        raw.extend_from_slice(&chunk);
    }
    let headers: HashMap<String, String> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let path = parts.uri.path().to_owned();
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let jwt = headers
        .get("authorization")
        .and_then(|a| a.strip_prefix("bearer ").or_else(|| a.strip_prefix("Bearer ")))
        .unwrap_or("")
        .to_owned();
    let device = path.strip_prefix("/3/device/").unwrap_or("");

    let expired_through = *shared.expired_through.lock().unwrap();
    let (status, reason) = match provider_token_iat(&jwt) {
        _ if parts.method != http::Method::POST || device.is_empty() => (405, Some("MethodNotAllowed")),
        None => (403, Some("InvalidProviderToken")),
        Some(iat) if expired_through.is_some_and(|t| iat <= t) => (403, Some("ExpiredProviderToken")),
        Some(_) if headers.get("apns-topic").map(String::as_str) != Some(TOPIC) => (400, Some("BadTopic")),
        Some(_)
            if headers.get("apns-push-type").map(String::as_str) != Some("alert")
                || headers.get("apns-priority").map(String::as_str) != Some("10")
                || headers.get("apns-id").is_none_or(|id| id.parse::<uuid::Uuid>().is_err())
                || !body["aps"]["alert"].is_object() =>
        {
            (400, Some("BadRequest"))
        }
        Some(_) if device.starts_with("dead") => (410, Some("Unregistered")),
        Some(_) if device.starts_with("bad0") => (400, Some("BadDeviceToken")),
        Some(_) if device.starts_with("ba5e") => (429, Some("TooManyRequests")),
        Some(_) => (200, None),
    };
    shared.deliveries.lock().unwrap().push(Delivery {
        path: path.clone(),
        headers: headers.clone(),
        body,
        jwt,
        status,
        reason: reason.map(str::to_owned),
    });
    let mut response = http::Response::builder().status(status);
    if let Some(id) = headers.get("apns-id") {
        response = response.header("apns-id", id.as_str());
    }
    let response = response.body(()).unwrap();
    match reason {
        None => {
            let _ = respond.send_response(response, true);
        }
        Some(reason) => {
            if let Ok(mut send) = respond.send_response(response, false) {
                let _ = send.send_data(Bytes::from(json!({ "reason": reason }).to_string()), true);
            }
        }
    }
}

/// The `iat` of a valid provider token (signature, `kid`, `iss`, at most an hour old).
fn provider_token_iat(jwt: &str) -> Option<i64> {
    let header = jsonwebtoken::decode_header(jwt).ok()?;
    if header.alg != Algorithm::ES256 || header.kid.as_deref() != Some(KEY_ID) {
        return None;
    }
    let key = DecodingKey::from_ec_pem(PUBLIC_KEY).ok()?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["iss", "iat"]);
    validation.set_issuer(&[TEAM_ID]);
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &validation).ok()?.claims;
    let iat = claims["iat"].as_i64()?;
    let age = chrono::Utc::now().timestamp() - iat;
    (-60..3600).contains(&age).then_some(iat)
}
