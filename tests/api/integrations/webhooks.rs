//! Webhooks: a client's URL is told, signed, of events in its subtree and nothing else; failed
//! attempts are retried with the same event id, a failing subscription is disabled, the admin
//! replays; targets must be public `https://`, checked again at delivery.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Client, register};
use crate::{
    accounts::gateway::{FakeGateway, Received},
    fixtures::{Series, launched_campaign},
    helpers::{CITY_ADMIN, LB_OFFICER, SYSADMIN, TestApp, nodes, s, spawn_app_with},
};

pub const SUBSCRIBE: &str = "mutation($i: CreateWebhookSubscriptionInput!) { createWebhookSubscription(input: $i) { \
    secret subscription { id url eventTypes status } } }";

const SUBSCRIPTIONS: &str = "query($id: ID!) { integrationClient(id: $id) { webhookSubscriptions { \
    id status disabledReason consecutiveFailures lastSuccessAt lastFailureAt \
    deliveries(first: 50) { edges { node { id eventId eventType body status attempts nextAttemptAt \
    lastResponseStatus lastError deliveredAt } } } } } }";

const ALL_TYPES: [&str; 6] = [
    "CAMPAIGN_LAUNCHED",
    "CAMPAIGN_ENDED",
    "TRAINING_PUBLISHED",
    "TRAINING_CANCELLED",
    "POST_PUBLISHED",
    "TARGET_PROGRESS_CHANGED",
];

const READS: [&str; 4] = ["CAMPAIGNS_READ", "TRAININGS_READ", "NEWS_READ", "STATISTICS_READ"];

/// An app whose webhook worker polls and retries quickly.
pub async fn spawn(extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![("APP_WEBHOOK_POLL_INTERVAL_MS", "50"), ("APP_WEBHOOK_BACKOFF_BASE_MS", "50")];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

/// Subscribes `url` for `client`: the subscription's id and its secret.
pub async fn subscribe(
    app: &TestApp,
    admin: &str,
    client: &Client,
    url: &str,
    types: &[&str],
) -> (String, String) {
    let data = app
        .gql(
            SUBSCRIBE,
            json!({ "i": { "clientId": client.id, "url": url, "eventTypes": types } }),
            Some(admin),
        )
        .await
        .ok();
    let created = &data["createWebhookSubscription"];
    assert_eq!(created["subscription"]["status"], "ACTIVE");
    (s(&created["subscription"]["id"]), s(&created["secret"]))
}

/// Whether `r` carries a valid Standard Webhooks signature by `secret`, computed as a receiver
/// does.
pub fn signed_by(secret: &str, r: &Received) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").expect("whsec_ prefix")).unwrap();
    let (id, ts) = (&r.headers["webhook-id"], &r.headers["webhook-timestamp"]);
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.{}", r.raw).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    r.headers["webhook-signature"].split(' ').any(|sig| sig == expected)
}

/// The client's subscriptions with their deliveries, as its admin reads them.
async fn subscriptions(app: &TestApp, admin: &str, client: &Client) -> Vec<Value> {
    let data = app.gql(SUBSCRIPTIONS, json!({ "id": client.id }), Some(admin)).await.ok();
    data["integrationClient"]["webhookSubscriptions"].as_array().unwrap().clone()
}

