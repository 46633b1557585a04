//! `publicStatistics`: a partner reads a unit's and its children's figures for a completed
//! month; no count from 1 to k−1 leaves the API, directly or by subtraction within or across
//! answers, and a figure reads the same in every answer.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use entities::ids::UnitId;
use serde_json::{Value, json};

use super::{client_token, register};
use crate::helpers::{CITY_ADMIN, LB_OFFICER, MEMBER, SYSADMIN, TestApp, id_of, s, spawn_app};

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

// ---- progress towards targets ----

const TARGETS: &str = "query($u: ID!, $m: String!, $p: PeriodInput!) { publicStatistics(unitId: $u, month: $m) { \
    targetProgress(period: $p) { indicator { id code name kind aggregation unitOfMeasure } \
    total { unit { code } target actual { value suppressed } attainment reportingUnits } \
    children { unit { code } target actual { value suppressed } attainment reportingUnits } } } }";
const SET_TARGET: &str = "mutation($i: SetTargetInput!) { setTarget(input: $i) { target { value } } }";
const INDICATOR: &str =
    "mutation($u: ID!, $i: CreateIndicatorInput!) { createIndicator(unitId: $u, input: $i) { id } }";
const REPORT: &str = "mutation($i: ReportIndicatorValueInput!) { reportIndicatorValue(input: $i) { value } }";

/// The current year in Hanoi.
fn this_year() -> i32 {
    (Utc::now() + Duration::hours(7)).year()
}

fn computed(n: u128) -> String {
    crate::helpers::global_id("Indicator", uuid::Uuid::from_u128(n))
}

/// Sets `code`'s target and its children's shares for `year`, as `token`.
async fn set_target(
    app: &TestApp,
    token: &str,
    indicator: &str,
    code: &str,
    year: i32,
    value: f64,
    shares: &[(&str, f64)],
) {
    let mut list = Vec::new();
    for (child, v) in shares {
        list.push(json!({ "unitId": app.unit_id(child).await, "value": v }));
    }
    let input = json!({ "indicatorId": indicator, "unitId": app.unit_id(code).await,
                        "period": { "year": year }, "value": value, "shares": list });
    app.gql(SET_TARGET, json!({ "i": input }), Some(token)).await.ok();
}

/// Defines a reported indicator at `code`; its id.
async fn indicator(app: &TestApp, token: &str, code: &str, name: &str, measure: &str, agg: &str) -> String {
    let input = json!({ "name": name, "unitOfMeasure": measure, "aggregation": agg });
    let data =
        app.gql(INDICATOR, json!({ "u": app.unit_id(code).await, "i": input }), Some(token)).await.ok();
    s(&data["createIndicator"]["id"])
}

async fn report(app: &TestApp, token: &str, indicator: &str, code: &str, year: i32, value: f64) {
    let input = json!({ "indicatorId": indicator, "unitId": app.unit_id(code).await,
                        "period": { "year": year }, "value": value });
    app.gql(REPORT, json!({ "i": input }), Some(token)).await.ok();
}

async fn targets_of(app: &TestApp, token: &str, code: &str, year: i32) -> crate::helpers::Gql {
    let vars = json!({ "u": app.unit_id(code).await, "m": last_month().0, "p": { "year": year } });
    app.gql(TARGETS, vars, Some(token)).await
}

/// The progress entries of an answer, by indicator name.
fn by_name(answer: Value) -> std::collections::BTreeMap<String, Value> {
    let list = answer["publicStatistics"]["targetProgress"].as_array().unwrap().clone();
    list.into_iter().map(|e| (s(&e["indicator"]["name"]), e)).collect()
}

/// A child's row, by code.
fn child_row<'a>(entry: &'a Value, code: &str) -> &'a Value {
    entry["children"].as_array().unwrap().iter().find(|c| c["unit"]["code"] == code).unwrap()
}

/// `(target, actual, suppressed, attainment)` of a row.
fn figures(row: &Value) -> (Option<f64>, Option<f64>, bool, Option<f64>) {
    (
        row["target"].as_f64(),
        row["actual"]["value"].as_f64(),
        row["actual"]["suppressed"].as_bool().unwrap(),
        row["attainment"].as_f64(),
    )
}

