//! A request that carries a bad token is `UNAUTHENTICATED`, never anonymous: an expired token
//! must not turn a signed-in violence report into an anonymous one.

use jsonwebtoken::Algorithm;
use sea_orm::EntityTrait;
use serde_json::json;

use crate::{
    helpers::*,
    identity::{claims_like, sign},
    violence,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_never_files_an_anonymous_report() {
    let app = spawn_app().await;
    let fresh = app.token(MEMBER).await;
    let a_minute_ago = chrono::Utc::now().timestamp() - 60;
    let expired = sign(
        Algorithm::HS256,
        TEST_JWT_SECRET,
        &claims_like(&fresh, |c| {
            c["iat"] = json!(a_minute_ago - 900);
            c["exp"] = json!(a_minute_ago);
        }),
    );
    let unit = app.unit_id("HN-LB-BD").await;
    let input = violence::input(&unit, true, "Chồng tôi đánh tôi tối qua.");
    let res = app.gql(violence::SUBMIT, json!({ "i": input }), Some(&expired)).await;
    res.expect_code("UNAUTHENTICATED");
    let stored = entities::violence_report::Entity::find().all(&app.state.db).await.unwrap();
    assert!(stored.is_empty(), "nothing is filed for a refused token");

    // The app refreshes and retries with the same idempotency key: one report, hers.
    let receipt = violence::submit(&app, &input, Some(&fresh)).await;
    assert!(receipt["pin"].is_null(), "a signed-in report needs no PIN: {receipt}");
    let mine = app
        .gql("{ myViolenceReports(first: 10) { edges { node { referenceCode } } } }", json!({}), Some(&fresh))
        .await
        .ok();
    let codes: Vec<String> =
        nodes(&mine["myViolenceReports"]).iter().map(|n| s(&n["referenceCode"])).collect();
    assert_eq!(codes, vec![s(&receipt["referenceCode"])]);
    // A request with no token at all is still an anonymous report.
    let anonymous = violence::submit(&app, &violence::input(&unit, false, "Hàng xóm bị đánh."), None).await;
    assert!(anonymous["pin"].is_string(), "{anonymous}");
}
