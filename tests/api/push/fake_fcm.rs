//! A fake Google OAuth token endpoint and FCM HTTP v1 send endpoint, in one actix-web server.
//!
//! The token endpoint checks the grant type and the service-account assertion (RS256 under the
//! test key's public half, `iss`, `scope`, `aud`, a lifetime of at most an hour) and issues
//! `access-1`, `access-2`, … The send endpoint checks the bearer token (a token the test revoked
//! answers `401 UNAUTHENTICATED`), records the message, and answers by the device token:
//! `dead-…` is `404 UNREGISTERED`, `busy-…` is `503` with `Retry-After: 120`, `wrong-…` is
//! `400 INVALID_ARGUMENT`, `other-…` is `403 SENDER_ID_MISMATCH`, `lost-…` a `404` without an
//! FCM error (a wrong address), `apnsauth-…` is `401 THIRD_PARTY_AUTH_ERROR`, anything else
//! `200`.

use std::{
    collections::HashSet,
    net::TcpListener,
    sync::{Arc, Mutex},
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

pub const PROJECT: &str = "phunu-test";
pub const CLIENT_EMAIL: &str = "push@phunu-test.iam.gserviceaccount.com";
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const PUBLIC_KEY: &[u8] = include_bytes!("../../fixtures/keys/fcm-test-public.pem");
const SERVICE_ACCOUNT: &str = include_str!("../../fixtures/keys/fcm-test-service-account.json");

/// A message FCM accepted or refused, as sent.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub access_token: String,
    pub body: Value,
    pub status: u16,
}

#[derive(Default)]
struct Shared {
    base: String,
    exchanges: Mutex<u32>,
    refused_assertions: Mutex<u32>,
    revoked: Mutex<HashSet<String>>,
    deliveries: Mutex<Vec<Delivery>>,
}

pub struct FakeFcm {
    /// FCM's base address (`APP_PUSH_FCM_URL`).
    pub url: String,
    shared: Arc<Shared>,
    server: actix_web::dev::ServerHandle,
}

async fn token(body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&body).into_owned().collect();
    let valid = form.get("grant_type").map(String::as_str)
        == Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        && form.get("assertion").is_some_and(|a| assertion_is_valid(a, &format!("{}/token", shared.base)));
    if !valid {
        *shared.refused_assertions.lock().unwrap() += 1;
        return HttpResponse::BadRequest().json(json!({ "error": "invalid_grant" }));
    }
    let n = {
        let mut exchanges = shared.exchanges.lock().unwrap();
        *exchanges += 1;
        *exchanges
    };
    HttpResponse::Ok()
        .json(json!({ "access_token": format!("access-{n}"), "expires_in": 3599, "token_type": "Bearer" }))
}

fn assertion_is_valid(assertion: &str, audience: &str) -> bool {
    let key = DecodingKey::from_rsa_pem(PUBLIC_KEY).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
    let Ok(data) = jsonwebtoken::decode::<Value>(assertion, &key, &validation) else { return false };
    let claims = data.claims;
    let lifetime = claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0);
    claims["scope"] == SCOPE && (1..=3600).contains(&lifetime)
}

async fn send(req: HttpRequest, body: web::Json<Value>, shared: web::Data<Shared>) -> HttpResponse {
    let access_token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned();
    let issued = access_token
        .strip_prefix("access-")
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| n >= 1 && n <= *shared.exchanges.lock().unwrap());
    let (status, answer) = if !issued || shared.revoked.lock().unwrap().contains(&access_token) {
        (
            401,
            json!({ "error": { "code": 401, "status": "UNAUTHENTICATED", "message": "Request had invalid authentication credentials." } }),
        )
    } else {
        let device = body["message"]["token"].as_str().unwrap_or("");
        if device.starts_with("dead-") {
            (404, fcm_error(404, "NOT_FOUND", "UNREGISTERED"))
        } else if device.starts_with("busy-") {
            (503, fcm_error(503, "UNAVAILABLE", "UNAVAILABLE"))
        } else if device.starts_with("wrong-") {
            (400, fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"))
        } else if device.starts_with("other-") {
            (403, fcm_error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"))
        } else if device.starts_with("lost-") {
            (
                404,
                json!({ "error": { "code": 404, "status": "NOT_FOUND", "message": "Requested entity was not found." } }),
            )
        } else if device.starts_with("apnsauth-") {
            (401, fcm_error(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"))
        } else {
            (200, json!({ "name": format!("projects/{PROJECT}/messages/1") }))
        }
    };
    shared.deliveries.lock().unwrap().push(Delivery { access_token, body: body.into_inner(), status });
    let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if status == 503 {
        response.insert_header(("retry-after", "120"));
    }
    response.json(answer)
}

fn fcm_error(code: u16, status: &str, error_code: &str) -> Value {
    json!({ "error": {
        "code": code,
        "message": "The registration token is not a valid FCM registration token",
        "status": status,
        "details": [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code }],
    } })
}

impl FakeFcm {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let shared = Arc::new(Shared { base: base.clone(), ..Shared::default() });
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/token", web::post().to(token))
                .route(&format!("/v1/projects/{PROJECT}/messages:send"), web::post().to(send))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url: base, shared, server: handle }
    }

    /// The test service account's key file, its `token_uri` pointing here.
    pub fn credentials(&self) -> String {
        let mut account: Value = serde_json::from_str(SERVICE_ACCOUNT).unwrap();
        account["token_uri"] = json!(format!("{}/token", self.url));
        account.to_string()
    }

    /// Writes [`Self::credentials`] to a file in `dir` and returns its path.
    pub fn credentials_file(&self, dir: &std::path::Path) -> String {
        let path = dir.join("fcm-service-account.json");
        std::fs::write(&path, self.credentials()).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// Token exchanges that succeeded.
    pub fn exchanges(&self) -> u32 {
        *self.shared.exchanges.lock().unwrap()
    }

    /// Assertions refused (bad signature or claims).
    pub fn refused_assertions(&self) -> u32 {
        *self.shared.refused_assertions.lock().unwrap()
    }

    /// From now on `access_token` is refused with `401` (it expired early, or was revoked).
    pub fn revoke(&self, access_token: &str) {
        self.shared.revoked.lock().unwrap().insert(access_token.to_owned());
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.deliveries.lock().unwrap().clone()
    }

    pub async fn stop(self) {
        self.server.stop(false).await;
    }
}