#[tokio::test]
async fn a_partner_reads_targets_as_set_and_counted_actuals_coarsely() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let officer = app.token(LB_OFFICER).await;
    let client = register(&app, &admin, "HN-LB", &["STATISTICS_READ"]).await;
    let token = client_token(&app, &client).await;
    let y = this_year();
    let today = (Utc::now() + Duration::hours(7)).date_naive();

    // New members: a target for Bồ Đề and shares for three of its branches; 23 joined this year.
    let new_members = computed(1);
    let shares = [("HN-LB-BD-01", 20.0), ("HN-LB-BD-02", 10.0), ("HN-LB-BD-03", 5.0)];
    set_target(&app, &officer, &new_members, "HN-LB-BD", y, 40.0, &shares).await;
    member_days(&app, today, &[("HN-LB-BD-01", 13, 0), ("HN-LB-BD-02", 3, 0), ("HN-LB-BD-04", 7, 0)]).await;
    // A reported count (summed) and a reported rate (averaged), defined for Long Biên.
    let loans = indicator(&app, &officer, "HN-LB", "Hộ được vay vốn", "hộ", "SUM").await;
    set_target(&app, &officer, &loans, "HN-LB-BD", y, 30.0, &[("HN-LB-BD-01", 15.0)]).await;
    report(&app, &officer, &loans, "HN-LB-BD-01", y, 12.0).await;
    report(&app, &officer, &loans, "HN-LB-BD-02", y, 2.0).await;
    let rate = indicator(&app, &officer, "HN-LB", "Tỷ lệ sinh hoạt đều", "%", "AVERAGE").await;
    set_target(&app, &officer, &rate, "HN-LB-BD", y, 90.0, &[]).await;
    report(&app, &officer, &rate, "HN-LB-BD-01", y, 80.0).await;
    report(&app, &officer, &rate, "HN-LB-BD-02", y, 3.0).await;
    // An indicator of one branch, with its target there: not usable at the ward.
    let own = indicator(&app, &officer, "HN-LB-BD-04", "Chỉ tiêu riêng của chi hội", "buổi", "SUM").await;
    set_target(&app, &officer, &own, "HN-LB-BD-04", y, 12.0, &[]).await;

    let answer = targets_of(&app, &token, "HN-LB-BD", y).await.ok();
    let names: Vec<String> = answer["publicStatistics"]["targetProgress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| s(&e["indicator"]["name"]))
        .collect();
    // Computed first, then the reported ones as they were defined; not the branch's own.
    assert_eq!(names, ["Hội viên mới kết nạp", "Hộ được vay vốn", "Tỷ lệ sinh hoạt đều"]);
    let got = by_name(answer);

    // New members: targets as set; the actual withheld whatever it is (23, 13, 3, none, 7) —
    // the monthly figures are shown, and a period's total would give a hidden month back.
    let nm = &got["Hội viên mới kết nạp"];
    assert_eq!(nm["indicator"]["code"], json!("NEW_MEMBERS"));
    assert_eq!(figures(&nm["total"]), (Some(40.0), None, true, None));
    assert_eq!(figures(child_row(nm, "HN-LB-BD-01")), (Some(20.0), None, true, None));
    assert_eq!(figures(child_row(nm, "HN-LB-BD-02")), (Some(10.0), None, true, None));
    assert_eq!(child_row(nm, "HN-LB-BD-02")["actual"], json!({ "value": null, "suppressed": true }));
    assert_eq!(figures(child_row(nm, "HN-LB-BD-03")), (Some(5.0), None, true, None));
    assert_eq!(figures(child_row(nm, "HN-LB-BD-04")), (None, None, true, None));
    // A summed report is a count: 14 shows as 10, 12 as 10, 2 not at all.
    let loans = &got["Hộ được vay vốn"];
    assert_eq!(figures(&loans["total"]), (Some(30.0), Some(10.0), false, Some(10.0 / 30.0)));
    assert_eq!(loans["total"]["reportingUnits"], json!(2));
    assert_eq!(figures(child_row(loans, "HN-LB-BD-01")), (Some(15.0), Some(10.0), false, Some(10.0 / 15.0)));
    assert_eq!(figures(child_row(loans, "HN-LB-BD-02")), (None, None, true, None));
    // An averaged rate is not a count: shown as reported, small or not.
    let rate = &got["Tỷ lệ sinh hoạt đều"];
    assert_eq!(figures(&rate["total"]), (Some(90.0), Some(41.5), false, Some(41.5 / 90.0)));
    assert_eq!(figures(child_row(rate, "HN-LB-BD-02")), (None, Some(3.0), false, None));

    // The officer's own view has the exact figures and the branch's indicator; partners see the
    // branch's indicator only where it is usable, at the branch.
    let exact = app
        .gql(
            "query($u: ID!, $p: PeriodInput!) { targetProgress(unitId: $u, period: $p) { indicator { name } total { actual } } }",
            json!({ "u": app.unit_id("HN-LB-BD").await, "p": { "year": y } }),
            Some(&officer),
        )
        .await
        .ok();
    let exact: Vec<(String, f64)> = exact["targetProgress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (s(&e["indicator"]["name"]), e["total"]["actual"].as_f64().unwrap()))
        .collect();
    assert!(exact.contains(&("Hội viên mới kết nạp".to_owned(), 23.0)), "{exact:?}");
    assert!(exact.iter().any(|(n, _)| n == "Chỉ tiêu riêng của chi hội"), "{exact:?}");
    let branch = by_name(targets_of(&app, &token, "HN-LB-BD-04", y).await.ok());
    assert!(branch.contains_key("Chỉ tiêu riêng của chi hội"), "{branch:?}");
    // The officer previews exactly what the partner reads.
    let preview = by_name(targets_of(&app, &officer, "HN-LB-BD", y).await.ok());
    assert_eq!(preview, got);
    // Another year has no targets; outside the client's subtree is not there.
    assert!(by_name(targets_of(&app, &token, "HN-LB-BD", y + 1).await.ok()).is_empty());
    let outside = targets_of(&app, &token, "HN", y).await.expect_code("NOT_FOUND");
    assert!(outside.body["data"].is_null(), "{}", outside.body);
    let hk = targets_of(&app, &token, "HN-HK", y).await.expect_code("NOT_FOUND");
    assert!(hk.body["data"].is_null(), "{}", hk.body);
}

#[tokio::test]
async fn target_progress_for_partners_takes_the_same_statements_whatever_the_children_and_indicators() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let city = app.token(CITY_ADMIN).await;
    let client = register(&app, &admin, "HN", &["STATISTICS_READ"]).await;
    let token = client_token(&app, &client).await;
    // A district with 24 wards, beside Bồ Đề and its 4 branches.
    let create = "mutation($i: CreateOrgUnitInput!) { createOrgUnit(input: $i) { code } }";
    let hn = app.unit_id("HN").await;
    let district = json!({ "parentId": hn, "kind": "DISTRICT", "code": "HN-BIG", "name": "Quận Lớn" });
    app.gql(create, json!({ "i": district }), Some(&admin)).await.ok();
    let big = app.unit_id("HN-BIG").await;
    let wards: Vec<String> = (1..=24).map(|n| format!("HN-BIG-{n:02}")).collect();
    for code in &wards {
        let ward = json!({ "parentId": big, "kind": "BASE", "code": code, "name": format!("Phường {code}") });
        app.gql(create, json!({ "i": ward }), Some(&admin)).await.ok();
    }
    let reported = indicator(&app, &city, "HN", "Số câu lạc bộ", "câu lạc bộ", "SUM").await;
    let all = [computed(1), computed(2), computed(3), reported.clone()];
    let y = this_year();
    // Year y: new members only; year y + 1: all four, for the units and every child.
    for (code, children) in [
        ("HN-LB-BD", vec!["HN-LB-BD-01", "HN-LB-BD-02", "HN-LB-BD-03", "HN-LB-BD-04"]),
        ("HN-BIG", wards.iter().map(String::as_str).collect()),
    ] {
        let shares: Vec<(&str, f64)> = children.iter().map(|c| (*c, 2.0)).collect();
        set_target(&app, &city, &all[0], code, y, 100.0, &shares).await;
        for ind in &all {
            set_target(&app, &city, ind, code, y + 1, 100.0, &shares).await;
        }
        report(&app, &city, &reported, children[0], y + 1, 50.0).await;
    }

    let mut counts = Vec::new();
    for (code, children) in [("HN-LB-BD", 4), ("HN-BIG", 24)] {
        for (year, indicators) in [(y, 1), (y + 1, 4)] {
            // The fewest of a few runs, like the other statement counts (the first computes the
            // month's figures, which are then kept).
            let mut fewest = u64::MAX;
            let mut answer = Value::Null;
            for _ in 0..3 {
                let before = app.statements();
                answer = targets_of(&app, &token, code, year).await.ok();
                fewest = fewest.min(app.statements() - before);
            }
            counts.push(fewest);
            let list = answer["publicStatistics"]["targetProgress"].as_array().unwrap();
            assert_eq!(list.len(), indicators, "{code} {year}");
            assert!(list.iter().all(|e| e["children"].as_array().unwrap().len() == children));
        }
    }
    // publicStatistics's own five (its month's figures kept), then targetProgress's six: the
    // subtree check, the unit, the children, the targets, the indicators, the actuals.
    assert!(counts.iter().all(|&c| c == counts[0] && c <= 11), "{counts:?}");
}
