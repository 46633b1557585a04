//! The notification fan-out worker: a campaign launch notifies every active member of the
//! subtree exactly once, in batches, across instances and restarts.
//!
//! Jobs are scheduled with `service::fanout::schedule` on the app's database directly, but for the
//! last test, which launches a campaign through the API and drives the worker by hand.

use entities::ids::{CampaignId, PersonId, UnitId};
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use chrono::{NaiveDate, Utc};
use futures_util::future::join_all;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use service::fanout::{self, FanoutKind};
use uuid::Uuid;

use crate::fixtures::{Series, enrol, person};
use crate::helpers::*;

/// This module's test people.
const S: Series = Series::FANOUT;
/// Polling interval that leaves the worker idle after its first look (tests drive rounds).
const IDLE: &str = "3600000";

/// Person ids of the test people `ns`.
async fn people(app: &TestApp, ns: impl IntoIterator<Item = u32>) -> Vec<PersonId> {
    let mut ids = Vec::new();
    for n in ns {
        ids.push(id_of::<PersonId>(&app.person_id(&S.stored_phone(n)).await));
    }
    ids
}

/// A campaign row run by `code` (written directly: campaigns have their own tests); returns its id.
async fn campaign(app: &TestApp, code: &str, title: &str) -> CampaignId {
    let unit = id_of::<UnitId>(&app.unit_id(code).await);
    let creator = id_of::<PersonId>(&app.person_id(CITY_ADMIN).await);
    let now = Utc::now();
    entities::campaign::ActiveModel {
        id: Set(CampaignId::new()),
        unit_id: Set(unit),
        kind: Set("CAMPAIGN".parse().unwrap()),
        title: Set(title.to_owned()),
        title_search: Set(title.to_lowercase()),
        summary: Set("Tóm tắt".to_owned()),
        body: Set("Nội dung".to_owned()),
        body_format: Set("PLAIN".parse().unwrap()),
        cover_image_url: Set(None),
        term_start: Set(NaiveDate::from_ymd_opt(2021, 1, 1).unwrap()),
        term_end: Set(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()),
        status: Set("ACTIVE".parse().unwrap()),
        created_by: Set(creator),
        launched_at: Set(Some(now)),
        ended_at: Set(None),
        listed_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&app.state.db)
    .await
    .unwrap()
    .id
}

/// Launches campaign `id` of unit `code` to its subtree (what `launchCampaign` does).
async fn schedule(app: &TestApp, id: CampaignId, code: &str, title: &str) {
    let unit = id_of::<UnitId>(&app.unit_id(code).await);
    fanout::schedule(&app.state.db, FanoutKind::CampaignLaunched, id, unit, json!({ "campaign": title }))
        .await
        .unwrap();
}

async fn jobs(app: &TestApp) -> Vec<entities::fanout_job::Model> {
    entities::fanout_job::Entity::find().all(&app.state.db).await.unwrap()
}

