//! Sessions as devices (list, end one, sign out everywhere) and the refresh grace window.

use entities::refresh_token;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::fixtures::{PASSWORD, Series};
use crate::helpers::*;

const SESSIONS: &str = "{ mySessions { id deviceLabel platform createdAt lastUsedAt place current } }";
const LOGIN: &str = "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }";
const REFRESH: &str = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken refreshTokenExpiresAt } }";
const ME: &str = "{ me { id } }";

fn phone(n: u32) -> String {
    Series::ACCOUNTS.phone(300 + n)
}

/// Signs in describing the device: (access, refresh).
async fn login_on(app: &TestApp, phone: &str, label: &str, platform: &str) -> (String, String) {
    let input =
        json!({ "phone": phone, "password": PASSWORD, "device": { "label": label, "platform": platform } });
    let data = app.gql(LOGIN, json!({ "i": input }), None).await.ok();
    (
        data["login"]["accessToken"].as_str().unwrap().to_owned(),
        data["login"]["refreshToken"].as_str().unwrap().to_owned(),
    )
}

async fn sessions(app: &TestApp, token: &str) -> Vec<Value> {
    app.gql(SESSIONS, json!({}), Some(token)).await.ok()["mySessions"].as_array().unwrap().clone()
}

async fn refresh(app: &TestApp, token: &str) -> Gql {
    app.gql(REFRESH, json!({ "t": token }), None).await
}

