//! `POST /oauth/token`: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4) for integration
//! clients (see `service::integrations`).
//!
//! The body is `application/x-www-form-urlencoded` with `grant_type=client_credentials` and an
//! optional `scope`; the client authenticates with HTTP Basic (id and secret, each
//! form-encoded, §2.3.1) or with `client_id` and `client_secret` in the body — one of the two,
//! never both. Success is §5.1 (`access_token`, `token_type: "Bearer"`, `expires_in`, `scope`,
//! never cached); errors are §5.2: `invalid_request`, `invalid_client` (401 with
//! `WWW-Authenticate`), `unsupported_grant_type`, `invalid_scope`. Too many wrong secrets
//! answer 429 with `Retry-After`, an outage 503. No secret ever reaches a log.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::request_meta;
use service::{
    error::ApiError,
    integrations::token::{self, ClientCredentials, GrantError},
    state::AppState,
};

/// The largest token request read: a few short parameters.
const MAX_BODY: usize = 4 * 1024;

/// The errors of RFC 6749 §5.2 this endpoint answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OAuthError {
    InvalidRequest(&'static str),
    InvalidClient,
    UnsupportedGrantType,
    InvalidScope,
}

impl OAuthError {
    fn code(self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::InvalidScope => "invalid_scope",
        }
    }

    fn description(self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(why) => why,
            OAuthError::InvalidClient => "Client authentication failed.",
            OAuthError::UnsupportedGrantType => "Only grant_type=client_credentials is supported.",
            OAuthError::InvalidScope => "The scope is unknown or beyond the client's scopes.",
        }
    }

    fn response(self) -> HttpResponse {
        let mut resp = if self == OAuthError::InvalidClient {
            let mut r = HttpResponse::build(StatusCode::UNAUTHORIZED);
            r.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"phunu\", charset=\"UTF-8\""));
            r
        } else {
            HttpResponse::build(StatusCode::BAD_REQUEST)
        };
        no_store(&mut resp).json(json!({ "error": self.code(), "error_description": self.description() }))
    }
}

fn no_store(resp: &mut actix_web::HttpResponseBuilder) -> &mut actix_web::HttpResponseBuilder {
    resp.insert_header((header::CACHE_CONTROL, "no-store")).insert_header((header::PRAGMA, "no-cache"))
}

/// `POST /oauth/token`.
pub async fn token(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    match credentials(&req, &body) {
        Ok(creds) => grant(&req, &state, creds).await,
        Err(e) => e.response(),
    }
}

/// The client's credentials and requested scope, checked against §3.2, §4.4.2 and §2.3.1.
fn credentials(req: &HttpRequest, body: &[u8]) -> Result<ClientCredentials, OAuthError> {
    let essence = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if essence.as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(OAuthError::InvalidRequest("The body must be application/x-www-form-urlencoded."));
    }
    if body.len() > MAX_BODY {
        return Err(OAuthError::InvalidRequest("The request is too large."));
    }
    let text = std::str::from_utf8(body).map_err(|_| OAuthError::InvalidRequest("The body is not UTF-8."))?;
    let params = web::Query::<Vec<(String, String)>>::from_query(text)
        .map_err(|_| OAuthError::InvalidRequest("The body is not a valid form."))?
        .into_inner();
    // §3.2: parameters must not be repeated.
    let one = |name: &str| -> Result<Option<String>, OAuthError> {
        let mut values = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone());
        let first = values.next();
        if values.next().is_some() {
            return Err(OAuthError::InvalidRequest("A parameter is repeated."));
        }
        Ok(first.filter(|v| !v.is_empty()))
    };
    let grant_type = one("grant_type")?;
    let scope = one("scope")?;
    let body_id = one("client_id")?;
    let body_secret = one("client_secret")?;
    match grant_type.as_deref() {
        None => return Err(OAuthError::InvalidRequest("grant_type is required.")),
        Some("client_credentials") => {}
        Some(_) => return Err(OAuthError::UnsupportedGrantType),
    }
    let basic = basic_credentials(req)?;
    let (client_id, secret) = match (basic, body_id, body_secret) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(OAuthError::InvalidRequest("Use one way to authenticate the client, not two."));
        }
        (Some(pair), None, None) => pair,
        (None, Some(id), Some(secret)) => (id, SecretString::from(secret)),
        (None, _, _) => return Err(OAuthError::InvalidClient),
    };
    Ok(ClientCredentials { client_id, secret, scope })
}

/// HTTP Basic client credentials, when the request carries them.
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, SecretString)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| OAuthError::InvalidClient)?.trim();
    let Some((scheme, encoded)) = value.split_once(' ') else { return Err(OAuthError::InvalidClient) };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::InvalidClient);
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| OAuthError::InvalidClient)?;
    let decoded = String::from_utf8(decoded).map_err(|_| OAuthError::InvalidClient)?;
    let (id, secret) = decoded.split_once(':').ok_or(OAuthError::InvalidClient)?;
    Ok(Some((form_decode(id)?, SecretString::from(form_decode(secret)?))))
}

/// One form-encoded value (`+` is a space).
fn form_decode(raw: &str) -> Result<String, OAuthError> {
    percent_encoding::percent_decode_str(&raw.replace('+', " "))
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| OAuthError::InvalidClient)
}

async fn grant(req: &HttpRequest, state: &AppState, creds: ClientCredentials) -> HttpResponse {
    let (lang, meta) = request_meta(req, &state.settings);
    let call = service::Call { state, auth: &service::auth::Auth::Anonymous, meta: &meta };
    let started = std::time::Instant::now();
    match token::client_credentials(call, creds).await {
        Ok(issued) => {
            service::integrations::calls::record(
                state,
                service::integrations::calls::CallRecord {
                    client_id: issued.client_id,
                    operation: "POST /oauth/token".to_owned(),
                    cost: 0,
                    outcome: "OK".to_owned(),
                    status: 200,
                    duration_ms: started.elapsed().as_millis() as u64,
                },
            );
            no_store(&mut HttpResponse::Ok()).json(json!({
            "access_token": issued.access_token.expose_secret(),
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
            }))
        }
        Err(GrantError::InvalidClient) => OAuthError::InvalidClient.response(),
        Err(GrantError::InvalidScope) => OAuthError::InvalidScope.response(),
        Err(GrantError::RateLimited { retry_after_secs }) => {
            let err = ApiError::RateLimited { retry_after_secs };
            no_store(&mut HttpResponse::TooManyRequests())
                .insert_header((header::RETRY_AFTER, retry_after_secs))
                .json(json!({ "error": "slow_down", "error_description": err.message(lang) }))
        }
        Err(GrantError::Server(err)) => {
            let mut resp = match err {
                ApiError::Unavailable { retry_after_secs } => {
                    let mut r = HttpResponse::ServiceUnavailable();
                    r.insert_header((header::RETRY_AFTER, retry_after_secs));
                    r
                }
                _ => HttpResponse::InternalServerError(),
            };
            no_store(&mut resp)
                .json(json!({ "error": "temporarily_unavailable", "error_description": err.message(lang) }))
        }
    }
}
