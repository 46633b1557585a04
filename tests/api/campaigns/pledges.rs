//! Pledges: who may pledge, the input rules, one pledge per person/household, campaign and
//! year (also under simultaneous submissions), the review (criteria, reach, own pledge,
//! simultaneous reviewers), return and resubmission, the certified-households counter, the
//! member's notifications, and the review queue.

use chrono::{DateTime, Utc};
use entities::ids::{CampaignId, UnitId};
use futures_util::future::join_all;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{S, draft, end, input, spawn, this_year};
use crate::fixtures::{enrol, launched_campaign, member, officer, person};
use crate::helpers::*;

const FIELDS: &str = "id kind year householdLabel householdSize note status checks reviewComment reviewedAt submittedAt createdAt fullName branch { code } campaign { id title }";
const INBOX: &str = "{ notifications(unreadOnly: true, first: 100) { edges { node { kind link } } } }";

pub(crate) fn personal(year: i32) -> Value {
    json!({ "kind": "PERSONAL", "year": year })
}

pub(crate) fn household(label: &str, size: i32, year: i32) -> Value {
    json!({ "kind": "HOUSEHOLD", "year": year, "householdLabel": label, "householdSize": size })
}

pub(crate) async fn submit(app: &TestApp, token: &str, campaign: &str, input: Value) -> Gql {
    let q = format!(
        "mutation($c: ID!, $i: PledgeInput!) {{ submitPledge(campaignId: $c, input: $i) {{ {FIELDS} }} }}"
    );
    app.gql(&q, json!({ "c": campaign, "i": input }), Some(token)).await
}

/// Submits a pledge that must be accepted; returns it.
async fn pledged(app: &TestApp, token: &str, campaign: &str, input: Value) -> Value {
    let p = submit(app, token, campaign, input).await.ok()["submitPledge"].clone();
    assert_eq!(p["status"], "SUBMITTED");
    p
}

async fn certify(app: &TestApp, token: &str, id: &str, checks: &[String], comment: Option<&str>) -> Gql {
    let q = format!(
        "mutation($id: ID!, $c: [ID!]!, $m: String) {{ certifyPledge(id: $id, checks: $c, comment: $m) {{ {FIELDS} }} }}"
    );
    app.gql(&q, json!({ "id": id, "c": checks, "m": comment }), Some(token)).await
}

async fn give_back(app: &TestApp, token: &str, id: &str, checks: &[String], comment: &str) -> Gql {
    let q = format!(
        "mutation($id: ID!, $c: [ID!]!, $m: String!) {{ returnPledge(id: $id, checks: $c, comment: $m) {{ {FIELDS} }} }}"
    );
    app.gql(&q, json!({ "id": id, "c": checks, "m": comment }), Some(token)).await
}

async fn resubmit(app: &TestApp, token: &str, id: &str, input: Value) -> Gql {
    let q = format!(
        "mutation($id: ID!, $i: PledgeEditInput!) {{ resubmitPledge(id: $id, input: $i) {{ {FIELDS} }} }}"
    );
    app.gql(&q, json!({ "id": id, "i": input }), Some(token)).await
}

async fn view_pledge(app: &TestApp, token: &str, id: &str) -> Gql {
    let q = format!("query($id: ID!) {{ node(id: $id) {{ ... on Pledge {{ {FIELDS} }} }} }}");
    app.gql(&q, json!({ "id": id }), Some(token)).await
}

async fn queue(app: &TestApp, token: &str, filter: Value, first: Option<i64>, after: Option<&str>) -> Gql {
    let q = format!(
        "query($f: PledgeReviewFilterInput, $first: Int, $after: String) {{ pledgeReviewQueue(filter: $f, first: $first, after: $after) {{ totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {FIELDS} }} }} }} }}"
    );
    app.gql(&q, json!({ "f": filter, "first": first, "after": after }), Some(token)).await
}

/// Ids of the pledges in `token`'s queue with `filter`, after checking `totalCount`.
async fn queued(app: &TestApp, token: &str, filter: Value) -> Vec<String> {
    let q = "query($f: PledgeReviewFilterInput) { pledgeReviewQueue(filter: $f, first: 100) { totalCount edges { node { id } } } }";
    let data = app.gql(q, json!({ "f": filter }), Some(token)).await.ok();
    let conn = &data["pledgeReviewQueue"];
    let ids: Vec<String> = nodes(conn).iter().map(|n| s(&n["id"])).collect();
    assert_eq!(conn["totalCount"], ids.len(), "totalCount with {filter}");
    ids
}

/// The ids of a campaign's criteria, in order.
fn criteria(c: &Value) -> Vec<String> {
    c["criteria"].as_array().expect("criteria").iter().map(|k| s(&k["id"])).collect()
}

async fn pledge_rows(app: &TestApp) -> u64 {
    entities::pledge::Entity::find().count(&app.state.db).await.unwrap()
}

async fn unit_uuid(app: &TestApp, code: &str) -> UnitId {
    id_of::<UnitId>(&app.unit_id(code).await)
}