fn pair(res: Gql) -> (String, String) {
    let data = res.ok();
    let r = &data["refreshSession"];
    (r["accessToken"].as_str().unwrap().to_owned(), r["refreshToken"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn she_sees_her_devices_and_ends_one_from_another() {
    let app = spawn_app().await;
    app.register(&phone(1), "Phạm Thị Máy", PASSWORD).await;
    let (phone_token, _) = login_on(&app, &phone(1), "iPhone của Lan", "IOS").await;
    let (tablet_token, tablet_refresh) = login_on(&app, &phone(1), "Máy tính bảng", "ANDROID").await;

    let listed = sessions(&app, &phone_token).await;
    assert_eq!(listed.len(), 3, "the registration's session too: {listed:?}");
    let by_label = |label: &str| listed.iter().find(|s| s["deviceLabel"] == label).unwrap().clone();
    let iphone = by_label("iPhone của Lan");
    let tablet = by_label("Máy tính bảng");
    assert_eq!((iphone["platform"].as_str(), iphone["current"].as_bool()), (Some("IOS"), Some(true)));
    assert_eq!((tablet["platform"].as_str(), tablet["current"].as_bool()), (Some("ANDROID"), Some(false)));
    assert!(tablet["place"].is_null(), "no GeoIP database configured");
    assert_eq!(listed[0]["deviceLabel"], "Máy tính bảng", "the most recently used first");

    // Its node is hers alone.
    let node = "query($id: ID!) { node(id: $id) { ... on Session { deviceLabel } } }";
    let seen = app.gql(node, json!({ "id": tablet["id"] }), Some(&phone_token)).await.ok();
    assert_eq!(seen["node"]["deviceLabel"], "Máy tính bảng");
    let (stranger, _, _) = app.register(&phone(2), "Phạm Thị Lạ", PASSWORD).await;
    app.gql(node, json!({ "id": tablet["id"] }), Some(&stranger)).await.expect_code("NOT_FOUND");
    let end = "mutation($id: ID!) { endSession(id: $id) }";
    app.gql(end, json!({ "id": tablet["id"] }), Some(&stranger)).await.expect_code("NOT_FOUND");
    app.gql(ME, json!({}), Some(&tablet_token)).await.ok();

    // From the phone she signs the tablet out: at once, refresh included.
    app.gql(end, json!({ "id": tablet["id"] }), Some(&phone_token)).await.ok();
    app.gql(ME, json!({}), Some(&tablet_token)).await.expect_code("UNAUTHENTICATED");
    refresh(&app, &tablet_refresh).await.expect_code("UNAUTHENTICATED");
    assert_eq!(sessions(&app, &phone_token).await.len(), 2);
    app.gql(end, json!({ "id": tablet["id"] }), Some(&phone_token)).await.expect_code("NOT_FOUND");
    // A label that is too long is refused by field.
    let long = json!({ "phone": phone(1), "password": PASSWORD, "device": { "label": "x".repeat(65) } });
    let res = app.gql(LOGIN, json!({ "i": long }), None).await.expect_reason("BAD_USER_INPUT", "TOO_LONG");
    assert_eq!(res.field(), Some("input.device.label"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_everywhere_ends_every_session_this_one_included() {
    let app = spawn_app().await;
    let (first, first_refresh, _) = app.register(&phone(10), "Phạm Thị Mọi Nơi", PASSWORD).await;
    let (second, _) = login_on(&app, &phone(10), "Laptop", "WEB").await;
    let (bystander, _, _) = app.register(&phone(11), "Phạm Thị Khác", PASSWORD).await;
    let ended = app.gql("mutation { signOutEverywhere }", json!({}), Some(&second)).await.ok();
    assert_eq!(ended["signOutEverywhere"], 2);
    for token in [&first, &second] {
        app.gql(ME, json!({}), Some(token)).await.expect_code("UNAUTHENTICATED");
    }
    refresh(&app, &first_refresh).await.expect_code("UNAUTHENTICATED");
    app.gql(ME, json!({}), Some(&bystander)).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_retried_at_once_by_the_same_client_answers_the_same_pair() {
    let app = spawn_app().await;
    let (_, r0) = app.login(MEMBER, DEMO_PASSWORD).await;
    let first = refresh(&app, &r0).await;
    let again = refresh(&app, &r0).await;
    // The data, not the extensions: what is left in the caller's cost bucket moves between
    // requests.
    assert_eq!(first.body["data"], again.body["data"], "the same new pair");
    let (a1, r1) = pair(first);
    app.gql(ME, json!({}), Some(&a1)).await.ok();
    // The session lives on: the new refresh token works.
    let (a2, _) = pair(refresh(&app, &r1).await);
    app.gql(ME, json!({}), Some(&a2)).await.ok();
    // Once its successor was used, the old token is no retry any more: a reuse.
    refresh(&app, &r0).await.expect_code("UNAUTHENTICATED");
    app.gql(ME, json!({}), Some(&a2)).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_retries_of_one_refresh_all_get_the_one_new_pair() {
    let app = spawn_app().await;
    let (_, r0) = app.login(MEMBER, DEMO_PASSWORD).await;
    let answers = futures_util::future::join_all((0..8).map(|_| refresh(&app, &r0))).await;
    let first = answers[0].body["data"].clone();
    assert!(first["refreshSession"]["refreshToken"].is_string(), "{first}");
    for a in &answers {
        assert_eq!(a.body["data"], first, "every retry answers the same pair");
    }
    let (a1, _) = pair(answers[0].clone());
    app.gql(ME, json!({}), Some(&a1)).await.ok();
    let rows = refresh_token::Entity::find().all(&app.state.db).await.unwrap();
    let unused = rows.iter().filter(|r| r.used_at.is_none()).count();
    assert_eq!(unused, 1, "one new refresh token, not eight");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reuse_after_the_grace_window_revokes_the_session() {
    let app = spawn_app_with(&[("APP_REFRESH_REUSE_GRACE_SECS", "1")]).await;
    let (_, r0) = app.login(MEMBER, DEMO_PASSWORD).await;
    let (a1, r1) = pair(refresh(&app, &r0).await);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    refresh(&app, &r0).await.expect_code("UNAUTHENTICATED");
    app.gql(ME, json!({}), Some(&a1)).await.expect_code("UNAUTHENTICATED");
    refresh(&app, &r1).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reuse_by_another_client_revokes_the_session_even_at_once() {
    let app = spawn_app_with(&[("APP_TRUST_FORWARDED_FOR", "true")]).await;
    let (_, r0) = app.login(MEMBER, DEMO_PASSWORD).await;
    let first = app.gql_from("203.0.113.20", REFRESH, json!({ "t": r0 })).await;
    let (a1, r1) = pair(first);
    app.gql_from("198.51.100.9", REFRESH, json!({ "t": r0 })).await.expect_code("UNAUTHENTICATED");
    app.gql(ME, json!({}), Some(&a1)).await.expect_code("UNAUTHENTICATED");
    app.gql_from("203.0.113.20", REFRESH, json!({ "t": r1 })).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_geoip_database_a_session_shows_a_coarse_place() {
    let db = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/geoip-test.mmdb");
    let app = spawn_app_with(&[("APP_GEOIP_DB", db), ("APP_TRUST_FORWARDED_FOR", "true")]).await;
    let input = |label: &str| json!({ "i": { "phone": MEMBER, "password": DEMO_PASSWORD, "device": { "label": label } } });
    let mut token = String::new();
    for (addr, label) in [("203.0.113.7", "Hà Nội"), ("198.51.100.7", "Việt Nam"), ("192.0.2.7", "Không rõ")]
    {
        let data = app.gql_from(addr, LOGIN, input(label)).await.ok();
        token = data["login"]["accessToken"].as_str().unwrap().to_owned();
    }
    let listed = sessions(&app, &token).await;
    let place = |label: &str| listed.iter().find(|s| s["deviceLabel"] == label).unwrap()["place"].clone();
    assert_eq!(place("Hà Nội"), "Hanoi, Vietnam");
    assert_eq!(place("Việt Nam"), "Vietnam");
    assert!(place("Không rõ").is_null(), "an address the database does not know has no place");
    // A file that is no MaxMind DB stops the start-up with a clear error.
    let bad =
        app.try_peer_with(&[("APP_GEOIP_DB", concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))]).await;
    assert!(matches!(bad, Err(api::startup::StartupError::GeoIp(_))));
}
