//! Partner integrations: the client registry (`clients`), the token endpoint (`token`), scopes,
//! statistics, cost, the call log, trusted documents, webhooks (`webhooks`) and a partner's whole
//! journey (`walkthrough`).

mod calls;
mod clients;
mod documents;
mod quota;
mod scopes;
mod statistics;
mod token;
mod walkthrough;
mod webhooks;

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};

use crate::helpers::{TestApp, s};

pub const REGISTER: &str = "mutation($i: RegisterIntegrationClientInput!) { registerIntegrationClient(input: $i) { \
    clientSecret client { id clientId scopes } secret { id hint } } }";

/// A registered client: its global id, OAuth client id and first secret.
pub struct Client {
    pub id: String,
    pub client_id: String,
    pub secret: String,
    pub secret_id: String,
}

/// Registers a client for the subtree of `unit` with `scopes`, as `admin`.
pub async fn register(app: &TestApp, admin: &str, unit: &str, scopes: &[&str]) -> Client {
    register_with(app, admin, unit, scopes, json!({})).await
}

/// [`register`] with more of the input (`{"bucket": {…}}`…).
pub async fn register_with(app: &TestApp, admin: &str, unit: &str, scopes: &[&str], more: Value) -> Client {
    let unit_id = app.unit_id(unit).await;
    let mut input = json!({ "name": "Sở LĐTBXH – bảng số liệu", "contact": "so-ldtbxh@hanoi.gov.vn",
                            "unitId": unit_id, "scopes": scopes });
    for (k, v) in more.as_object().into_iter().flatten() {
        input[k] = v.clone();
    }
    let data = app.gql(REGISTER, json!({ "i": input }), Some(admin)).await.ok();
    let r = &data["registerIntegrationClient"];
    Client {
        id: s(&r["client"]["id"]),
        client_id: s(&r["client"]["clientId"]),
        secret: s(&r["clientSecret"]),
        secret_id: s(&r["secret"]["id"]),
    }
}

/// An answer of the token endpoint.
pub struct TokenResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl TokenResponse {
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    pub fn token(&self) -> String {
        assert_eq!(self.status, 200, "{}", self.body);
        s(&self.body["access_token"])
    }
}

/// POSTs a form to `/oauth/token`, with HTTP Basic credentials when given.
pub async fn post_token(app: &TestApp, form: &str, basic: Option<(&str, &str)>) -> TokenResponse {
    post_token_via(app, form, basic, None).await
}

/// [`post_token`] with an `X-Forwarded-For` header when given.
pub async fn post_token_via(
    app: &TestApp,
    form: &str,
    basic: Option<(&str, &str)>,
    forwarded_for: Option<&str>,
) -> TokenResponse {
    let mut req = app
        .client
        .post(app.url("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned());
    if let Some((id, secret)) = basic {
        req = req.header("authorization", format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))));
    }
    if let Some(chain) = forwarded_for {
        req = req.header("x-forwarded-for", chain);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    TokenResponse { status, headers, body: resp.json().await.unwrap_or(Value::Null) }
}

/// A client token for all of the client's scopes.
pub async fn client_token(app: &TestApp, client: &Client) -> String {
    post_token(app, "grant_type=client_credentials", Some((&client.client_id, &client.secret))).await.token()
}
