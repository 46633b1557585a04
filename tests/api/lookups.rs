//! Finding things in the console: a unit by its code, word-based and order-free unit search,
//! the orders of the member directory and the queues, and indicators by their stable codes.

use chrono::{Datelike, Duration, Utc};
use serde_json::{Value, json};

use crate::{fixtures::*, helpers::*};

const S: Series = Series::CONSOLE;

async fn spawn() -> TestApp {
    spawn_app_with(&[("APP_REGISTER_MAX_PER_ADDRESS", "1000")]).await
}

const BY_CODE: &str = "query($id: ID, $c: String) { orgUnit(id: $id, code: $c) { id code name } }";
const SEARCH: &str = "query($s: String, $k: OrgUnitKind) { orgUnits(search: $s, kind: $k, first: 50) { totalCount edges { node { code } } } }";

#[tokio::test]
async fn a_unit_is_found_by_its_code() {
    let app = spawn_app().await;
    let id = app.unit_id("HN-LB-BD-01").await;
    for code in ["HN-LB-BD-01", " hn-lb-bd-01 "] {
        let found = app.gql(BY_CODE, json!({ "c": code }), None).await.ok();
        assert_eq!(found["orgUnit"]["id"], id.as_str(), "{code}");
    }
    app.gql(BY_CODE, json!({ "c": "HN-XX-99" }), None).await.expect_code("NOT_FOUND");
    let both = app.gql(BY_CODE, json!({ "id": id, "c": "HN-LB-BD-01" }), None).await;
    assert_eq!(both.expect_reason("BAD_USER_INPUT", "EXACTLY_ONE").field(), Some("id"));
    app.gql(BY_CODE, json!({}), None).await.expect_reason("BAD_USER_INPUT", "EXACTLY_ONE");
    app.gql(BY_CODE, json!({ "c": "  " }), None).await.expect_reason("BAD_USER_INPUT", "REQUIRED");
}

async fn search(app: &TestApp, text: &str, kind: Option<&str>) -> Vec<String> {
    let data = app.gql(SEARCH, json!({ "s": text, "k": kind }), None).await.ok();
    let codes: Vec<String> = nodes(&data["orgUnits"]).iter().map(|n| s(&n["code"])).collect();
    assert_eq!(data["orgUnits"]["totalCount"], codes.len(), "{text}");
    codes
}

#[tokio::test]
async fn unit_search_takes_words_in_any_order_and_codes() {
    let app = spawn_app().await;
    let name = app.gql(BY_CODE, json!({ "c": "HN-LB-BD-01" }), None).await.ok()["orgUnit"]["name"].clone();
    assert_eq!(name, "Chi hội Tổ dân phố số 1 – Bồ Đề");
    for text in
        ["to dan pho so 1 bo de", "bo de so 1", "Bồ Đề số 1", "HN-LB-BD-01", "so 1 - bo de", "hn lb bd 01"]
    {
        let found = search(&app, text, Some("BRANCH")).await;
        assert_eq!(found, ["HN-LB-BD-01"], "{text}");
    }
    // Words start words: "de" finds Bồ Đề, "e" does not; every word must match.
    assert!(search(&app, "de so 1", Some("BRANCH")).await.contains(&"HN-LB-BD-01".to_owned()));
    assert!(!search(&app, "e so 1", Some("BRANCH")).await.contains(&"HN-LB-BD-01".to_owned()));
    assert!(search(&app, "bo de so 1 hoan kiem", None).await.is_empty());
    // Every unit of the ward, the ward itself included.
    let ward = search(&app, "bo de", None).await;
    assert!(ward.contains(&"HN-LB-BD".to_owned()) && ward.contains(&"HN-LB-BD-04".to_owned()), "{ward:?}");

    // A renamed unit is found by its new name.
    let admin = app.token(CITY_ADMIN).await;
    let unit = app.unit_id("HN-LB-BD-02").await;
    app.gql(
        "mutation($i: RenameOrgUnitInput!) { renameOrgUnit(input: $i) { name } }",
        json!({ "i": { "id": unit, "name": "Chi hội Hoa Sữa" } }),
        Some(&admin),
    )
    .await
    .ok();
    assert_eq!(search(&app, "sua hoa", None).await, ["HN-LB-BD-02"]);
}

/// The member numbers of a directory page in `order`, and the end cursor.
async fn directory(app: &TestApp, token: &str, order: &str, first: i64, after: Option<&str>) -> Gql {
    let q = "query($o: MemberOrder, $f: MemberFilterInput, $first: Int, $after: String) { \
             members(order: $o, filter: $f, first: $first, after: $after) { \
             pageInfo { hasNextPage endCursor } edges { node { memberNumber joinedAt } } } }";
    let unit = app.unit_id("HN-LB-BD-03").await;
    app.gql(q, json!({ "o": order, "f": { "unitId": unit }, "first": first, "after": after }), Some(token))
        .await
}

