//! Domestic-violence concerns: submission (idempotency, validation, limits, routing), who may
//! read what (and the access log), the case workflow, escalation, the reporter's follow-up, and
//! the canary that proves what a report says never leaks.

mod access;
mod canary;
mod counts;
mod escalation;
mod officer;
mod reporter;
mod revoked;
mod transfer;
pub(crate) mod workflow;

use entities::ids::{PersonId, UnitId};
use serde_json::{Value, json};
use uuid::Uuid;

pub use crate::fixtures::{
    PASSWORD, SUBMIT_VIOLENCE as SUBMIT, Series, officer, submit_violence as submit, violence_input as input,
    violence_report,
};
use crate::helpers::*;

/// This module's test people.
pub const S: Series = Series::VIOLENCE;

pub const DETAILS: &str = "id referenceCode status closeReason immediateDanger anonymous description address \
    contact { phone safeTimes channel } mayContact mayShareWithAuthorities version assignee { fullName } \
    summary { urgent overdue escalationLevel unit { code } routedUnit { code } kinds affected ageGroup } \
    timeline { kind public actorRole officer { fullName } fromStatus toStatus closeReason text agency referredOn unit { code } }";

pub fn read_q() -> String {
    format!("query($id: ID!) {{ violenceReport(id: $id) {{ {DETAILS} }} }}")
}

pub const QUEUE: &str = "query($f: ViolenceReportFilterInput, $first: Int, $after: String) { \
    violenceReports(filter: $f, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } \
    edges { node { id referenceCode status urgent overdue escalationLevel submittedAt assignedToMe unit { code } } } } }";

pub const MINE: &str = "id referenceCode status closeReason submittedAt timeline { kind actorRole toStatus closeReason text agency }";

/// A report's timeline as (kind, public) pairs, from a `violenceReport` read with [`DETAILS`].
pub fn steps(data: &Value) -> Vec<(String, bool)> {
    data["violenceReport"]["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|t| (s(&t["kind"]), t["public"] == true))
        .collect()
}

/// The report behind a reference code, straight from the database.
pub async fn report_row(app: &TestApp, code: &str) -> entities::violence_report::Model {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entities::violence_report::Entity::find()
        .filter(entities::violence_report::Column::ReferenceCode.eq(code))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no report {code}"))
}

/// The global id of the report behind a reference code.
pub async fn report_id(app: &TestApp, code: &str) -> String {
    global_id("ViolenceReport", report_row(app, code).await.id)
}

/// Access-log rows of a report, as (role, action, person).
pub async fn log_rows(app: &TestApp, code: &str) -> Vec<(String, String, Option<PersonId>)> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let id = report_row(app, code).await.id;
    entities::violence_access_log::Entity::find()
        .filter(entities::violence_access_log::Column::ReportId.eq(id))
        .order_by_asc(entities::violence_access_log::Column::At)
        .order_by_asc(entities::violence_access_log::Column::Id)
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.role.as_str().to_owned(), r.action.as_str().to_owned(), r.person_id))
        .collect()
}

