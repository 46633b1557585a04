//! The member app's home screen in one request (her branch, unread count, latest posts, active
//! campaigns with her pledge status, next trainings with seats left), its statement count, and
//! the demo walkthrough: the demo member pledges her household, her branch leader certifies
//! it, and the district's target progress moves.

use chrono::{Datelike, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::helpers::*;

/// The home screen, as the member app asks for it.
const HOME: &str = "query Home { \
  me { fullName membership { memberNumber status branch { code name parent { name } } } } \
  unreadNotificationCount \
  feed(first: 5) { edges { node { id title coverImageUrl publishedAt unit { code } } } } \
  campaigns(first: 10) { edges { node { id kind title summary coverImageUrl termEnd unit { code } \
    criteria { id } myPledges { id kind status } } } } \
  trainings(first: 5) { edges { node { id title category startsAt place seatsLeft registrationOpen \
    unit { code } myRegistration { status waitlistPosition } } } } \
}";

const PROGRESS: &str = "query($u: ID!, $y: Int!, $i: [ID!]) { targetProgress(unitId: $u, period: {year: $y}, indicatorIds: $i) { \
  indicator { code } childrenTargetSum unallocated total { unit { code } target actual attainment } \
  children { unit { code } target actual attainment } } }";

fn this_year() -> i32 {
    (Utc::now() + Duration::hours(7)).year()
}

fn codes(list: &[Value], path: &str) -> Vec<String> {
    list.iter().map(|n| n[path]["code"].as_str().expect("code").to_owned()).collect()
}

/// The households-certified progress of `code` (the unit, then its children by code).
async fn households(app: &TestApp, token: &str, code: &str) -> (Value, Vec<(String, Value)>) {
    let unit = app.unit_id(code).await;
    let indicator = global_id("Indicator", uuid::Uuid::from_u128(3));
    let data =
        app.gql(PROGRESS, json!({ "u": unit, "y": this_year(), "i": [indicator] }), Some(token)).await.ok();
    let rows = data["targetProgress"].as_array().expect("progress").clone();
    let row =
        rows.iter().find(|r| r["indicator"]["code"] == "HOUSEHOLDS_CERTIFIED").expect("indicator").clone();
    let children = row["children"]
        .as_array()
        .expect("children")
        .iter()
        .map(|c| (c["unit"]["code"].as_str().expect("code").to_owned(), c.clone()))
        .collect();
    (row["total"].clone(), children)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_member_sees_her_home_pledges_and_moves_her_districts_target() {
    let app = spawn_app_with(&[("APP_SEED_DEMO_CONTENT", "true")]).await;
    let member = app.token(DEMO_MEMBER).await;
    let home = app.gql(HOME, json!({}), Some(&member)).await.ok();

    assert_eq!(home["me"]["membership"]["status"], "ACTIVE");
    assert_eq!(home["me"]["membership"]["branch"]["code"], "HN-LB-BD-01");
    // Posts of her branch's ancestors, newest first; never Hoàn Kiếm's.
    let feed = nodes(&home["feed"]);
    assert_eq!(codes(&feed, "unit"), ["HN-LB-BD", "HN-LB", "HN"]);
    // The city's movement and its two campaigns, newest first, none pledged yet.
    let campaigns = nodes(&home["campaigns"]);
    assert_eq!(campaigns.len(), 3);
    assert!(campaigns.iter().all(|c| c["unit"]["code"] == "HN" && c["myPledges"] == json!([])));
    let five_no = campaigns
        .iter()
        .find(|c| c["title"] == "Xây dựng gia đình 5 không, 3 sạch")
        .expect("the 5 no's and 3 cleans campaign")
        .clone();
    assert_eq!(five_no["criteria"].as_array().map(Vec::len), Some(8));
    // Her trainings, soonest first, with the seats left.
    let trainings = nodes(&home["trainings"]);
    assert_eq!(codes(&trainings, "unit"), ["HN-LB-BD", "HN-LB", "HN"]);
    let seats: Vec<&Value> = trainings.iter().map(|t| &t["seatsLeft"]).collect();
    assert_eq!(seats, [&json!(30), &json!(50), &Value::Null]);
    assert!(trainings.iter().all(|t| t["registrationOpen"] == true && t["myRegistration"].is_null()));

    // Long Biên's household target before: 200 of the city's 1,200, 40 per ward, none yet.
    let officer = app.token(LB_OFFICER).await;
    let (total, children) = households(&app, &officer, "HN-LB").await;
    assert_eq!((total["target"].as_f64(), total["actual"].as_f64()), (Some(200.0), Some(0.0)));
    let bd = |children: &[(String, Value)]| {
        children.iter().find(|(c, _)| c == "HN-LB-BD").expect("ward").1.clone()
    };
    assert_eq!((bd(&children)["target"].as_f64(), bd(&children)["actual"].as_f64()), (Some(40.0), Some(0.0)));

    // She pledges her household for this year.
    let pledged = app
        .gql(
            "mutation($c: ID!, $i: PledgeInput!) { submitPledge(campaignId: $c, input: $i) { id status kind } }",
            json!({ "c": five_no["id"], "i": { "kind": "HOUSEHOLD", "year": this_year(),
                "householdLabel": "Hộ bà Đỗ Thị Thu Hà, tổ 1", "householdSize": 4 } }),
            Some(&member),
        )
        .await
        .ok();
    let pledge = pledged["submitPledge"]["id"].clone();
    assert_eq!(pledged["submitPledge"]["status"], "SUBMITTED");

    // Her branch leader finds it in the queue and certifies it against every criterion.
    let leader = app.token(BD1_LEADER).await;
    let queue = app
        .gql(
            "{ pledgeReviewQueue { totalCount edges { node { id fullName kind } } } }",
            json!({}),
            Some(&leader),
        )
        .await
        .ok();
    assert_eq!(queue["pledgeReviewQueue"]["totalCount"], 1);
    assert_eq!(nodes(&queue["pledgeReviewQueue"])[0]["id"], pledge);
    let checks: Vec<Value> =
        five_no["criteria"].as_array().expect("criteria").iter().map(|c| c["id"].clone()).collect();
    let certified = app
        .gql(
            "mutation($id: ID!, $c: [ID!]!) { certifyPledge(id: $id, checks: $c, comment: \"Đạt\") { status } }",
            json!({ "id": pledge, "c": checks }),
            Some(&leader),
        )
        .await
        .ok();
    assert_eq!(certified["certifyPledge"]["status"], "CERTIFIED");

    // The district's progress moved, in the ward where she lives; the city's too.
    let (total, children) = households(&app, &officer, "HN-LB").await;
    assert_eq!(total["actual"].as_f64(), Some(1.0));
    assert_eq!(total["attainment"].as_f64(), Some(1.0 / 200.0));
    assert_eq!(bd(&children)["actual"].as_f64(), Some(1.0));
    let others: f64 = children
        .iter()
        .filter(|(c, _)| c != "HN-LB-BD")
        .map(|(_, r)| r["actual"].as_f64().unwrap_or(-1.0))
        .sum();
    assert_eq!(others, 0.0);
    let city = app.token(CITY_ADMIN).await;
    let (total, children) = households(&app, &city, "HN").await;
    assert_eq!((total["target"].as_f64(), total["actual"].as_f64()), (Some(1200.0), Some(1.0)));
    assert_eq!(
        children.iter().find(|(c, _)| c == "HN-LB").map(|(_, r)| r["actual"].as_f64()),
        Some(Some(1.0))
    );

    // Her home screen shows the pledge certified, and the notification unread.
    let home = app.gql(HOME, json!({}), Some(&member)).await.ok();
    assert!(home["unreadNotificationCount"].as_i64().is_some_and(|n| n >= 1));
    let five_no = nodes(&home["campaigns"]).into_iter().find(|c| c["id"] == five_no["id"]).expect("campaign");
    assert_eq!(five_no["myPledges"], json!([{ "id": pledge, "kind": "HOUSEHOLD", "status": "CERTIFIED" }]));
}

// ---- statement count ----

fn at(offset: Duration) -> String {
    (Utc::now() + offset).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Publishes `n` posts, launches `n` campaigns and publishes `n` trainings at each of the
/// member's ancestors (and the branch itself), as the Long Biên officer and the branch leader.
async fn publish_content(app: &TestApp, officer: &str, leader: &str, n: usize, round: usize) {
    for (token, code) in [(officer, "HN-LB"), (officer, "HN-LB-BD"), (leader, "HN-LB-BD-01")] {
        let unit = app.unit_id(code).await;
        for i in 0..n {
            let title = format!("Tin {round}-{i} {code}");
            app.gql(
                "mutation($u: ID!, $i: PostInput!) { createPost(unitId: $u, input: $i) { id } }",
                json!({ "u": unit, "i": { "title": title, "body": "Nội dung" } }),
                Some(token),
            )
            .await
            .ok();
            let training = app
                .gql(
                    "mutation($u: ID!, $i: TrainingInput!) { createTraining(unitId: $u, input: $i) { id } }",
                    json!({ "u": unit, "i": { "title": format!("Lớp {round}-{i} {code}"), "category": "LEGAL",
                        "startsAt": at(Duration::days(3 + i as i64)), "endsAt": at(Duration::days(3 + i as i64) + Duration::hours(2)),
                        "place": "Nhà văn hoá", "capacity": 20 } }),
                    Some(token),
                )
                .await
                .ok();
            app.gql(
                "mutation($id: ID!) { publishTraining(id: $id) { id } }",
                json!({ "id": training["createTraining"]["id"] }),
                Some(token),
            )
            .await
            .ok();
            if code == "HN-LB-BD-01" {
                continue; // Campaigns are run by unit officers.
            }
            let campaign = app
                .gql(
                    "mutation($u: ID!, $i: CampaignInput!) { createCampaign(unitId: $u, input: $i) { id } }",
                    json!({ "u": unit, "i": { "kind": "CAMPAIGN", "title": format!("Vận động {round}-{i}"),
                        "summary": "", "body": "", "bodyFormat": "PLAIN", "termStart": "2021-01-01",
                        "termEnd": format!("{}-12-31", this_year()), "criteria": ["Một", "Hai"] } }),
                    Some(token),
                )
                .await
                .ok();
            app.gql(
                "mutation($id: ID!) { launchCampaign(id: $id) { id } }",
                json!({ "id": campaign["createCampaign"]["id"] }),
                Some(token),
            )
            .await
            .ok();
        }
    }
}

/// The home screen's statements: her standing with the rows of her units and her current
/// membership (1), her person (1), unread count (1), feed (1), campaigns with her pledges (1),
/// the campaigns' criteria (1), trainings with her registrations (1) — 7. Every unit shown
/// (her branch, its parent, each row's unit) comes with her standing.
const HOME_STATEMENTS: u64 = 7;

async fn statements_for_home(app: &TestApp, member: &str) -> (u64, Value) {
    let before = app.statements();
    let home = app.gql(HOME, json!({}), Some(member)).await.ok();
    (app.statements() - before, home)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_screen_issues_a_bounded_number_of_statements() {
    let app = spawn_app().await;
    let officer = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    app.gql(
        "mutation($i: EnrolMemberInput!) { enrolMember(input: $i) { membership { id } } }",
        json!({ "i": { "fullName": "Ngô Thị Mai", "phone": "0966000001", "branchId": branch } }),
        Some(&officer),
    )
    .await
    .ok();
    let member = app.register("0966000001", "Ngô Thị Mai", "sen-hong-2026").await.0;

    publish_content(&app, &officer, &leader, 1, 0).await;
    let (small, home) = statements_for_home(&app, &member).await;
    assert_eq!(nodes(&home["feed"]).len(), 3);
    assert_eq!(nodes(&home["campaigns"]).len(), 2);
    assert_eq!(nodes(&home["trainings"]).len(), 3);

    // Many more of everything, some of it registered for and pledged to.
    publish_content(&app, &officer, &leader, 4, 1).await;
    let (_, home) = statements_for_home(&app, &member).await;
    for t in nodes(&home["trainings"]).iter().take(2) {
        app.gql(
            "mutation($id: ID!) { registerForTraining(trainingId: $id) { id } }",
            json!({ "id": t["id"] }),
            Some(&member),
        )
        .await
        .ok();
    }
    for c in nodes(&home["campaigns"]).iter().take(3) {
        app.gql(
            "mutation($c: ID!, $i: PledgeInput!) { submitPledge(campaignId: $c, input: $i) { id } }",
            json!({ "c": c["id"], "i": { "kind": "PERSONAL", "year": this_year() } }),
            Some(&member),
        )
        .await
        .ok();
    }
    let (large, home) = statements_for_home(&app, &member).await;
    assert_eq!(nodes(&home["feed"]).len(), 5);
    assert_eq!(nodes(&home["campaigns"]).len(), 10);
    assert_eq!(nodes(&home["trainings"]).len(), 5);
    let pledged = nodes(&home["campaigns"]).iter().filter(|c| c["myPledges"] != json!([])).count();
    assert_eq!(pledged, 3);
    let registered = nodes(&home["trainings"]).iter().filter(|t| !t["myRegistration"].is_null()).count();
    assert_eq!(registered, 2);
    // The same bound whatever the sizes (one statement per row would add a dozen here).
    for n in [small, large] {
        assert!(n <= HOME_STATEMENTS, "{n} statements for the home screen (small {small}, large {large})");
    }
}