#[tokio::test]
async fn the_directory_orders_by_name_member_number_or_join_date() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    for n in 700..705 {
        member(&app, &officer, S, n, "HN-LB-BD-03").await;
    }
    let mut all = Vec::new();
    for order in ["MEMBER_NUMBER", "JOINED_NEWEST", "JOINED_OLDEST", "NAME"] {
        // Two pages of three.
        let first = directory(&app, &officer, order, 3, None).await.ok();
        let cursor = s(&first["members"]["pageInfo"]["endCursor"]);
        let second = directory(&app, &officer, order, 3, Some(&cursor)).await.ok();
        let rows: Vec<Value> =
            nodes(&first["members"]).into_iter().chain(nodes(&second["members"])).collect();
        all.push((order, rows));
    }
    let numbers = |rows: &[Value]| rows.iter().map(|r| s(&r["memberNumber"])).collect::<Vec<_>>();
    let by_number = numbers(&all[0].1);
    assert_eq!(by_number.len(), 5);
    let mut sorted = by_number.clone();
    sorted.sort();
    assert_eq!(by_number, sorted);
    let joined = |rows: &[Value]| rows.iter().map(|r| s(&r["joinedAt"])).collect::<Vec<_>>();
    let newest = joined(&all[1].1);
    let mut descending = newest.clone();
    descending.sort_by(|a, b| b.cmp(a));
    assert_eq!(newest, descending);
    let oldest = joined(&all[2].1);
    let mut ascending = oldest.clone();
    ascending.sort();
    assert_eq!(oldest, ascending);
    assert_eq!(numbers(&all[1].1).into_iter().rev().collect::<Vec<_>>(), numbers(&all[2].1));

    // A cursor belongs to its order.
    let page = directory(&app, &officer, "NAME", 2, None).await.ok();
    let cursor = s(&page["members"]["pageInfo"]["endCursor"]);
    let refused = directory(&app, &officer, "MEMBER_NUMBER", 2, Some(&cursor)).await;
    assert_eq!(refused.expect_reason("BAD_USER_INPUT", "INVALID_FORMAT").field(), Some("after"));
}

#[tokio::test]
async fn queues_list_the_oldest_or_the_newest_first() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let mut made = Vec::new();
    for n in 720..724 {
        made.push(crate::bulk::join_request(&app, n, "HN-LB-BD-01").await);
    }
    let q = "query($o: QueueOrder, $after: String) { membershipRequests(order: $o, first: 2, after: $after) { pageInfo { endCursor } edges { node { id } } } }";
    let mut listed = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..2 {
        let data = app.gql(q, json!({ "o": "NEWEST_FIRST", "after": after }), Some(&leader)).await.ok();
        listed.extend(nodes(&data["membershipRequests"]).iter().map(|n| s(&n["id"])));
        after = Some(s(&data["membershipRequests"]["pageInfo"]["endCursor"]));
    }
    let mut newest = made.clone();
    newest.reverse();
    assert_eq!(listed, newest);
    let oldest = app.gql(q, json!({}), Some(&leader)).await.ok();
    assert_eq!(nodes(&oldest["membershipRequests"])[0]["id"], made[0].as_str());

    // The violence queue: urgent first by default, by submission alone when asked.
    let case_officer = app.token(BD_CASE_OFFICER).await;
    let calm = violence_report(&app, None, "HN-LB-BD", false, "Cãi nhau").await;
    let urgent = violence_report(&app, None, "HN-LB-BD", true, "Đang bị đánh").await;
    let vq = "query($o: ViolenceQueueOrder) { violenceReports(order: $o, first: 10) { edges { node { referenceCode } } } }";
    let refs = |data: &Value| {
        nodes(&data["violenceReports"]).iter().map(|n| s(&n["referenceCode"])).collect::<Vec<_>>()
    };
    let default = refs(&app.gql(vq, json!({}), Some(&case_officer)).await.ok());
    assert_eq!(default, [s(&urgent["referenceCode"]), s(&calm["referenceCode"])]);
    let oldest = refs(&app.gql(vq, json!({ "o": "OLDEST_FIRST" }), Some(&case_officer)).await.ok());
    assert_eq!(oldest, [s(&calm["referenceCode"]), s(&urgent["referenceCode"])]);
    let newest = refs(&app.gql(vq, json!({ "o": "NEWEST_FIRST" }), Some(&case_officer)).await.ok());
    assert_eq!(newest, [s(&urgent["referenceCode"]), s(&calm["referenceCode"])]);

    // The pledge queue.
    let officer = app.token(LB_OFFICER).await;
    let campaign =
        launched_campaign(&app, &officer, "HN-LB", crate::campaigns::input("Thứ tự", json!({}))).await;
    let mut pledges = Vec::new();
    for n in 730..733 {
        let m = member(&app, &officer, S, n, "HN-LB-BD-01").await;
        let p = app
            .gql(
                "mutation($c: ID!, $i: PledgeInput!) { submitPledge(campaignId: $c, input: $i) { id } }",
                json!({ "c": campaign["id"], "i": { "kind": "PERSONAL", "year": Utc::now().year() } }),
                Some(&m.token),
            )
            .await
            .ok();
        pledges.push(s(&p["submitPledge"]["id"]));
    }
    let pq = "query($o: QueueOrder) { pledgeReviewQueue(order: $o, first: 10) { edges { node { id } } } }";
    let listed: Vec<String> =
        nodes(&app.gql(pq, json!({ "o": "NEWEST_FIRST" }), Some(&officer)).await.ok()["pledgeReviewQueue"])
            .iter()
            .map(|n| s(&n["id"]))
            .collect();
    pledges.reverse();
    assert_eq!(listed, pledges);
}

