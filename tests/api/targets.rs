//! Targets (chỉ tiêu): a target divided down a four-level tree and who may change what, the
//! computed indicators against the figures they come from (member and training statistics, the
//! activity counters), a moved ward, reported values with their history and roll-up, races
//! between reports, and the statement count of `targetProgress`.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

const PASSWORD: &str = "sen-hong-2026";

const SET: &str = "mutation($i: SetTargetInput!) { setTarget(input: $i) { \
    target { value assignedByParent unit { code } period { fromYear toYear } indicator { code } setBy { fullName } } \
    shares { value assignedByParent unit { code } } } }";
const PROGRESS: &str = "query($u: ID!, $p: PeriodInput!, $ids: [ID!]) { \
    targetProgress(unitId: $u, period: $p, indicatorIds: $ids) { \
    indicator { id code kind aggregation } childrenTargetSum unallocated \
    total { unit { code } target actual attainment reportingUnits } \
    children { unit { code } target actual attainment reportingUnits } } }";
const CREATE_INDICATOR: &str = "mutation($u: ID!, $i: CreateIndicatorInput!) { createIndicator(unitId: $u, input: $i) { \
    id code kind name unitOfMeasure aggregation unit { code } } }";
const INDICATORS: &str = "query($u: ID!) { indicators(unitId: $u) { id code kind name unit { code } } }";
const NODE: &str = "query($id: ID!) { node(id: $id) { ... on Indicator { id name kind } } }";
const REPORT: &str = "mutation($i: ReportIndicatorValueInput!) { reportIndicatorValue(input: $i) { \
    value note current reportedAt reportedBy { fullName } unit { code } period { fromYear toYear } } }";
const HISTORY: &str = "query($ind: ID!, $u: ID!, $p: PeriodInput!, $first: Int, $after: String) { \
    indicatorValueHistory(indicatorId: $ind, unitId: $u, period: $p, first: $first, after: $after) { \
    pageInfo { hasNextPage endCursor } nodes { value note current reportedAt reportedBy { fullName } } } }";
const MEMBER_STATS: &str = "query($u: ID!, $f: Date!, $t: Date!) { memberStatistics(unitId: $u, from: $f, to: $t) { \
    total { unit { code } newMembers } children { unit { code } newMembers } } }";
const TRAINING_STATS: &str = "query($u: ID!, $f: Date!, $t: Date!) { trainingStatistics(unitId: $u, from: $f, to: $t) { \
    total { unit { code } attendances } children { unit { code } attendances } } }";

// ---- helpers ----

async fn spawn() -> TestApp {
    spawn_app_with(&[("APP_REGISTER_MAX_PER_ADDRESS", "1000")]).await
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

fn uuid_of(global: &str) -> Uuid {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(global).expect("global id");
    let raw = String::from_utf8(raw).expect("utf-8 id");
    raw.split_once(':').expect("kind:uuid").1.parse().expect("uuid")
}

/// The global id of a computed indicator (1 new members, 2 people trained, 3 households).
fn computed(n: u128) -> String {
    global_id("Indicator", Uuid::from_u128(n))
}

/// The current year in Hanoi, and its first and last day.
fn this_year() -> (i32, String, String) {
    let year = (Utc::now() + Duration::hours(7)).year();
    (year, format!("{year}-01-01"), format!("{year}-12-31"))
}

fn year(y: i32) -> Value {
    json!({ "year": y })
}

fn phone(n: u32) -> String {
    format!("0966{n:06}")
}

fn name(n: u32) -> String {
    const GIVEN: [&str; 8] = ["An", "Bình", "Chi", "Dung", "Hà", "Hoa", "Lan", "Mai"];
    format!("Ngô Thị {}", GIVEN[n as usize % 8])
}

/// Enrols the n-th test person in branch `code` (by the city's admin `city`).
async fn enrol(app: &TestApp, city: &str, n: u32, code: &str) {
    let branch = app.unit_id(code).await;
    app.gql(
        "mutation($i: EnrolMemberInput!) { enrolMember(input: $i) { id } }",
        json!({ "i": { "fullName": name(n), "phone": phone(n), "branchId": branch } }),
        Some(city),
    )
    .await
    .ok();
}

/// Enrols the n-th test person and gives her an account; returns her token.
async fn member(app: &TestApp, city: &str, n: u32, code: &str) -> String {
    enrol(app, city, n, code).await;
    app.register(&phone(n), &name(n), PASSWORD).await.0
}

/// The n-th test person asks to join branch `code` and `decider` approves.
async fn join_by_request(app: &TestApp, decider: &str, n: u32, code: &str) {
    let token = app.register(&phone(n), &name(n), PASSWORD).await.0;
    let branch = app.unit_id(code).await;
    let req = app
        .gql(
            "mutation($i: RequestMembershipInput!) { requestMembership(input: $i) { id } }",
            json!({ "i": { "branchId": branch } }),
            Some(&token),
        )
        .await
        .ok();
    let decided = app
        .gql(
            "mutation($id: ID!) { approveMembershipRequest(id: $id) { status } }",
            json!({ "id": req["requestMembership"]["id"] }),
            Some(decider),
        )
        .await
        .ok();
    assert_eq!(decided["approveMembershipRequest"]["status"], "APPROVED");
}

/// A new person (the n-th) holding `role` at `code`; returns her token.
async fn officer(app: &TestApp, city: &str, n: u32, code: &str, role: &str) -> String {
    let token = app.register(&phone(n), &name(n), PASSWORD).await.0;
    let unit = app.unit_id(code).await;
    app.gql(
        "mutation($i: AssignOfficerRoleInput!) { assignOfficerRole(input: $i) { id } }",
        json!({ "i": { "phone": phone(n), "unitId": unit, "role": role } }),
        Some(city),
    )
    .await
    .ok();
    token
}

async fn set_with(
    app: &TestApp,
    token: &str,
    indicator: &str,
    code: &str,
    period: Value,
    value: Option<f64>,
    shares: &[(&str, f64)],
) -> Gql {
    let mut list = Vec::new();
    for (child, v) in shares {
        list.push(json!({ "unitId": app.unit_id(child).await, "value": v }));
    }
    let input = json!({
        "indicatorId": indicator,
        "unitId": app.unit_id(code).await,
        "period": period,
        "value": value,
        "shares": list,
    });
    app.gql(SET, json!({ "i": input }), Some(token)).await
}

/// `setTarget`, which must succeed; returns its result.
async fn set(
    app: &TestApp,
    token: &str,
    indicator: &str,
    code: &str,
    period: Value,
    value: Option<f64>,
    shares: &[(&str, f64)],
) -> Value {
    set_with(app, token, indicator, code, period, value, shares).await.ok()["setTarget"].clone()
}

async fn progress_of(app: &TestApp, token: &str, code: &str, period: Value, ids: &[&String]) -> Gql {
    app.gql(PROGRESS, json!({ "u": app.unit_id(code).await, "p": period, "ids": ids }), Some(token)).await
}

/// `targetProgress`, which must succeed.
async fn progress(app: &TestApp, token: &str, code: &str, period: Value, ids: &[&String]) -> Vec<Value> {
    let data = progress_of(app, token, code, period, ids).await.ok();
    data["targetProgress"].as_array().expect("list").clone()
}

/// The entry of one indicator (by global id) in a progress list.
fn entry<'a>(list: &'a [Value], indicator: &str) -> &'a Value {
    list.iter()
        .find(|e| e["indicator"]["id"] == indicator)
        .unwrap_or_else(|| panic!("no {indicator} in {list:?}"))
}

