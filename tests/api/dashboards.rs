//! The console's dashboards: a campaign's pledges by status over a unit and its children,
//! certified households against the target, the launch notice's progress; a training's
//! seats, waitlist and attendance. One query each, a fixed number of statements.

use chrono::{Datelike, Duration, Utc};
use serde_json::{Value, json};

use crate::{campaigns::input as campaign_input, fixtures::*, helpers::*};

const S: Series = Series::CONSOLE;

async fn spawn() -> TestApp {
    // The fan-out worker sleeps: the test drives its rounds.
    spawn_app_with(&[
        ("APP_REGISTER_MAX_PER_ADDRESS", "1000"),
        ("APP_FANOUT_BATCH_SIZE", "2"),
        ("APP_FANOUT_POLL_INTERVAL_MS", "3600000"),
    ])
    .await
}

const DASHBOARD: &str = "query($id: ID!, $u: ID) { node(id: $id) { ... on Campaign { dashboard(unitId: $u) { \
    period { fromYear toYear } householdTarget householdAttainment fanout { done notified total } \
    total { unit { code } total submitted certified returned certifiedHouseholds } \
    children { unit { code } total submitted certified returned certifiedHouseholds } } } } }";

fn row<'a>(d: &'a Value, code: &str) -> &'a Value {
    d["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["unit"]["code"] == code)
        .unwrap_or_else(|| panic!("no {code}"))
}

/// (submitted, certified, returned, certified households)
fn counts(r: &Value) -> (i64, i64, i64, i64) {
    let n = |k: &str| r[k].as_i64().unwrap();
    (n("submitted"), n("certified"), n("returned"), n("certifiedHouseholds"))
}