#[tokio::test]
async fn indicators_are_addressed_by_their_codes() {
    let app = spawn_app().await;
    let officer = app.token(LB_OFFICER).await;
    let unit = app.unit_id("HN-LB").await;
    let create =
        "mutation($u: ID!, $i: CreateIndicatorInput!) { createIndicator(unitId: $u, input: $i) { id code } }";
    let input = |code: Option<&str>, name: &str| json!({ "code": code, "name": name, "unitOfMeasure": "câu lạc bộ", "aggregation": "SUM" });
    let named = app
        .gql(
            create,
            json!({ "u": unit, "i": input(Some("clubs_founded"), "Câu lạc bộ thành lập") }),
            Some(&officer),
        )
        .await
        .ok();
    assert_eq!(named["createIndicator"]["code"], "CLUBS_FOUNDED");
    let derived = app
        .gql(create, json!({ "u": unit, "i": input(None, "Số câu lạc bộ mới") }), Some(&officer))
        .await
        .ok();
    assert_eq!(derived["createIndicator"]["code"], "SO_CAU_LAC_BO_MOI");
    let again = app
        .gql(create, json!({ "u": unit, "i": input(None, "Số câu lạc bộ mới") }), Some(&officer))
        .await
        .ok();
    assert_eq!(again["createIndicator"]["code"], "SO_CAU_LAC_BO_MOI_2");
    app.gql(create, json!({ "u": unit, "i": input(Some("CLUBS_FOUNDED"), "Khác") }), Some(&officer))
        .await
        .expect_reason("CONFLICT", "CODE_TAKEN");
    let bad = app.gql(create, json!({ "u": unit, "i": input(Some("1 câu"), "Khác") }), Some(&officer)).await;
    assert_eq!(bad.expect_reason("BAD_USER_INPUT", "INVALID_FORMAT").field(), Some("input.code"));

    // A target and a value by code; progress asked by code answers with the indicator's id.
    let year = (Utc::now() + Duration::hours(7)).year();
    let set =
        "mutation($i: SetTargetInput!) { setTarget(input: $i) { target { value indicator { code } } } }";
    let target = app
        .gql(set, json!({ "i": { "indicatorId": "HOUSEHOLDS_CERTIFIED", "unitId": unit, "period": { "year": year }, "value": 40.0 } }), Some(&officer))
        .await
        .ok();
    assert_eq!(target["setTarget"]["target"]["indicator"]["code"], "HOUSEHOLDS_CERTIFIED");
    let report = "mutation($i: ReportIndicatorValueInput!) { reportIndicatorValue(input: $i) { value } }";
    app.gql(report, json!({ "i": { "indicatorId": "clubs_founded", "unitId": unit, "period": { "year": year }, "value": 3.0 } }), Some(&officer))
        .await
        .ok();
    let progress = "query($u: ID!, $p: PeriodInput!, $ids: [ID!]) { targetProgress(unitId: $u, period: $p, indicatorIds: $ids) { indicator { id code } total { actual } } }";
    let data = app
        .gql(progress, json!({ "u": unit, "p": { "year": year }, "ids": ["CLUBS_FOUNDED", named["createIndicator"]["id"]] }), Some(&officer))
        .await
        .ok();
    let clubs = data["targetProgress"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["indicator"]["code"] == "CLUBS_FOUNDED")
        .cloned()
        .unwrap();
    assert_eq!(clubs["indicator"]["id"], named["createIndicator"]["id"]);
    assert_eq!(clubs["total"]["actual"], 3.0);
    app.gql(progress, json!({ "u": unit, "p": { "year": year }, "ids": ["NO_SUCH_CODE"] }), Some(&officer))
        .await
        .expect_code("NOT_FOUND");
    let malformed = app
        .gql(progress, json!({ "u": unit, "p": { "year": year }, "ids": ["không phải mã"] }), Some(&officer))
        .await;
    assert_eq!(malformed.expect_reason("BAD_USER_INPUT", "INVALID_ID").field(), Some("indicatorIds"));
}