fn child<'a>(entry: &'a Value, code: &str) -> &'a Value {
    entry["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["unit"]["code"] == code)
        .unwrap_or_else(|| panic!("no child {code} in {entry}"))
}

fn codes(entry: &Value) -> Vec<String> {
    entry["children"].as_array().unwrap().iter().map(|c| s(&c["unit"]["code"])).collect()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

async fn target_rows(app: &TestApp) -> u64 {
    entities::target::Entity::find().count(&app.state.db).await.unwrap()
}

async fn create_indicator(
    app: &TestApp,
    token: &str,
    code: &str,
    name: &str,
    measure: &str,
    agg: &str,
) -> Gql {
    let input = json!({ "name": name, "unitOfMeasure": measure, "aggregation": agg });
    app.gql(CREATE_INDICATOR, json!({ "u": app.unit_id(code).await, "i": input }), Some(token)).await
}

/// Defines a reported indicator; returns its id.
async fn reported_indicator(app: &TestApp, token: &str, code: &str, name: &str, agg: &str) -> String {
    s(&create_indicator(app, token, code, name, "đơn vị", agg).await.ok()["createIndicator"]["id"])
}

async fn report_with(
    app: &TestApp,
    token: &str,
    indicator: &str,
    code: &str,
    period: Value,
    value: f64,
    note: Option<&str>,
) -> Gql {
    let input = json!({
        "indicatorId": indicator,
        "unitId": app.unit_id(code).await,
        "period": period,
        "value": value,
        "note": note,
    });
    app.gql(REPORT, json!({ "i": input }), Some(token)).await
}

/// Reports a value, which must succeed; returns it.
async fn report(app: &TestApp, token: &str, indicator: &str, code: &str, period: Value, value: f64) -> Value {
    report_with(app, token, indicator, code, period, value, None).await.ok()["reportIndicatorValue"].clone()
}

async fn history_page(
    app: &TestApp,
    token: &str,
    indicator: &str,
    code: &str,
    period: Value,
    first: Option<i64>,
    after: Option<&str>,
) -> Gql {
    let vars = json!({ "ind": indicator, "u": app.unit_id(code).await, "p": period, "first": first, "after": after });
    app.gql(HISTORY, vars, Some(token)).await
}

/// The whole history (at most 100 values), newest first.
async fn history(app: &TestApp, token: &str, indicator: &str, code: &str, period: Value) -> Vec<Value> {
    let data = history_page(app, token, indicator, code, period, Some(100), None).await.ok();
    data["indicatorValueHistory"]["nodes"].as_array().unwrap().clone()
}

async fn move_unit(app: &TestApp, token: &str, code: &str, new_parent: &str) {
    let input = json!({ "id": app.unit_id(code).await, "newParentId": app.unit_id(new_parent).await });
    app.gql(
        "mutation($i: MoveOrgUnitInput!) { moveOrgUnit(input: $i) { code } }",
        json!({ "i": input }),
        Some(token),
    )
    .await
    .ok();
}

/// Adds to the households-certified counter of a unit (and every unit above it) through the
/// service function, as certifying a household pledge does. (The pledge API is built in another
/// branch; once merged, these tests can certify pledges instead.)
async fn certify_households(app: &TestApp, code: &str, day: NaiveDate, households: i64) {
    use api::service::campaigns::activity::{self, Metric};
    let unit = uuid_of(&app.unit_id(code).await);
    let txn = app.state.db.begin().await.unwrap();
    activity::record(&txn, unit, Metric::HouseholdsCertified, day, households).await.unwrap();
    txn.commit().await.unwrap();
}

fn hanoi_today() -> NaiveDate {
    (Utc::now() + Duration::hours(7)).date_naive()
}

// ---- dividing targets ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_city_target_is_divided_down_to_the_branches() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let ward = officer(&app, &city, 1, "HN-LB-BD", "UNIT_OFFICER").await;
    let nm = computed(1);
    let (y, _, _) = this_year();

    // The city's admin sets the city's target and gives two districts their shares.
    let r = set(&app, &city, &nm, "HN", year(y), Some(1000.0), &[("HN-LB", 300.0), ("HN-HK", 200.0)]).await;
    assert_eq!(r["target"]["value"], 1000.0);
    assert_eq!(r["target"]["assignedByParent"], false, "nobody stands above the city");
    assert_eq!(r["target"]["period"], json!({ "fromYear": y, "toYear": y }));
    assert_eq!(r["target"]["indicator"]["code"], "NEW_MEMBERS");
    assert_eq!(r["target"]["setBy"]["fullName"], "Nguyễn Thị Quản Trị");
    assert_eq!(
        r["shares"],
        json!([
            { "value": 300.0, "assignedByParent": true, "unit": { "code": "HN-LB" } },
            { "value": 200.0, "assignedByParent": true, "unit": { "code": "HN-HK" } },
        ])
    );
    let p = progress(&app, &city, "HN", year(y), &[]).await;
    assert_eq!(p.len(), 1, "{p:?}");
    let e = entry(&p, &nm);
    assert_eq!(e["indicator"]["code"], "NEW_MEMBERS");
    assert_eq!((e["total"]["target"].clone(), e["childrenTargetSum"].clone()), (json!(1000.0), json!(500.0)));
    assert_eq!(e["unallocated"], 500.0);
    assert_eq!(codes(e).len(), 6, "every district, with or without a share");
    assert_eq!(child(e, "HN-LB")["target"], 300.0);
    assert_eq!(child(e, "HN-HK")["target"], 200.0);
    assert_eq!(child(e, "HN-BD")["target"], Value::Null);
    assert_eq!(child(e, "HN-BD")["attainment"], Value::Null);
    assert_eq!(e["total"]["attainment"], 0.0, "no new member yet");
    assert_eq!(e["total"]["reportingUnits"], Value::Null, "computed indicators have no reporters");

    // The district's officer does not rewrite what the city gave her, not even along with shares…
    set_with(&app, &lb, &nm, "HN-LB", year(y), Some(400.0), &[]).await.expect_code("FORBIDDEN");
    set_with(&app, &lb, &nm, "HN-LB", year(y), Some(400.0), &[("HN-LB-BD", 1.0)])
        .await
        .expect_code("FORBIDDEN");
    // …but divides it among her wards; the shares need not add up.
    let r = set(
        &app,
        &lb,
        &nm,
        "HN-LB",
        year(y),
        None,
        &[("HN-LB-BD", 120.0), ("HN-LB-GT", 150.0), ("HN-LB-NL", 60.0)],
    )
    .await;
    assert_eq!(r["target"]["value"], 300.0, "the district's own target is left as it is");
    assert_eq!(r["target"]["assignedByParent"], true);
    let e = progress(&app, &lb, "HN-LB", year(y), &[]).await[0].clone();
    assert_eq!(e["total"]["target"], 300.0);
    assert_eq!(e["childrenTargetSum"], 330.0);
    assert_eq!(e["unallocated"], -30.0);
    assert_eq!(codes(&e).len(), 5);
    // Writing a share again replaces it.
    set(&app, &lb, &nm, "HN-LB", year(y), None, &[("HN-LB-NL", 20.0)]).await;
    let e = progress(&app, &lb, "HN-LB", year(y), &[]).await[0].clone();
    assert_eq!((e["childrenTargetSum"].clone(), e["unallocated"].clone()), (json!(290.0), json!(10.0)));
    assert_eq!(child(&e, "HN-LB-NL")["target"], 20.0);

    // The ward's officer in turn divides her ward's target among its branches (level four).
    set_with(&app, &ward, &nm, "HN-LB-BD", year(y), Some(1.0), &[]).await.expect_code("FORBIDDEN");
    set(
        &app,
        &ward,
        &nm,
        "HN-LB-BD",
        year(y),
        None,
        &[("HN-LB-BD-01", 40.0), ("HN-LB-BD-02", 40.0), ("HN-LB-BD-03", 30.0)],
    )
    .await;
    let e = progress(&app, &ward, "HN-LB-BD", year(y), &[]).await[0].clone();
    assert_eq!(codes(&e), ["HN-LB-BD-01", "HN-LB-BD-02", "HN-LB-BD-03", "HN-LB-BD-04"]);
    assert_eq!(e["total"]["target"], 120.0);
    assert_eq!((e["childrenTargetSum"].clone(), e["unallocated"].clone()), (json!(110.0), json!(10.0)));
    assert_eq!(child(&e, "HN-LB-BD-04")["target"], Value::Null);
    // The city sees the districts only; the district sees its wards with their own targets.
    let e = progress(&app, &city, "HN-LB", year(y), &[]).await[0].clone();
    assert_eq!(child(&e, "HN-LB-BD")["target"], 120.0);

    // Above the unit, its target can be rewritten: the district's officer for the ward, the
    // city for the district (the value then counts as assigned).
    let r = set(&app, &lb, &nm, "HN-LB-BD", year(y), Some(125.0), &[]).await;
    assert_eq!(
        (r["target"]["value"].clone(), r["target"]["assignedByParent"].clone()),
        (json!(125.0), json!(true))
    );
    let r = set(&app, &city, &nm, "HN-LB", year(y), Some(320.0), &[]).await;
    assert_eq!(r["target"]["value"], 320.0);

    // A target the district set herself (not assigned) she may change, until the city assigns one.
    let next = y + 1;
    let r = set(&app, &lb, &nm, "HN-LB", year(next), Some(50.0), &[]).await;
    assert_eq!(
        (r["target"]["value"].clone(), r["target"]["assignedByParent"].clone()),
        (json!(50.0), json!(false))
    );
    assert_eq!(set(&app, &lb, &nm, "HN-LB", year(next), Some(55.0), &[]).await["target"]["value"], 55.0);
    set(&app, &city, &nm, "HN", year(next), None, &[("HN-LB", 60.0)]).await;
    set_with(&app, &lb, &nm, "HN-LB", year(next), Some(70.0), &[]).await.expect_code("FORBIDDEN");
    let e = progress(&app, &lb, "HN-LB", year(next), &[]).await[0].clone();
    assert_eq!(e["total"]["target"], 60.0);
    assert_eq!(e["unallocated"], 60.0, "no ward has a share for that year");

    // A term is a period of its own: its target does not mix with the years'.
    let term = json!({ "fromYear": 2021, "toYear": 2026 });
    set(&app, &city, &nm, "HN", term.clone(), Some(5000.0), &[]).await;
    assert_eq!(progress(&app, &city, "HN", year(y), &[]).await[0]["total"]["target"], 1000.0);
    assert_eq!(progress(&app, &city, "HN", term, &[]).await[0]["total"]["target"], 5000.0);
    // A period with no target and nothing asked: no entry.
    assert!(progress(&app, &city, "HN", year(2031), &[]).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_targets_needs_a_managing_role_over_the_unit_and_valid_input() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let case = app.token(BD_CASE_OFFICER).await;
    let stranger = app.token(MEMBER).await;
    let hk = officer(&app, &city, 1, "HN-HK", "UNIT_OFFICER").await;
    let nm = computed(1);
    let y = year(this_year().0);
    let hk_indicator = reported_indicator(&app, &hk, "HN-HK", "Tỷ lệ chi hội vững mạnh", "AVERAGE").await;
    let before = target_rows(&app).await;

    // Out of reach: NOT_FOUND, as for any unit she cannot see.
    for (token, code) in
        [(&lb, "HN-HK"), (&lb, "HN"), (&hk, "HN-LB-BD"), (&stranger, "HN-LB"), (&leader, "HN-LB-BD")]
    {
        set_with(&app, token, &nm, code, y.clone(), Some(10.0), &[]).await.expect_code("NOT_FOUND");
    }
    // In reach with another role: FORBIDDEN (a branch leader does not set targets).
    set_with(&app, &case, &nm, "HN-LB-BD", y.clone(), Some(10.0), &[]).await.expect_code("FORBIDDEN");
    set_with(&app, &leader, &nm, "HN-LB-BD-01", y.clone(), Some(10.0), &[]).await.expect_code("FORBIDDEN");
    let anon = app
        .gql(
            SET,
            json!({ "i": { "indicatorId": nm, "unitId": app.unit_id("HN-LB").await, "period": y, "value": 1.0 } }),
            None,
        )
        .await;
    anon.expect_code("UNAUTHENTICATED");

    // Shares go to direct children only: not a grandchild, another district's ward, the unit
    // itself or its parent. Nothing of the call is written.
    for code in ["HN-LB-BD-01", "HN-HK-HB", "HN-LB", "HN"] {
        let g =
            set_with(&app, &lb, &nm, "HN-LB", y.clone(), Some(10.0), &[("HN-LB-BD", 5.0), (code, 1.0)]).await;
        let g = g.expect_reason("BAD_USER_INPUT", "NOT_A_CHILD");
        assert_eq!(g.field(), Some("input.shares"));
    }
    let g = set_with(&app, &lb, &nm, "HN-LB", y.clone(), None, &[("HN-LB-BD", 1.0), ("HN-LB-BD", 2.0)]).await;
    assert_eq!((g.code(), g.field()), (Some("BAD_USER_INPUT"), Some("input.shares")), "a duplicate share");
    let g = set_with(&app, &lb, &nm, "HN-LB", y.clone(), Some(-1.0), &[]).await;
    assert_eq!((g.field(), g.reason()), (Some("input.value"), Some("OUT_OF_RANGE")));
    let g = set_with(&app, &lb, &nm, "HN-LB", y.clone(), None, &[("HN-LB-BD", -0.5)]).await;
    assert_eq!((g.field(), g.reason()), (Some("input.shares"), Some("OUT_OF_RANGE")));
    let g = set_with(&app, &lb, &nm, "HN-LB", y.clone(), None, &[("HN-LB-BD", 1.0)]).await;
    assert!(!g.has_errors(), "shares alone are fine: {}", g.body);
    let periods = [
        (json!({}), "EXACTLY_ONE"),
        (json!({ "year": 2026, "fromYear": 2021, "toYear": 2026 }), "EXACTLY_ONE"),
        (json!({ "fromYear": 2021 }), "EXACTLY_ONE"),
        (json!({ "year": 2026, "toYear": 2026 }), "EXACTLY_ONE"),
        (json!({ "year": 1999 }), "OUT_OF_RANGE"),
        (json!({ "year": 2101 }), "OUT_OF_RANGE"),
        (json!({ "fromYear": 2026, "toYear": 2021 }), "OUT_OF_RANGE"),
        (json!({ "fromYear": 2021, "toYear": 2031 }), "OUT_OF_RANGE"),
    ];
    for (period, reason) in &periods {
        let g = set_with(&app, &lb, &nm, "HN-LB", period.clone(), Some(1.0), &[]).await;
        assert_eq!(
            (g.code(), g.field(), g.reason()),
            (Some("BAD_USER_INPUT"), Some("input.period"), Some(*reason)),
            "{period}"
        );
        let g = progress_of(&app, &lb, "HN-LB", period.clone(), &[]).await;
        assert_eq!((g.field(), g.reason()), (Some("period"), Some(*reason)), "{period}");
    }
    // Ten years is the longest term.
    set(&app, &lb, &nm, "HN-LB", json!({ "fromYear": 2021, "toYear": 2030 }), Some(1.0), &[]).await;
    // An indicator defined for another district's subtree, or none at all: NOT_FOUND.
    set_with(&app, &lb, &hk_indicator, "HN-LB", y.clone(), Some(1.0), &[]).await.expect_code("NOT_FOUND");
    let unknown = global_id("Indicator", Uuid::now_v7());
    set_with(&app, &lb, &unknown, "HN-LB", y.clone(), Some(1.0), &[]).await.expect_code("NOT_FOUND");
    let g = set_with(&app, &lb, &app.unit_id("HN").await, "HN-LB", y.clone(), Some(1.0), &[]).await;
    assert_eq!((g.field(), g.reason()), (Some("input.indicatorId"), Some("INVALID_ID")));
    // In the other district it is usable.
    set(&app, &hk, &hk_indicator, "HN-HK", y.clone(), Some(80.0), &[("HN-HK-HB", 85.0)]).await;
    assert_eq!(target_rows(&app).await, before + 4, "only the accepted calls wrote targets");
}

// ---- computed indicators ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_members_match_member_statistics() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let nm = computed(1);
    // Enrolled in branches of three wards of Long Biên and one of Hoàn Kiếm, and one who asked
    // to join a Ngọc Lâm branch and was approved.
    for (n, code) in
        [(1, "HN-LB-BD-01"), (2, "HN-LB-BD-01"), (3, "HN-LB-BD-02"), (4, "HN-LB-GT-01"), (5, "HN-HK-HB-01")]
    {
        enrol(&app, &city, n, code).await;
    }
    join_by_request(&app, &lb, 6, "HN-LB-NL-01").await;
    let (y, from, to) = this_year();
    set(&app, &lb, &nm, "HN-LB", year(y), Some(10.0), &[]).await;

    for code in ["HN", "HN-LB", "HN-LB-BD", "HN-LB-BD-01"] {
        let p = progress(&app, &city, code, year(y), &[&nm]).await;
        let e = entry(&p, &nm);
        let stats = app
            .gql(MEMBER_STATS, json!({ "u": app.unit_id(code).await, "f": from, "t": to }), Some(&city))
            .await
            .ok();
        let stats = &stats["memberStatistics"];
        assert_eq!(f(&e["total"]["actual"]), f(&stats["total"]["newMembers"]), "{code}");
        let children = stats["children"].as_array().unwrap();
        assert_eq!(codes(e).len(), children.len());
        for c in children {
            let code = s(&c["unit"]["code"]);
            assert_eq!(f(&child(e, &code)["actual"]), f(&c["newMembers"]), "{code}");
        }
    }
    let e = progress(&app, &lb, "HN-LB", year(y), &[]).await[0].clone();
    assert_eq!(e["total"]["actual"], 5.0);
    assert!(close(f(&e["total"]["attainment"]), 0.5), "{e}");
    assert_eq!(child(&e, "HN-LB-BD")["actual"], 3.0);
    assert_eq!(child(&e, "HN-LB-NL")["actual"], 1.0);
    assert_eq!(child(&e, "HN-LB-DG")["actual"], 0.0);
    assert_eq!(progress(&app, &city, "HN", year(y), &[&nm]).await[0]["total"]["actual"], 6.0);
    // Nobody joined last year.
    assert_eq!(progress(&app, &city, "HN", year(y - 1), &[&nm]).await[0]["total"]["actual"], 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_trained_match_training_attendances_and_households_the_activity_counters() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let sysadmin = app.token(SYSADMIN).await;
    let pt = computed(2);
    let hh = computed(3);
    let (y, from, to) = this_year();

    // Trainings of a ward, a branch of another ward, the district, and another district's ward.
    let training = |title: &str| {
        let starts = Utc::now() + Duration::hours(1);
        json!({
            "title": title, "category": "LEGAL", "place": "Nhà văn hoá",
            "startsAt": starts.to_rfc3339(), "endsAt": (starts + Duration::hours(3)).to_rfc3339(),
        })
    };
    let mut next = 10;
    let mut trainings = Vec::new();
    for (token, unit, people) in [
        (&lb, "HN-LB-BD", vec!["HN-LB-BD-01", "HN-LB-BD-02", "HN-LB-BD-02"]),
        (&lb, "HN-LB-GT-01", vec!["HN-LB-GT-01"]),
        (&lb, "HN-LB", vec!["HN-LB-NL-01", "HN-LB-BD-03"]),
        (&sysadmin, "HN-HK-HB", vec!["HN-HK-HB-02"]),
    ] {
        let created = app
            .gql(
                "mutation($u: ID!, $i: TrainingInput!) { createTraining(unitId: $u, input: $i) { id } }",
                json!({ "u": app.unit_id(unit).await, "i": training(unit) }),
                Some(token),
            )
            .await
            .ok();
        let id = s(&created["createTraining"]["id"]);
        app.gql("mutation($id: ID!) { publishTraining(id: $id) { id } }", json!({ "id": id }), Some(token))
            .await
            .ok();
        for branch in people {
            let who = member(&app, &city, next, branch).await;
            next += 1;
            let reg = app
                .gql(
                    "mutation($id: ID!) { registerForTraining(trainingId: $id) { id } }",
                    json!({ "id": id }),
                    Some(&who),
                )
                .await
                .ok();
            app.gql(
                "mutation($r: ID!) { checkInManually(registrationId: $r) { alreadyCheckedIn } }",
                json!({ "r": reg["registerForTraining"]["id"] }),
                Some(token),
            )
            .await
            .ok();
        }
        trainings.push(id);
    }
    // Households certified: through the activity counters (see `certify_households`).
    let today = hanoi_today();
    certify_households(&app, "HN-LB-BD-01", today, 3).await;
    certify_households(&app, "HN-LB-GT-02", today, 2).await;
    certify_households(&app, "HN-HK-HB-01", today, 5).await;
    certify_households(&app, "HN-LB-BD-01", NaiveDate::from_ymd_opt(y - 1, 6, 1).unwrap(), 7).await;

    let check = |label: &'static str| {
        let (app, city, pt, from, to) = (&app, &city, &pt, &from, &to);
        async move {
            for code in ["HN", "HN-LB", "HN-LB-BD"] {
                let p = progress(app, city, code, year(y), &[pt]).await;
                let e = entry(&p, pt);
                let stats = app
                    .gql(
                        TRAINING_STATS,
                        json!({ "u": app.unit_id(code).await, "f": from, "t": to }),
                        Some(city),
                    )
                    .await
                    .ok();
                let stats = &stats["trainingStatistics"];
                assert_eq!(f(&e["total"]["actual"]), f(&stats["total"]["attendances"]), "{label} {code}");
                for c in stats["children"].as_array().unwrap() {
                    let code = s(&c["unit"]["code"]);
                    assert_eq!(f(&child(e, &code)["actual"]), f(&c["attendances"]), "{label} {code}");
                }
            }
        }
    };
    check("held").await;
    let p = progress(&app, &city, "HN-LB", year(y), &[&pt, &hh]).await;
    assert_eq!(entry(&p, &pt)["total"]["actual"], 6.0);
    assert_eq!(
        child(entry(&p, &pt), "HN-LB-BD")["actual"],
        3.0,
        "the district's training counts above the ward only"
    );
    let households = entry(&p, &hh);
    assert_eq!(households["total"]["actual"], 5.0);
    assert_eq!(child(households, "HN-LB-BD")["actual"], 3.0);
    assert_eq!(child(households, "HN-LB-GT")["actual"], 2.0);
    let p = progress(&app, &city, "HN", year(y), &[&hh]).await;
    assert_eq!(
        (p[0]["total"]["actual"].clone(), child(&p[0], "HN-HK")["actual"].clone()),
        (json!(10.0), json!(5.0))
    );
    let p = progress(&app, &city, "HN", year(y - 1), &[&hh]).await;
    assert_eq!(p[0]["total"]["actual"], 7.0, "last year's households count in last year");
    let term = json!({ "fromYear": y - 1, "toYear": y });
    assert_eq!(progress(&app, &city, "HN", term, &[&hh]).await[0]["total"]["actual"], 17.0);

    // A cancelled training trains nobody, in both.
    app.gql(
        "mutation($id: ID!) { cancelTraining(id: $id, reason: \"Trùng lịch\") { status } }",
        json!({ "id": trainings[0] }),
        Some(&lb),
    )
    .await
    .ok();
    check("after a cancellation").await;
    assert_eq!(progress(&app, &city, "HN-LB", year(y), &[&pt]).await[0]["total"]["actual"], 3.0);
}

