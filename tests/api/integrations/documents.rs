//! Trusted documents: a client's allowlist of operations, run by id; automatic persisted
//! queries for the first-party app; and the production switch that runs nothing but the apps'
//! manifest.

use serde_json::{Value, json};

use super::{client_token, post_token};
use crate::helpers::{SYSADMIN, TestApp, s, spawn_app, spawn_app_with};

const UNITS: &str = "query Units { orgUnits(first: 2) { edges { node { code } } } }";
const ADD: &str = "mutation($c: ID!, $d: String!, $n: String) { addTrustedDocument(clientId: $c, document: $d, operationName: $n) { id documentId operationName } }";

fn sha256(text: &str) -> String {
    service::integrations::documents::hash(text)
}

/// POSTs a raw GraphQL-over-HTTP body.
async fn post(app: &TestApp, body: Value, token: Option<&str>) -> Value {
    let mut req = app.client.post(app.url("/graphql")).json(&body);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    req.send().await.unwrap().json().await.unwrap()
}

fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

#[tokio::test]
async fn a_client_on_an_allowlist_runs_its_trusted_documents_by_id_and_nothing_else() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let unit = app.unit_id("HN").await;
    let data = app
        .gql(
            super::REGISTER,
            json!({ "i": { "name": "Bảng số liệu", "contact": "x", "unitId": unit, "scopes": ["UNITS_READ"], "trustedDocumentsOnly": true } }),
            Some(&admin),
        )
        .await
        .ok();
    let r = &data["registerIntegrationClient"];
    let (id, client_id, secret) = (s(&r["client"]["id"]), s(&r["client"]["clientId"]), s(&r["clientSecret"]));
    let token = post_token(&app, "grant_type=client_credentials", Some((&client_id, &secret))).await.token();

    let added = app.gql(ADD, json!({ "c": id, "d": UNITS, "n": "Units" }), Some(&admin)).await.ok();
    let document_id = s(&added["addTrustedDocument"]["documentId"]);
    assert_eq!(document_id, format!("sha256:{}", sha256(UNITS)));
    app.gql(ADD, json!({ "c": id, "d": UNITS }), Some(&admin))
        .await
        .expect_reason("CONFLICT", "DOCUMENT_KNOWN");
    let bad = app
        .gql(ADD, json!({ "c": id, "d": "query {" }), Some(&admin))
        .await
        .expect_reason("BAD_USER_INPUT", "INVALID_FORMAT");
    assert_eq!(bad.field(), Some("document"));

    // By id, in both conventions.
    let by_id = post(&app, json!({ "documentId": document_id }), Some(&token)).await;
    assert_eq!(by_id["data"]["orgUnits"]["edges"].as_array().map(Vec::len), Some(2), "{by_id}");
    let apollo = post(
        &app,
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha256(UNITS) } } }),
        Some(&token),
    )
    .await;
    assert!(apollo["data"]["orgUnits"].is_object(), "{apollo}");
    // Its own text is refused, even the same text; an unknown id is not found.
    let text =
        post(&app, json!({ "query": "{ orgUnits(first: 1) { edges { node { code } } } }" }), Some(&token))
            .await;
    assert_eq!(code(&text), Some("PERSISTED_QUERY_NOT_ALLOWED"));
    assert!(text.get("data").is_none());
    let unknown =
        post(&app, json!({ "documentId": format!("sha256:{}", sha256("{ __typename }")) }), Some(&token))
            .await;
    assert_eq!(code(&unknown), Some("PERSISTED_QUERY_NOT_FOUND"));

    // Removed, it is gone; both changes are recorded, and the calls name the document.
    let doc = s(&added["addTrustedDocument"]["id"]);
    app.gql(
        "mutation($id: ID!) { removeTrustedDocument(id: $id) { id } }",
        json!({ "id": doc }),
        Some(&admin),
    )
    .await
    .ok();
    assert_eq!(
        code(&post(&app, json!({ "documentId": document_id }), Some(&token)).await),
        Some("PERSISTED_QUERY_NOT_FOUND")
    );
    let client = app
        .gql("query($id: ID!) { integrationClient(id: $id) { trustedDocumentsOnly trustedDocuments { id } changes { action } } }", json!({ "id": id }), Some(&admin))
        .await
        .ok();
    assert_eq!(client["integrationClient"]["trustedDocumentsOnly"], json!(true));
    assert_eq!(client["integrationClient"]["trustedDocuments"], json!([]));
    let actions: Vec<String> =
        client["integrationClient"]["changes"].as_array().unwrap().iter().map(|c| s(&c["action"])).collect();
    assert_eq!(actions, ["REGISTERED", "SECRET_ADDED", "DOCUMENT_ADDED", "DOCUMENT_REMOVED"]);
    let mut operations = Vec::new();
    for _ in 0..50 {
        let calls = app
            .gql("query($id: ID!) { integrationClient(id: $id) { calls(first: 20) { edges { node { operation outcome } } } } }", json!({ "id": id }), Some(&admin))
            .await
            .ok();
        operations = calls["integrationClient"]["calls"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| s(&e["node"]["operation"]))
            .collect::<Vec<_>>();
        if operations.len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(operations.contains(&document_id), "{operations:?}");
}

