//! The notification inbox: paging and filters, marking read (only one's own), texts per
//! language, `node(id:)` visibility, the live `notificationAdded` subscription (also across
//! instances), device push tokens and the push worker (delivery, backoff, giving up, claiming
//! safely with several instances).
//!
//! Notifications are created by calling the service directly, as the writers of every area do.

use entities::ids::PersonId;
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::Utc;
use entities::{notification, push_outbox, push_token};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use service::{
    notifications::{NewNotification, NotificationKind, announce, enqueue},
    push::{PushError, PushMessage, PushSender},
};
use uuid::Uuid;

use crate::{helpers::*, ws};

// ---- helpers ----

async fn person_uuid(app: &TestApp, phone: &str) -> PersonId {
    entities::person::Entity::find()
        .filter(entities::person::Column::Phone.eq(phone))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no person {phone}"))
        .id
}

fn new(person_id: PersonId, kind: NotificationKind, branch: &str) -> NewNotification {
    NewNotification {
        person_id,
        kind,
        params: params_naming(branch),
        link: Some(global_id("OrgUnit", Uuid::now_v7())),
        duty: false,
    }
}

/// Parameters that name `subject` whatever the kind is about (a branch, a training, a campaign, a
/// rated unit or an award).
fn params_naming(subject: &str) -> Value {
    json!({ "branch": subject, "training": subject, "campaign": subject, "unit": subject, "award": subject, "issuer": "Hội LHPN", "year": 2026,
            "rating": "GOOD", "reason": "Thiếu thông tin" })
}

/// Creates `n` notifications for a person, oldest first, and announces them.
async fn notify_n(app: &TestApp, person_id: PersonId, n: usize) -> Vec<notification::Model> {
    let items =
        (0..n).map(|i| new(person_id, NotificationKind::RequestApproved, &format!("Chi hội {i}"))).collect();
    let rows = enqueue(&app.state.db, items).await.unwrap();
    announce(&app.state, &rows).await;
    rows
}

async fn notify(
    app: &TestApp,
    person_id: PersonId,
    kind: NotificationKind,
    branch: &str,
) -> notification::Model {
    let rows = enqueue(&app.state.db, vec![new(person_id, kind, branch)]).await.unwrap();
    announce(&app.state, &rows).await;
    rows.into_iter().next().unwrap()
}

fn gid(row: &notification::Model) -> String {
    global_id("Notification", row.id)
}

fn edges(conn: &Value) -> Vec<Value> {
    conn["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect()
}

fn ids(conn: &Value) -> Vec<String> {
    edges(conn).iter().map(|n| n["id"].as_str().unwrap().to_owned()).collect()
}

const INBOX: &str = "query($n: Int, $after: String, $unread: Boolean) {
    notifications(first: $n, after: $after, unreadOnly: $unread) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { cursor node { id kind title body link createdAt read readAt } }
    }
}";

async fn inbox(app: &TestApp, token: &str, vars: Value) -> Value {
    app.gql(INBOX, vars, Some(token)).await.ok()["notifications"].clone()
}

async fn unread_count(app: &TestApp, token: &str) -> i64 {
    app.gql("{ unreadNotificationCount }", json!({}), Some(token)).await.ok()["unreadNotificationCount"]
        .as_i64()
        .unwrap()
}

/// A GraphQL POST with `Accept-Language`.
async fn gql_lang(app: &TestApp, query: &str, token: &str, lang: &str) -> Value {
    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .header("accept-language", lang)
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

/// Polls `check` until it holds (or fails after 10 s).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn outbox_of(app: &TestApp, notification_id: Uuid) -> Vec<push_outbox::Model> {
    push_outbox::Entity::find()
        .filter(push_outbox::Column::NotificationId.eq(notification_id))
        .all(&app.state.db)
        .await
        .unwrap()
}

const REGISTER: &str =
    "mutation($t: String!, $p: PushPlatform!) { registerPushToken(token: $t, platform: $p) }";
const UNREGISTER: &str = "mutation($t: String!) { unregisterPushToken(token: $t) }";