// ---- a moved unit ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_ward_takes_its_figures_along_and_keeps_its_targets_and_history() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let (nm, pt, hh) = (computed(1), computed(2), computed(3));
    let (y, from, to) = this_year();
    // A reported indicator of the city's, so that it stays usable wherever the ward goes.
    let rated = reported_indicator(&app, &city, "HN", "Số câu lạc bộ", "SUM").await;

    // Bồ Đề: three new members, one attendance, four households, its own value and a branch's.
    for (n, code) in [(1, "HN-LB-BD-01"), (2, "HN-LB-BD-02"), (3, "HN-LB-GT-01"), (4, "HN-LB-GT-01")] {
        enrol(&app, &city, n, code).await;
    }
    let learner = member(&app, &city, 5, "HN-LB-BD-03").await;
    let starts = Utc::now() + Duration::hours(1);
    let t = app
        .gql(
            "mutation($u: ID!, $i: TrainingInput!) { createTraining(unitId: $u, input: $i) { id } }",
            json!({ "u": app.unit_id("HN-LB-BD").await, "i": {
                "title": "Kỹ năng số", "category": "DIGITAL_SKILLS", "place": "Nhà văn hoá",
                "startsAt": starts.to_rfc3339(), "endsAt": (starts + Duration::hours(2)).to_rfc3339() } }),
            Some(&lb),
        )
        .await
        .ok();
    let t = s(&t["createTraining"]["id"]);
    app.gql("mutation($id: ID!) { publishTraining(id: $id) { id } }", json!({ "id": t }), Some(&lb))
        .await
        .ok();
    let reg = app
        .gql(
            "mutation($id: ID!) { registerForTraining(trainingId: $id) { id } }",
            json!({ "id": t }),
            Some(&learner),
        )
        .await
        .ok();
    app.gql(
        "mutation($r: ID!) { checkInManually(registrationId: $r) { alreadyCheckedIn } }",
        json!({ "r": reg["registerForTraining"]["id"] }),
        Some(&lb),
    )
    .await
    .ok();
    certify_households(&app, "HN-LB-BD-04", hanoi_today(), 4).await;
    certify_households(&app, "HN-LB-GT-02", hanoi_today(), 2).await;
    report(&app, &lb, &rated, "HN-LB-BD", year(y), 5.0).await;
    report(&app, &lb, &rated, "HN-LB-BD", year(y), 6.0).await;
    report(&app, &lb, &rated, "HN-LB-BD-01", year(y), 2.0).await;
    report(&app, &lb, &rated, "HN-LB-GT", year(y), 4.0).await;
    // Targets: the city gives Long Biên its share; Long Biên divides it.
    set(&app, &city, &nm, "HN", year(y), Some(100.0), &[("HN-LB", 60.0), ("HN-HK", 30.0)]).await;
    set(&app, &lb, &nm, "HN-LB", year(y), None, &[("HN-LB-BD", 40.0), ("HN-LB-GT", 15.0)]).await;
    set(&app, &lb, &rated, "HN-LB", year(y), None, &[("HN-LB-BD", 10.0)]).await;

    let ids = [&nm, &pt, &hh, &rated];
    let lb_before = progress(&app, &city, "HN-LB", year(y), &ids).await;
    assert_eq!(entry(&lb_before, &nm)["total"]["actual"], 5.0);
    assert_eq!(entry(&lb_before, &pt)["total"]["actual"], 1.0);
    assert_eq!(entry(&lb_before, &hh)["total"]["actual"], 6.0);
    assert_eq!(entry(&lb_before, &rated)["total"]["actual"], 12.0);
    assert_eq!(entry(&lb_before, &rated)["total"]["reportingUnits"], 3);
    let bd_before = child(entry(&lb_before, &nm), "HN-LB-BD").clone();
    assert_eq!((bd_before["target"].clone(), bd_before["actual"].clone()), (json!(40.0), json!(3.0)));
    let hk_before = progress(&app, &city, "HN-HK", year(y), &ids).await;
    let city_before = progress(&app, &city, "HN", year(y), &ids).await;
    let history_before = history(&app, &city, &rated, "HN-LB-BD", year(y)).await;

    move_unit(&app, &city, "HN-LB-BD", "HN-HK").await;

    let lb_after = progress(&app, &city, "HN-LB", year(y), &ids).await;
    let hk_after = progress(&app, &city, "HN-HK", year(y), &ids).await;
    // (figure of Bồ Đề moved) per indicator: new members 3, attendance 1, households 4, reported 8.
    for (ind, moved) in [(&nm, 3.0), (&pt, 1.0), (&hh, 4.0), (&rated, 8.0)] {
        let total = |list: &[Value]| f(&entry(list, ind)["total"]["actual"]);
        assert!(close(total(&lb_after), total(&lb_before) - moved), "Long Biên, {ind}");
        assert!(close(total(&hk_after), total(&hk_before) + moved), "Hoàn Kiếm, {ind}");
        assert!(codes(entry(&lb_after, ind)).iter().all(|c| c != "HN-LB-BD"));
        let bd = child(entry(&hk_after, ind), "HN-LB-BD");
        assert!(close(f(&bd["actual"]), moved), "Bồ Đề under Hoàn Kiếm, {ind}: {bd}");
    }
    assert_eq!(entry(&lb_after, &rated)["total"]["reportingUnits"], 1);
    assert_eq!(entry(&hk_after, &rated)["total"]["reportingUnits"], 2);
    // The city's totals do not change.
    let city_after = progress(&app, &city, "HN", year(y), &ids).await;
    for ind in ids {
        assert_eq!(entry(&city_after, ind)["total"], entry(&city_before, ind)["total"], "{ind}");
    }
    // The ward's own targets stay with it; Long Biên's shares no longer include it.
    let bd = child(entry(&hk_after, &nm), "HN-LB-BD");
    assert_eq!((bd["target"].clone(), bd["actual"].clone()), (json!(40.0), json!(3.0)));
    assert_eq!(child(entry(&hk_after, &rated), "HN-LB-BD")["target"], 10.0);
    let lb_nm = entry(&lb_after, &nm);
    assert_eq!(
        (lb_nm["childrenTargetSum"].clone(), lb_nm["unallocated"].clone()),
        (json!(15.0), json!(45.0))
    );
    let own = progress(&app, &city, "HN-LB-BD", year(y), &[]).await;
    assert_eq!(entry(&own, &nm)["total"]["target"], 40.0);
    assert_eq!(history(&app, &city, &rated, "HN-LB-BD", year(y)).await, history_before);
    assert_eq!(history_before.len(), 2);
    // And the figures still match the statistics they come from.
    let stats = app
        .gql(MEMBER_STATS, json!({ "u": app.unit_id("HN-HK").await, "f": from, "t": to }), Some(&city))
        .await
        .ok();
    assert_eq!(
        f(&entry(&hk_after, &nm)["total"]["actual"]),
        f(&stats["memberStatistics"]["total"]["newMembers"])
    );
}