#[tokio::test]
async fn a_client_without_an_allowlist_sends_text_or_ids() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let client = super::register(&app, &admin, "HN", &["UNITS_READ"]).await;
    let token = client_token(&app, &client).await;
    app.gql(ADD, json!({ "c": client.id, "d": UNITS }), Some(&admin)).await.ok();
    assert!(post(&app, json!({ "query": UNITS }), Some(&token)).await["data"].is_object());
    assert!(
        post(&app, json!({ "documentId": format!("sha256:{}", sha256(UNITS)) }), Some(&token)).await["data"]
            .is_object()
    );
}

#[tokio::test]
async fn the_app_persists_its_documents_automatically_and_reads_them_by_get() {
    let app = spawn_app().await;
    let hash = sha256(UNITS);
    let persisted = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    // The hash alone first: not known yet.
    let first = post(&app, json!({ "extensions": persisted }), None).await;
    assert_eq!(code(&first), Some("PERSISTED_QUERY_NOT_FOUND"));
    // Then with its text: run, and kept.
    assert!(post(&app, json!({ "query": UNITS, "extensions": persisted }), None).await["data"].is_object());
    assert!(post(&app, json!({ "extensions": persisted }), None).await["data"]["orgUnits"].is_object());
    // A cacheable GET by hash.
    let url = format!("{}?extensions={}", app.url("/graphql"), urlencode(&persisted.to_string()));
    let got: Value = app.client.get(url).send().await.unwrap().json().await.unwrap();
    assert!(got["data"]["orgUnits"].is_object(), "{got}");
    // A text that is not the hash's is refused.
    let wrong = post(&app, json!({ "query": "{ __typename }", "extensions": persisted }), None).await;
    assert_eq!(code(&wrong), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn in_production_only_the_manifest_of_the_apps_runs() {
    let dir = std::env::temp_dir().join(format!("manifest-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("persisted-documents.json");
    std::fs::write(&manifest, json!({ sha256(UNITS): UNITS }).to_string()).unwrap();
    let path = manifest.to_str().unwrap();
    let app =
        spawn_app_with(&[("APP_TRUSTED_DOCUMENTS_MANIFEST", path), ("APP_TRUSTED_DOCUMENTS_ONLY", "true")])
            .await;
    assert!(
        post(&app, json!({ "documentId": format!("sha256:{}", sha256(UNITS)) }), None).await["data"]
            .is_object()
    );
    assert!(post(&app, json!({ "query": UNITS }), None).await["data"].is_object());
    let other = "{ orgUnits(first: 1) { edges { node { code } } } }";
    assert_eq!(code(&post(&app, json!({ "query": other }), None).await), Some("PERSISTED_QUERY_NOT_ALLOWED"));
    let apq = json!({ "query": other, "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha256(other) } } });
    assert_eq!(code(&post(&app, apq, None).await), Some("PERSISTED_QUERY_NOT_ALLOWED"));
    // A manifest whose key is not its document's hash stops the start.
    std::fs::write(&manifest, json!({ sha256("{ __typename }"): UNITS }).to_string()).unwrap();
    assert!(app.try_peer_with(&[("APP_TRUSTED_DOCUMENTS_MANIFEST", path)]).await.is_err());
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
