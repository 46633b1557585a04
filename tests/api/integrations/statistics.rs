//! `publicStatistics`: a partner reads a unit's and its children's figures for a completed
//! month; no count from 1 to k−1 leaves the API, directly or by subtraction within or across
//! answers, and a figure reads the same in every answer.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use entities::ids::UnitId;
use serde_json::{Value, json};

use super::{client_token, register};
use crate::helpers::{LB_OFFICER, MEMBER, SYSADMIN, TestApp, id_of, s, spawn_app};

const STATS: &str = "query($u: ID!, $m: String!) { publicStatistics(unitId: $u, month: $m) { month suppressionThreshold \
    total { unit { code } activeMembers { value suppressed } newMembers { value suppressed } leavers { value suppressed } \
            trainingsHeld { value suppressed } attendances { value suppressed } } \
    children { unit { code } newMembers { value suppressed } leavers { value suppressed } trainingsHeld { value suppressed } attendances { value suppressed } } } }";

/// The last completed month, `YYYY-MM`, and a day in it.
fn last_month() -> (String, NaiveDate) {
    let today = (Utc::now() + Duration::hours(7)).date_naive();
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    let day = first - Duration::days(10);
    (format!("{:04}-{:02}", day.year(), day.month()), day)
}

/// Records joins and departures at branches on `day`, rolled up as the service does.
async fn member_days(app: &TestApp, day: NaiveDate, deltas: &[(&str, i64, i64)]) {
    let mut rows = Vec::new();
    for &(code, joined, left) in deltas {
        rows.push((id_of::<UnitId>(&app.unit_id(code).await), joined, left));
    }
    service::membership::roll_up_days(&app.state.db, day, &rows).await.unwrap();
}

async fn stats(app: &TestApp, token: &str, code: &str, month: &str) -> Value {
    let unit = app.unit_id(code).await;
    app.gql(STATS, json!({ "u": unit, "m": month }), Some(token)).await.ok()["publicStatistics"].clone()
}

/// `(code, value)` of a figure of each child.
fn column(answer: &Value, figure: &str) -> Vec<(String, Option<u64>)> {
    answer["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (s(&c["unit"]["code"]), c[figure]["value"].as_u64()))
        .collect()
}

#[tokio::test]
async fn a_partner_reads_its_subtree_with_small_counts_suppressed() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let client = register(&app, &admin, "HN-LB", &["STATISTICS_READ"]).await;
    let token = client_token(&app, &client).await;
    let (month, day) = last_month();
    // 12 joined at BD-01, 3 at BD-02, 2 at BD-03; one member left BD-01.
    member_days(&app, day, &[("HN-LB-BD-01", 12, 1), ("HN-LB-BD-02", 3, 0), ("HN-LB-BD-03", 2, 0)]).await;

    let ward = stats(&app, &token, "HN-LB-BD", &month).await;
    assert_eq!(ward["month"], json!(month));
    assert_eq!(ward["suppressionThreshold"], json!(5));
    // The total (17) is shown: the two small cells could be 1 and 4, 2 and 3, 3 and 2 or 4 and 1.
    assert_eq!(ward["total"]["newMembers"], json!({ "value": 17, "suppressed": false }));
    assert_eq!(
        column(&ward, "newMembers"),
        [
            ("HN-LB-BD-01".to_owned(), Some(12)),
            ("HN-LB-BD-02".to_owned(), None),
            ("HN-LB-BD-03".to_owned(), None),
            ("HN-LB-BD-04".to_owned(), Some(0)),
        ]
    );
    assert_eq!(ward["children"][1]["newMembers"], json!({ "value": null, "suppressed": true }));
    // One leaver: suppressed at her branch, and at every level above, where it would be the
    // difference of what is shown.
    assert_eq!(ward["total"]["leavers"]["suppressed"], json!(true));
    let district = stats(&app, &token, "HN-LB", &month).await;
    assert_eq!(district["total"]["leavers"]["suppressed"], json!(true));
    assert_eq!(district["total"]["newMembers"]["value"], json!(17));
    // The same figure reads the same in the district's answer and in the ward's own.
    let bd_in_district = district["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["unit"]["code"] == "HN-LB-BD")
        .unwrap()
        .clone();
    assert_eq!(bd_in_district["newMembers"], ward["total"]["newMembers"]);
    assert_eq!(bd_in_district["leavers"], ward["total"]["leavers"]);
    // Outside its subtree: not found; the city is not its to read.
    let city = app.unit_id("HN").await;
    app.gql(STATS, json!({ "u": city, "m": month }), Some(&token)).await.expect_code("NOT_FOUND");
}

#[tokio::test]
async fn no_small_count_leaves_the_api_directly_or_by_subtraction() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let client = register(&app, &admin, "HN", &["STATISTICS_READ", "UNITS_READ"]).await;
    let token = client_token(&app, &client).await;
    let (month, day) = last_month();
    // Joins spread over the tree, most of them small.
    let units: Vec<String> = {
        let data = app
            .gql(
                "{ orgUnits(first: 100, kind: BRANCH) { edges { node { code } } } }",
                json!({}),
                Some(&token),
            )
            .await
            .ok();
        data["orgUnits"]["edges"].as_array().unwrap().iter().map(|e| s(&e["node"]["code"])).collect()
    };
    let deltas: Vec<(&str, i64, i64)> = units
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), [0, 1, 2, 3, 7, 1, 4, 12][i % 8], (i % 3) as i64))
        .collect();
    member_days(&app, day, &deltas).await;
    // Every answer over the whole tree.
    let all = app
        .gql("{ orgUnits(first: 100) { edges { node { code kind } } } }", json!({}), Some(&token))
        .await
        .ok();
    let mut shown: std::collections::HashMap<(String, &str), Option<u64>> = Default::default();
    let mut answers = 0;
    for edge in all["orgUnits"]["edges"].as_array().unwrap() {
        if edge["node"]["kind"] == "GROUP" {
            continue;
        }
        let code = s(&edge["node"]["code"]);
        let answer = stats(&app, &token, &code, &month).await;
        answers += 1;
        for figure in ["newMembers", "leavers"] {
            let total = answer["total"][figure]["value"].as_u64();
            let children: Vec<Option<u64>> = column(&answer, figure).into_iter().map(|c| c.1).collect();
            // Directly: no shown count is small.
            for v in std::iter::once(total).chain(children.iter().copied()).flatten() {
                assert!(v == 0 || v >= 5, "{code} {figure}: {v} shown");
            }
            // By subtraction within the answer: what the total leaves to the hidden children
            // never pins one of them.
            if let Some(total) = total {
                let hidden = children.iter().filter(|c| c.is_none()).count() as u64;
                let mass = total - children.iter().flatten().sum::<u64>();
                assert!(
                    !(hidden == 1 && (1..5).contains(&mass)),
                    "{code} {figure}: one hidden child of {mass}"
                );
                assert!(!(hidden >= 2 && mass == hidden), "{code} {figure}: {hidden} hidden children of 1");
            }
            // Across answers: a unit's figure reads the same everywhere.
            let mut record = |unit: String, v: Option<u64>| {
                let previous = shown.insert((unit.clone(), figure), v);
                assert!(previous.is_none_or(|p| p == v), "{unit} {figure}: {previous:?} and {v:?}");
            };
            record(code.clone(), total);
            for (unit, v) in column(&answer, figure) {
                record(unit, v);
            }
        }
    }
    assert!(answers > 10, "{answers}");
}

