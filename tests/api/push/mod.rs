//! Real push delivery and notification preferences.
//!
//! The FCM and APNs senders are tested against local fakes that check what Google's and
//! Apple's servers check (the signed assertion and provider token under the test keys'
//! public halves, the request shape) — through the whole server, with `APP_PUSH_PROVIDERS`
//! naming them, and directly, for the token caches under concurrent sends. Preferences are
//! tested through the API and the writers that honour them (the campaign fan-out, the
//! violence-report notices).

mod fake_apns;
mod fake_fcm;
mod preferences;

use std::time::{Duration, Instant};

use chrono::Utc;
use entities::{ids::PersonId, notification, push_outbox, push_token};
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use service::{
    config::ApnsConfig,
    notifications::{NewNotification, NotificationKind, announce, enqueue},
    push::{PushError, PushMessage, PushSender, apns::ApnsSender, fcm::FcmSender},
};
use uuid::Uuid;

use crate::helpers::*;
use fake_apns::FakeApns;
use fake_fcm::FakeFcm;

// ---- helpers ----

const REGISTER: &str =
    "mutation($t: String!, $p: PushPlatform!) { registerPushToken(token: $t, platform: $p) }";

async fn register(app: &TestApp, token: &str, device: &str, platform: &str) {
    let data = app.gql(REGISTER, json!({ "t": device, "p": platform }), Some(token)).await.ok();
    assert_eq!(data["registerPushToken"], true);
}

async fn person(app: &TestApp, phone: &str) -> PersonId {
    id_of::<PersonId>(&app.person_id(phone).await)
}

/// Queues one notification of `kind` to `person_id` (as the writers do) and announces it.
async fn notify(app: &TestApp, person_id: PersonId, kind: NotificationKind) -> Vec<notification::Model> {
    let item = NewNotification {
        person_id,
        kind,
        params: json!({ "branch": "Chi hội 1", "training": "Kỹ năng số", "campaign": "Ứng xử đẹp" }),
        link: None,
        duty: false,
    };
    let rows = enqueue(&app.state.db, vec![item]).await.unwrap();
    announce(&app.state, &rows).await;
    rows
}

/// The outbox row queued for a device (by its token text), if any.
async fn outbox_for(app: &TestApp, device: &str) -> Option<push_outbox::Model> {
    let token = push_token::Entity::find()
        .filter(push_token::Column::Token.eq(device))
        .one(&app.state.db)
        .await
        .unwrap()?;
    push_outbox::Entity::find()
        .filter(push_outbox::Column::PushTokenId.eq(token.id))
        .one(&app.state.db)
        .await
        .unwrap()
}

async fn token_exists(app: &TestApp, device: &str) -> bool {
    push_token::Entity::find()
        .filter(push_token::Column::Token.eq(device))
        .one(&app.state.db)
        .await
        .unwrap()
        .is_some()
}

/// Polls `check` until it holds (or fails after 15 s).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn scratch_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("phunu-push-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn apns_config(url: &str) -> ApnsConfig {
    ApnsConfig {
        key_file: fake_apns::KEY_PATH.into(),
        key_id: fake_apns::KEY_ID.into(),
        team_id: fake_apns::TEAM_ID.into(),
        topic: fake_apns::TOPIC.into(),
        url: url.to_owned(),
    }
}

/// The settings of an app pushing through the fakes (`fcm`, and `apns` when given), polling fast.
fn provider_settings(
    fcm: &FakeFcm,
    credentials: &str,
    apns: Option<&FakeApns>,
) -> Vec<(&'static str, String)> {
    let providers = if apns.is_some() { "fcm,apns" } else { "fcm" };
    let mut vars = vec![
        ("APP_PUSH_POLL_INTERVAL_MS", "50".to_owned()),
        ("APP_PUSH_BACKOFF_BASE_MS", "200".to_owned()),
        ("APP_PUSH_FCM_CREDENTIALS_FILE", credentials.to_owned()),
        ("APP_PUSH_FCM_URL", fcm.url.clone()),
        ("APP_PUSH_PROVIDERS", providers.to_owned()),
    ];
    if let Some(apns) = apns {
        vars.push(("APP_PUSH_APNS_KEY_FILE", fake_apns::KEY_PATH.to_owned()));
        vars.push(("APP_PUSH_APNS_KEY_ID", fake_apns::KEY_ID.to_owned()));
        vars.push(("APP_PUSH_APNS_TEAM_ID", fake_apns::TEAM_ID.to_owned()));
        vars.push(("APP_PUSH_APNS_TOPIC", fake_apns::TOPIC.to_owned()));
        vars.push(("APP_PUSH_APNS_URL", apns.url.clone()));
    }
    vars
}

