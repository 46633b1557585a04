//! Every call of a client is recorded — operation, cost, outcome — and the admins read the
//! calls and the totals.

use serde_json::{Value, json};

use crate::helpers::{LB_OFFICER, SYSADMIN, s, spawn_app};

const CALLS: &str = "query($id: ID!) { integrationClient(id: $id) { \
    calls(first: 10) { edges { node { operation cost outcome status durationMs at } } } \
    usage { calls points errors rateLimited } } }";

#[tokio::test]
async fn every_client_call_is_recorded_with_its_cost_and_outcome() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let bucket = json!({ "bucket": { "capacity": 15, "perSec": 1 } });
    let client = super::register_with(&app, &admin, "HN", &["UNITS_READ"], bucket).await;
    let id = client.id.clone();
    let token = super::client_token(&app, &client).await;
    let units = "query Units { orgUnits(first: 5) { edges { node { code } } } }";
    app.gql(units, json!({}), Some(&token)).await.ok();
    app.gql("{ me { id } }", json!({}), Some(&token)).await.expect_code("FORBIDDEN");
    // 11 points asked with 4 left: refused.
    let refused = app.gql(units, json!({}), Some(&token)).await;
    assert_eq!(refused.status, 429);

    // The records are written after the answers: wait for them.
    let mut got = Value::Null;
    for _ in 0..50 {
        got = app.gql(CALLS, json!({ "id": id }), Some(&admin)).await.ok()["integrationClient"].clone();
        if got["calls"]["edges"].as_array().is_some_and(|e| e.len() == 4) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let calls: Vec<(String, String, u64)> = got["calls"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (s(&e["node"]["operation"]), s(&e["node"]["outcome"]), e["node"]["status"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("Units".to_owned(), "RATE_LIMITED".to_owned(), 429),
            ("(anonymous)".to_owned(), "FORBIDDEN".to_owned(), 200),
            ("Units".to_owned(), "OK".to_owned(), 200),
            ("POST /oauth/token".to_owned(), "OK".to_owned(), 200),
        ]
    );
    let spent = got["calls"]["edges"][2]["node"]["cost"].as_i64().unwrap();
    assert!(spent > 0 && spent <= 11, "{spent}");
    assert_eq!(got["usage"], json!({ "calls": 4, "points": spent, "errors": 2, "rateLimited": 1 }));

    // Only the admins who manage the client read them.
    let officer = app.token(LB_OFFICER).await;
    let denied = app.gql(CALLS, json!({ "id": id }), Some(&officer)).await;
    assert!(matches!(denied.code(), Some("FORBIDDEN" | "NOT_FOUND")));
    app.gql(CALLS, json!({ "id": id }), Some(&token)).await.expect_code("FORBIDDEN");
}