async fn pledge(app: &TestApp, token: &str, campaign: &Value, household: Option<&str>) -> String {
    let year = Utc::now().year();
    let input = match household {
        Some(label) => {
            json!({ "kind": "HOUSEHOLD", "year": year, "householdLabel": label, "householdSize": 3 })
        }
        None => json!({ "kind": "PERSONAL", "year": year }),
    };
    let made = app
        .gql(
            "mutation($c: ID!, $i: PledgeInput!) { submitPledge(campaignId: $c, input: $i) { id } }",
            json!({ "c": campaign["id"], "i": input }),
            Some(token),
        )
        .await
        .ok();
    s(&made["submitPledge"]["id"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_dashboard_counts_pledges_by_status_and_level_against_the_target() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    let bd = members(&app, &officer, S, 900..903, "HN-LB-BD-01").await;
    let gt = members(&app, &officer, S, 903..905, "HN-LB-GT-01").await;
    let created = app
        .gql(
            "mutation($u: ID!, $i: CampaignInput!) { createCampaign(unitId: $u, input: $i) { id } }",
            json!({ "u": app.unit_id("HN-LB").await, "i": campaign_input("Bảng theo dõi", json!({})) }),
            Some(&officer),
        )
        .await
        .ok();
    let campaign = app
        .gql(
            "mutation($id: ID!) { launchCampaign(id: $id, notifyMembers: true) { id termStart termEnd criteria { id } } }",
            json!({ "id": created["createCampaign"]["id"] }),
            Some(&officer),
        )
        .await
        .ok()["launchCampaign"]
        .clone();

    // Ba Đình… Bồ Đề: two households certified, one personal returned; Gia Thụy: one waiting,
    // one household certified.
    let p: Vec<String> = vec![
        pledge(&app, &bd[0].token, &campaign, Some("Hộ 1")).await,
        pledge(&app, &bd[1].token, &campaign, Some("Hộ 2")).await,
        pledge(&app, &bd[2].token, &campaign, None).await,
        pledge(&app, &gt[0].token, &campaign, None).await,
        pledge(&app, &gt[1].token, &campaign, Some("Hộ 3")).await,
    ];
    let certify = "mutation($ids: [ID!]!) { certifyPledges(ids: $ids) { ok } }";
    app.gql(certify, json!({ "ids": [p[0], p[1], p[4]] }), Some(&officer)).await.ok();
    app.gql(
        "mutation($ids: [ID!]!) { returnPledges(ids: $ids, comment: \"Bổ sung\") { ok } }",
        json!({ "ids": [p[2]] }),
        Some(&officer),
    )
    .await
    .ok();
    // The district's household target for the campaign's term.
    let term = (
        campaign["termStart"].as_str().unwrap()[..4].parse::<i32>().unwrap(),
        campaign["termEnd"].as_str().unwrap()[..4].parse::<i32>().unwrap(),
    );
    app.gql(
        "mutation($i: SetTargetInput!) { setTarget(input: $i) { target { value } } }",
        json!({ "i": { "indicatorId": "HOUSEHOLDS_CERTIFIED", "unitId": app.unit_id("HN-LB").await,
                       "period": { "fromYear": term.0, "toYear": term.1 }, "value": 12.0 } }),
        Some(&officer),
    )
    .await
    .ok();
    // The launch notice: one batch of two sent so far.
    service::fanout::run_round(&app.state, 2).await.unwrap().expect("a due job");

    let data = app.gql(DASHBOARD, json!({ "id": campaign["id"] }), Some(&officer)).await.ok();
    let d = &data["node"]["dashboard"];
    assert_eq!(d["total"]["unit"]["code"], "HN-LB");
    assert_eq!(counts(&d["total"]), (1, 3, 1, 3));
    assert_eq!(d["total"]["total"], 5);
    assert_eq!(counts(row(d, "HN-LB-BD")), (0, 2, 1, 2));
    assert_eq!(counts(row(d, "HN-LB-GT")), (1, 1, 0, 1));
    assert_eq!(counts(row(d, "HN-LB-DG")), (0, 0, 0, 0), "every child is listed");
    assert_eq!(
        (d["period"]["fromYear"].as_i64().unwrap() as i32, d["period"]["toYear"].as_i64().unwrap() as i32),
        term
    );
    assert_eq!(d["householdTarget"], 12.0);
    assert_eq!(d["householdAttainment"], 0.25);
    let fanout = &d["fanout"];
    assert_eq!((fanout["done"].clone(), fanout["notified"].clone()), (json!(false), json!(2)));
    assert!(fanout["total"].as_i64().unwrap() >= 5, "{fanout}");

    // A ward's officers see their ward; the branch leader her branch; no one what is out of reach.
    let leader = app.token(BD1_LEADER).await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let mine = app.gql(DASHBOARD, json!({ "id": campaign["id"], "u": branch }), Some(&leader)).await.ok();
    assert_eq!(counts(&mine["node"]["dashboard"]["total"]), (0, 2, 1, 2));
    assert_eq!(mine["node"]["dashboard"]["householdTarget"], Value::Null);
    let far = app.unit_id("HN-HK").await;
    app.gql(DASHBOARD, json!({ "id": campaign["id"], "u": far }), Some(&leader))
        .await
        .expect_code("NOT_FOUND");
    let member = app.gql(DASHBOARD, json!({ "id": campaign["id"] }), Some(&bd[0].token)).await;
    assert!(matches!(member.code(), Some("FORBIDDEN" | "NOT_FOUND")), "{}", member.body);

    // A city campaign: a district officer, not an officer over the city, sees her district by
    // default.
    let city = app.token(CITY_ADMIN).await;
    let citywide = launched_campaign(&app, &city, "HN", campaign_input("Toàn thành phố", json!({}))).await;
    let seen = app.gql(DASHBOARD, json!({ "id": citywide["id"] }), Some(&officer)).await.ok();
    assert_eq!(seen["node"]["dashboard"]["total"]["unit"]["code"], "HN-LB");
    let leader_view = app.gql(DASHBOARD, json!({ "id": citywide["id"] }), Some(&leader)).await.ok();
    assert_eq!(leader_view["node"]["dashboard"]["total"]["unit"]["code"], "HN-LB-BD-01");

    // One query, a fixed number of statements: the city (its districts) costs what a district
    // (its wards) does.
    let mut costs = Vec::new();
    for unit in ["HN", "HN-LB", "HN-LB-BD"] {
        let id = app.unit_id(unit).await;
        let before = app.statements();
        app.gql(DASHBOARD, json!({ "id": campaign["id"], "u": id }), Some(&city)).await.ok();
        costs.push(app.statements() - before);
    }
    assert!(costs.iter().all(|c| *c == costs[0]), "statements per dashboard: {costs:?}");
    assert!(costs[0] <= 14, "statements per dashboard: {costs:?}");
}

const TRAINING_DASHBOARD: &str = "query($id: ID!) { node(id: $id) { ... on Training { dashboard { \
    capacity seatsLeft confirmed waitlisted attended noShow cancelled attendanceRate } } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_training_dashboard_shows_seats_waitlist_and_attendance() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    let at = |h: i64| (Utc::now() + Duration::hours(h)).to_rfc3339();
    let input = json!({ "title": "Bảng lớp học", "description": "Lớp", "category": "LEGAL", "startsAt": at(1),
                        "endsAt": at(3), "place": "Nhà văn hoá", "capacity": 3 });
    let training = published_training(&app, &officer, "HN-LB-BD", input).await;
    let before = app.statements();
    let empty = app.gql(TRAINING_DASHBOARD, json!({ "id": training }), Some(&officer)).await.ok();
    let empty_cost = app.statements() - before;
    assert_eq!(empty["node"]["dashboard"]["attendanceRate"], Value::Null);
    assert_eq!(empty["node"]["dashboard"]["seatsLeft"], 3);

    let people = members(&app, &officer, S, 920..925, "HN-LB-BD-01").await;
    let mut regs = Vec::new();
    for p in &people {
        let r = app
            .gql(
                "mutation($id: ID!) { registerForTraining(trainingId: $id) { id } }",
                json!({ "id": training }),
                Some(&p.token),
            )
            .await
            .ok();
        regs.push(s(&r["registerForTraining"]["id"]));
    }
    // Three seats: two wait. One seated person cancels (the first waiting takes her seat), one
    // is checked in.
    app.gql(
        "mutation($id: ID!) { cancelTrainingRegistration(trainingId: $id) { status } }",
        json!({ "id": training }),
        Some(&people[1].token),
    )
    .await
    .ok();
    app.gql(
        "mutation($id: ID!) { checkInManually(registrationId: $id) { alreadyCheckedIn } }",
        json!({ "id": regs[0] }),
        Some(&officer),
    )
    .await
    .ok();

    let before = app.statements();
    let data = app.gql(TRAINING_DASHBOARD, json!({ "id": training }), Some(&officer)).await.ok();
    assert_eq!(app.statements() - before, empty_cost, "the same statements, whatever the registrations");
    let d = &data["node"]["dashboard"];
    let n = |k: &str| d[k].as_i64().unwrap();
    assert_eq!(
        (
            n("capacity"),
            n("seatsLeft"),
            n("confirmed"),
            n("waitlisted"),
            n("attended"),
            n("noShow"),
            n("cancelled")
        ),
        (3, 0, 2, 1, 1, 0, 1)
    );
    assert!((d["attendanceRate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);

    // For its managers only.
    let member = app.gql(TRAINING_DASHBOARD, json!({ "id": training }), Some(&people[0].token)).await;
    member.expect_code("FORBIDDEN");
}