async fn spawn_pushing(vars: &[(&'static str, String)]) -> TestApp {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_with(&vars).await
}

/// The caller's newest notification's title and body, as her inbox shows them.
async fn inbox_texts(app: &TestApp, token: &str) -> (String, String) {
    let data = app
        .gql("{ notifications(first: 1) { edges { node { title body } } } }", json!({}), Some(token))
        .await
        .ok();
    let node = &data["notifications"]["edges"][0]["node"];
    (s(&node["title"]), s(&node["body"]))
}

fn message<'a>(token: &'a str, platform: &'a str) -> PushMessage<'a> {
    PushMessage {
        id: Uuid::now_v7(),
        token,
        platform,
        title: "Tiêu đề",
        body: "Nội dung",
        notification_id: Uuid::now_v7(),
    }
}

// ---- FCM ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_delivers_with_a_signed_assertion_and_removes_unregistered_tokens() {
    let fcm = FakeFcm::start().await;
    let credentials = fcm.credentials_file(&scratch_dir());
    let app = spawn_pushing(&provider_settings(&fcm, &credentials, None)).await;
    let member = app.token(MEMBER).await;
    register(&app, &member, "fcm-android-1", "ANDROID").await;
    register(&app, &member, "web-browser-1", "WEB").await;
    register(&app, &member, "dead-android-2", "ANDROID").await;
    let rows = notify(&app, person(&app, MEMBER).await, NotificationKind::RequestApproved).await;

    eventually("two pushes sent and the dead token removed", || async {
        let sent = |o: Option<push_outbox::Model>| o.is_some_and(|o| o.status == "SENT");
        sent(outbox_for(&app, "fcm-android-1").await)
            && sent(outbox_for(&app, "web-browser-1").await)
            && !token_exists(&app, "dead-android-2").await
    })
    .await;
    // The dead token's queued push went with it.
    let left = push_outbox::Entity::find()
        .filter(push_outbox::Column::NotificationId.eq(rows[0].id))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|o| o.attempts == 1 && o.last_error.is_none()));

    // One exchange for the three sends, with an assertion the fake verified.
    assert_eq!((fcm.exchanges(), fcm.refused_assertions()), (1, 0));
    let deliveries = fcm.deliveries();
    assert_eq!(deliveries.len(), 3);
    assert!(deliveries.iter().all(|d| d.access_token == "access-1"));
    let (title, body) = inbox_texts(&app, &member).await;
    let android = deliveries.iter().find(|d| d.body["message"]["token"] == "fcm-android-1").unwrap();
    assert_eq!(android.status, 200);
    assert_eq!(
        android.body,
        json!({ "message": {
            "token": "fcm-android-1",
            "notification": { "title": title, "body": body },
            "data": { "notification_id": rows[0].id.to_string() },
            "android": { "priority": "HIGH" },
        } })
    );
    let dead = deliveries.iter().find(|d| d.body["message"]["token"] == "dead-android-2").unwrap();
    assert_eq!(dead.status, 404);
    fcm.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_failures_wait_for_retry_after_or_are_given_up_without_the_token() {
    let fcm = FakeFcm::start().await;
    let credentials = fcm.credentials_file(&scratch_dir());
    let app = spawn_pushing(&provider_settings(&fcm, &credentials, None)).await;
    let member = app.token(MEMBER).await;
    register(&app, &member, "busy-android-1", "ANDROID").await;
    register(&app, &member, "wrong-android-1", "ANDROID").await;
    notify(&app, person(&app, MEMBER).await, NotificationKind::RequestApproved).await;

    eventually("both attempted", || async {
        let tried = |o: Option<push_outbox::Model>| o.is_some_and(|o| o.attempts == 1);
        tried(outbox_for(&app, "busy-android-1").await) && tried(outbox_for(&app, "wrong-android-1").await)
    })
    .await;
    // 503 with Retry-After: 120 — retried after two minutes, not after the 200 ms backoff.
    let busy = outbox_for(&app, "busy-android-1").await.unwrap();
    assert_eq!(busy.status, "PENDING");
    assert_eq!(busy.last_error.as_deref(), Some("FCM answered 503 UNAVAILABLE"));
    let wait = busy.next_attempt_at - Utc::now();
    assert!(wait > chrono::Duration::seconds(100), "{wait:?}");
    // 400: given up at once; the error names the status and code, never the token.
    let wrong = outbox_for(&app, "wrong-android-1").await.unwrap();
    assert_eq!(wrong.status, "FAILED");
    assert_eq!(wrong.last_error.as_deref(), Some("FCM answered 400 INVALID_ARGUMENT"));
    assert!(token_exists(&app, "wrong-android-1").await, "a refused message does not kill the token");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fcm.deliveries().len(), 2, "nothing retried early");
    fcm.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_mistakes_never_remove_device_tokens() {
    let fcm = FakeFcm::start().await;
    let credentials = fcm.credentials_file(&scratch_dir());
    let app = spawn_pushing(&provider_settings(&fcm, &credentials, None)).await;
    let member = app.token(MEMBER).await;
    for device in ["other-android-1", "lost-android-1", "apnsauth-ios-1"] {
        register(&app, &member, device, "ANDROID").await;
    }
    notify(&app, person(&app, MEMBER).await, NotificationKind::RequestApproved).await;
    eventually("three attempts", || async {
        let mut tried = 0;
        for device in ["other-android-1", "lost-android-1", "apnsauth-ios-1"] {
            tried += usize::from(outbox_for(&app, device).await.is_some_and(|o| o.attempts == 1));
        }
        tried == 3
    })
    .await;
    // A credentials file of another project: retried (once fixed, pushes flow), token kept.
    let other = outbox_for(&app, "other-android-1").await.unwrap();
    assert_eq!(
        (other.status.as_str(), other.last_error.as_deref()),
        ("PENDING", Some("FCM answered 403 SENDER_ID_MISMATCH"))
    );
    // A 404 that is not FCM's UNREGISTERED (a wrong address): refused, token kept.
    let lost = outbox_for(&app, "lost-android-1").await.unwrap();
    assert_eq!(
        (lost.status.as_str(), lost.last_error.as_deref()),
        ("FAILED", Some("FCM answered 404 NOT_FOUND"))
    );
    // Firebase's APNs credentials are wrong: retried, and no new access token for it.
    let apns = outbox_for(&app, "apnsauth-ios-1").await.unwrap();
    assert_eq!(
        (apns.status.as_str(), apns.last_error.as_deref()),
        ("PENDING", Some("FCM answered 401 THIRD_PARTY_AUTH_ERROR"))
    );
    assert_eq!(fcm.exchanges(), 1);
    for device in ["other-android-1", "lost-android-1", "apnsauth-ios-1"] {
        assert!(token_exists(&app, device).await, "{device}");
    }
    fcm.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_apns_alone_other_platforms_fail_instead_of_pretending() {
    let apns = FakeApns::start().await;
    let app = spawn_app_with(&[
        ("APP_PUSH_POLL_INTERVAL_MS", "50"),
        ("APP_PUSH_PROVIDERS", "apns"),
        ("APP_PUSH_APNS_KEY_FILE", fake_apns::KEY_PATH),
        ("APP_PUSH_APNS_KEY_ID", fake_apns::KEY_ID),
        ("APP_PUSH_APNS_TEAM_ID", fake_apns::TEAM_ID),
        ("APP_PUSH_APNS_TOPIC", fake_apns::TOPIC),
        ("APP_PUSH_APNS_URL", &apns.url),
    ])
    .await;
    let member = app.token(MEMBER).await;
    register(&app, &member, "a1b2c3d4", "IOS").await;
    register(&app, &member, "fcm-android-3", "ANDROID").await;
    notify(&app, person(&app, MEMBER).await, NotificationKind::RequestApproved).await;
    eventually("both attempted", || async {
        outbox_for(&app, "a1b2c3d4").await.is_some_and(|o| o.status == "SENT")
            && outbox_for(&app, "fcm-android-3").await.is_some_and(|o| o.status == "FAILED")
    })
    .await;
    let android = outbox_for(&app, "fcm-android-3").await.unwrap();
    assert_eq!(android.last_error.as_deref(), Some("no push provider for ANDROID is configured"));
    assert_eq!(apns.deliveries().len(), 1);
    apns.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_refused_mid_burst_is_exchanged_again_once() {
    let fcm = FakeFcm::start().await;
    let sender = FcmSender::new(&fcm.credentials(), &fcm.url, Duration::from_secs(5)).unwrap();
    sender.send(&message("fcm-a", "ANDROID")).await.unwrap();
    sender.send(&message("fcm-b", "ANDROID")).await.unwrap();
    assert_eq!((fcm.exchanges(), sender.exchanges().await), (1, 1), "the token is cached");

    // Google expires the token early: twenty sends at once see 401, and one exchange follows.
    fcm.revoke("access-1");
    let tokens: Vec<String> = (0..20).map(|i| format!("fcm-burst-{i}")).collect();
    let results = join_all(tokens.iter().map(|t| {
        let sender = &sender;
        async move { sender.send(&message(t, "ANDROID")).await }
    }))
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(fcm.exchanges(), 2);
    let delivered: Vec<_> = fcm.deliveries().into_iter().filter(|d| d.status == 200).collect();
    assert_eq!(delivered.len(), 22);
    assert_eq!(delivered.iter().filter(|d| d.access_token == "access-2").count(), 20);
    fcm.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_assertion_is_a_transient_failure_that_names_no_secret() {
    let fcm = FakeFcm::start().await;
    // The right account, but signed with another key: Google refuses the assertion.
    let mut account: Value = serde_json::from_str(&fcm.credentials()).unwrap();
    account["private_key"] = json!(include_str!("../../fixtures/keys/other-rsa-test.pem"));
    let sender = FcmSender::new(&account.to_string(), &fcm.url, Duration::from_secs(5)).unwrap();
    let err = sender.send(&message("fcm-a", "ANDROID")).await.unwrap_err();
    assert!(matches!(err, PushError::Transient { .. }), "{err:?}");
    assert_eq!(err.to_string(), "FCM token exchange answered 400");
    assert_eq!((fcm.refused_assertions(), fcm.deliveries().len()), (1, 0));
    // The sends right behind it fail at once with the same reason, without asking again.
    let results = join_all((0..10).map(|_| {
        let sender = &sender;
        async move { sender.send(&message("fcm-b", "ANDROID")).await }
    }))
    .await;
    assert!(results.iter().all(|r| matches!(r, Err(PushError::Transient { .. }))));
    assert_eq!(fcm.refused_assertions(), 1);
    fcm.stop().await;
}

// ---- APNs ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ios_devices_get_apns_over_http2_and_the_others_fcm() {
    let (fcm, apns) = (FakeFcm::start().await, FakeApns::start().await);
    let credentials = fcm.credentials_file(&scratch_dir());
    let app = spawn_pushing(&provider_settings(&fcm, &credentials, Some(&apns))).await;
    let member = app.token(MEMBER).await;
    register(&app, &member, "abcdef0123456789", "IOS").await;
    register(&app, &member, "dead0000beef", "IOS").await;
    register(&app, &member, "bad00000beef", "IOS").await;
    register(&app, &member, "fcm-android-9", "ANDROID").await;
    let rows = notify(&app, person(&app, MEMBER).await, NotificationKind::RequestApproved).await;

    eventually("two pushes sent, one refused and the dead iPhone token removed", || async {
        let sent = |o: Option<push_outbox::Model>| o.is_some_and(|o| o.status == "SENT");
        sent(outbox_for(&app, "abcdef0123456789").await)
            && sent(outbox_for(&app, "fcm-android-9").await)
            && outbox_for(&app, "bad00000beef").await.is_some_and(|o| o.status == "FAILED")
            && !token_exists(&app, "dead0000beef").await
    })
    .await;
    // BadDeviceToken is also what a sandbox/production mix-up answers: the push fails, the token
    // stays (only 410 Unregistered removes one).
    let refused = outbox_for(&app, "bad00000beef").await.unwrap();
    assert_eq!(refused.last_error.as_deref(), Some("APNs answered 400 BadDeviceToken"));
    let outbox = outbox_for(&app, "abcdef0123456789").await.unwrap();
    let deliveries = apns.deliveries();
    assert_eq!(deliveries.len(), 3, "{deliveries:?}");
    let ok = deliveries.iter().find(|d| d.path == "/3/device/abcdef0123456789").unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers["apns-topic"], fake_apns::TOPIC);
    assert_eq!(ok.headers["apns-push-type"], "alert");
    assert_eq!(ok.headers["apns-priority"], "10");
    assert_eq!(ok.headers["apns-id"], outbox.id.to_string());
    let (title, body) = inbox_texts(&app, &member).await;
    assert_eq!(ok.body["aps"]["alert"], json!({ "title": title, "body": body }));
    assert_eq!(ok.body["notification_id"], rows[0].id.to_string());
    let reasons: Vec<_> = deliveries.iter().filter_map(|d| d.reason.clone()).collect();
    assert_eq!(reasons.len(), 2);
    assert!(reasons.contains(&"Unregistered".to_owned()) && reasons.contains(&"BadDeviceToken".to_owned()));
    // Android went to FCM, and nothing else did.
    let to_fcm: Vec<_> = fcm.deliveries().iter().map(|d| s(&d.body["message"]["token"])).collect();
    assert_eq!(to_fcm, ["fcm-android-9"]);
    fcm.stop().await;
    apns.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_provider_token_is_signed_again_once() {
    let apns = FakeApns::start().await;
    let pem = std::fs::read(fake_apns::KEY_PATH).unwrap();
    let sender = ApnsSender::new(&pem, &apns_config(&apns.url), Duration::from_secs(5)).unwrap();
    sender.send(&message("0a0a0a0a", "IOS")).await.unwrap();
    sender.send(&message("0b0b0b0b", "IOS")).await.unwrap();
    // `iat` is in whole seconds: expire the first token in a later second than the next one's.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    apns.expire_tokens();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let tokens: Vec<String> = (0..10).map(|i| format!("c0ffee{i:02}")).collect();
    let results = join_all(tokens.iter().map(|t| {
        let sender = &sender;
        async move { sender.send(&message(t, "IOS")).await }
    }))
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let deliveries = apns.deliveries();
    let mut jwts: Vec<&str> = deliveries.iter().map(|d| d.jwt.as_str()).collect();
    jwts.sort_unstable();
    jwts.dedup();
    assert_eq!(jwts.len(), 2, "one token, then one more");
    let expired = deliveries.iter().filter(|d| d.reason.as_deref() == Some("ExpiredProviderToken")).count();
    assert!((1..=10).contains(&expired), "{expired}");
    assert_eq!(deliveries.iter().filter(|d| d.status == 200).count(), 12);

    // Throttled: worth retrying. A token that is not hex never leaves the server.
    let err = sender.send(&message("ba5e0001", "IOS")).await.unwrap_err();
    assert!(matches!(err, PushError::Transient { .. }), "{err:?}");
    assert_eq!(err.to_string(), "APNs answered 429 TooManyRequests");
    let err = sender.send(&message("../../admin", "IOS")).await.unwrap_err();
    assert!(matches!(err, PushError::Rejected(_)), "{err:?}");
    assert_eq!(apns.deliveries().len(), deliveries.len() + 1);
    apns.stop();
}

// ---- settings ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_whose_key_cannot_be_read_stops_the_start_naming_the_setting_only() {
    let app = spawn_app().await;
    let dir = scratch_dir();
    let missing = dir.join("missing.json").to_string_lossy().into_owned();
    let err = app
        .try_peer_with(&[("APP_PUSH_PROVIDERS", "fcm"), ("APP_PUSH_FCM_CREDENTIALS_FILE", &missing)])
        .await
        .err()
        .expect("refused");
    assert_eq!(err.to_string(), "push provider: APP_PUSH_FCM_CREDENTIALS_FILE: the file could not be read");

    // A file that is not a key: the error says so without echoing a byte of it.
    let garbage = dir.join("garbage.json");
    std::fs::write(&garbage, "{\"private_key\": \"SECRET-MATERIAL-123\"}").unwrap();
    let err = app
        .try_peer_with(&[
            ("APP_PUSH_PROVIDERS", "fcm,apns"),
            ("APP_PUSH_FCM_CREDENTIALS_FILE", &garbage.to_string_lossy()),
            ("APP_PUSH_APNS_KEY_FILE", &garbage.to_string_lossy()),
            ("APP_PUSH_APNS_KEY_ID", "K"),
            ("APP_PUSH_APNS_TEAM_ID", "T"),
            ("APP_PUSH_APNS_TOPIC", "vn.example"),
        ])
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.starts_with("push provider: APP_PUSH_FCM_CREDENTIALS_FILE: "), "{err}");
    assert!(!err.contains("SECRET"), "{err}");
    let err = app
        .try_peer_with(&[
            ("APP_PUSH_PROVIDERS", "apns"),
            ("APP_PUSH_APNS_KEY_FILE", &garbage.to_string_lossy()),
            ("APP_PUSH_APNS_KEY_ID", "K"),
            ("APP_PUSH_APNS_TEAM_ID", "T"),
            ("APP_PUSH_APNS_TOPIC", "vn.example"),
        ])
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.starts_with("push provider: APP_PUSH_APNS_KEY_FILE: "), "{err}");
    assert!(!err.contains("SECRET"), "{err}");
}