/// Waits until every job is done (the workers run in the background), failing after 20 s.
async fn wait_until_done(app: &TestApp) -> Vec<entities::fanout_job::Model> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let all = jobs(app).await;
        if !all.is_empty() && all.iter().all(|j| j.status.as_str() == "DONE") {
            return all;
        }
        assert!(Instant::now() < deadline, "fan-out not done after 20 s: {all:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Launch notifications per person, for the campaign `id` (after checking their kind).
async fn notified(app: &TestApp, id: CampaignId) -> HashMap<PersonId, usize> {
    let link = global_id("Campaign", id);
    let rows = entities::notification::Entity::find()
        .filter(entities::notification::Column::Link.eq(link))
        .all(&app.state.db)
        .await
        .unwrap();
    let mut counts = HashMap::new();
    for r in rows {
        assert_eq!(r.kind.as_str(), "CAMPAIGN_LAUNCHED");
        *counts.entry(r.person_id).or_default() += 1;
    }
    counts
}

/// Asserts that exactly `expected` were notified of campaign `id`, once each.
#[track_caller]
fn once_each(counts: &HashMap<PersonId, usize>, expected: &[PersonId]) {
    let mut got: Vec<(PersonId, usize)> = counts.iter().map(|(p, n)| (*p, *n)).collect();
    got.sort();
    let mut want: Vec<(PersonId, usize)> = expected.iter().map(|p| (*p, 1)).collect();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_notifies_every_active_member_of_the_subtree_once() {
    let app = spawn_app_with(&[
        ("APP_FANOUT_BATCH_SIZE", "2"),
        ("APP_FANOUT_POLL_INTERVAL_MS", "20"),
        ("APP_REGISTER_MAX_PER_ADDRESS", "1000"),
    ])
    .await;
    let city = app.token(CITY_ADMIN).await;
    let codes = [
        "HN-LB-BD-01",
        "HN-LB-BD-01",
        "HN-LB-BD-02",
        "HN-LB-GT-01",
        "HN-LB-GT-01",
        "HN-LB-NL-03",
        "HN-LB-BD-04",
    ];
    for (n, code) in codes.iter().enumerate() {
        enrol(&app, &city, S, n as u32, code).await;
    }
    // Outside the subtree, suspended, or gone: not notified.
    enrol(&app, &city, S, 20, "HN-HK-HB-01").await;
    enrol(&app, &city, S, 21, "HN-BD-DB-02").await;
    let suspended = enrol(&app, &city, S, 22, "HN-LB-BD-01").await;
    app.gql(
        "mutation($id: ID!) { suspendMembership(id: $id, reason: \"Vắng sinh hoạt\") { status } }",
        json!({ "id": suspended }),
        Some(&city),
    )
    .await
    .ok();
    enrol(&app, &city, S, 23, "HN-LB-BD-02").await;
    let leaver = person(&app, S, 23).await.token;
    app.gql("mutation { leaveUnion(reason: \"Chuyển nhà\") { status } }", json!({}), Some(&leaver))
        .await
        .ok();
    // One member has an account and a device: she hears of it in her inbox and by push.
    let reader = person(&app, S, 0).await.token;
    app.gql(
        "mutation { registerPushToken(token: \"device-of-member-0\", platform: IOS) }",
        json!({}),
        Some(&reader),
    )
    .await
    .ok();

    let id = campaign(&app, "HN-LB", "Năm không ba sạch").await;
    schedule(&app, id, "HN-LB", "Năm không ba sạch").await;
    let done = wait_until_done(&app).await;

    let members = people(&app, 0..7).await;
    once_each(&notified(&app, id).await, &members);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].notified, 7);
    assert!(done[0].finished_at.is_some());
    assert_eq!(
        done[0].cursor,
        members.iter().max().map(|p| p.uuid()),
        "the cursor is the last person notified"
    );

    let inbox = app
        .gql(
            "{ notifications(first: 10) { edges { node { kind link title body read } } } }",
            json!({}),
            Some(&reader),
        )
        .await
        .ok();
    let note = &inbox["notifications"]["edges"][0]["node"];
    assert_eq!(note["kind"], "CAMPAIGN_LAUNCHED");
    assert_eq!(note["link"], global_id("Campaign", id));
    assert!(note["body"].as_str().unwrap().contains("Năm không ba sạch"));
    assert_eq!(note["read"], false);
    let pushes = entities::push_outbox::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(pushes.len(), 1, "one push for the one device");
    assert_eq!(pushes[0].title, "Cuộc vận động mới", "rendered in her language");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_move_the_cursor_and_a_job_survives_a_restart() {
    // The first instance's worker has looked once and sleeps: the test drives its rounds.
    let app = spawn_app_with(&[("APP_FANOUT_BATCH_SIZE", "2"), ("APP_FANOUT_POLL_INTERVAL_MS", IDLE)]).await;
    let city = app.token(CITY_ADMIN).await;
    for n in 0..7 {
        enrol(&app, &city, S, n, ["HN-LB-BD-01", "HN-LB-BD-03", "HN-LB-DG-02"][n as usize % 3]).await;
    }
    enrol(&app, &city, S, 20, "HN-HK-HB-01").await;
    let mut members = people(&app, 0..7).await;
    members.sort();
    let id = campaign(&app, "HN-LB", "Phụ nữ Thủ đô").await;
    schedule(&app, id, "HN-LB", "Phụ nữ Thủ đô").await;

    // Two batches, then the instance "dies" (it runs no more rounds).
    for batch in 1..=2 {
        let round = fanout::run_round(&app.state, 2).await.unwrap().expect("a due job");
        assert_eq!((round.notified, round.done), (2, false));
        let job = &jobs(&app).await[0];
        assert_eq!(job.notified, 2 * batch as i64);
        assert_eq!(job.cursor, Some(members[2 * batch - 1].uuid()), "the cursor moved with the batch");
        once_each(&notified(&app, id).await, &members[..2 * batch]);
    }

    // Another instance (a restart) finishes the job from the cursor: nobody twice, nobody lost.
    let peer = app.spawn_peer().await;
    let done = wait_until_done(&peer).await;
    assert_eq!(done[0].notified, 7);
    once_each(&notified(&app, id).await, &members);
    // Nothing is left to do.
    assert_eq!(fanout::run_round(&app.state, 2).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_never_notify_anyone_twice() {
    let app = spawn_app_with(&[("APP_FANOUT_BATCH_SIZE", "2"), ("APP_FANOUT_POLL_INTERVAL_MS", "5")]).await;
    let peer = app.spawn_peer().await;
    let city = app.token(CITY_ADMIN).await;
    let codes = ["HN-LB-BD-01", "HN-LB-BD-02", "HN-LB-GT-01", "HN-LB-BD-01", "HN-HK-HB-01", "HN-LB-NL-01"];
    for n in 0..9 {
        enrol(&app, &city, S, n, codes[n as usize % codes.len()]).await;
    }
    let all = people(&app, 0..9).await;
    let in_lb: Vec<PersonId> = (0..9).filter(|n| n % 6 != 4).map(|n| all[n]).collect();
    let in_bd: Vec<PersonId> =
        (0..9).filter(|n| n % 6 == 0 || n % 6 == 1 || n % 6 == 3).map(|n| all[n]).collect();
    let launches = [("HN", all.clone()), ("HN-LB", in_lb), ("HN-LB-BD", in_bd)];
    let mut ids = Vec::new();
    for (code, _) in &launches {
        let id = campaign(&app, code, &format!("Chiến dịch {code}")).await;
        schedule(&app, id, code, "Chiến dịch").await;
        ids.push(id);
    }
    // Both instances' workers poll every 5 ms; the test adds concurrent rounds on both.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rounds =
            join_all((0..4).map(|i| fanout::run_round(if i % 2 == 0 { &app.state } else { &peer.state }, 2)))
                .await;
        if rounds.iter().all(|r| matches!(r, Ok(None))) {
            break;
        }
        assert!(Instant::now() < deadline, "rounds never ended: {rounds:?}");
    }
    let done = wait_until_done(&app).await;
    assert_eq!(done.len(), 3);
    for ((_, expected), id) in launches.iter().zip(&ids) {
        once_each(&notified(&app, *id).await, expected);
        let job = done.iter().find(|j| j.subject_id == id.uuid()).unwrap();
        assert_eq!(job.notified, expected.len() as i64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_costs_the_same_statements_whatever_its_size() {
    let app = spawn_app_with(&[("APP_FANOUT_POLL_INTERVAL_MS", IDLE)]).await;
    let city = app.token(CITY_ADMIN).await;
    for chunk in (0..44u32).collect::<Vec<_>>().chunks(11) {
        join_all(
            chunk
                .iter()
                .map(|&n| enrol(&app, &city, S, n, if n < 40 { "HN-LB-BD-01" } else { "HN-HK-HB-01" })),
        )
        .await;
    }
    let big = people(&app, 0..40).await;
    let small = people(&app, 40..44).await;
    // Devices for some people of each (written directly).
    for (i, person) in big.iter().take(10).chain(small.iter().take(2)).enumerate() {
        entities::push_token::ActiveModel {
            id: Set(Uuid::now_v7()),
            person_id: Set(*person),
            token: Set(format!("device-{i}")),
            platform: Set("ANDROID".to_owned()),
            created_at: Set(Utc::now()),
        }
        .insert(&app.state.db)
        .await
        .unwrap();
    }
    let lb = campaign(&app, "HN-LB", "Long Biên").await;
    schedule(&app, lb, "HN-LB", "Long Biên").await;
    let hk = campaign(&app, "HN-HK", "Hoàn Kiếm").await;
    schedule(&app, hk, "HN-HK", "Hoàn Kiếm").await;

    let before = app.statements();
    let round = fanout::run_round(&app.state, 40).await.unwrap().unwrap();
    let large = app.statements() - before;
    assert_eq!((round.notified, round.done), (40, false));
    // The next round finds nobody after the cursor and closes the job.
    let round = fanout::run_round(&app.state, 40).await.unwrap().unwrap();
    assert_eq!((round.notified, round.done), (0, true));
    let before = app.statements();
    let round = fanout::run_round(&app.state, 40).await.unwrap().unwrap();
    let four = app.statements() - before;
    assert_eq!((round.notified, round.done), (4, true));
    assert_eq!(large, four, "statements grow with the batch");
    // Claim, members, preferences, notifications, devices, pushes, the job's advance, and the
    // transaction's own.
    assert!(large <= 9, "{large} statements for one batch");

    once_each(&notified(&app, lb).await, &big);
    once_each(&notified(&app, hk).await, &small);
    let pushes = entities::push_outbox::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(pushes.len(), 12, "one push per device");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launching_a_campaign_with_notify_members_leaves_the_fan_out_to_the_worker() {
    // The worker only runs when the test drives it, so what the request itself wrote shows.
    let app = spawn_app_with(&[("APP_FANOUT_POLL_INTERVAL_MS", IDLE)]).await;
    let city = app.token(CITY_ADMIN).await;
    let officer = app.token(LB_OFFICER).await;
    for (n, code) in [(40, "HN-LB-BD-01"), (41, "HN-LB-BD-03"), (42, "HN-LB-GT-01")] {
        enrol(&app, &city, S, n, code).await;
    }
    let unit = app.unit_id("HN-LB-BD").await;
    let created = app
        .gql(
            "mutation($u: ID!, $i: CampaignInput!) { createCampaign(unitId: $u, input: $i) { id } }",
            json!({ "u": unit, "i": { "kind": "CAMPAIGN", "title": "Phường Bồ Đề xanh", "summary": "",
                "body": "", "bodyFormat": "PLAIN", "termStart": "2026-01-01", "termEnd": "2026-12-31" } }),
            Some(&officer),
        )
        .await
        .ok();
    let gid = created["createCampaign"]["id"].as_str().expect("id").to_owned();
    app.gql(
        "mutation($id: ID!) { launchCampaign(id: $id, notifyMembers: true) { status } }",
        json!({ "id": gid }),
        Some(&officer),
    )
    .await
    .ok();
    let id = id_of::<CampaignId>(&gid);
    // The request queued one job and notified nobody itself.
    assert_eq!(jobs(&app).await.len(), 1);
    assert!(notified(&app, id).await.is_empty());

    while fanout::run_round(&app.state, 500).await.unwrap().is_some() {}
    // Bồ Đề's members, once each; Gia Thụy's member is outside the campaign's subtree.
    once_each(&notified(&app, id).await, &people(&app, [40, 41]).await);
    assert!(jobs(&app).await.iter().all(|j| j.status.as_str() == "DONE"));
}