async fn register_token(app: &TestApp, token: &str, device: &str, platform: &str) {
    let data = app.gql(REGISTER, json!({ "t": device, "p": platform }), Some(token)).await.ok();
    assert_eq!(data["registerPushToken"], true);
}

/// One push the worker handed to a sender.
#[derive(Clone, Debug)]
struct Sent {
    token: String,
    platform: String,
    title: String,
    body: String,
    at: Instant,
}

/// Records every push; fails every one when `fail` is set.
#[derive(Default)]
struct TestSender {
    sent: Mutex<Vec<Sent>>,
    fail: bool,
}

impl TestSender {
    fn recording() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn failing() -> Arc<Self> {
        Arc::new(Self { fail: true, ..Self::default() })
    }

    fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl PushSender for TestSender {
    async fn send(&self, message: &PushMessage<'_>) -> Result<(), PushError> {
        self.sent.lock().unwrap().push(Sent {
            token: message.token.to_owned(),
            platform: message.platform.to_owned(),
            title: message.title.to_owned(),
            body: message.body.to_owned(),
            at: Instant::now(),
        });
        if self.fail { Err(PushError::transient("provider unavailable (503)")) } else { Ok(()) }
    }
}

/// Fast worker settings for push tests.
const FAST_PUSH: [(&str, &str); 3] = [
    ("APP_PUSH_POLL_INTERVAL_MS", "50"),
    ("APP_PUSH_MAX_ATTEMPTS", "2"),
    ("APP_PUSH_BACKOFF_BASE_MS", "400"),
];

// ---- the inbox ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_is_newest_first_and_pages_with_after() {
    let app = spawn_app().await;
    let token = app.token(MEMBER).await;
    let me = person_uuid(&app, MEMBER).await;
    let rows = notify_n(&app, me, 25).await;
    notify_n(&app, person_uuid(&app, BD1_LEADER).await, 3).await;
    let newest_first: Vec<String> = rows.iter().rev().map(gid).collect();

    let first = inbox(&app, &token, json!({ "n": 10 })).await;
    assert_eq!(first["totalCount"], 25);
    assert_eq!(ids(&first), newest_first[..10]);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let n = &edges(&first)[0];
    assert_eq!(n["kind"], "REQUEST_APPROVED");
    assert_eq!(n["read"], false);
    assert!(n["readAt"].is_null());
    assert!(n["link"].is_string() && n["createdAt"].is_string());

    let second = inbox(&app, &token, json!({ "n": 10, "after": first["pageInfo"]["endCursor"] })).await;
    assert_eq!(ids(&second), newest_first[10..20]);
    let third = inbox(&app, &token, json!({ "n": 10, "after": second["pageInfo"]["endCursor"] })).await;
    assert_eq!(ids(&third), newest_first[20..]);
    assert_eq!(third["pageInfo"]["hasNextPage"], false);

    // Default page 20, at most 100, cursors are checked.
    assert_eq!(ids(&inbox(&app, &token, json!({})).await).len(), 20);
    assert_eq!(ids(&inbox(&app, &token, json!({ "n": 100 })).await).len(), 25);
    let r = app.gql(INBOX, json!({ "n": 101 }), Some(&token)).await.expect_code("BAD_USER_INPUT");
    assert_eq!(r.field(), Some("first"));
    let r = app.gql(INBOX, json!({ "after": "nonsense" }), Some(&token)).await.expect_code("BAD_USER_INPUT");
    assert_eq!(r.field(), Some("after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_only_and_the_unread_count_follow_what_was_read() {
    let app = spawn_app().await;
    let token = app.token(MEMBER).await;
    let rows = notify_n(&app, person_uuid(&app, MEMBER).await, 5).await;
    assert_eq!(unread_count(&app, &token).await, 5);

    let q = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) }";
    let marked = app.gql(q, json!({ "ids": [gid(&rows[0]), gid(&rows[3])] }), Some(&token)).await.ok();
    assert_eq!(marked["markNotificationsRead"], 2);
    assert_eq!(unread_count(&app, &token).await, 3);

    let unread = inbox(&app, &token, json!({ "unread": true })).await;
    assert_eq!(unread["totalCount"], 3);
    let expected: Vec<String> = [&rows[4], &rows[2], &rows[1]].into_iter().map(gid).collect();
    assert_eq!(ids(&unread), expected);
    assert!(edges(&unread).iter().all(|n| n["read"] == false));