/// Notifications of a kind for a person (by phone).
pub async fn notifications_of(app: &TestApp, phone: &str, kind: &str) -> Vec<entities::notification::Model> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let person = id_of::<PersonId>(&app.person_id(phone).await);
    entities::notification::Entity::find()
        .filter(entities::notification::Column::PersonId.eq(person))
        .filter(entities::notification::Column::Kind.eq(kind))
        .all(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_report_reaches_the_wards_case_officer() {
    let app = spawn_app().await;
    let case = app.token(BD_CASE_OFFICER).await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let receipt = submit(&app, &input(&branch, true, "Chồng tôi đánh tôi mỗi tối."), None).await;
    let code = s(&receipt["referenceCode"]);
    assert!(code.starts_with("BL-") && code.len() == 11, "{code}");
    assert_eq!(receipt["status"], "SUBMITTED");
    let pin = s(&receipt["pin"]);
    assert!(pin.len() == 8 && pin.chars().all(|c| c.is_ascii_digit()), "{pin}");

    // Routed to Bồ Đề's case officer (the branch has none), who is notified neutrally.
    let row = report_row(&app, &code).await;
    assert_eq!(row.routed_unit_id, id_of::<UnitId>(&app.unit_id("HN-LB-BD").await));
    assert!(row.reporter_id.is_none());
    let notes = notifications_of(&app, BD_CASE_OFFICER, "VIOLENCE_REPORT_RECEIVED").await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].params, "{}");

    let data = app.gql(&read_q(), json!({ "id": report_id(&app, &code).await }), Some(&case)).await.ok();
    let r = &data["violenceReport"];
    assert_eq!(r["description"], "Chồng tôi đánh tôi mỗi tối.");
    assert_eq!(r["anonymous"], true);
    assert_eq!(r["summary"]["urgent"], true);
    assert_eq!(r["summary"]["kinds"], json!(["PHYSICAL", "PSYCHOLOGICAL"]));
    assert_eq!(r["summary"]["routedUnit"]["code"], "HN-LB-BD");
    assert_eq!(r["timeline"][0]["kind"], "SUBMITTED");
    assert_eq!(r["timeline"][0]["actorRole"], "REPORTER");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_returns_the_same_report_and_another_input_under_the_key_conflicts() {
    let app = spawn_app().await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let first = input(&branch, false, "Hàng xóm bị đánh.");
    let a = submit(&app, &first, None).await;
    let b = submit(&app, &first, None).await;
    assert_eq!(a, b, "same code and the same PIN");

    let mut changed = first.clone();
    changed["description"] = json!("Hàng xóm bị đánh, có trẻ em.");
    app.gql(SUBMIT, json!({ "i": changed }), None).await.expect_reason("CONFLICT", "IDEMPOTENCY_KEY_REUSED");
    // The same input from a signed-in person is not a retry of the anonymous one either.
    let member = app.token(MEMBER).await;
    app.gql(SUBMIT, json!({ "i": first }), Some(&member))
        .await
        .expect_reason("CONFLICT", "IDEMPOTENCY_KEY_REUSED");
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(entities::violence_report::Entity::find().count(&app.state.db).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_submissions_with_one_key_make_one_report() {
    let app = spawn_app().await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let one = input(&branch, true, "Gửi lại nhiều lần vì mạng chập chờn.");
    let answers =
        futures_util::future::join_all((0..20).map(|_| app.gql(SUBMIT, json!({ "i": one }), None))).await;
    let receipts: Vec<Value> = answers.into_iter().map(|a| a.ok()["submitViolenceReport"].clone()).collect();
    assert!(receipts.iter().all(|r| *r == receipts[0]), "{receipts:?}");
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(entities::violence_report::Entity::find().count(&app.state.db).await.unwrap(), 1);
    assert_eq!(entities::violence_report_event::Entity::find().count(&app.state.db).await.unwrap(), 1);
    assert_eq!(notifications_of(&app, BD_CASE_OFFICER, "VIOLENCE_REPORT_RECEIVED").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_names_its_field_and_writes_nothing() {
    let app = spawn_app().await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let district = app.unit_id("HN-LB").await;
    let base = input(&branch, false, "Mô tả.");
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({ "kinds": [] }), "input.kinds", "REQUIRED"),
        (json!({ "description": "   " }), "input.description", "REQUIRED"),
        (json!({ "description": "x".repeat(5001) }), "input.description", "TOO_LONG"),
        (json!({ "address": "x".repeat(301) }), "input.address", "TOO_LONG"),
        (json!({ "contact": { "phone": "12345" } }), "input.contact.phone", "INVALID_PHONE"),
        (json!({ "idempotencyKey": "short" }), "input.idempotencyKey", "INVALID_FORMAT"),
        (json!({ "unitId": district }), "input.unitId", "INVALID_KIND"),
        (json!({ "unitId": global_id("OrgUnit", Uuid::new_v4()) }), "input.unitId", "INVALID_ID"),
        (json!({ "unitId": "garbage" }), "input.unitId", "INVALID_ID"),
    ];
    for (patch, field, reason) in cases {
        let mut i = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            i[k] = v.clone();
        }
        let res = app.gql(SUBMIT, json!({ "i": i }), None).await;
        assert_eq!(res.code(), Some("BAD_USER_INPUT"), "{field}: {:?}", res.body);
        assert_eq!(res.field(), Some(field));
        assert_eq!(res.reason(), Some(reason), "{field}");
    }
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(entities::violence_report::Entity::find().count(&app.state.db).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_are_rate_limited_per_account_and_per_address_but_retries_count_once() {
    let app =
        spawn_app_with(&[("APP_REPORT_MAX_PER_ACCOUNT", "2"), ("APP_REPORT_MAX_PER_ADDRESS", "3")]).await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let member = app.token(MEMBER).await;
    let first = input(&branch, false, "Một.");
    for _ in 0..3 {
        submit(&app, &first, Some(&member)).await;
    }
    submit(&app, &input(&branch, false, "Hai."), Some(&member)).await;
    app.gql(SUBMIT, json!({ "i": input(&branch, false, "Ba.") }), Some(&member))
        .await
        .expect_code("RATE_LIMITED");
    // The address allows three new reports: two from the account, one anonymous, then no more.
    submit(&app, &input(&branch, false, "Bốn."), None).await;
    app.gql(SUBMIT, json!({ "i": input(&branch, false, "Năm.") }), None).await.expect_code("RATE_LIMITED");
    // A retry of an accepted submission is still answered.
    submit(&app, &first, Some(&member)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_goes_to_the_nearest_unit_above_that_has_case_officers() {
    let app = spawn_app().await;
    // Gia Thụy has no case officer; Long Biên gets one; Hoàn Kiếm's ward has nobody up to the city.
    officer(&app, S, 1, "HN-LB", "CASE_OFFICER").await;
    let gt = submit(&app, &input(&app.unit_id("HN-LB-GT").await, false, "A."), None).await;
    let bd = submit(&app, &input(&app.unit_id("HN-LB-BD").await, false, "B."), None).await;
    let hb = submit(&app, &input(&app.unit_id("HN-HK-HB").await, false, "C."), None).await;
    let routed = |row: entities::violence_report::Model| row.routed_unit_id;
    assert_eq!(
        routed(report_row(&app, &s(&gt["referenceCode"])).await),
        id_of::<UnitId>(&app.unit_id("HN-LB").await)
    );
    assert_eq!(
        routed(report_row(&app, &s(&bd["referenceCode"])).await),
        id_of::<UnitId>(&app.unit_id("HN-LB-BD").await)
    );
    assert_eq!(
        routed(report_row(&app, &s(&hb["referenceCode"])).await),
        id_of::<UnitId>(&app.unit_id("HN").await)
    );
    assert_eq!(notifications_of(&app, "+84970000001", "VIOLENCE_REPORT_RECEIVED").await.len(), 1);
    assert_eq!(notifications_of(&app, BD_CASE_OFFICER, "VIOLENCE_REPORT_RECEIVED").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_page_issues_a_bounded_number_of_statements() {
    let app = spawn_app().await;
    let case = app.token(BD_CASE_OFFICER).await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let mut counts = Vec::new();
    for batch in [3, 20] {
        for i in 0..batch {
            submit(&app, &input(&branch, i % 3 == 0, "Một tin báo."), None).await;
        }
        let before = app.statements();
        let data = app.gql(QUEUE, json!({ "first": 50 }), Some(&case)).await.ok();
        counts.push(app.statements() - before);
        assert!(!nodes(&data["violenceReports"]).is_empty());
    }
    // Her roles (1), the root check (1), the page (1), the count (1), the units (1, batched).
    assert!(counts.iter().all(|&n| n <= 6), "{counts:?}");
    assert_eq!(counts[0], counts[1], "the same whatever the page size");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_is_urgent_first_then_oldest_and_filters() {
    let app = spawn_app().await;
    let case = app.token(BD_CASE_OFFICER).await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let mut codes = Vec::new();
    for (i, urgent) in [false, true, false, true, false].into_iter().enumerate() {
        codes.push((
            s(&submit(&app, &input(&branch, urgent, &format!("Tin {i}.")), None).await["referenceCode"]),
            urgent,
        ));
    }
    let mut expected: Vec<String> = codes.iter().filter(|c| c.1).map(|c| c.0.clone()).collect();
    expected.extend(codes.iter().filter(|c| !c.1).map(|c| c.0.clone()));
    // Walk it two at a time.
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app.gql(QUEUE, json!({ "first": 2, "after": after }), Some(&case)).await.ok();
        let page = &data["violenceReports"];
        assert_eq!(page["totalCount"], 5);
        seen.extend(nodes(page).iter().map(|n| s(&n["referenceCode"])));
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, expected);

    let only = |f: Value| {
        let app = &app;
        let case = case.clone();
        async move {
            let data = app.gql(QUEUE, json!({ "f": f }), Some(&case)).await.ok();
            nodes(&data["violenceReports"]).iter().map(|n| s(&n["referenceCode"])).collect::<Vec<_>>()
        }
    };
    assert_eq!(only(json!({ "urgent": true })).await, expected[..2].to_vec());
    let id = report_id(&app, &expected[2]).await;
    app.gql(workflow::ACK, json!({ "id": id }), Some(&case)).await.ok();
    assert_eq!(only(json!({ "status": "ACKNOWLEDGED" })).await, vec![expected[2].clone()]);
    app.gql("mutation($id: ID!) { assignViolenceReport(id: $id) { id } }", json!({ "id": id }), Some(&case))
        .await
        .ok();
    assert_eq!(only(json!({ "assignedToMe": true })).await, vec![expected[2].clone()]);
    assert_eq!(only(json!({ "overdue": true })).await, Vec::<String>::new());
    let far = json!({ "submittedBetween": { "from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z" } });
    assert!(only(far).await.is_empty());
    assert_eq!(only(json!({ "unitId": app.unit_id("HN-LB-BD-01").await })).await.len(), 5);
    let other = app.unit_id("HN-HK").await;
    app.gql(QUEUE, json!({ "f": { "unitId": other } }), Some(&case)).await.expect_code("NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_report_reaches_the_case_officers_console_live() {
    let app = spawn_app().await;
    let case = app.token(BD_CASE_OFFICER).await;
    let elsewhere = officer(&app, S, 11, "HN-HK", "CASE_OFFICER").await.token;
    let q = "subscription { violenceReportEvents { event report { referenceCode urgent unit { code } } } }";
    let mut console = crate::ws::subscribe(&app, &case, q, None).await;
    let mut other = crate::ws::subscribe(&app, &elsewhere, q, None).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let receipt = submit(&app, &input(&app.unit_id("HN-LB-BD-01").await, true, "Trực tiếp."), None).await;
    let msg = crate::ws::next_event(&mut console).await;
    let event = &msg["payload"]["data"]["violenceReportEvents"];
    assert_eq!(event["event"], "SUBMITTED");
    assert_eq!(event["report"]["referenceCode"], receipt["referenceCode"]);
    assert_eq!(event["report"]["unit"]["code"], "HN-LB-BD-01");
    assert!(!msg.to_string().contains("Trực tiếp"), "the event carries nothing the reporter wrote");
    // Out of reach, nothing arrives.
    let quiet =
        tokio::time::timeout(std::time::Duration::from_millis(500), crate::ws::next_event(&mut other)).await;
    assert!(quiet.is_err(), "{quiet:?}");
    // Someone who is not a case officer cannot listen.
    let mut member = crate::ws::subscribe(&app, &app.token(MEMBER).await, q, None).await;
    let refused = crate::ws::next_event(&mut member).await;
    assert_eq!(refused["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN", "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_key_rotation_is_still_the_same_report_with_the_same_pin() {
    let app = spawn_app().await;
    let first = input(&app.unit_id("HN-LB-BD-01").await, false, "Trước khi đổi khóa.");
    let receipt = submit(&app, &first, None).await;
    let rotated = format!("2:{},{}", "bmV3LXJlcG9ydC1rZXktMDEyMzQ1Njc4OWFiY2RlZmc=", TEST_REPORT_KEYS);
    let restarted = app.spawn_peer_with(&[("APP_REPORT_KEYS", &rotated)]).await;
    assert_eq!(submit(&restarted, &first, None).await, receipt);
    // New reports take the new key; the old one still opens.
    let second = submit(&restarted, &input(&app.unit_id("HN-LB-BD-01").await, false, "Sau."), None).await;
    assert_eq!(report_row(&app, &s(&second["referenceCode"])).await.description[1..3], 2u16.to_be_bytes());
    let case = restarted.token(BD_CASE_OFFICER).await;
    let id = report_id(&app, &s(&receipt["referenceCode"])).await;
    let data = restarted.gql(&read_q(), json!({ "id": id }), Some(&case)).await.ok();
    assert_eq!(data["violenceReport"]["description"], "Trước khi đổi khóa.");
}