// ---- reported indicators ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officers_define_reported_indicators_for_their_subtree() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let case = app.token(BD_CASE_OFFICER).await;
    let stranger = app.token(MEMBER).await;
    let hk = officer(&app, &city, 1, "HN-HK", "UNIT_OFFICER").await;
    let gt = officer(&app, &city, 2, "HN-LB-GT", "UNIT_OFFICER").await;

    let created =
        create_indicator(&app, &lb, "HN-LB", "  Số tổ  phụ nữ   tự quản ", " tổ ", "SUM").await.ok();
    let i = &created["createIndicator"];
    assert_eq!(
        (i["name"].clone(), i["unitOfMeasure"].clone(), i["kind"].clone(), i["code"].clone()),
        (json!("Số tổ phụ nữ tự quản"), json!("tổ"), json!("REPORTED"), Value::Null)
    );
    assert_eq!((i["aggregation"].clone(), i["unit"]["code"].clone()), (json!("SUM"), json!("HN-LB")));
    let lb_sum = s(&i["id"]);
    let lb_avg = reported_indicator(&app, &lb, "HN-LB", "Tỷ lệ chi hội xếp loại tốt", "AVERAGE").await;
    let hk_own = reported_indicator(&app, &hk, "HN-HK", "Số mô hình sinh kế", "SUM").await;
    let gt_own = reported_indicator(&app, &gt, "HN-LB-GT", "Số hộ thoát nghèo", "SUM").await;
    let city_own = reported_indicator(&app, &city, "HN", "Số câu lạc bộ", "SUM").await;

    for (name, measure, field, reason) in [
        ("   ", "%", "input.name", "REQUIRED"),
        (&*"a".repeat(201), "%", "input.name", "TOO_LONG"),
        ("Tên", " ", "input.unitOfMeasure", "REQUIRED"),
        ("Tên", &*"a".repeat(51), "input.unitOfMeasure", "TOO_LONG"),
    ] {
        let g = create_indicator(&app, &lb, "HN-LB", name, measure, "SUM").await;
        assert_eq!((g.code(), g.field(), g.reason()), (Some("BAD_USER_INPUT"), Some(field), Some(reason)));
    }
    create_indicator(&app, &case, "HN-LB-BD", "Tên", "%", "SUM").await.expect_code("FORBIDDEN");
    create_indicator(&app, &leader, "HN-LB-BD-01", "Tên", "%", "SUM").await.expect_code("FORBIDDEN");
    create_indicator(&app, &stranger, "HN-LB", "Tên", "%", "SUM").await.expect_code("NOT_FOUND");
    create_indicator(&app, &lb, "HN-HK", "Tên", "%", "SUM").await.expect_code("NOT_FOUND");
    assert_eq!(entities::indicator::Entity::find().count(&app.state.db).await.unwrap(), 8);

    // Usable at a unit: the computed ones, and those defined at it or above, in that order.
    let listed = |token: String, code: &'static str| {
        let app = &app;
        async move {
            let data = app.gql(INDICATORS, json!({ "u": app.unit_id(code).await }), Some(&token)).await.ok();
            data["indicators"].as_array().unwrap().iter().map(|i| s(&i["id"])).collect::<Vec<_>>()
        }
    };
    let computed3 = [computed(1), computed(2), computed(3)];
    let with = |extra: &[&String]| {
        computed3.iter().cloned().chain(extra.iter().map(|e| (*e).clone())).collect::<Vec<_>>()
    };
    assert_eq!(listed(leader.clone(), "HN-LB-BD-01").await, with(&[&lb_sum, &lb_avg, &city_own]));
    assert_eq!(listed(case.clone(), "HN-LB-BD").await, with(&[&lb_sum, &lb_avg, &city_own]));
    assert_eq!(listed(gt.clone(), "HN-LB-GT-02").await, with(&[&lb_sum, &lb_avg, &gt_own, &city_own]));
    assert_eq!(listed(city.clone(), "HN").await, with(&[&city_own]));
    assert_eq!(listed(hk.clone(), "HN-HK").await, with(&[&hk_own, &city_own]));
    app.gql(INDICATORS, json!({ "u": app.unit_id("HN-LB").await }), Some(&stranger))
        .await
        .expect_code("NOT_FOUND");
    app.gql(INDICATORS, json!({ "u": app.unit_id("HN-LB").await }), Some(&hk)).await.expect_code("NOT_FOUND");

    // node(id): officers at, above or below the defining unit; nobody else.
    for token in [&lb, &city, &leader, &gt] {
        let data = app.gql(NODE, json!({ "id": lb_sum }), Some(token)).await.ok();
        assert_eq!(data["node"]["id"], lb_sum);
    }
    app.gql(NODE, json!({ "id": lb_sum }), Some(&hk)).await.expect_code("NOT_FOUND");
    app.gql(NODE, json!({ "id": lb_sum }), Some(&stranger)).await.expect_code("NOT_FOUND");
    app.gql(NODE, json!({ "id": gt_own }), Some(&leader)).await.expect_code("NOT_FOUND");
    assert_eq!(
        app.gql(NODE, json!({ "id": computed(2) }), Some(&leader)).await.ok()["node"]["kind"],
        "COMPUTED"
    );
    app.gql(NODE, json!({ "id": computed(2) }), Some(&stranger)).await.expect_code("NOT_FOUND");

    // A ward's indicator shows in the district's progress when the ward set a target for it.
    let y = year(this_year().0);
    set(&app, &gt, &gt_own, "HN-LB-GT", y.clone(), Some(12.0), &[]).await;
    let p = progress(&app, &lb, "HN-LB", y.clone(), &[]).await;
    assert_eq!(child(entry(&p, &gt_own), "HN-LB-GT")["target"], 12.0);
    // Asked for by id, an indicator must be usable at the unit: another district's is not, nor
    // the ward's (for a period where no child has a target for it).
    progress_of(&app, &lb, "HN-LB", y.clone(), &[&hk_own]).await.expect_code("NOT_FOUND");
    progress_of(&app, &lb, "HN-LB", year(this_year().0 + 1), &[&gt_own]).await.expect_code("NOT_FOUND");
    let p = progress(&app, &lb, "HN-LB", y, &[&gt_own, &lb_sum]).await;
    assert_eq!(p.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reported_values_keep_their_history_and_roll_up_as_sums_or_averages() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let case = app.token(BD_CASE_OFFICER).await;
    let stranger = app.token(MEMBER).await;
    let ward = officer(&app, &city, 1, "HN-LB-BD", "UNIT_OFFICER").await;
    let hk = officer(&app, &city, 2, "HN-HK", "UNIT_OFFICER").await;
    let sum = reported_indicator(&app, &lb, "HN-LB", "Số tổ phụ nữ tự quản", "SUM").await;
    let avg = reported_indicator(&app, &lb, "HN-LB", "Tỷ lệ chi hội xếp loại tốt", "AVERAGE").await;
    let hk_own = reported_indicator(&app, &hk, "HN-HK", "Số mô hình", "SUM").await;
    let (y, _, _) = this_year();

    // A branch leader reports for her branch; the latest value wins, the earlier stays.
    let first = report_with(&app, &leader, &sum, "HN-LB-BD-01", year(y), 3.0, Some("  Quý I  ")).await.ok();
    let first = &first["reportIndicatorValue"];
    assert_eq!(
        (first["value"].clone(), first["note"].clone(), first["current"].clone()),
        (json!(3.0), json!("Quý I"), json!(true))
    );
    assert_eq!(first["reportedBy"]["fullName"], "Phạm Thị Chi Hội");
    assert_eq!(first["period"], json!({ "fromYear": y, "toYear": y }));
    report(&app, &leader, &sum, "HN-LB-BD-01", year(y), 5.0).await;
    report(&app, &ward, &sum, "HN-LB-BD", year(y), 2.0).await;
    report(&app, &lb, &sum, "HN-LB-GT-01", year(y), 4.0).await;
    report(&app, &lb, &sum, "HN-LB", year(y), 1.0).await;

    // Who may report: officers at or above the unit, the leader of a branch for that branch.
    report_with(&app, &leader, &sum, "HN-LB-BD", year(y), 1.0, None).await.expect_code("NOT_FOUND");
    report_with(&app, &leader, &sum, "HN-LB-BD-02", year(y), 1.0, None).await.expect_code("NOT_FOUND");
    report_with(&app, &case, &sum, "HN-LB-BD", year(y), 1.0, None).await.expect_code("FORBIDDEN");
    report_with(&app, &stranger, &sum, "HN-LB", year(y), 1.0, None).await.expect_code("NOT_FOUND");
    report_with(&app, &hk, &sum, "HN-LB", year(y), 1.0, None).await.expect_code("NOT_FOUND");
    report_with(&app, &lb, &hk_own, "HN-LB", year(y), 1.0, None).await.expect_code("NOT_FOUND");
    for (ind, value, note, period, field, reason) in [
        (computed(1), 1.0, None, year(y), "input.indicatorId", "INVALID_KIND"),
        (sum.clone(), -1.0, None, year(y), "input.value", "OUT_OF_RANGE"),
        (sum.clone(), 1.0, Some("a".repeat(501)), year(y), "input.note", "TOO_LONG"),
        (sum.clone(), 1.0, None, json!({ "year": 1990 }), "input.period", "OUT_OF_RANGE"),
    ] {
        let g = report_with(&app, &lb, &ind, "HN-LB-BD", period, value, note.as_deref()).await;
        assert_eq!((g.code(), g.field(), g.reason()), (Some("BAD_USER_INPUT"), Some(field), Some(reason)));
    }
    assert_eq!(entities::reported_value::Entity::find().count(&app.state.db).await.unwrap(), 5);

    // History: newest first, one current, paged.
    let h = history(&app, &case, &sum, "HN-LB-BD-01", year(y)).await;
    let seen: Vec<(f64, bool)> = h.iter().map(|v| (f(&v["value"]), v["current"] == true)).collect();
    assert_eq!(seen, [(5.0, true), (3.0, false)]);
    assert_eq!(h[1]["note"], "Quý I");
    assert!(h[0]["reportedAt"].as_str() >= h[1]["reportedAt"].as_str());
    let page = history_page(&app, &lb, &sum, "HN-LB-BD-01", year(y), Some(1), None).await.ok();
    let conn = &page["indicatorValueHistory"];
    assert_eq!(
        (conn["pageInfo"]["hasNextPage"].clone(), conn["nodes"][0]["value"].clone()),
        (json!(true), json!(5.0))
    );
    let cursor = s(&conn["pageInfo"]["endCursor"]);
    let page = history_page(&app, &lb, &sum, "HN-LB-BD-01", year(y), Some(1), Some(&cursor)).await.ok();
    let conn = &page["indicatorValueHistory"];
    assert_eq!(
        (conn["pageInfo"]["hasNextPage"].clone(), conn["nodes"][0]["value"].clone()),
        (json!(false), json!(3.0))
    );
    assert!(history(&app, &lb, &sum, "HN-LB-BD-01", year(y - 1)).await.is_empty());
    history_page(&app, &stranger, &sum, "HN-LB-BD-01", year(y), None, None).await.expect_code("NOT_FOUND");
    history_page(&app, &hk, &sum, "HN-LB-BD-01", year(y), None, None).await.expect_code("NOT_FOUND");

    // Sums: the current values of every unit of each subtree, the unit's own included.
    let p = progress(&app, &lb, "HN-LB", year(y), &[&sum, &avg]).await;
    let e = entry(&p, &sum);
    assert_eq!((e["total"]["actual"].clone(), e["total"]["reportingUnits"].clone()), (json!(12.0), json!(4)));
    assert_eq!(
        (child(e, "HN-LB-BD")["actual"].clone(), child(e, "HN-LB-BD")["reportingUnits"].clone()),
        (json!(7.0), json!(2))
    );
    assert_eq!(child(e, "HN-LB-GT")["actual"], 4.0);
    assert_eq!(
        (child(e, "HN-LB-NL")["actual"].clone(), child(e, "HN-LB-NL")["reportingUnits"].clone()),
        (json!(0.0), json!(0))
    );
    assert_eq!(e["total"]["target"], Value::Null);
    let e = entry(&p, &avg);
    assert_eq!(
        (e["total"]["actual"].clone(), e["total"]["reportingUnits"].clone()),
        (json!(0.0), json!(0)),
        "nobody reported"
    );
    assert_eq!(e["indicator"]["aggregation"], "AVERAGE");

    // Averages: the mean of the units that reported.
    report(&app, &leader, &avg, "HN-LB-BD-01", year(y), 80.0).await;
    report(&app, &ward, &avg, "HN-LB-BD-02", year(y), 60.0).await;
    report(&app, &lb, &avg, "HN-LB-GT", year(y), 90.0).await;
    set(&app, &lb, &avg, "HN-LB", year(y), Some(80.0), &[("HN-LB-BD", 75.0)]).await;
    let p = progress(&app, &lb, "HN-LB", year(y), &[]).await;
    assert_eq!(p.len(), 1, "only the indicator with targets unless asked");
    let e = entry(&p, &avg);
    assert!(close(f(&e["total"]["actual"]), 230.0 / 3.0), "{e}");
    assert_eq!(e["total"]["reportingUnits"], 3);
    assert!(close(f(&e["total"]["attainment"]), 230.0 / 3.0 / 80.0));
    let bd = child(e, "HN-LB-BD");
    assert_eq!(
        (bd["actual"].clone(), bd["reportingUnits"].clone(), bd["target"].clone()),
        (json!(70.0), json!(2), json!(75.0))
    );
    assert!(close(f(&bd["attainment"]), 70.0 / 75.0));
    report(&app, &leader, &avg, "HN-LB-BD-01", year(y), 100.0).await;
    let e = progress(&app, &lb, "HN-LB", year(y), &[]).await[0].clone();
    assert!(close(f(&e["total"]["actual"]), 250.0 / 3.0));
    assert_eq!(child(&e, "HN-LB-BD")["actual"], 80.0);

    // The city cannot ask for an indicator defined below it; once Long Biên (a direct child)
    // has a target for it, it shows. A target of 0 has no attainment.
    progress_of(&app, &city, "HN", year(y), &[&sum]).await.expect_code("NOT_FOUND");
    set(&app, &lb, &sum, "HN-LB", year(y), Some(0.0), &[]).await;
    let p = progress(&app, &city, "HN", year(y), &[]).await;
    let e = entry(&p, &sum);
    assert_eq!((e["total"]["actual"].clone(), e["total"]["target"].clone()), (json!(12.0), Value::Null));
    let lb_row = child(e, "HN-LB");
    assert_eq!((lb_row["actual"].clone(), lb_row["target"].clone()), (json!(12.0), json!(0.0)));
    assert_eq!(lb_row["attainment"], Value::Null);
    // Another period is another figure.
    let term = json!({ "fromYear": y - 1, "toYear": y });
    report(&app, &lb, &sum, "HN-LB", term.clone(), 9.0).await;
    assert_eq!(progress(&app, &lb, "HN-LB", year(y), &[&sum]).await[0]["total"]["actual"], 12.0);
    assert_eq!(progress(&app, &lb, "HN-LB", term, &[&sum]).await[0]["total"]["actual"], 9.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_reports_all_reach_the_history_with_one_current_value() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let ward = officer(&app, &city, 1, "HN-LB-BD", "UNIT_OFFICER").await;
    let leader = app.token(BD1_LEADER).await;
    let ind = reported_indicator(&app, &lb, "HN-LB", "Số tổ phụ nữ tự quản", "SUM").await;
    let (y, _, _) = this_year();
    let unit = app.unit_id("HN-LB-BD-01").await;
    let other = app.unit_id("HN-LB-BD-02").await;

    // Twelve reports of one figure at once by three officers, and four of another unit's.
    let tokens = [&lb, &ward, &leader];
    let ind = &ind;
    let calls = (0..16).map(|i| {
        let (app, token) = (&app, tokens[i % 3]);
        let target = if i < 12 { unit.clone() } else { other.clone() };
        let token = if i < 12 { token } else { &lb };
        async move {
            let input = json!({ "indicatorId": ind, "unitId": target, "period": year(y), "value": i as f64 });
            app.gql(REPORT, json!({ "i": input }), Some(token)).await
        }
    });
    for g in join_all(calls).await {
        assert!(!g.has_errors(), "{}", g.body);
    }
    for (code, n) in [("HN-LB-BD-01", 12), ("HN-LB-BD-02", 4)] {
        let rows = entities::reported_value::Entity::find()
            .filter(entities::reported_value::Column::UnitId.eq(uuid_of(&app.unit_id(code).await)))
            .all(&app.state.db)
            .await
            .unwrap();
        assert_eq!(rows.len(), n, "{code}: every report is in the history");
        assert_eq!(rows.iter().filter(|r| r.superseded_at.is_none()).count(), 1, "{code}: one current value");
        let h = history(&app, &lb, ind, code, year(y)).await;
        assert_eq!(h.len(), n);
        assert_eq!(h[0]["current"], true, "{code}: the newest is the current one");
        assert!(h[1..].iter().all(|v| v["current"] == false));
        let p = progress(&app, &lb, code, year(y), &[ind]).await;
        assert_eq!(p[0]["total"]["actual"], h[0]["value"]);
    }
}

// ---- statement count ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_progress_takes_the_same_statements_whatever_the_children_and_indicators() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let sysadmin = app.token(SYSADMIN).await;
    // A district with 32 wards, beside Bồ Đề and its 4 branches.
    let create = "mutation($i: CreateOrgUnitInput!) { createOrgUnit(input: $i) { code } }";
    let hn = app.unit_id("HN").await;
    app.gql(
        create,
        json!({ "i": { "parentId": hn, "kind": "DISTRICT", "code": "HN-BIG", "name": "Quận Lớn" } }),
        Some(&sysadmin),
    )
    .await
    .ok();
    let big = app.unit_id("HN-BIG").await;
    let wards: Vec<String> = (1..=32).map(|n| format!("HN-BIG-{n:02}")).collect();
    for code in &wards {
        let input =
            json!({ "parentId": big, "kind": "BASE", "code": code, "name": format!("Phường {code}") });
        app.gql(create, json!({ "i": input }), Some(&sysadmin)).await.ok();
    }
    let reported = reported_indicator(&app, &city, "HN", "Số câu lạc bộ", "AVERAGE").await;
    let all = [computed(1), computed(2), computed(3), reported.clone()];
    let (y, _, _) = this_year();
    // Year y: new members only; year y + 1: all four, for the units and every child.
    for (code, children) in [
        ("HN-LB-BD", vec!["HN-LB-BD-01", "HN-LB-BD-02", "HN-LB-BD-03", "HN-LB-BD-04"]),
        ("HN-BIG", wards.iter().map(String::as_str).collect()),
    ] {
        let shares: Vec<(&str, f64)> = children.iter().map(|c| (*c, 2.0)).collect();
        set(&app, &city, &all[0], code, year(y), Some(100.0), &shares).await;
        for ind in &all {
            set(&app, &city, ind, code, year(y + 1), Some(100.0), &shares).await;
        }
        report(&app, &city, &reported, children[0], year(y + 1), 50.0).await;
    }

    let mut counts = Vec::new();
    for (code, children) in [("HN-LB-BD", 4), ("HN-BIG", 32)] {
        let unit = app.unit_id(code).await;
        for (period, indicators) in [(year(y), 1), (year(y + 1), 4)] {
            let vars = json!({ "u": unit, "p": period, "ids": null });
            // The fewest of a few runs, like the other statement counts: nothing else is counted.
            let mut fewest = u64::MAX;
            let mut data = Value::Null;
            for _ in 0..3 {
                let before = app.statements();
                data = app.gql(PROGRESS, vars.clone(), Some(&city)).await.ok();
                fewest = fewest.min(app.statements() - before);
            }
            counts.push(fewest);
            let list = data["targetProgress"].as_array().unwrap();
            assert_eq!(list.len(), indicators);
            assert!(list.iter().all(|e| e["children"].as_array().unwrap().len() == children));
            assert!(list.iter().all(|e| e["childrenTargetSum"] == 2.0 * children as f64));
        }
    }
    // The unit, the caller's roles, the children, the targets, the indicators, the actuals.
    assert!(counts.iter().all(|&c| c == counts[0] && c <= 6), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_share_from_above_is_never_lost_to_a_simultaneous_write_from_below() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let nm = computed(1);
    // For each of twenty years, the city gives Long Biên its share while Long Biên's officer
    // writes her own figure. Whichever goes first, the city's share is what remains.
    let years: Vec<i32> = (2040..2060).collect();
    let races = years.iter().map(|&y| {
        let (app, city, lb, nm) = (&app, &city, &lb, &nm);
        async move {
            let (from_city, from_below) = futures_util::join!(
                set_with(app, city, nm, "HN", year(y), None, &[("HN-LB", 100.0)]),
                set_with(app, lb, nm, "HN-LB", year(y), Some(7.0), &[]),
            );
            assert!(!from_city.has_errors(), "{}", from_city.body);
            assert!(
                !from_below.has_errors() || from_below.code() == Some("FORBIDDEN"),
                "{}",
                from_below.body
            );
        }
    });
    join_all(races).await;
    let rows = entities::target::Entity::find()
        .filter(entities::target::Column::UnitId.eq(uuid_of(&app.unit_id("HN-LB").await)))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), years.len());
    assert!(rows.iter().all(|t| t.value == 100.0 && t.assigned_by_parent), "{rows:?}");
}
