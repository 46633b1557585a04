//! Notification preferences: per topic, `ALL` (the default), `INBOX` (no push) or `OFF`
//! (nothing), honoured by every writer — except the notices of a case officer's duties.

use entities::{fanout_job, ids::CampaignId, notification_preference};
use sea_orm::PaginatorTrait;
use service::fanout::{self, FanoutKind};

use super::*;
use crate::{
    fixtures::{Series, members},
    violence::{notifications_of, report_id, workflow::MESSAGE},
};

const PREFERENCES: &str = "{ notificationPreferences { topic level } }";
const SET: &str = "mutation($t: NotificationTopic!, $l: NotificationLevel!) { \
    setNotificationPreference(topic: $t, level: $l) { topic level } }";

async fn set(app: &TestApp, token: &str, topic: &str, level: &str) {
    let data = app.gql(SET, json!({ "t": topic, "l": level }), Some(token)).await.ok();
    assert_eq!(data["setNotificationPreference"], json!({ "topic": topic, "level": level }));
}

async fn levels(app: &TestApp, token: &str) -> Value {
    app.gql(PREFERENCES, json!({}), Some(token)).await.ok()["notificationPreferences"].clone()
}

/// Push rows queued for a notification.
async fn pushes_of(app: &TestApp, notification_id: Uuid) -> u64 {
    push_outbox::Entity::find()
        .filter(push_outbox::Column::NotificationId.eq(notification_id))
        .count(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_topic_starts_at_all_and_each_is_hers_to_set() {
    let app = spawn_app().await;
    let member = app.token(MEMBER).await;
    let all = json!([
        { "topic": "CAMPAIGNS", "level": "ALL" },
        { "topic": "TRAININGS", "level": "ALL" },
        { "topic": "COMMENTS", "level": "ALL" },
        { "topic": "MODERATION", "level": "ALL" },
        { "topic": "VIOLENCE_REPORTS", "level": "ALL" },
    ]);
    assert_eq!(levels(&app, &member).await, all);
    set(&app, &member, "CAMPAIGNS", "OFF").await;
    set(&app, &member, "VIOLENCE_REPORTS", "INBOX").await;
    set(&app, &member, "VIOLENCE_REPORTS", "OFF").await;
    let mine = levels(&app, &member).await;
    assert_eq!(mine[0], json!({ "topic": "CAMPAIGNS", "level": "OFF" }));
    assert_eq!(mine[4], json!({ "topic": "VIOLENCE_REPORTS", "level": "OFF" }));
    assert_eq!(mine[1]["level"], "ALL");
    // Someone else's are untouched; back to ALL keeps no row.
    assert_eq!(levels(&app, &app.token(BD1_LEADER).await).await, all);
    set(&app, &member, "CAMPAIGNS", "ALL").await;
    set(&app, &member, "VIOLENCE_REPORTS", "ALL").await;
    assert_eq!(levels(&app, &member).await, all);
    assert_eq!(notification_preference::Entity::find().count(&app.state.db).await.unwrap(), 0);

    app.gql(PREFERENCES, json!({}), None).await.expect_code("UNAUTHENTICATED");
    app.gql(SET, json!({ "t": "CAMPAIGNS", "l": "OFF" }), None).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_creates_nothing_inbox_creates_no_push_and_account_notices_always_arrive() {
    let app = spawn_app().await;
    let member = app.token(MEMBER).await;
    register(&app, &member, "member-phone", "ANDROID").await;
    set(&app, &member, "CAMPAIGNS", "OFF").await;
    set(&app, &member, "TRAININGS", "INBOX").await;
    let me = person(&app, MEMBER).await;

    assert!(notify(&app, me, NotificationKind::CampaignLaunched).await.is_empty());
    assert!(notify(&app, me, NotificationKind::PledgeCertified).await.is_empty());
    let training = notify(&app, me, NotificationKind::TrainingCancelled).await;
    assert_eq!(training.len(), 1);
    assert_eq!(pushes_of(&app, training[0].id).await, 0);
    // Her account's notices have no topic: inbox and push, whatever she chose.
    let account = notify(&app, me, NotificationKind::PasswordReset).await;
    assert_eq!(pushes_of(&app, account[0].id).await, 1);
    let kinds: Vec<String> = app
        .gql("{ notifications { edges { node { kind } } } }", json!({}), Some(&member))
        .await
        .ok()["notifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| s(&e["node"]["kind"]))
        .collect();
    assert_eq!(kinds, ["PASSWORD_RESET", "TRAINING_CANCELLED"]);

    // Another person's default is everything.
    let leader = app.token(BD1_LEADER).await;
    register(&app, &leader, "leader-phone", "ANDROID").await;
    let campaign = notify(&app, person(&app, BD1_LEADER).await, NotificationKind::CampaignLaunched).await;
    assert_eq!(pushes_of(&app, campaign[0].id).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_fan_out_passes_over_members_who_turned_campaigns_off() {
    let app = spawn_app_with(&[("APP_FANOUT_POLL_INTERVAL_MS", "20")]).await;
    let leader = app.token(BD1_LEADER).await;
    let people = members(&app, &leader, Series::PUSH, 1..=3, "HN-LB-BD-01").await;
    set(&app, &people[0].token, "CAMPAIGNS", "OFF").await;
    set(&app, &people[1].token, "CAMPAIGNS", "INBOX").await;
    register(&app, &people[1].token, "inbox-only-phone", "ANDROID").await;
    register(&app, &people[2].token, "all-phone", "ANDROID").await;
    let unit = id_of(&app.unit_id("HN-LB-BD-01").await);
    fanout::schedule(
        &app.state.db,
        FanoutKind::CampaignLaunched,
        CampaignId::new(),
        unit,
        json!({ "campaign": "Ứng xử đẹp" }),
    )
    .await
    .unwrap();
    eventually("the fan-out done", || async {
        fanout_job::Entity::find().all(&app.state.db).await.unwrap().iter().all(|j| j.status == "DONE")
    })
    .await;

    assert!(notifications_of(&app, &people[0].phone, "CAMPAIGN_LAUNCHED").await.is_empty());
    let inbox_only = notifications_of(&app, &people[1].phone, "CAMPAIGN_LAUNCHED").await;
    assert_eq!(inbox_only.len(), 1);
    assert_eq!(pushes_of(&app, inbox_only[0].id).await, 0);
    let all = notifications_of(&app, &people[2].phone, "CAMPAIGN_LAUNCHED").await;
    assert_eq!(all.len(), 1);
    assert_eq!(pushes_of(&app, all[0].id).await, 1);
    // The job counts the people it notified.
    let job = fanout_job::Entity::find().one(&app.state.db).await.unwrap().unwrap();
    let created = entities::notification::Entity::find()
        .filter(entities::notification::Column::Kind.eq("CAMPAIGN_LAUNCHED"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(job.notified as u64, created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_officers_hear_of_reports_whatever_they_chose_and_reporters_choose_for_themselves() {
    let app = spawn_app().await;
    let case = app.token(BD_CASE_OFFICER).await;
    let member = app.token(MEMBER).await;
    register(&app, &case, "officer-phone", "ANDROID").await;
    register(&app, &member, "shared-phone", "ANDROID").await;
    set(&app, &case, "VIOLENCE_REPORTS", "OFF").await;
    // She shares her phone: report notices stay in the app.
    set(&app, &member, "VIOLENCE_REPORTS", "INBOX").await;

    let receipt =
        crate::fixtures::violence_report(&app, Some(&member), "HN-LB-BD-01", false, "Anh ấy quát tháo.")
            .await;
    let id = report_id(&app, &s(&receipt["referenceCode"])).await;
    let received = notifications_of(&app, BD_CASE_OFFICER, "VIOLENCE_REPORT_RECEIVED").await;
    assert_eq!(received.len(), 1);
    assert_eq!(pushes_of(&app, received[0].id).await, 1);

    app.gql(crate::violence::workflow::ACK, json!({ "id": id }), Some(&case)).await.ok();
    let updated = notifications_of(&app, MEMBER, "VIOLENCE_REPORT_UPDATED").await;
    assert_eq!(updated.len(), 1);
    assert_eq!(pushes_of(&app, updated[0].id).await, 0, "her inbox only");

    // Her new information reaches the officer, pushed, though the officer turned the topic off.
    let add =
        "mutation($id: ID, $t: String!) { addViolenceReportInformation(reportId: $id, text: $t) { status } }";
    app.gql(add, json!({ "id": id, "t": "Tối qua lại xảy ra." }), Some(&member)).await.ok();
    let officer_updates = notifications_of(&app, BD_CASE_OFFICER, "VIOLENCE_REPORT_UPDATED").await;
    assert_eq!(officer_updates.len(), 1);
    assert_eq!(pushes_of(&app, officer_updates[0].id).await, 1);

    // Off: an officer's message creates no notice for her (she reads it in the report).
    set(&app, &member, "VIOLENCE_REPORTS", "OFF").await;
    app.gql(MESSAGE, json!({ "id": id, "t": "Chị có an toàn không?" }), Some(&case)).await.ok();
    assert!(notifications_of(&app, MEMBER, "VIOLENCE_REPORT_MESSAGE").await.is_empty());
}