    let all = inbox(&app, &token, json!({ "unread": false })).await;
    assert_eq!(all["totalCount"], 5);
    let read: Vec<Value> = edges(&all).into_iter().filter(|n| n["read"] == true).collect();
    assert_eq!(read.len(), 2);
    assert!(read.iter().all(|n| n["readAt"].is_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marking_read_touches_only_the_callers_own_notifications() {
    let app = spawn_app().await;
    let member = app.token(MEMBER).await;
    let leader = app.token(BD1_LEADER).await;
    let mine = notify_n(&app, person_uuid(&app, MEMBER).await, 2).await;
    let theirs = notify_n(&app, person_uuid(&app, BD1_LEADER).await, 1).await;

    let q = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) }";
    let all_three = json!({ "ids": [gid(&mine[0]), gid(&mine[1]), gid(&theirs[0])] });
    let r = app.gql(q, all_three.clone(), Some(&member)).await.ok();
    assert_eq!(r["markNotificationsRead"], 2, "someone else's id is ignored");
    assert_eq!(unread_count(&app, &leader).await, 1);
    let row = notification::Entity::find_by_id(theirs[0].id).one(&app.state.db).await.unwrap().unwrap();
    assert!(row.read_at.is_none());
    // Already read: nothing changes the second time.
    assert_eq!(app.gql(q, all_three, Some(&member)).await.ok()["markNotificationsRead"], 0);
    assert_eq!(app.gql(q, json!({ "ids": [] }), Some(&member)).await.ok()["markNotificationsRead"], 0);

    // At most 100 ids; ids must be notification ids.
    let many: Vec<String> = (0..101).map(|_| global_id("Notification", Uuid::now_v7())).collect();
    let r = app.gql(q, json!({ "ids": many }), Some(&member)).await.expect_code("BAD_USER_INPUT");
    assert_eq!(r.field(), Some("ids"));
    let hundred: Vec<String> = (0..100).map(|_| global_id("Notification", Uuid::now_v7())).collect();
    assert_eq!(app.gql(q, json!({ "ids": hundred }), Some(&member)).await.ok()["markNotificationsRead"], 0);
    let person = app.person_id(MEMBER).await;
    let r = app.gql(q, json!({ "ids": [person] }), Some(&member)).await.expect_code("BAD_USER_INPUT");
    assert_eq!(r.field(), Some("ids"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_all_read_clears_the_callers_inbox_only() {
    let app = spawn_app().await;
    let member = app.token(MEMBER).await;
    let leader = app.token(BD1_LEADER).await;
    let mine = notify_n(&app, person_uuid(&app, MEMBER).await, 4).await;
    notify_n(&app, person_uuid(&app, BD1_LEADER).await, 2).await;
    let one = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) }";
    app.gql(one, json!({ "ids": [gid(&mine[0])] }), Some(&member)).await.ok();

    let q = "mutation { markAllNotificationsRead }";
    assert_eq!(app.gql(q, json!({}), Some(&member)).await.ok()["markAllNotificationsRead"], 3);
    assert_eq!(unread_count(&app, &member).await, 0);
    assert_eq!(app.gql(q, json!({}), Some(&member)).await.ok()["markAllNotificationsRead"], 0);
    assert_eq!(unread_count(&app, &leader).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_are_vietnamese_by_default_and_english_when_asked() {
    let app = spawn_app().await;
    let token = app.token(MEMBER).await;
    let me = person_uuid(&app, MEMBER).await;
    for &kind in NotificationKind::ALL {
        notify(&app, me, kind, "Chi hội Bồ Đề 1").await;
    }
    let q = "{ notifications(first: 50) { edges { node { id kind title body } } } }";
    let vi = edges(&gql_lang(&app, q, &token, "vi-VN,vi;q=0.9").await["notifications"]);
    let en = edges(&gql_lang(&app, q, &token, "en-US,en;q=0.8").await["notifications"]);
    let default = edges(&app.gql(q, json!({}), Some(&token)).await.ok()["notifications"]);
    assert_eq!(vi.len(), NotificationKind::ALL.len());
    for ((v, e), d) in vi.iter().zip(&en).zip(&default) {
        assert_eq!(v["id"], e["id"]);
        assert_eq!(v["kind"], e["kind"], "the kind does not depend on the language");
        assert_ne!(v["title"], e["title"]);
        assert_ne!(v["body"], e["body"]);
        assert_eq!(v["title"], d["title"], "Vietnamese is the default");
        assert_eq!(v["body"], d["body"]);
        // A violence-report notification names nothing, whatever its parameters say; an
        // account's (a reset, a new number) names no unit, nor does a reply to a comment or a
        // moderator's decision.
        let kind = v["kind"].as_str().unwrap();
        let neutral = kind.starts_with("VIOLENCE_REPORT")
            || [
                "PASSWORD_RESET",
                "PHONE_CHANGED",
                "COMMENT_REPLIED",
                "CONTENT_MODERATED",
                "MODERATION_WARNING",
                "AUTHOR_MUTED",
                "APPEAL_DECIDED",
            ]
            .contains(&kind);
        assert_eq!(v["body"].as_str().unwrap().contains("Chi hội Bồ Đề 1"), !neutral, "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_shows_a_notification_to_its_owner_only() {
    let app = spawn_app().await;
    let member = app.token(MEMBER).await;
    let leader = app.token(BD1_LEADER).await;
    let row =
        notify(&app, person_uuid(&app, MEMBER).await, NotificationKind::RequestRejected, "Chi hội 2").await;
    let q = "query($id: ID!) { node(id: $id) { id ... on Notification { kind read } } }";
    let data = app.gql(q, json!({ "id": gid(&row) }), Some(&member)).await.ok();
    assert_eq!(data["node"]["id"], gid(&row));
    assert_eq!(data["node"]["kind"], "REQUEST_REJECTED");
    app.gql(q, json!({ "id": gid(&row) }), Some(&leader)).await.expect_code("NOT_FOUND");
    app.gql(q, json!({ "id": global_id("Notification", Uuid::now_v7()) }), Some(&member))
        .await
        .expect_code("NOT_FOUND");
    app.gql(q, json!({ "id": gid(&row) }), None).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_needs_a_signed_in_caller() {
    let app = spawn_app().await;
    let anonymous = [
        (INBOX, json!({})),
        ("{ unreadNotificationCount }", json!({})),
        ("mutation { markNotificationsRead(ids: []) }", json!({})),
        ("mutation { markAllNotificationsRead }", json!({})),
        (REGISTER, json!({ "t": "device-token-1", "p": "ANDROID" })),
        (UNREGISTER, json!({ "t": "device-token-1" })),
    ];
    for (q, vars) in anonymous {
        app.gql(q, vars.clone(), None).await.expect_code("UNAUTHENTICATED");
        app.gql(q, vars, Some("forged.token.value")).await.expect_code("UNAUTHENTICATED");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_page_issues_a_bounded_number_of_statements() {
    let app = spawn_app().await;
    let token = app.token(MEMBER).await;
    notify_n(&app, person_uuid(&app, MEMBER).await, 60).await;
    let q = "query($n: Int) { notifications(first: $n) { totalCount edges { node { id kind title body link createdAt read readAt } } } }";
    let mut counts = Vec::new();
    for n in [5, 50] {
        // Best of three: other requests of the suite do not share this app, but a DataLoader
        // batch may split under load; growth with the page size would show in every run.
        let mut best = u64::MAX;
        for _ in 0..3 {
            let before = app.statements();
            let data = app.gql(q, json!({ "n": n }), Some(&token)).await.ok();
            best = best.min(app.statements() - before);
            assert_eq!(edges(&data["notifications"]).len(), n);
        }
        counts.push(best);
    }
    assert_eq!(counts[0], counts[1], "statements grow with the page size: {counts:?}");
    assert!(counts[1] <= 3, "{counts:?} statements for one page");
}

// ---- live delivery ----

const ADDED: &str = "subscription { notificationAdded { id kind title body read } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_added_delivers_the_callers_new_notifications_live() {
    let app = spawn_app().await;
    let token = app.token(MEMBER).await;
    let mut sub = ws::subscribe(&app, &token, ADDED, Some("en")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Someone else's notification is not delivered; hers is, rendered in the socket's language.
    notify(&app, person_uuid(&app, BD1_LEADER).await, NotificationKind::JoinRequested, "Chi hội 1").await;
    let row =
        notify(&app, person_uuid(&app, MEMBER).await, NotificationKind::RequestApproved, "Chi hội 1").await;
    let event = ws::next_event(&mut sub).await;
    assert_eq!(event["type"], "next", "{event}");
    let added = &event["payload"]["data"]["notificationAdded"];
    assert_eq!(added["id"], gid(&row), "{event}");
    assert_eq!(added["kind"], "REQUEST_APPROVED");
    assert_eq!(added["read"], false);
    let q = "{ notifications(first: 1) { edges { node { title body } } } }";
    let en = &edges(&gql_lang(&app, q, &token, "en").await["notifications"])[0];
    assert_eq!(added["title"], en["title"]);
    assert_eq!(added["body"], en["body"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_added_ends_when_the_session_is_revoked() {
    let app = spawn_app().await;
    let token = app.token(MEMBER).await;
    let mut sub = ws::subscribe(&app, &token, ADDED, None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.gql("mutation { logout }", json!({}), Some(&token)).await.ok();
    let msg = ws::next_event(&mut sub).await;
    assert_eq!(msg["type"], "complete", "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_added_is_delivered_from_another_instance() {
    if std::env::var("TEST_REDIS_URL").is_err() {
        eprintln!("multi-instance delivery needs TEST_REDIS_URL; nothing to check in process");
        return;
    }
    let a = spawn_app().await;
    let b = a.spawn_peer().await;
    let token = a.token(MEMBER).await;
    let mut sub = ws::subscribe(&a, &token, ADDED, None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let row = notify(&b, person_uuid(&b, MEMBER).await, NotificationKind::RequestApproved, "Chi hội 3").await;
    let event = ws::next_event(&mut sub).await;
    assert_eq!(event["payload"]["data"]["notificationAdded"]["id"], gid(&row), "{event}");
}

// ---- push ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_device_gets_the_push_and_the_outbox_row_is_sent() {
    let sender = TestSender::recording();
    let app = spawn_app_with_sender(&FAST_PUSH, sender.clone()).await;
    let token = app.token(MEMBER).await;
    register_token(&app, &token, "fcm-device-token-1", "ANDROID").await;
    register_token(&app, &token, "web-push-subscription-1", "WEB").await;
    // Registering the same token again changes nothing but its platform.
    register_token(&app, &token, "fcm-device-token-1", "ANDROID").await;
    assert_eq!(push_token::Entity::find().count(&app.state.db).await.unwrap(), 2);

    let row =
        notify(&app, person_uuid(&app, MEMBER).await, NotificationKind::RequestApproved, "Chi hội 4").await;
    assert_eq!(outbox_of(&app, row.id).await.len(), 2);
    eventually("both pushes sent", || async {
        outbox_of(&app, row.id).await.iter().all(|o| o.status.as_str() == "SENT")
    })
    .await;
    for o in outbox_of(&app, row.id).await {
        assert!(o.sent_at.is_some());
        assert_eq!(o.attempts, 1);
        assert!(o.last_error.is_none());
    }
    let mut sent = sender.sent();
    sent.sort_by(|a, b| a.platform.cmp(&b.platform));
    assert_eq!(sent.len(), 2);
    assert_eq!((sent[0].token.as_str(), sent[0].platform.as_str()), ("fcm-device-token-1", "ANDROID"));
    assert_eq!((sent[1].token.as_str(), sent[1].platform.as_str()), ("web-push-subscription-1", "WEB"));
    // Rendered in her stored language (Vietnamese), the same text as her inbox shows.
    let inbox = edges(
        &app.gql("{ notifications { edges { node { title body } } } }", json!({}), Some(&token)).await.ok()["notifications"],
    );
    assert_eq!(sent[0].title, inbox[0]["title"].as_str().unwrap());
    assert_eq!(sent[0].body, inbox[0]["body"].as_str().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_push_queued_for_one_device_is_sent_once() {
    let sender = TestSender::recording();
    let app = spawn_app_with_sender(
        &[("APP_PUSH_POLL_INTERVAL_MS", "50"), ("APP_PUSH_BATCH_SIZE", "4")],
        sender.clone(),
    )
    .await;
    let token = app.token(MEMBER).await;
    register_token(&app, &token, "one-phone", "ANDROID").await;
    // One transaction, so the worker finds them all due at once: batches hold one device twice.
    let me = person_uuid(&app, MEMBER).await;
    let items =
        (0..10).map(|i| new(me, NotificationKind::RequestApproved, &format!("Chi hội {i}"))).collect();
    let rows = {
        use sea_orm::TransactionTrait;
        let txn = app.state.db.begin().await.unwrap();
        let rows = enqueue(&txn, items).await.unwrap();
        txn.commit().await.unwrap();
        rows
    };
    eventually("ten pushes sent", || async {
        push_outbox::Entity::find()
            .filter(push_outbox::Column::Status.eq("SENT"))
            .count(&app.state.db)
            .await
            .unwrap()
            == 10
    })
    .await;
    assert_eq!(rows.len(), 10);
    let sent = sender.sent();
    assert_eq!(sent.len(), 10);
    assert!(sent.iter().all(|s| s.token == "one-phone"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_pushes_back_off_and_are_finally_given_up() {
    let sender = TestSender::failing();
    let app = spawn_app_with_sender(&FAST_PUSH, sender.clone()).await;
    let token = app.token(MEMBER).await;
    register_token(&app, &token, "apns-device-token-1", "IOS").await;
    let row =
        notify(&app, person_uuid(&app, MEMBER).await, NotificationKind::RequestApproved, "Chi hội 5").await;

    eventually("a first failed attempt", || async { outbox_of(&app, row.id).await[0].attempts == 1 }).await;
    let after_first = outbox_of(&app, row.id).await.remove(0);
    assert_eq!(after_first.status.as_str(), "PENDING");
    let error = after_first.last_error.as_deref().unwrap();
    assert!(error.contains("503") && !error.contains("apns-device-token-1"), "{error}");
    let wait = after_first.next_attempt_at - Utc::now();
    assert!(wait > chrono::Duration::milliseconds(150), "retry is backed off: {wait:?}");

    eventually("giving up", || async { outbox_of(&app, row.id).await[0].status.as_str() == "FAILED" }).await;
    let failed = outbox_of(&app, row.id).await.remove(0);
    assert_eq!(failed.attempts, 2);
    assert!(failed.sent_at.is_none());
    let sent = sender.sent();
    assert_eq!(sent.len(), 2, "no attempt after giving up");
    assert!(sent[1].at - sent[0].at >= Duration::from_millis(350), "the retry waited for the backoff");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sender.sent().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_without_devices_queues_no_push() {
    let app = spawn_app().await;
    let leader = app.token(BD1_LEADER).await;
    register_token(&app, &leader, "leader-device", "ANDROID").await;
    let row =
        notify(&app, person_uuid(&app, MEMBER).await, NotificationKind::RequestApproved, "Chi hội 6").await;
    assert!(outbox_of(&app, row.id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_registered_by_someone_else_moves_to_them() {
    let sender = TestSender::recording();
    // The worker stays idle, so the member's push is still queued when the device changes hands.
    let app = spawn_app_with_sender(&[("APP_PUSH_POLL_INTERVAL_MS", "3600000")], sender.clone()).await;
    let member = app.token(MEMBER).await;
    let leader = app.token(BD1_LEADER).await;
    let (member_id, leader_id) = (person_uuid(&app, MEMBER).await, person_uuid(&app, BD1_LEADER).await);
    register_token(&app, &member, "shared-tablet", "ANDROID").await;
    let queued = notify(&app, member_id, NotificationKind::RequestApproved, "Chi hội 7").await;
    assert_eq!(outbox_of(&app, queued.id).await.len(), 1);

    register_token(&app, &leader, "shared-tablet", "IOS").await;
    let tokens = push_token::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!((tokens[0].person_id, tokens[0].platform.as_str()), (leader_id, "IOS"));
    assert!(outbox_of(&app, queued.id).await.is_empty(), "the previous owner's queued push is dropped");
    let mine = notify(&app, member_id, NotificationKind::RequestApproved, "Chi hội 7").await;
    assert!(outbox_of(&app, mine.id).await.is_empty());
    let theirs = notify(&app, leader_id, NotificationKind::JoinRequested, "Chi hội 7").await;
    assert_eq!(outbox_of(&app, theirs.id).await.len(), 1);

    // Only the holder can unregister it.
    let r = app.gql(UNREGISTER, json!({ "t": "shared-tablet" }), Some(&member)).await.ok();
    assert_eq!(r["unregisterPushToken"], false);
    assert_eq!(push_token::Entity::find().count(&app.state.db).await.unwrap(), 1);
    let r = app.gql(UNREGISTER, json!({ "t": "shared-tablet" }), Some(&leader)).await.ok();
    assert_eq!(r["unregisterPushToken"], true);
    assert_eq!(push_token::Entity::find().count(&app.state.db).await.unwrap(), 0);
    assert!(outbox_of(&app, theirs.id).await.is_empty(), "queued pushes go with the token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_tokens_are_checked() {
    let app = spawn_app().await;
    let token = app.token(MEMBER).await;
    for bad in ["", "   ", &"x".repeat(513), "line\nbreak"] {
        let r = app
            .gql(REGISTER, json!({ "t": bad, "p": "WEB" }), Some(&token))
            .await
            .expect_code("BAD_USER_INPUT");
        assert_eq!(r.field(), Some("token"));
    }
    register_token(&app, &token, &"x".repeat(512), "WEB").await;
    register_token(&app, &token, "đ", "WEB").await;
    assert!(app.gql(REGISTER, json!({ "t": "t", "p": "BLACKBERRY" }), Some(&token)).await.has_errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_sender_logs_neither_tokens_nor_texts() {
    let app = spawn_app_with(&[("APP_PUSH_POLL_INTERVAL_MS", "50")]).await;
    let token = app.token(MEMBER).await;
    let device = format!("device-secret-{}", Uuid::new_v4().simple());
    let branch = format!("Chi hội Kín {}", Uuid::new_v4().simple());
    register_token(&app, &token, &device, "ANDROID").await;
    let row = notify(&app, person_uuid(&app, MEMBER).await, NotificationKind::RequestRejected, &branch).await;
    eventually("the push sent", || async { outbox_of(&app, row.id).await[0].status.as_str() == "SENT" })
        .await;
    let outbox_id = outbox_of(&app, row.id).await[0].id.to_string();
    let logs = captured_logs();
    assert!(logs.contains(&outbox_id), "the outbox id is logged");
    assert!(!logs.contains(&device), "a device token reached the logs");
    assert!(!logs.contains(&branch), "a notification text reached the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_instances_never_send_a_push_twice() {
    if backend() != "postgres" {
        eprintln!("several workers on one database: a PostgreSQL set-up (SQLite runs one instance)");
        return;
    }
    let (one, two) = (TestSender::recording(), TestSender::recording());
    let fast = [("APP_PUSH_POLL_INTERVAL_MS", "10"), ("APP_PUSH_BATCH_SIZE", "3")];
    let a = spawn_app_with_sender(&fast, one.clone()).await;
    let b = a.spawn_peer_with_sender(two.clone()).await;
    let token = a.token(MEMBER).await;
    register_token(&a, &token, "device-a", "ANDROID").await;
    register_token(&a, &token, "device-b", "IOS").await;
    let me = person_uuid(&a, MEMBER).await;
    let rows = notify_n(&a, me, 60).await;
    eventually("every push sent", || async {
        push_outbox::Entity::find()
            .filter(push_outbox::Column::Status.ne("SENT"))
            .count(&a.state.db)
            .await
            .unwrap()
            == 0
    })
    .await;
    let total = push_outbox::Entity::find().count(&a.state.db).await.unwrap();
    assert_eq!(total, rows.len() as u64 * 2);
    assert_eq!((one.sent().len() + two.sent().len()) as u64, total, "each push sent exactly once");
    let _ = b;
}