#[tokio::test]
async fn officers_preview_what_partners_see_and_only_completed_months_are_read() {
    let app = spawn_app().await;
    let officer = app.token(LB_OFFICER).await;
    let (month, _) = last_month();
    // The month's figures over the whole tree: a fixed number of statements, then kept.
    let unit = app.unit_id("HN-LB").await;
    let before = app.statements();
    let answer = stats(&app, &officer, "HN-LB", &month).await;
    let first = app.statements() - before;
    let before = app.statements();
    stats(&app, &officer, "HN-LB", &month).await;
    let again = app.statements() - before;
    assert!(first <= 12 && again <= first - 4, "{first} then {again} statements");
    assert_eq!(answer["total"]["newMembers"], json!({ "value": 0, "suppressed": false }));
    assert_eq!(answer["total"]["activeMembers"], json!({ "value": 0, "suppressed": false }));
    let member = app.token(MEMBER).await;
    let got = app.gql(STATS, json!({ "u": unit, "m": month }), Some(&member)).await;
    assert!(matches!(got.code(), Some("FORBIDDEN" | "NOT_FOUND")));
    app.gql(STATS, json!({ "u": unit, "m": month }), None).await.expect_code("UNAUTHENTICATED");
    let this_month = (Utc::now() + Duration::hours(7)).format("%Y-%m").to_string();
    for (m, reason) in
        [(this_month.as_str(), "OUT_OF_RANGE"), ("2026-13", "INVALID_FORMAT"), ("11/2026", "INVALID_FORMAT")]
    {
        let got = app
            .gql(STATS, json!({ "u": unit, "m": m }), Some(&officer))
            .await
            .expect_reason("BAD_USER_INPUT", reason);
        assert_eq!(got.field(), Some("month"));
    }
}

#[tokio::test]
async fn trainings_held_and_attendances_count_for_the_organiser_and_every_unit_above() {
    let app = spawn_app().await;
    let officer = app.token(LB_OFFICER).await;
    let (month, day) = last_month();
    // Six trainings at BD-01, moved into last month.
    let at = |d: i64| (Utc::now() + Duration::days(d)).to_rfc3339();
    for n in 0..6 {
        let input = json!({ "title": format!("Lớp {n}"), "description": "Học nghề.", "category": "VOCATIONAL",
                            "startsAt": at(3), "endsAt": at(4), "place": "Nhà văn hoá", "capacity": null });
        crate::fixtures::published_training(&app, &officer, "HN-LB-BD-01", input).await;
    }
    let start = service::domain::hanoi_day_start(day) + Duration::hours(9);
    service::db::execute(
        &app.state.db,
        "UPDATE training SET starts_at = ?, ends_at = ?",
        [start.into(), (start + Duration::hours(2)).into()],
    )
    .await
    .unwrap();
    // 9 check-ins at BD-01's trainings that day, rolled up like the service does.
    let bd01 = id_of::<UnitId>(&app.unit_id("HN-LB-BD-01").await);
    for (unit, value) in [(bd01, 9)] {
        service::db::execute(
            &app.state.db,
            "INSERT INTO unit_activity_day (unit_id, metric, day, value) \
             SELECT ancestor_id, 'ATTENDED', ?, ? FROM org_unit_closure WHERE descendant_id = ?",
            [day.into(), value.into(), unit.into()],
        )
        .await
        .unwrap();
    }
    let ward = stats(&app, &officer, "HN-LB-BD", &month).await;
    assert_eq!(ward["total"]["trainingsHeld"]["value"], json!(6));
    assert_eq!(ward["total"]["attendances"]["value"], json!(9));
    assert_eq!(column(&ward, "trainingsHeld")[0], ("HN-LB-BD-01".to_owned(), Some(6)));
    let district = stats(&app, &officer, "HN-LB", &month).await;
    assert_eq!(district["total"]["trainingsHeld"]["value"], json!(6));
}