/// Households certified in `code`'s subtree, all days together.
async fn certified_households(app: &TestApp, code: &str) -> i64 {
    use entities::unit_activity_day as a;
    a::Entity::find()
        .filter(a::Column::UnitId.eq(unit_uuid(app, code).await))
        .filter(a::Column::Metric.eq("HOUSEHOLDS_CERTIFIED"))
        .all(&app.state.db)
        .await
        .unwrap()
        .iter()
        .map(|r| r.value)
        .sum()
}

/// Unread notifications of `kind` linking to `id`.
async fn notified(app: &TestApp, token: &str, kind: &str, id: &str) -> usize {
    let data = app.gql(INBOX, json!({}), Some(token)).await.ok();
    nodes(&data["notifications"]).iter().filter(|n| n["kind"] == kind && n["link"] == id).count()
}

fn time(v: &Value) -> DateTime<Utc> {
    s(v).parse().expect("an RFC 3339 time")
}

// ---- submitting ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_pledges_for_herself_and_for_her_household() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let y = this_year();
    let c = launched_campaign(&app, &lb, "HN-LB", input("Kiểm thử Gia đình 5 không 3 sạch", json!({}))).await;
    let cid = s(&c["id"]);
    let m = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;

    let mine =
        pledged(&app, &m, &cid, json!({ "kind": "PERSONAL", "year": y, "note": "  Tham gia đầy đủ  " }))
            .await;
    assert_eq!((mine["kind"].clone(), mine["year"].clone()), (json!("PERSONAL"), json!(y)));
    assert_eq!(mine["note"], "Tham gia đầy đủ");
    assert!(mine["householdLabel"].is_null() && mine["householdSize"].is_null());
    assert_eq!(mine["checks"], json!([]));
    assert!(mine["reviewComment"].is_null() && mine["reviewedAt"].is_null());
    assert_eq!(mine["fullName"], super::name(1));
    assert_eq!(mine["branch"]["code"], "HN-LB-BD-01");
    assert_eq!(mine["campaign"]["id"], cid);
    assert!(time(&mine["submittedAt"]) <= Utc::now());

    let home = pledged(&app, &m, &cid, household("  Hộ  bà Nguyễn Thị   Lan, tổ 5 ", 4, y)).await;
    assert_eq!(home["householdLabel"], "Hộ bà Nguyễn Thị Lan, tổ 5");
    assert_eq!(home["householdSize"], 4);
    let next_year = pledged(&app, &m, &cid, personal(y + 1)).await;

    // The campaign shows her pledges for a year (this year unless asked).
    let q = "query($id: ID!, $y: Int) { node(id: $id) { ... on Campaign { thisYear: myPledges { id kind } asked: myPledges(year: $y) { id year } } } }";
    let data = app.gql(q, json!({ "id": cid, "y": y + 1 }), Some(&m)).await.ok();
    let this_year_ids: Vec<String> =
        data["node"]["thisYear"].as_array().unwrap().iter().map(|p| s(&p["id"])).collect();
    assert_eq!(this_year_ids, [s(&mine["id"]), s(&home["id"])]);
    assert_eq!(data["node"]["asked"], json!([{ "id": next_year["id"], "year": y + 1 }]));
    // Another person's pledges are not hers.
    let data = app.gql(q, json!({ "id": cid, "y": y }), Some(&lb)).await.ok();
    assert_eq!(data["node"]["thisYear"], json!([]));
    // The same on the campaign list, where her pledges are read with the page (one statement):
    // both of this year's, by id, and not next year's; nobody else's.
    let list = "{ campaigns(first: 50) { edges { node { id myPledges { id } } } } }";
    let mine_on_list = |data: Value| {
        let node = nodes(&data["campaigns"]).into_iter().find(|n| n["id"] == cid).expect("listed");
        node["myPledges"].as_array().unwrap().iter().map(|p| s(&p["id"])).collect::<Vec<_>>()
    };
    let by_id = vec![s(&mine["id"]), s(&home["id"])];
    assert_eq!(mine_on_list(app.gql(list, json!({}), Some(&m)).await.ok()), by_id);
    assert_eq!(mine_on_list(app.gql(list, json!({}), Some(&lb)).await.ok()), Vec::<String>::new());

    // Her list, newest first, paged.
    let list = "query($after: String) { myPledges(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }";
    let first = app.gql(list, json!({}), Some(&m)).await.ok()["myPledges"].clone();
    assert_eq!(first["totalCount"], 3);
    assert_eq!(
        nodes(&first).iter().map(|n| s(&n["id"])).collect::<Vec<_>>(),
        [s(&next_year["id"]), s(&home["id"])]
    );
    let after = s(&first["pageInfo"]["endCursor"]);
    let second = app.gql(list, json!({ "after": after }), Some(&m)).await.ok()["myPledges"].clone();
    assert_eq!(nodes(&second).iter().map(|n| s(&n["id"])).collect::<Vec<_>>(), [s(&mine["id"])]);
    assert_eq!(second["pageInfo"]["hasNextPage"], false);
    assert_eq!(app.gql(list, json!({}), Some(&lb)).await.ok()["myPledges"]["totalCount"], 0);

    assert_eq!(view_pledge(&app, &m, &s(&home["id"])).await.ok()["node"]["householdSize"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pledging_needs_an_active_membership_in_the_subtree_and_an_active_campaign() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let y = this_year();
    let c = launched_campaign(&app, &lb, "HN-LB", input("Kiểm thử", json!({}))).await;
    let cid = s(&c["id"]);
    let sibling =
        s(&launched_campaign(&app, &lb, "HN-LB-BD-02", input("Kiểm thử chi hội 2", json!({}))).await["id"]);
    let not_launched = s(&draft(&app, &lb, "HN-LB", input("Kiểm thử nháp", json!({}))).await["id"]);
    let over = s(&launched_campaign(&app, &lb, "HN-LB", input("Kiểm thử đã xong", json!({}))).await["id"]);
    end(&app, &lb, &over).await.ok();

    let m = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let hk = member(&app, &city, S, 2, "HN-HK-HB-01").await.token;
    let outsider = person(&app, S, 3).await.token;
    // A member of the branch who is also an officer of the district sees the draft.
    let officer_member = member(&app, &city, S, 4, "HN-LB-BD-01").await.token;
    app.grant(&S.phone(4), "HN-LB", "UNIT_OFFICER").await;

    submit(&app, &outsider, &cid, personal(y)).await.expect_reason("CONFLICT", "NOT_A_MEMBER");
    submit(&app, &lb, &cid, personal(y)).await.expect_reason("CONFLICT", "NOT_A_MEMBER");
    submit(&app, &hk, &cid, personal(y)).await.expect_code("NOT_FOUND");
    submit(&app, &m, &sibling, personal(y)).await.expect_code("NOT_FOUND");
    submit(&app, &m, &not_launched, personal(y)).await.expect_code("NOT_FOUND");
    submit(&app, &officer_member, &not_launched, personal(y)).await.expect_reason("CONFLICT", "WRONG_STATUS");
    submit(&app, &m, &over, personal(y)).await.expect_reason("CONFLICT", "WRONG_STATUS");
    let unknown = global_id("Campaign", Uuid::now_v7());
    submit(&app, &m, &unknown, personal(y)).await.expect_code("NOT_FOUND");
    submit(&app, &m, &app.unit_id("HN-LB").await, personal(y))
        .await
        .expect_reason("BAD_USER_INPUT", "INVALID_ID");

    let cases = [
        (personal(y - 2), "input.year", "OUT_OF_RANGE"),
        (personal(y + 2), "input.year", "OUT_OF_RANGE"),
        (json!({ "kind": "HOUSEHOLD", "year": y, "householdSize": 3 }), "input.householdLabel", "REQUIRED"),
        (
            json!({ "kind": "HOUSEHOLD", "year": y, "householdLabel": "  ", "householdSize": 3 }),
            "input.householdLabel",
            "REQUIRED",
        ),
        (
            json!({ "kind": "HOUSEHOLD", "year": y, "householdLabel": "Hộ bà Lan" }),
            "input.householdSize",
            "REQUIRED",
        ),
        (household("Hộ bà Lan", 0, y), "input.householdSize", "OUT_OF_RANGE"),
        (household("Hộ bà Lan", 51, y), "input.householdSize", "OUT_OF_RANGE"),
        (household(&"L".repeat(201), 3, y), "input.householdLabel", "TOO_LONG"),
        (
            json!({ "kind": "PERSONAL", "year": y, "householdLabel": "Hộ bà Lan" }),
            "input.householdLabel",
            "OUT_OF_RANGE",
        ),
        (json!({ "kind": "PERSONAL", "year": y, "householdSize": 2 }), "input.householdSize", "OUT_OF_RANGE"),
        (json!({ "kind": "PERSONAL", "year": y, "note": "n".repeat(1001) }), "input.note", "TOO_LONG"),
    ];
    for (i, field, reason) in cases {
        let r = submit(&app, &m, &cid, i.clone()).await;
        assert_eq!(
            (r.code(), r.field(), r.reason()),
            (Some("BAD_USER_INPUT"), Some(field), Some(reason)),
            "{i}"
        );
    }
    assert_eq!(pledge_rows(&app).await, 0, "nothing written");

    // The limits pass.
    pledged(&app, &m, &cid, household(&"L".repeat(200), 50, y + 1)).await;
    pledged(&app, &m, &cid, json!({ "kind": "PERSONAL", "year": y - 1, "note": "n".repeat(1000) })).await;
    pledged(&app, &officer_member, &cid, household("Hộ chị Hoa", 1, y)).await;

    // A member who has left cannot pledge any more.
    app.gql("mutation { leaveUnion(reason: \"Chuyển đi nơi khác\") { status } }", json!({}), Some(&m))
        .await
        .ok();
    submit(&app, &m, &cid, personal(y)).await.expect_reason("CONFLICT", "NOT_A_MEMBER");
    assert_eq!(pledge_rows(&app).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pledge_per_person_kind_year_and_one_per_household() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let y = this_year();
    let cid = s(&launched_campaign(&app, &lb, "HN-LB", input("Kiểm thử", json!({}))).await["id"]);
    let other = s(&launched_campaign(&app, &lb, "HN-LB", input("Kiểm thử khác", json!({}))).await["id"]);
    let a = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let b = member(&app, &city, S, 2, "HN-LB-BD-01").await.token;
    let gt = member(&app, &city, S, 3, "HN-LB-GT-01").await.token;

    pledged(&app, &a, &cid, personal(y)).await;
    submit(&app, &a, &cid, personal(y)).await.expect_reason("CONFLICT", "ALREADY_PLEDGED");
    pledged(&app, &a, &cid, personal(y + 1)).await;
    pledged(&app, &a, &other, personal(y)).await;
    pledged(&app, &a, &cid, household("Nhà bà Lan", 4, y)).await;
    // One household pledge per person, campaign and year.
    submit(&app, &a, &cid, household("Nhà bà Hoa", 3, y)).await.expect_reason("CONFLICT", "ALREADY_PLEDGED");
    // One pledge per household: another member of the branch, the same label typed otherwise.
    submit(&app, &b, &cid, household("  nha ba   LAN ", 4, y))
        .await
        .expect_reason("CONFLICT", "ALREADY_PLEDGED");
    submit(&app, &b, &cid, household("Nhà Bà Lan", 2, y)).await.expect_reason("CONFLICT", "ALREADY_PLEDGED");
    pledged(&app, &b, &cid, household("Nhà bà Lan", 4, y + 1)).await;
    pledged(&app, &b, &other, household("Nhà bà Lan", 4, y)).await;
    pledged(&app, &b, &cid, personal(y)).await;
    // Another branch has its own households.
    pledged(&app, &gt, &cid, household("Nhà bà Lan", 5, y)).await;
    assert_eq!(pledge_rows(&app).await, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_identical_submissions_make_one_pledge() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let y = this_year();
    let cid = s(&launched_campaign(&app, &lb, "HN-LB", input("Kiểm thử", json!({}))).await["id"]);
    let m = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;

    let results = join_all((0..10).map(|_| submit(&app, &m, &cid, household("Nhà bà Lan", 4, y)))).await;
    assert_eq!(results.iter().filter(|r| !r.has_errors()).count(), 1, "{results:?}");
    for r in results.into_iter().filter(Gql::has_errors) {
        r.expect_reason("CONFLICT", "ALREADY_PLEDGED");
    }
    let results = join_all((0..10).map(|_| submit(&app, &m, &cid, personal(y)))).await;
    assert_eq!(results.iter().filter(|r| !r.has_errors()).count(), 1, "{results:?}");
    for r in results.into_iter().filter(Gql::has_errors) {
        r.expect_reason("CONFLICT", "ALREADY_PLEDGED");
    }
    // Five members of one branch pledging the same household at once.
    let mut others = Vec::new();
    for n in 2..7 {
        others.push(member(&app, &city, S, n, "HN-LB-GT-01").await.token);
    }
    let results = join_all(others.iter().map(|t| submit(&app, t, &cid, household("Hộ ông Tư", 3, y)))).await;
    assert_eq!(results.iter().filter(|r| !r.has_errors()).count(), 1, "{results:?}");
    for r in results.into_iter().filter(Gql::has_errors) {
        r.expect_reason("CONFLICT", "ALREADY_PLEDGED");
    }
    assert_eq!(pledge_rows(&app).await, 3);
}

// ---- review ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_certifies_a_pledge_only_when_every_criterion_is_met() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let y = this_year();
    let c = launched_campaign(&app, &lb, "HN-LB", input("Kiểm thử 5 không 3 sạch", json!({}))).await;
    let cid = s(&c["id"]);
    let ks = criteria(&c);
    let foreign = criteria(&launched_campaign(&app, &lb, "HN-LB", input("Kiểm thử khác", json!({}))).await);
    let bare = s(&launched_campaign(
        &app,
        &lb,
        "HN-LB",
        input("Kiểm thử không tiêu chí", json!({ "criteria": [] })),
    )
    .await["id"]);
    let m = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let home = s(&pledged(&app, &m, &cid, household("Nhà bà Lan", 4, y)).await["id"]);
    let own = s(&pledged(&app, &m, &cid, personal(y)).await["id"]);

    let check = |checks: Vec<String>, reason: &'static str| {
        let (app, leader, home) = (&app, &leader, &home);
        async move {
            let r = certify(app, leader, home, &checks, None).await;
            assert_eq!(
                (r.code(), r.field(), r.reason()),
                (Some("BAD_USER_INPUT"), Some("checks"), Some(reason)),
                "{checks:?}"
            );
        }
    };
    check(vec![], "CRITERIA_NOT_MET").await;
    check(ks[..2].to_vec(), "CRITERIA_NOT_MET").await;
    check(vec![ks[0].clone(), ks[0].clone(), ks[2].clone()], "CRITERIA_NOT_MET").await;
    check([ks.clone(), vec![foreign[0].clone()]].concat(), "INVALID_ID").await;
    check([ks.clone(), vec!["not-an-id".into()]].concat(), "INVALID_ID").await;
    check([ks.clone(), vec![Uuid::now_v7().to_string()]].concat(), "INVALID_ID").await;
    check(vec![cid.clone()], "INVALID_ID").await;
    certify(&app, &leader, &home, &ks, Some(&"c".repeat(1001)))
        .await
        .expect_reason("BAD_USER_INPUT", "TOO_LONG");
    assert_eq!(view_pledge(&app, &m, &home).await.ok()["node"]["status"], "SUBMITTED");
    assert_eq!(certified_households(&app, "HN").await, 0);

    let before: Vec<i64> = {
        let mut v = Vec::new();
        for code in ["HN-LB-BD-01", "HN-LB-BD", "HN-LB", "HN", "HN-LB-GT"] {
            v.push(certified_households(&app, code).await);
        }
        v
    };
    assert_eq!(before, [0, 0, 0, 0, 0]);
    let reversed: Vec<String> = [ks.clone(), vec![ks[1].clone()]].concat().into_iter().rev().collect();
    let p =
        certify(&app, &leader, &home, &reversed, Some("  Gia đình gương mẫu ")).await.ok()["certifyPledge"]
            .clone();
    assert_eq!(p["status"], "CERTIFIED");
    assert_eq!(p["checks"], json!(ks), "every criterion once, in the campaign's order");
    assert_eq!(p["reviewComment"], "Gia đình gương mẫu");
    assert!(p["reviewedAt"].is_string());
    // Counted for her branch and every unit above it, once.
    for (code, n) in
        [("HN-LB-BD-01", 1), ("HN-LB-BD", 1), ("HN-LB", 1), ("HN", 1), ("HN-LB-GT", 0), ("HN-HK", 0)]
    {
        assert_eq!(certified_households(&app, code).await, n, "{code}");
    }
    assert_eq!(notified(&app, &m, "PLEDGE_CERTIFIED", &home).await, 1);

    certify(&app, &leader, &home, &ks, None).await.expect_reason("CONFLICT", "ALREADY_DECIDED");
    give_back(&app, &lb, &home, &[], "Thiếu giấy tờ").await.expect_reason("CONFLICT", "ALREADY_DECIDED");
    // A personal pledge is certified without counting as a household.
    assert_eq!(certify(&app, &lb, &own, &ks, None).await.ok()["certifyPledge"]["status"], "CERTIFIED");
    assert_eq!(certified_households(&app, "HN-LB").await, 1);
    assert_eq!(notified(&app, &m, "PLEDGE_CERTIFIED", &own).await, 1);
    // A campaign without criteria: nothing to check.
    let plain = s(&pledged(&app, &m, &bare, household("Nhà bà Lan", 4, y)).await["id"]);
    let p = certify(&app, &city, &plain, &[], None).await.ok()["certifyPledge"].clone();
    assert_eq!((p["status"].clone(), p["checks"].clone()), (json!("CERTIFIED"), json!([])));
    assert_eq!(certified_households(&app, "HN").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_reviews_her_own_pledge_or_one_outside_her_reach() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let case = app.token(BD_CASE_OFFICER).await;
    let y = this_year();
    let c = launched_campaign(&app, &lb, "HN-LB", input("Kiểm thử", json!({}))).await;
    let (cid, ks) = (s(&c["id"]), criteria(&c));
    let m = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let neighbour = member(&app, &city, S, 2, "HN-LB-BD-01").await.token;
    let hk = officer(&app, S, 3, "HN-HK", "UNIT_OFFICER").await.token;
    let other_leader = officer(&app, S, 4, "HN-LB-BD-02", "BRANCH_LEADER").await.token;
    // A leader of the branch who is a member of it too.
    let own_leader = member(&app, &city, S, 5, "HN-LB-BD-01").await.token;
    app.grant(&S.phone(5), "HN-LB-BD-01", "BRANCH_LEADER").await;

    let p = s(&pledged(&app, &m, &cid, household("Nhà bà Lan", 4, y)).await["id"]);
    let hers = s(&pledged(&app, &own_leader, &cid, personal(y)).await["id"]);

    certify(&app, &own_leader, &hers, &ks, None).await.expect_code("FORBIDDEN");
    give_back(&app, &own_leader, &hers, &[], "Tự duyệt").await.expect_code("FORBIDDEN");
    assert!(
        !queued(&app, &own_leader, json!({})).await.contains(&hers),
        "her own pledge is not in her queue"
    );
    assert!(queued(&app, &own_leader, json!({})).await.contains(&p));
    assert_eq!(view_pledge(&app, &own_leader, &hers).await.ok()["node"]["status"], "SUBMITTED");

    for token in [&hk, &case, &neighbour, &other_leader] {
        certify(&app, token, &p, &ks, None).await.expect_code("NOT_FOUND");
        give_back(&app, token, &p, &[], "Không").await.expect_code("NOT_FOUND");
        view_pledge(&app, token, &p).await.expect_code("NOT_FOUND");
    }
    // The owner and reviewers in reach see it.
    for token in [&m, &leader, &lb, &city] {
        let seen = view_pledge(&app, token, &p).await.ok()["node"].clone();
        assert_eq!(
            (seen["fullName"].clone(), seen["branch"]["code"].clone()),
            (json!(super::name(1)), json!("HN-LB-BD-01"))
        );
    }
    // The owner cannot review her own pledge either.
    certify(&app, &m, &p, &ks, None).await.expect_code("FORBIDDEN");
    assert_eq!(certify(&app, &city, &p, &ks, None).await.ok()["certifyPledge"]["status"], "CERTIFIED");
    certify(&app, &lb, &hers, &ks, None).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returned_pledge_is_edited_resubmitted_and_then_certified() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let y = this_year();
    let c = launched_campaign(&app, &lb, "HN-LB", input("Kiểm thử", json!({}))).await;
    let (cid, ks) = (s(&c["id"]), criteria(&c));
    let m = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let neighbour = member(&app, &city, S, 2, "HN-LB-BD-01").await.token;
    let first = pledged(&app, &m, &cid, household("Nhà bà Lan", 4, y)).await;
    let id = s(&first["id"]);
    let mine = s(&pledged(&app, &m, &cid, personal(y)).await["id"]);
    let theirs = s(&pledged(&app, &neighbour, &cid, household("Nhà bà Hoa", 3, y)).await["id"]);

    give_back(&app, &leader, &id, &[], "   ").await.expect_reason("BAD_USER_INPUT", "REQUIRED");
    give_back(&app, &leader, &id, &[], &"c".repeat(1001)).await.expect_reason("BAD_USER_INPUT", "TOO_LONG");
    give_back(&app, &leader, &id, &["x".into()], "Thiếu").await.expect_reason("BAD_USER_INPUT", "INVALID_ID");
    resubmit(&app, &m, &id, json!({ "householdLabel": "Nhà bà Lan", "householdSize": 4 }))
        .await
        .expect_reason("CONFLICT", "WRONG_STATUS");

    let p =
        give_back(&app, &leader, &id, &[ks[2].clone()], "Chưa đạt tiêu chí 1, 2").await.ok()["returnPledge"]
            .clone();
    assert_eq!(p["status"], "RETURNED");
    assert_eq!(p["checks"], json!([ks[2]]));
    assert_eq!(p["reviewComment"], "Chưa đạt tiêu chí 1, 2");
    assert_eq!(notified(&app, &m, "PLEDGE_RETURNED", &id).await, 1);
    assert!(!queued(&app, &leader, json!({})).await.contains(&id), "out of the queue");
    certify(&app, &leader, &id, &ks, None).await.expect_reason("CONFLICT", "ALREADY_DECIDED");

    // Only she edits it; the same rules as a new pledge; kind and year stay.
    let edit = json!({ "householdLabel": "Nhà bà Lan (tổ 5)", "householdSize": 5, "note": "Đã bổ sung" });
    resubmit(&app, &leader, &id, edit.clone()).await.expect_code("FORBIDDEN");
    resubmit(&app, &neighbour, &id, edit.clone()).await.expect_code("NOT_FOUND");
    resubmit(&app, &m, &id, json!({ "householdSize": 5 })).await.expect_reason("BAD_USER_INPUT", "REQUIRED");
    resubmit(&app, &m, &id, json!({ "householdLabel": "Nhà bà Lan", "householdSize": 60 }))
        .await
        .expect_reason("BAD_USER_INPUT", "OUT_OF_RANGE");
    resubmit(&app, &m, &id, json!({ "householdLabel": "nhà BÀ hoa", "householdSize": 3 }))
        .await
        .expect_reason("CONFLICT", "ALREADY_PLEDGED");
    let again = resubmit(&app, &m, &id, edit).await.ok()["resubmitPledge"].clone();
    assert_eq!(again["status"], "SUBMITTED");
    assert_eq!(
        (again["householdLabel"].clone(), again["householdSize"].clone()),
        (json!("Nhà bà Lan (tổ 5)"), json!(5))
    );
    assert_eq!(
        (again["kind"].clone(), again["year"].clone(), again["note"].clone()),
        (json!("HOUSEHOLD"), json!(y), json!("Đã bổ sung"))
    );
    assert!(time(&again["submittedAt"]) > time(&first["submittedAt"]));
    resubmit(&app, &m, &id, json!({ "householdLabel": "Nhà bà Lan", "householdSize": 4 }))
        .await
        .expect_reason("CONFLICT", "WRONG_STATUS");
    // Back in the queue, now behind the pledges submitted before it.
    assert_eq!(queued(&app, &leader, json!({})).await, [mine.clone(), theirs.clone(), id.clone()]);

    let done = certify(&app, &leader, &id, &ks, None).await.ok()["certifyPledge"].clone();
    assert_eq!((done["status"].clone(), done["checks"].clone()), (json!("CERTIFIED"), json!(ks)));
    assert_eq!(certified_households(&app, "HN-LB-BD-01").await, 1);
    assert_eq!(notified(&app, &m, "PLEDGE_CERTIFIED", &id).await, 1);

    // A personal pledge carries no household; an ended campaign takes no resubmission.
    give_back(&app, &lb, &mine, &[], "Bổ sung ghi chú").await.ok();
    resubmit(&app, &m, &mine, json!({ "householdLabel": "Nhà bà Lan" }))
        .await
        .expect_reason("BAD_USER_INPUT", "OUT_OF_RANGE");
    end(&app, &lb, &cid).await.ok();
    resubmit(&app, &m, &mine, json!({ "note": "Đã bổ sung" }))
        .await
        .expect_reason("CONFLICT", "WRONG_STATUS");
    // Reviews of pledges already submitted go on after the end.
    assert_eq!(certify(&app, &lb, &theirs, &ks, None).await.ok()["certifyPledge"]["status"], "CERTIFIED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_reviews_of_a_pledge_have_one_winner() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let y = this_year();
    let c = launched_campaign(&app, &lb, "HN-LB", input("Kiểm thử", json!({}))).await;
    let (cid, ks) = (s(&c["id"]), criteria(&c));
    let mut certified = 0;
    for n in 1..=5 {
        let m = member(&app, &city, S, n, "HN-LB-BD-01").await.token;
        let id = s(&pledged(&app, &m, &cid, household(&format!("Hộ số {n}"), 3, y)).await["id"]);
        let (a, b, c) = tokio::join!(
            certify(&app, &leader, &id, &ks, None),
            give_back(&app, &lb, &id, &[], "Cần bổ sung"),
            certify(&app, &city, &id, &ks, Some("Đạt")),
        );
        let results = [a, b, c];
        let winners: Vec<usize> = (0..3).filter(|&i| !results[i].has_errors()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        for r in results.iter().filter(|r| r.has_errors()) {
            r.clone().expect_reason("CONFLICT", "ALREADY_DECIDED");
        }
        let status = view_pledge(&app, &m, &id).await.ok()["node"]["status"].clone();
        let expected = if winners[0] == 1 { "RETURNED" } else { "CERTIFIED" };
        assert_eq!(status, expected);
        if expected == "CERTIFIED" {
            certified += 1;
        }
        let kinds = ["PLEDGE_CERTIFIED", "PLEDGE_RETURNED"];
        let notes: usize = join_all(kinds.iter().map(|k| notified(&app, &m, k, &id))).await.into_iter().sum();
        assert_eq!(notes, 1, "one notification");
    }
    assert_eq!(certified_households(&app, "HN-LB-BD-01").await, certified);
    assert_eq!(certified_households(&app, "HN").await, certified);
}

// ---- the review queue ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_queue_lists_pledges_in_reach_oldest_first() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let sys = app.token(SYSADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let case = app.token(BD_CASE_OFFICER).await;
    let y = this_year();
    let all = launched_campaign(&app, &city, "HN", input("Kiểm thử thành phố", json!({}))).await;
    let (all_id, ks) = (s(&all["id"]), criteria(&all));
    let district = s(&launched_campaign(&app, &lb, "HN-LB", input("Kiểm thử quận", json!({}))).await["id"]);
    let bd1 = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let bd2 = member(&app, &city, S, 2, "HN-LB-BD-02").await.token;
    let gt = member(&app, &city, S, 3, "HN-LB-GT-01").await.token;
    let hk = member(&app, &city, S, 4, "HN-HK-HB-01").await.token;
    let outsider = person(&app, S, 5).await.token;

    let p_bd2 = s(&pledged(&app, &bd2, &all_id, personal(y)).await["id"]);
    let p_bd1 = s(&pledged(&app, &bd1, &all_id, household("Nhà bà Lan", 4, y)).await["id"]);
    let p_gt = s(&pledged(&app, &gt, &all_id, personal(y)).await["id"]);
    let p_hk = s(&pledged(&app, &hk, &all_id, personal(y)).await["id"]);
    let p_bd1_district = s(&pledged(&app, &bd1, &district, personal(y)).await["id"]);

    assert_eq!(queued(&app, &leader, json!({})).await, [p_bd1.clone(), p_bd1_district.clone()]);
    assert_eq!(
        queued(&app, &lb, json!({})).await,
        [p_bd2.clone(), p_bd1.clone(), p_gt.clone(), p_bd1_district.clone()]
    );
    let everyone = [p_bd2.clone(), p_bd1.clone(), p_gt.clone(), p_hk.clone(), p_bd1_district.clone()];
    assert_eq!(queued(&app, &city, json!({})).await, everyone);
    assert_eq!(queued(&app, &sys, json!({})).await, everyone);
    for token in [&case, &outsider, &bd1] {
        assert!(queued(&app, token, json!({})).await.is_empty());
    }

    let bd = app.unit_id("HN-LB-BD").await;
    assert_eq!(
        queued(&app, &lb, json!({ "unitId": bd })).await,
        [p_bd2.clone(), p_bd1.clone(), p_bd1_district.clone()]
    );
    assert_eq!(queued(&app, &lb, json!({ "campaignId": district })).await, [p_bd1_district.as_str()]);
    queue(&app, &lb, json!({ "unitId": app.unit_id("HN-HK").await }), None, None)
        .await
        .expect_code("NOT_FOUND");
    queue(&app, &case, json!({ "unitId": bd }), None, None).await.expect_code("FORBIDDEN");
    queue(&app, &lb, json!({ "campaignId": bd }), None, None)
        .await
        .expect_reason("BAD_USER_INPUT", "INVALID_ID");

    // Decided pledges leave the default queue; a status filter (or none) shows them.
    certify(&app, &lb, &p_bd1, &ks, None).await.ok();
    give_back(&app, &lb, &p_gt, &[], "Bổ sung").await.ok();
    assert_eq!(queued(&app, &lb, json!({})).await, [p_bd2.clone(), p_bd1_district.clone()]);
    assert_eq!(queued(&app, &lb, json!({ "status": "CERTIFIED" })).await, [p_bd1.as_str()]);
    assert_eq!(queued(&app, &lb, json!({ "status": "RETURNED" })).await, [p_gt.as_str()]);
    assert_eq!(queued(&app, &lb, json!({ "status": null })).await.len(), 4);

    // Pages of one walk the queue once, in order.
    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = queue(&app, &city, json!({ "status": null }), Some(1), after.as_deref()).await.ok();
        let conn = &data["pledgeReviewQueue"];
        walked.extend(nodes(conn).iter().map(|n| s(&n["id"])));
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = Some(s(&conn["pageInfo"]["endCursor"]));
    }
    assert_eq!(walked, everyone);
    let first = nodes(&queue(&app, &lb, json!({}), Some(1), None).await.ok()["pledgeReviewQueue"])[0].clone();
    assert_eq!(first["fullName"], super::name(2));
    assert_eq!(first["branch"]["code"], "HN-LB-BD-02");
    assert_eq!(first["campaign"]["title"], "Kiểm thử thành phố");
}

async fn statements_for_queue_page(app: &TestApp, token: &str, n: usize) -> u64 {
    let q = "query($n: Int) { pledgeReviewQueue(first: $n) { totalCount edges { node { id kind fullName branch { code } campaign { title criteria { id } } } } } }";
    let before = app.statements();
    let data = app.gql(q, json!({ "n": n }), Some(token)).await.ok();
    let after = app.statements();
    let rows = nodes(&data["pledgeReviewQueue"]);
    assert_eq!(rows.len(), n);
    assert!(
        rows.iter().all(|r| r["fullName"].is_string()
            && r["campaign"]["criteria"].as_array().is_some_and(|c| c.len() == 3))
    );
    after - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_queue_page_issues_a_bounded_number_of_statements() {
    let app = spawn().await;
    let lb = app.token(LB_OFFICER).await;
    let mut campaigns = Vec::new();
    for n in 0..3 {
        campaigns.push(id_of::<CampaignId>(&s(&launched_campaign(
            &app,
            &lb,
            "HN-LB",
            input(&format!("Kiểm thử {n}"), json!({})),
        )
        .await["id"])));
    }
    let branches = ["HN-LB-BD-01", "HN-LB-BD-02", "HN-LB-GT-01", "HN-LB-NL-01"];
    for chunk in (0..24u32).collect::<Vec<_>>().chunks(8) {
        join_all(chunk.iter().map(|&n| {
            let (app, lb) = (&app, &lb);
            enrol(app, lb, S, n, branches[n as usize % branches.len()])
        }))
        .await;
    }
    // Pledges written directly (setup only): one per member, over three campaigns.
    let now = Utc::now();
    for n in 0..24u32 {
        let p = entities::person::Entity::find()
            .filter(entities::person::Column::Phone.eq(S.stored_phone(n)))
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        let branch = unit_uuid(&app, branches[n as usize % branches.len()]).await;
        entities::pledge::ActiveModel {
            id: Set(Uuid::now_v7()),
            campaign_id: Set(campaigns[n as usize % 3]),
            person_id: Set(p.id),
            branch_id: Set(branch),
            kind: Set("PERSONAL".parse().unwrap()),
            household_label: Set(None),
            household_key: Set(None),
            household_size: Set(None),
            year: Set(this_year()),
            status: Set("SUBMITTED".parse().unwrap()),
            note: Set(None),
            checks: Set(None),
            review_comment: Set(None),
            reviewed_by: Set(None),
            reviewed_at: Set(None),
            submitted_at: Set(now + chrono::Duration::seconds(i64::from(n))),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&app.state.db)
        .await
        .unwrap();
    }
    let (mut small, mut large) = (u64::MAX, u64::MAX);
    for _ in 0..5 {
        small = small.min(statements_for_queue_page(&app, &lb, 3).await);
        large = large.min(statements_for_queue_page(&app, &lb, 20).await);
    }
    assert_eq!(small, large, "statements grow with the page size");
    assert!(large <= 10, "{large} statements for one page");
}