/// Waits (up to 10 s) until the client's first subscription satisfies `done`.
async fn wait_until(app: &TestApp, admin: &str, client: &Client, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let sub = subscriptions(app, admin, client).await.remove(0);
        if done(&sub) {
            // Read again: the subscription and its deliveries are read by two statements, so
            // the read that saw the state may hold the subscription from just before it.
            return subscriptions(app, admin, client).await.remove(0);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the subscription never reached the state: {:#}", subscriptions(app, admin, client).await[0]);
}

/// What was done to the client, the oldest first.
async fn actions(app: &TestApp, admin: &str, client: &Client) -> Vec<String> {
    let q = "query($id: ID!) { integrationClient(id: $id) { changes { action } } }";
    let data = app.gql(q, json!({ "id": client.id }), Some(admin)).await.ok();
    data["integrationClient"]["changes"].as_array().unwrap().iter().map(|c| s(&c["action"])).collect()
}

fn deliveries(sub: &Value) -> Vec<Value> {
    nodes(&sub["deliveries"])
}

fn training(title: &str) -> Value {
    let starts = chrono::Utc::now() + chrono::Duration::days(10);
    json!({
        "title": title,
        "description": "Mang theo giấy tờ tùy thân.",
        "category": "VOCATIONAL",
        "startsAt": starts.to_rfc3339(),
        "endsAt": (starts + chrono::Duration::hours(3)).to_rfc3339(),
        "place": "Nhà văn hoá phường Bồ Đề",
        "capacity": null,
    })
}

async fn publish_post(app: &TestApp, token: &str, code: &str, title: &str) -> String {
    let unit = app.unit_id(code).await;
    let data = app
        .gql(
            "mutation($u: ID!, $i: PostInput!) { createPost(unitId: $u, input: $i) { id } }",
            json!({ "u": unit, "i": { "title": title, "body": "Nội dung.", "coverImageUrl": null } }),
            Some(token),
        )
        .await
        .ok();
    s(&data["createPost"]["id"])
}

async fn end_campaign(app: &TestApp, token: &str, id: &Value) {
    app.gql("mutation($id: ID!) { endCampaign(id: $id) { status } }", json!({ "id": id }), Some(token))
        .await
        .ok();
}

#[tokio::test]
async fn a_client_is_told_signed_of_the_events_of_its_subtree_and_of_nothing_else() {
    let app = spawn(&[]).await;
    let admin = app.token(SYSADMIN).await;
    let (city, lb) = (app.token(CITY_ADMIN).await, app.token(LB_OFFICER).await);
    let client = register(&app, &admin, "HN-LB", &READS).await;
    let receiver = FakeGateway::start().await;
    let (_, secret) = subscribe(&app, &admin, &client, &receiver.url, &ALL_TYPES).await;

    // Outside its subtree first (another district, the city above it): never queued.
    let outside =
        launched_campaign(&app, &city, "HN-HK", crate::campaigns::input("Ngoài quận", json!({}))).await;
    end_campaign(&app, &city, &outside["id"]).await;
    publish_post(&app, &city, "HN", "Tin toàn thành phố").await;
    let hk = crate::fixtures::officer(&app, Series::INTEGRATIONS, 1, "HN-HK", "UNIT_OFFICER").await;
    crate::fixtures::published_training(&app, &hk.token, "HN-HK", training("Lớp quận khác")).await;

    // Inside: a change refused queues nothing (ending a draft).
    let draft = app
        .gql(
            "mutation($u: ID!, $i: CampaignInput!) { createCampaign(unitId: $u, input: $i) { id } }",
            json!({ "u": app.unit_id("HN-LB-BD").await, "i": crate::campaigns::input("Nháp", json!({})) }),
            Some(&lb),
        )
        .await
        .ok();
    app.gql(
        "mutation($id: ID!) { endCampaign(id: $id) { status } }",
        json!({ "id": draft["createCampaign"]["id"] }),
        Some(&lb),
    )
    .await
    .expect_reason("CONFLICT", "WRONG_STATUS");
    // Inside: a ward of the district, and the district itself.
    let campaign =
        launched_campaign(&app, &lb, "HN-LB-BD", crate::campaigns::input("5 không 3 sạch", json!({}))).await;
    end_campaign(&app, &lb, &campaign["id"]).await;
    let training_id = crate::fixtures::published_training(&app, &lb, "HN-LB-BD", training("Lớp nghề")).await;
    let post = publish_post(&app, &lb, "HN-LB", "Họp tháng 12").await;

    let received = receiver.wait_for(4).await;
    let sub = wait_until(&app, &admin, &client, |s| {
        deliveries(s).iter().filter(|d| d["status"] == "DELIVERED").count() == 4
    })
    .await;
    let listed = deliveries(&sub);
    assert_eq!(listed.len(), 4, "nothing outside the subtree is queued: {listed:#?}");
    assert_eq!(receiver.received().len(), 4);

    let mut types: Vec<&str> = received.iter().map(|r| r.body["type"].as_str().unwrap()).collect();
    types.sort();
    assert_eq!(types, ["campaign.ended", "campaign.launched", "post.published", "training.published"]);
    let now = chrono::Utc::now().timestamp();
    for r in &received {
        assert!(signed_by(&secret, r), "a valid signature: {r:?}");
        assert!(!signed_by("whsec_c2VjcmV0LW9mLWFub3RoZXItc3Vic2NyaXB0aW9uIQ==", r));
        let ts: i64 = r.headers["webhook-timestamp"].parse().unwrap();
        assert!((now - ts).abs() < 300);
        assert_eq!(r.headers["content-type"], "application/json");
        // The event id is what the admin sees, and each event has its own.
        let listed = listed.iter().find(|d| d["eventId"] == r.headers["webhook-id"].as_str()).unwrap();
        assert_eq!(listed["body"].as_str().unwrap(), r.raw);
        assert_eq!(listed["attempts"], 1);
        assert_eq!(listed["lastResponseStatus"], 200);
    }
    let ids: std::collections::HashSet<&str> =
        received.iter().map(|r| r.headers["webhook-id"].as_str()).collect();
    assert_eq!(ids.len(), 4);

    let by_type = |t: &str| received.iter().find(|r| r.body["type"] == t).unwrap().body["data"].clone();
    let launched = by_type("campaign.launched");
    assert_eq!(launched["id"], campaign["id"]);
    assert_eq!(launched["unitId"], app.unit_id("HN-LB-BD").await.as_str());
    assert_eq!(launched["title"], "5 không 3 sạch");
    assert_eq!(launched["status"], "ACTIVE");
    assert_eq!(by_type("campaign.ended")["status"], "ENDED");
    let published = by_type("training.published");
    assert_eq!(published["id"], training_id.as_str());
    // Public fields only: never who registered, nor the place's details beyond the title.
    let mut keys: Vec<&String> = published.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["endsAt", "id", "startsAt", "status", "title", "unitId"]);
    assert_eq!(by_type("post.published")["id"], post.as_str());
}

#[tokio::test]
async fn a_subscription_is_made_by_a_manager_for_a_public_https_url_and_events_its_scopes_read() {
    let app = spawn(&[("APP_WEBHOOK_ALLOW_PRIVATE_TARGETS", "false")]).await;
    let admin = app.token(SYSADMIN).await;
    let client = register(&app, &admin, "HN-LB", &["NEWS_READ"]).await;
    let try_subscribe = |url: &'static str, types: Vec<&'static str>, token: String| {
        let app = &app;
        let id = client.id.clone();
        async move {
            app.gql(
                SUBSCRIBE,
                json!({ "i": { "clientId": id, "url": url, "eventTypes": types } }),
                Some(&token),
            )
            .await
        }
    };
    let cases = [
        ("http://partner.example.vn/hooks", vec!["POST_PUBLISHED"], "input.url", "NOT_PUBLIC_TARGET"),
        ("https://127.0.0.1/hooks", vec!["POST_PUBLISHED"], "input.url", "NOT_PUBLIC_TARGET"),
        ("https://[::1]/hooks", vec!["POST_PUBLISHED"], "input.url", "NOT_PUBLIC_TARGET"),
        (
            "https://169.254.169.254/latest/meta-data",
            vec!["POST_PUBLISHED"],
            "input.url",
            "NOT_PUBLIC_TARGET",
        ),
        // A name that resolves to this machine.
        ("https://localhost/hooks", vec!["POST_PUBLISHED"], "input.url", "NOT_PUBLIC_TARGET"),
        ("https://user:pw@partner.example.vn/", vec!["POST_PUBLISHED"], "input.url", "INVALID_FORMAT"),
        ("not a url", vec!["POST_PUBLISHED"], "input.url", "INVALID_FORMAT"),
        ("https://8.8.8.8/hooks", vec![], "input.eventTypes", "REQUIRED"),
        // The client does not read campaigns.
        (
            "https://8.8.8.8/hooks",
            vec!["POST_PUBLISHED", "CAMPAIGN_LAUNCHED"],
            "input.eventTypes",
            "SCOPE_NOT_GRANTED",
        ),
    ];
    for (url, types, field, reason) in cases {
        let answer = try_subscribe(url, types, admin.clone()).await.expect_reason("BAD_USER_INPUT", reason);
        assert_eq!(answer.field(), Some(field), "{url}");
    }
    // Only who manages the client: to others it is not there.
    let lb = app.token(LB_OFFICER).await;
    try_subscribe("https://8.8.8.8/hooks", vec!["POST_PUBLISHED"], lb).await.expect_code("NOT_FOUND");
    let rows: Vec<Value> = subscriptions(&app, &admin, &client).await;
    assert!(rows.is_empty(), "nothing was written: {rows:?}");

    // A public address is fine; the client's changes record it.
    let made = try_subscribe("https://8.8.8.8/hooks", vec!["POST_PUBLISHED"], admin.clone()).await.ok();
    assert!(s(&made["createWebhookSubscription"]["secret"]).starts_with("whsec_"));
    assert_eq!(actions(&app, &admin, &client).await.last().map(String::as_str), Some("WEBHOOK_ADDED"));

    // Ten at most.
    for _ in 1..10 {
        try_subscribe("https://8.8.8.8/hooks", vec!["POST_PUBLISHED"], admin.clone()).await.ok();
    }
    try_subscribe("https://8.8.8.8/hooks", vec!["POST_PUBLISHED"], admin.clone())
        .await
        .expect_reason("CONFLICT", "TOO_MANY_WEBHOOKS");

    // A revoked client gets none.
    app.gql(
        "mutation($id: ID!) { revokeIntegrationClient(clientId: $id) { revokedAt } }",
        json!({ "id": client.id }),
        Some(&admin),
    )
    .await
    .ok();
    let other = register(&app, &admin, "HN-LB", &["NEWS_READ"]).await;
    app.gql(
        "mutation($id: ID!) { revokeIntegrationClient(clientId: $id) { revokedAt } }",
        json!({ "id": other.id }),
        Some(&admin),
    )
    .await
    .ok();
    app.gql(
        SUBSCRIBE,
        json!({ "i": { "clientId": other.id, "url": "https://8.8.8.8/hooks", "eventTypes": ["POST_PUBLISHED"] } }),
        Some(&admin),
    )
    .await
    .expect_reason("CONFLICT", "ALREADY_REVOKED");
}

#[tokio::test]
async fn subscribing_needs_a_stepped_up_session() {
    let app = spawn(&[]).await;
    let admin = app.token(SYSADMIN).await;
    let client = register(&app, &admin, "HN-LB", &["NEWS_READ"]).await;
    let strict = app.spawn_peer_with(&[("APP_STEP_UP", "true")]).await;
    strict
        .gql(
            SUBSCRIBE,
            json!({ "i": { "clientId": client.id, "url": "https://8.8.8.8/", "eventTypes": ["POST_PUBLISHED"] } }),
            Some(&admin),
        )
        .await
        .expect_reason("FORBIDDEN", "STEP_UP_REQUIRED");
    assert!(subscriptions(&app, &admin, &client).await.is_empty());
}

#[tokio::test]
async fn a_failed_attempt_is_retried_with_the_same_event_id_until_delivered_or_given_up_then_replayed() {
    let app = spawn(&[("APP_WEBHOOK_MAX_ATTEMPTS", "3")]).await;
    let admin = app.token(SYSADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let client = register(&app, &admin, "HN-LB", &["NEWS_READ"]).await;
    let receiver = FakeGateway::start().await;
    let (_, secret) = subscribe(&app, &admin, &client, &receiver.url, &["POST_PUBLISHED"]).await;

    // Two failures, then delivered on the third attempt.
    receiver.fail_next(&[500, 503]);
    publish_post(&app, &lb, "HN-LB", "Lần một").await;
    let received = receiver.wait_for(3).await;
    assert!(received.iter().all(|r| r.headers["webhook-id"] == received[0].headers["webhook-id"]));
    assert!(received.iter().all(|r| signed_by(&secret, r) && r.raw == received[0].raw));
    let sub = wait_until(&app, &admin, &client, |s| deliveries(s)[0]["status"] == "DELIVERED").await;
    let d = &deliveries(&sub)[0];
    assert_eq!((d["attempts"].clone(), d["lastResponseStatus"].clone()), (json!(3), json!(200)));
    assert_eq!(d["lastError"], Value::Null);
    assert_eq!(sub["consecutiveFailures"], 0);

    // Three failures: given up.
    receiver.fail_next(&[500, 500, 500]);
    publish_post(&app, &lb, "HN-LB", "Lần hai").await;
    let sub = wait_until(&app, &admin, &client, |s| deliveries(s)[0]["status"] == "FAILED").await;
    let failed = deliveries(&sub)[0].clone();
    assert_eq!(failed["attempts"], 3);
    assert_eq!(failed["lastResponseStatus"], 500);
    assert_eq!(failed["lastError"], "HTTP_STATUS");
    assert_eq!(failed["nextAttemptAt"], Value::Null);
    assert_eq!(sub["status"], "ACTIVE");
    assert_eq!(sub["consecutiveFailures"], 3);
    assert_eq!(receiver.received().len(), 6);

    // The admin replays it: the same event id, delivered now.
    let replay = "mutation($id: ID!) { replayWebhookDelivery(id: $id) { status attempts eventId } }";
    let replayed = app.gql(replay, json!({ "id": failed["id"] }), Some(&admin)).await.ok();
    assert_eq!(replayed["replayWebhookDelivery"]["status"], "PENDING");
    let received = receiver.wait_for(7).await;
    assert_eq!(received[6].headers["webhook-id"], s(&failed["eventId"]));
    let sub = wait_until(&app, &admin, &client, |s| deliveries(s)[0]["status"] == "DELIVERED").await;
    assert_eq!(deliveries(&sub)[0]["attempts"], 1);
    assert_eq!(sub["consecutiveFailures"], 0);

    // A pending delivery is not replayed twice; a delivered one may be.
    let delivered = deliveries(&sub)[1].clone();
    app.gql(replay, json!({ "id": delivered["id"] }), Some(&admin)).await.ok();
    // Someone who does not manage the client does not find it.
    app.gql(replay, json!({ "id": delivered["id"] }), Some(&lb)).await.expect_code("NOT_FOUND");
}

#[tokio::test]
async fn a_subscription_that_keeps_failing_is_disabled_and_resumes_when_enabled() {
    let app = spawn(&[("APP_WEBHOOK_MAX_ATTEMPTS", "10"), ("APP_WEBHOOK_DISABLE_AFTER_FAILURES", "3")]).await;
    let admin = app.token(SYSADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let client = register(&app, &admin, "HN-LB", &["NEWS_READ"]).await;
    let receiver = FakeGateway::start().await;
    let (id, _) = subscribe(&app, &admin, &client, &receiver.url, &["POST_PUBLISHED"]).await;

    receiver.fail_next(&[500, 502, 504]);
    publish_post(&app, &lb, "HN-LB", "Một").await;
    let sub = wait_until(&app, &admin, &client, |s| s["status"] == "DISABLED").await;
    assert_eq!(sub["disabledReason"], "FAILING");
    assert_eq!(sub["consecutiveFailures"], 3);
    let pending = deliveries(&sub)[0].clone();
    assert_eq!((pending["status"].clone(), pending["attempts"].clone()), (json!("PENDING"), json!(3)));

    // While disabled: nothing new is queued, nothing is sent, nothing is replayed.
    publish_post(&app, &lb, "HN-LB", "Hai").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 3);
    assert_eq!(deliveries(&subscriptions(&app, &admin, &client).await[0]).len(), 1);
    app.gql(
        "mutation($id: ID!) { replayWebhookDelivery(id: $id) { status } }",
        json!({ "id": pending["id"] }),
        Some(&admin),
    )
    .await
    .expect_reason("CONFLICT", "WRONG_STATUS");

    // Enabled again: the waiting delivery goes out.
    let enabled = app
        .gql(
            "mutation($id: ID!) { enableWebhookSubscription(id: $id) { status disabledReason consecutiveFailures } }",
            json!({ "id": id }),
            Some(&admin),
        )
        .await
        .ok();
    assert_eq!(
        enabled["enableWebhookSubscription"],
        json!({ "status": "ACTIVE", "disabledReason": null, "consecutiveFailures": 0 })
    );
    receiver.wait_for(4).await;
    let sub = wait_until(&app, &admin, &client, |s| deliveries(s)[0]["status"] == "DELIVERED").await;
    assert_eq!(deliveries(&sub)[0]["attempts"], 4);

    // An admin disables it by hand, and deletes it.
    let disabled = app
        .gql(
            "mutation($id: ID!) { disableWebhookSubscription(id: $id) { status disabledReason } }",
            json!({ "id": id }),
            Some(&admin),
        )
        .await
        .ok();
    assert_eq!(
        disabled["disableWebhookSubscription"],
        json!({ "status": "DISABLED", "disabledReason": "BY_ADMIN" })
    );
    app.gql(
        "mutation($id: ID!) { disableWebhookSubscription(id: $id) { status } }",
        json!({ "id": id }),
        Some(&admin),
    )
    .await
    .expect_reason("CONFLICT", "WRONG_STATUS");
    app.gql(
        "mutation($id: ID!) { deleteWebhookSubscription(id: $id) { id } }",
        json!({ "id": id }),
        Some(&admin),
    )
    .await
    .ok();
    assert!(subscriptions(&app, &admin, &client).await.is_empty());
    let actions = actions(&app, &admin, &client).await;
    assert!(
        actions.ends_with(
            &["WEBHOOK_ADDED", "WEBHOOK_ENABLED", "WEBHOOK_DISABLED", "WEBHOOK_REMOVED"].map(String::from)
        ),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_receiver_that_answers_410_gone_is_not_called_again() {
    let app = spawn(&[]).await;
    let admin = app.token(SYSADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let client = register(&app, &admin, "HN-LB", &["NEWS_READ"]).await;
    let receiver = FakeGateway::start().await;
    subscribe(&app, &admin, &client, &receiver.url, &["POST_PUBLISHED"]).await;
    receiver.fail_next(&[410]);
    publish_post(&app, &lb, "HN-LB", "Một").await;
    let sub = wait_until(&app, &admin, &client, |s| s["status"] == "DISABLED").await;
    assert_eq!(sub["disabledReason"], "GONE");
    let d = &deliveries(&sub)[0];
    assert_eq!(
        (d["status"].clone(), d["attempts"].clone(), d["lastResponseStatus"].clone()),
        (json!("FAILED"), json!(1), json!(410))
    );
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn targets_are_checked_again_at_each_delivery() {
    // Subscribed on an instance where private targets are allowed (its worker polls once an
    // hour, so it stays out of the way); delivered by one where they are not.
    let app = spawn_app_with(&[("APP_WEBHOOK_POLL_INTERVAL_MS", "3600000")]).await;
    let admin = app.token(SYSADMIN).await;
    let receiver = FakeGateway::start().await;
    let plain = register(&app, &admin, "HN-LB", &["NEWS_READ"]).await;
    subscribe(&app, &admin, &plain, &receiver.url, &["POST_PUBLISHED"]).await;
    let named = register(&app, &admin, "HN-LB", &["NEWS_READ"]).await;
    let port = receiver.url.trim_start_matches("http://127.0.0.1:").split('/').next().unwrap().to_owned();
    subscribe(&app, &admin, &named, &format!("https://localhost:{port}/send"), &["POST_PUBLISHED"]).await;
    let strict = app
        .spawn_peer_with(&[
            ("APP_WEBHOOK_ALLOW_PRIVATE_TARGETS", "false"),
            ("APP_WEBHOOK_POLL_INTERVAL_MS", "50"),
        ])
        .await;
    let lb = strict.token(LB_OFFICER).await;
    publish_post(&strict, &lb, "HN-LB", "Một").await;
    for (client, code) in [(&plain, "TARGET_NOT_ALLOWED"), (&named, "TARGET_NOT_PUBLIC")] {
        let sub = wait_until(&strict, &admin, client, |s| {
            deliveries(s).first().is_some_and(|d| d["attempts"] == 1)
        })
        .await;
        let d = &deliveries(&sub)[0];
        assert_eq!(d["lastError"], code);
        assert_eq!(d["lastResponseStatus"], Value::Null);
    }
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn cancellations_and_progress_are_told_only_of_what_partners_could_read() {
    let app = spawn(&[]).await;
    let admin = app.token(SYSADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    // A client of one ward.
    let client = register(&app, &admin, "HN-LB-BD", &["TRAININGS_READ", "STATISTICS_READ"]).await;
    let receiver = FakeGateway::start().await;
    let types = ["TRAINING_PUBLISHED", "TRAINING_CANCELLED", "TARGET_PROGRESS_CHANGED"];
    subscribe(&app, &admin, &client, &receiver.url, &types).await;
    let unit = app.unit_id("HN-LB-BD").await;
    let create = "mutation($u: ID!, $i: TrainingInput!) { createTraining(unitId: $u, input: $i) { id } }";
    let cancel = "mutation($id: ID!) { cancelTraining(id: $id, reason: \"Mưa bão\") { status } }";
    let publish = "mutation($id: ID!) { publishTraining(id: $id) { status } }";

    // A draft cancelled, and a training for officers published and cancelled: partners never saw
    // them.
    let draft = app.gql(create, json!({ "u": unit, "i": training("Nháp") }), Some(&lb)).await.ok();
    app.gql(cancel, json!({ "id": draft["createTraining"]["id"] }), Some(&lb)).await.ok();
    let mut officers = training("Tập huấn cán bộ");
    officers["audience"] = json!("OFFICERS");
    let own = app.gql(create, json!({ "u": unit, "i": officers }), Some(&lb)).await.ok();
    app.gql(publish, json!({ "id": own["createTraining"]["id"] }), Some(&lb)).await.ok();
    app.gql(cancel, json!({ "id": own["createTraining"]["id"] }), Some(&lb)).await.ok();

    // A training for members published and cancelled.
    let id = crate::fixtures::published_training(&app, &lb, "HN-LB-BD", training("Lớp nghề")).await;
    app.gql(cancel, json!({ "id": id }), Some(&lb)).await.ok();
    // A published one that turns to officers leaves partners' view; one that turns to members
    // enters it.
    let update = "mutation($id: ID!, $i: TrainingInput!) { updateTraining(id: $id, input: $i) { audience } }";
    let leaving = crate::fixtures::published_training(&app, &lb, "HN-LB-BD", training("Lớp chuyển")).await;
    let mut to_officers = training("Lớp chuyển");
    to_officers["audience"] = json!("OFFICERS");
    app.gql(update, json!({ "id": leaving, "i": to_officers }), Some(&lb)).await.ok();
    let mut closed = training("Tập huấn");
    closed["audience"] = json!("OFFICERS");
    let opening = app.gql(create, json!({ "u": unit, "i": closed }), Some(&lb)).await.ok();
    let opening = opening["createTraining"]["id"].clone();
    app.gql(publish, json!({ "id": opening }), Some(&lb)).await.ok();
    app.gql(update, json!({ "id": opening, "i": training("Tập huấn mở rộng") }), Some(&lb)).await.ok();

    // The district's target and its wards' shares: the ward's share is the client's, the
    // district's own target is above it.
    let year =
        (chrono::Utc::now() + chrono::Duration::hours(7)).format("%Y").to_string().parse::<i32>().unwrap();
    let new_members = crate::helpers::global_id("Indicator", uuid::Uuid::from_u128(1));
    let set = "mutation($i: SetTargetInput!) { setTarget(input: $i) { target { value } } }";
    let input = json!({
        "indicatorId": new_members,
        "unitId": app.unit_id("HN-LB").await,
        "period": { "year": year },
        "value": 500.0,
        "shares": [
            { "unitId": unit, "value": 120.0 },
            { "unitId": app.unit_id("HN-LB-GT").await, "value": 80.0 },
        ],
    });
    app.gql(set, json!({ "i": input }), Some(&lb)).await.ok();
    // A reported indicator's value for the ward.
    let created = app
        .gql(
            "mutation($u: ID!, $i: CreateIndicatorInput!) { createIndicator(unitId: $u, input: $i) { id } }",
            json!({ "u": app.unit_id("HN-LB").await,
                    "i": { "name": "Hộ được thăm hỏi", "unitOfMeasure": "hộ", "aggregation": "SUM" } }),
            Some(&lb),
        )
        .await
        .ok();
    let reported = s(&created["createIndicator"]["id"]);
    let report = "mutation($i: ReportIndicatorValueInput!) { reportIndicatorValue(input: $i) { value } }";
    let input = json!({ "indicatorId": reported, "unitId": unit, "period": { "year": year }, "value": 3.0 });
    app.gql(report, json!({ "i": input }), Some(&lb)).await.ok();

    let sub = wait_until(&app, &admin, &client, |s| {
        let d = deliveries(s);
        d.len() == 7 && d.iter().all(|d| d["status"] == "DELIVERED")
    })
    .await;
    let mut told: Vec<(String, Value)> = deliveries(&sub)
        .iter()
        .map(|d| {
            let body: Value = serde_json::from_str(d["body"].as_str().unwrap()).unwrap();
            (s(&body["type"]), body["data"].clone())
        })
        .collect();
    let key = |data: &Value| data["cause"].as_str().or(data["title"].as_str()).unwrap_or("").to_owned();
    told.sort_by_key(|(t, data)| (t.clone(), key(data)));
    assert_eq!(
        told.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(),
        [
            "target.progress_changed",
            "target.progress_changed",
            "training.cancelled",
            "training.cancelled",
            "training.published",
            "training.published",
            "training.published",
        ]
    );
    assert_eq!(told[0].1["unitId"], unit.as_str());
    assert_eq!(told[0].1["indicatorId"], new_members.as_str());
    assert_eq!((told[0].1["fromYear"].clone(), told[0].1["toYear"].clone()), (json!(year), json!(year)));
    assert_eq!(told[0].1["cause"], "TARGET_SET");
    assert_eq!(told[1].1["indicatorId"], reported.as_str());
    assert_eq!(told[1].1["cause"], "VALUE_REPORTED");
    // Cancelled: "Lớp chuyển" (to officers), then "Lớp nghề"; published: "Lớp chuyển" (before),
    // "Lớp nghề", "Tập huấn mở rộng" (to members).
    assert_eq!((told[2].1["id"].clone(), told[2].1["status"].clone()), (json!(leaving), json!("CANCELLED")));
    assert_eq!((told[3].1["id"].clone(), told[3].1["status"].clone()), (json!(id), json!("CANCELLED")));
    assert_eq!(told[6].1["id"], opening);
    assert_eq!(told[6].1["status"], "PUBLISHED");
    assert_eq!(receiver.wait_for(7).await.len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_subscriptions_never_pass_the_cap() {
    let app = spawn(&[]).await;
    let admin = app.token(SYSADMIN).await;
    let client = register(&app, &admin, "HN-LB", &["NEWS_READ"]).await;
    let requests = (0..16).map(|i| {
        let (app, admin, id) = (&app, admin.clone(), client.id.clone());
        async move {
            let input = json!({ "clientId": id, "url": format!("https://8.8.8.8/hooks/{i}"), "eventTypes": ["POST_PUBLISHED"] });
            app.gql(SUBSCRIBE, json!({ "i": input }), Some(&admin)).await
        }
    });
    let answers = futures_util::future::join_all(requests).await;
    let made = answers.iter().filter(|a| !a.has_errors()).count();
    assert_eq!(made, 10);
    for refused in answers.iter().filter(|a| a.has_errors()) {
        assert_eq!((refused.code(), refused.reason()), (Some("CONFLICT"), Some("TOO_MANY_WEBHOOKS")));
    }
    assert_eq!(subscriptions(&app, &admin, &client).await.len(), 10);
}

#[tokio::test]
async fn enabling_sends_what_waited_at_once_and_a_pending_delivery_is_not_replayed() {
    // A failed attempt waits ten minutes before the next.
    let app = spawn(&[("APP_WEBHOOK_BACKOFF_BASE_MS", "600000")]).await;
    let admin = app.token(SYSADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let client = register(&app, &admin, "HN-LB", &["NEWS_READ"]).await;
    let receiver = FakeGateway::start().await;
    let (id, _) = subscribe(&app, &admin, &client, &receiver.url, &["POST_PUBLISHED"]).await;
    receiver.fail_next(&[500]);
    publish_post(&app, &lb, "HN-LB", "Một").await;
    let sub =
        wait_until(&app, &admin, &client, |s| deliveries(s).first().is_some_and(|d| d["attempts"] == 1))
            .await;
    let pending = deliveries(&sub)[0].clone();
    assert_eq!(pending["status"], "PENDING");
    assert!(pending["nextAttemptAt"].is_string());
    let replay = "mutation($id: ID!) { replayWebhookDelivery(id: $id) { status } }";
    app.gql(replay, json!({ "id": pending["id"] }), Some(&admin))
        .await
        .expect_reason("CONFLICT", "WRONG_STATUS");

    // Stopped and started again: what waited goes out now, not in ten minutes.
    for m in ["disableWebhookSubscription", "enableWebhookSubscription"] {
        app.gql(
            &format!("mutation($id: ID!) {{ {m}(id: $id) {{ status }} }}"),
            json!({ "id": id }),
            Some(&admin),
        )
        .await
        .ok();
    }
    let sub = wait_until(&app, &admin, &client, |s| deliveries(s)[0]["status"] == "DELIVERED").await;
    assert_eq!(deliveries(&sub)[0]["attempts"], 2);
    assert_eq!(receiver.received().len(), 2);

    // A replay is recorded with the client's changes.
    app.gql(replay, json!({ "id": pending["id"] }), Some(&admin)).await.ok();
    assert_eq!(actions(&app, &admin, &client).await.last().map(String::as_str), Some("WEBHOOK_REPLAYED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_subscriptions_while_events_are_queued_fails_neither() {
    // Every post fails at once (nothing listens on port 9): the worker records failures while
    // the subscriptions are being deleted.
    let app = spawn(&[]).await;
    let admin = app.token(SYSADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let client = register(&app, &admin, "HN-LB", &["NEWS_READ"]).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(
            subscribe(&app, &admin, &client, &format!("http://127.0.0.1:9/hooks/{i}"), &["POST_PUBLISHED"])
                .await
                .0,
        );
    }
    let unit = app.unit_id("HN-LB").await;
    let posts = (0..10).map(|i| {
        let (app, lb, unit) = (&app, lb.clone(), unit.clone());
        async move {
            let input = json!({ "title": format!("Tin {i}"), "body": "Nội dung.", "coverImageUrl": null });
            app.gql(
                "mutation($u: ID!, $i: PostInput!) { createPost(unitId: $u, input: $i) { id } }",
                json!({ "u": unit, "i": input }),
                Some(&lb),
            )
            .await
        }
    });
    let deletes = ids.iter().map(|id| {
        let (app, admin) = (&app, admin.clone());
        async move {
            app.gql(
                "mutation($id: ID!) { deleteWebhookSubscription(id: $id) { id } }",
                json!({ "id": id }),
                Some(&admin),
            )
            .await
        }
    });
    let (posted, deleted) = futures_util::future::join(
        futures_util::future::join_all(posts),
        futures_util::future::join_all(deletes),
    )
    .await;
    for answer in posted.into_iter().chain(deleted) {
        answer.ok();
    }
    assert!(subscriptions(&app, &admin, &client).await.is_empty());
    // No delivery is left pointing at a subscription that is gone.
    let orphans = entities::webhook_delivery::Entity::find().all(&app.state.db).await.unwrap();
    assert!(orphans.is_empty(), "{orphans:?}");
}

#[tokio::test]
async fn a_secret_that_cannot_be_opened_is_no_failure_of_the_receiver() {
    use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};
    let app = spawn(&[]).await;
    let admin = app.token(SYSADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let client = register(&app, &admin, "HN-LB", &["NEWS_READ"]).await;
    let receiver = FakeGateway::start().await;
    let (id, _) = subscribe(&app, &admin, &client, &receiver.url, &["POST_PUBLISHED"]).await;
    // The sealed secret no longer opens (as if sealed under a key this instance lacks).
    entities::webhook_subscription::Entity::update_many()
        .col_expr(entities::webhook_subscription::Column::Secret, Expr::value(vec![1u8, 0, 9, 1, 2, 3]))
        .filter(entities::webhook_subscription::Column::Id.eq(crate::helpers::uuid_of(&id)))
        .exec(&app.state.db)
        .await
        .unwrap();
    publish_post(&app, &lb, "HN-LB", "Một").await;
    let sub = wait_until(&app, &admin, &client, |s| {
        deliveries(s).first().is_some_and(|d| d["lastError"] == "SECRET_UNAVAILABLE")
    })
    .await;
    let d = &deliveries(&sub)[0];
    assert_eq!((d["status"].clone(), d["attempts"].clone()), (json!("PENDING"), json!(0)));
    assert_eq!((sub["status"].clone(), sub["consecutiveFailures"].clone()), (json!("ACTIVE"), json!(0)));
    assert!(receiver.received().is_empty());
}
