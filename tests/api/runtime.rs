//! The runtime: restarts keep data, several instances share revocations and live events
//! (through Redis), and secrets never reach the logs.

use std::time::Duration;

use entities::{org_unit, person};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

use crate::helpers::*;

async fn counts(app: &TestApp) -> (u64, u64) {
    let units = org_unit::Entity::find().count(&app.state.db).await.unwrap();
    let people = person::Entity::find().count(&app.state.db).await.unwrap();
    (units, people)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_neither_duplicates_nor_loses_data() {
    let app = spawn_app().await;
    app.register("0987001122", "Đỗ Thị Bền", "sen-hong-2026").await;
    let before = counts(&app).await;
    assert!(before.0 > 100, "demo units loaded: {before:?}");

    let restarted = app.spawn_peer().await;
    assert_eq!(counts(&restarted).await, before);
    restarted.login("+84987001122", "sen-hong-2026").await;
    restarted.login(MEMBER, DEMO_PASSWORD).await;
}

/// Only meaningful with Redis: without it each instance keeps its own state by design (the
/// single-instance SQLite set-up), so the test has nothing to check there.
fn redis_configured() -> bool {
    let on = std::env::var("TEST_REDIS_URL").is_ok();
    if !on {
        eprintln!("multi-instance behaviour needs TEST_REDIS_URL; nothing to check in process");
    }
    on
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_on_one_instance_kills_the_token_on_every_instance() {
    if !redis_configured() {
        return;
    }
    let a = spawn_app().await;
    let b = a.spawn_peer().await;
    let token = a.token(MEMBER).await;
    b.gql("{ me { id } }", json!({}), Some(&token)).await.ok();
    b.gql("mutation { logout }", json!({}), Some(&token)).await.ok();
    a.gql("{ me { id } }", json!({}), Some(&token)).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_counts_failures_across_instances() {
    if !redis_configured() {
        return;
    }
    let a = spawn_app().await;
    let b = a.spawn_peer().await;
    let bad = json!({ "i": { "phone": MEMBER, "password": "wrong-password-1" } });
    let q = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }";
    for i in 0..5 {
        let app = if i % 2 == 0 { &a } else { &b };
        app.gql(q, bad.clone(), None).await.expect_code("UNAUTHENTICATED");
    }
    a.gql(q, bad.clone(), None).await.expect_code("RATE_LIMITED");
    b.gql(q, bad, None).await.expect_code("RATE_LIMITED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_reach_subscribers_on_another_instance() {
    if !redis_configured() {
        return;
    }
    let a = spawn_app().await;
    let b = a.spawn_peer().await;
    let token = a.token(MEMBER).await;
    let mut sub = crate::ws::subscribe_session_revoked(&a, &token).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.gql("mutation { logout }", json!({}), Some(&token)).await.ok();
    let event = crate::ws::next_event(&mut sub).await;
    assert_eq!(event["payload"]["data"]["sessionRevoked"]["reason"], "LOGOUT", "{event}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_and_tokens_never_reach_the_logs() {
    // A second use of a refresh token is a reuse at once (no retry window).
    let app = spawn_app_with(&[("APP_REFRESH_REUSE_GRACE_SECS", "0")]).await;
    let password = "kin-secret-7731-xyz";
    let (access, refresh, _) = app.register("0966554433", "Vũ Thị Kín", password).await;
    // A phone code and its verification token (a reset's: the account exists now).
    let verification = app.verified_phone("0966554433", "RESET_PASSWORD", None).await;
    let code = app.sms.to("0966554433").last().and_then(|m| m.code.clone()).unwrap();
    // A failed login, a bad refresh, a GET with variables and a mutation refused over GET.
    let q = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }";
    app.gql(q, json!({ "i": { "phone": "0966554433", "password": format!("{password}-no") } }), None).await;
    let r = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }";
    let renewed = app.gql(r, json!({ "t": refresh }), None).await.ok();
    let access2 = renewed["refreshSession"]["accessToken"].as_str().unwrap().to_owned();
    app.gql(r, json!({ "t": refresh }), None).await.expect_code("UNAUTHENTICATED");
    let get =
        format!("/graphql?query=query($p:String){{__typename}}&variables=%7B%22p%22%3A%22{password}%22%7D");
    let request_id = format!("log-check-{}", uuid::Uuid::new_v4().simple());
    app.client
        .get(app.url(&get))
        .bearer_auth(&access)
        .header("x-request-id", &request_id)
        .send()
        .await
        .unwrap();

    let logs = captured_logs();
    assert!(logs.contains(&request_id), "this request's log lines carry its request id");
    for secret in [password, access.as_str(), access2.as_str(), refresh.as_str(), verification.as_str()] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
    // The code as a whole word (six digits alone could be part of a timestamp).
    assert!(
        !logs.contains(&format!("\"{code}\"")) && !logs.contains(&format!(" {code}")),
        "a phone code reached the logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_survives_a_restart_of_the_instance() {
    // With the in-process cache the restarted instance starts empty: it must restore recent
    // revocations from the database, or logged-out tokens would work again until they expire.
    let app = spawn_app().await;
    let token = app.token(MEMBER).await;
    app.gql("mutation { logout }", json!({}), Some(&token)).await.ok();
    let restarted = app.spawn_peer().await;
    restarted.gql("{ me { id } }", json!({}), Some(&token)).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_creates_the_root_and_the_first_administrator_once() {
    let app = spawn_app_with(&[("APP_SEED_DEMO_DATA", "false")]).await;
    let run = || {
        service::bootstrap::run(
            &app.state,
            service::bootstrap::Bootstrap {
                phone: "0901234567".into(),
                full_name: "Trần Thị Quản Lý".into(),
                password: "first-admin-2026".to_owned().into(),
                city_code: "hn".into(),
                city_name: "Hội LHPN Thành phố Hà Nội".into(),
            },
        )
    };
    run().await.unwrap();
    run().await.unwrap();
    let token = app.login("+84901234567", "first-admin-2026").await.0;
    let data = app
        .gql(
            "{ me { isSystemAdmin } orgUnits(kind: CITY) { totalCount edges { node { code } } } }",
            json!({}),
            Some(&token),
        )
        .await
        .ok();
    assert_eq!(data["me"]["isSystemAdmin"], true);
    assert_eq!(data["orgUnits"]["totalCount"], 1);
    assert_eq!(data["orgUnits"]["edges"][0]["node"]["code"], "HN");
}
