//! The case workflow: acknowledge, note, message, refer, resolve, close, reopen — the
//! transitions it allows and refuses, and officers acting at once.

use serde_json::{Value, json};

use super::*;

pub const ACK: &str = "mutation($id: ID!) { acknowledgeViolenceReport(id: $id) { status version } }";
pub const NOTE: &str =
    "mutation($id: ID!, $t: String!) { addViolenceReportNote(id: $id, text: $t) { version } }";
pub const MESSAGE: &str =
    "mutation($id: ID!, $t: String!) { messageViolenceReporter(id: $id, text: $t) { version } }";
pub const REFER: &str = "mutation($id: ID!, $i: ReferralInput!) { recordViolenceReferral(id: $id, input: $i) { status version } }";
pub const STATUS: &str = "mutation($id: ID!, $s: ViolenceReportStatus!, $r: String!, $c: ViolenceCloseReason) { \
    changeViolenceReportStatus(id: $id, status: $s, reason: $r, closeReason: $c) { status closeReason version } }";
pub const REOPEN: &str = "mutation($id: ID!, $r: String!) { reopenViolenceReport(id: $id, reason: $r) { status closeReason version } }";

fn today() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_goes_from_submitted_to_resolved_and_back() {
    let app = spawn_app().await;
    let case = app.token(BD_CASE_OFFICER).await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let reporter = app.register("0966000002", "Ngô Thị Lan", PASSWORD).await.0;
    let code = s(&submit(&app, &input(&branch, true, "Diễn biến."), Some(&reporter)).await["referenceCode"]);
    let id = report_id(&app, &code).await;

    // Nothing but acknowledging (or closing) a report nobody has taken.
    app.gql(REFER, json!({ "id": id, "i": { "agency": "POLICE", "referredOn": today() } }), Some(&case))
        .await
        .expect_reason("CONFLICT", "WRONG_STATUS");
    app.gql(STATUS, json!({ "id": id, "s": "RESOLVED", "r": "Xong." }), Some(&case))
        .await
        .expect_reason("CONFLICT", "WRONG_STATUS");
    let ack = app.gql(ACK, json!({ "id": id }), Some(&case)).await.ok();
    assert_eq!(ack["acknowledgeViolenceReport"], json!({ "status": "ACKNOWLEDGED", "version": 1 }));
    app.gql(ACK, json!({ "id": id }), Some(&case)).await.expect_reason("CONFLICT", "WRONG_STATUS");
    let row = report_row(&app, &code).await;
    assert!(row.escalate_at.is_none() && row.acknowledged_at.is_some());

    app.gql(NOTE, json!({ "id": id, "t": "Đã gọi điện, chưa liên lạc được." }), Some(&case)).await.ok();
    app.gql(MESSAGE, json!({ "id": id, "t": "Chúng tôi đã nhận tin của chị." }), Some(&case)).await.ok();
    assert_eq!(notifications_of(&app, "+84966000002", "VIOLENCE_REPORT_MESSAGE").await.len(), 1);
    app.gql(STATUS, json!({ "id": id, "s": "IN_PROGRESS", "r": "Đang xác minh." }), Some(&case)).await.ok();
    let referral =
        json!({ "agency": "COMMUNE_COMMITTEE", "referredOn": today(), "outcome": "Đã tiếp nhận." });
    let refer = app.gql(REFER, json!({ "id": id, "i": referral }), Some(&case)).await.ok();
    assert_eq!(refer["recordViolenceReferral"]["status"], "REFERRED");
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(2)).date_naive().to_string();
    app.gql(REFER, json!({ "id": id, "i": { "agency": "POLICE", "referredOn": tomorrow } }), Some(&case))
        .await
        .expect_reason("BAD_USER_INPUT", "OUT_OF_RANGE");
    let done =
        app.gql(STATUS, json!({ "id": id, "s": "RESOLVED", "r": "Đã an toàn." }), Some(&case)).await.ok();
    assert_eq!(done["changeViolenceReportStatus"]["status"], "RESOLVED");
    // A resolved case is closed as it is, without reopening it; a closed one cannot be closed
    // again.
    let resolved_closed = app
        .gql(STATUS, json!({ "id": id, "s": "CLOSED", "r": "Kết thúc.", "c": "RESOLVED" }), Some(&case))
        .await
        .ok();
    assert_eq!(resolved_closed["changeViolenceReportStatus"]["status"], "CLOSED");
    app.gql(STATUS, json!({ "id": id, "s": "CLOSED", "r": "x", "c": "OTHER" }), Some(&case))
        .await
        .expect_reason("CONFLICT", "WRONG_STATUS");
    let again = app.gql(REOPEN, json!({ "id": id, "r": "Tái diễn." }), Some(&case)).await.ok();
    assert_eq!(again["reopenViolenceReport"]["status"], "IN_PROGRESS");
    let closed = app
        .gql(STATUS, json!({ "id": id, "s": "CLOSED", "r": "Trùng.", "c": "DUPLICATE" }), Some(&case))
        .await
        .ok();
    assert_eq!(
        closed["changeViolenceReportStatus"],
        json!({ "status": "CLOSED", "closeReason": "DUPLICATE", "version": 9 })
    );

    // The timeline has every step with its text; the reporter sees only the public ones.
    let data = app.gql(&read_q(), json!({ "id": id }), Some(&case)).await.ok();
    let steps = steps(&data);
    let kinds: Vec<&str> = steps.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "SUBMITTED",
            "ACKNOWLEDGED",
            "NOTE",
            "MESSAGE",
            "STATUS_CHANGED",
            "REFERRAL",
            "STATUS_CHANGED",
            "STATUS_CHANGED",
            "REOPENED",
            "STATUS_CHANGED"
        ]
    );
    assert!(!steps[2].1, "a note is internal");
    let note = &data["violenceReport"]["timeline"][2];
    assert_eq!(note["text"], "Đã gọi điện, chưa liên lạc được.");
    assert!(note["officer"]["fullName"].is_string());
    let mine = app
        .gql(
            &format!("{{ myViolenceReports {{ edges {{ node {{ {MINE} }} }} }} }}"),
            json!({}),
            Some(&reporter),
        )
        .await
        .ok();
    let timeline = nodes(&mine["myViolenceReports"])[0]["timeline"].clone();
    let public: Vec<&str> =
        timeline.as_array().unwrap().iter().map(|t| t["kind"].as_str().unwrap()).collect();
    assert_eq!(
        public,
        [
            "SUBMITTED",
            "ACKNOWLEDGED",
            "MESSAGE",
            "STATUS_CHANGED",
            "REFERRAL",
            "STATUS_CHANGED",
            "STATUS_CHANGED",
            "REOPENED",
            "STATUS_CHANGED"
        ]
    );
    assert_eq!(timeline[2]["text"], "Chúng tôi đã nhận tin của chị.");
    assert!(timeline.as_array().unwrap().iter().all(|t| t["actorRole"] != Value::Null));
    assert!(!mine.to_string().contains("Đã an toàn") && !mine.to_string().contains("fullName"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_changes_are_checked() {
    let app = spawn_app().await;
    let case = app.token(BD_CASE_OFFICER).await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let code = s(&submit(&app, &input(&branch, false, "Kiểm tra."), None).await["referenceCode"]);
    let id = report_id(&app, &code).await;
    for (vars, code, reason) in [
        (json!({ "s": "SUBMITTED", "r": "x" }), "BAD_USER_INPUT", "OUT_OF_RANGE"),
        (json!({ "s": "REFERRED", "r": "x" }), "BAD_USER_INPUT", "OUT_OF_RANGE"),
        (json!({ "s": "CLOSED", "r": "x" }), "BAD_USER_INPUT", "REQUIRED"),
        (json!({ "s": "RESOLVED", "r": "x", "c": "OTHER" }), "BAD_USER_INPUT", "OUT_OF_RANGE"),
        (json!({ "s": "CLOSED", "r": "  ", "c": "OTHER" }), "BAD_USER_INPUT", "REQUIRED"),
        (json!({ "s": "IN_PROGRESS", "r": "x" }), "CONFLICT", "WRONG_STATUS"),
    ] {
        let mut v = vars.clone();
        v["id"] = json!(id);
        app.gql(STATUS, v, Some(&case)).await.expect_reason(code, reason);
    }
    app.gql(REOPEN, json!({ "id": id, "r": "x" }), Some(&case))
        .await
        .expect_reason("CONFLICT", "WRONG_STATUS");
    app.gql(NOTE, json!({ "id": id, "t": "x".repeat(2001) }), Some(&case))
        .await
        .expect_reason("BAD_USER_INPUT", "TOO_LONG");
    // Nothing changed.
    assert_eq!(report_row(&app, &code).await.version, 0);
    // A submitted report can be closed outright (e.g. a duplicate).
    let closed = app
        .gql(STATUS, json!({ "id": id, "s": "CLOSED", "r": "Trùng.", "c": "DUPLICATE" }), Some(&case))
        .await
        .ok();
    assert_eq!(closed["changeViolenceReportStatus"]["status"], "CLOSED");
    assert!(report_row(&app, &code).await.escalate_at.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officers_acting_at_once_never_corrupt_the_state() {
    let app = spawn_app().await;
    let case = app.token(BD_CASE_OFFICER).await;
    let other = officer(&app, S, 6, "HN-LB", "CASE_OFFICER").await.token;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let code = s(&submit(&app, &input(&branch, true, "Đồng thời."), None).await["referenceCode"]);
    let id = report_id(&app, &code).await;

    // Ten acknowledgements at once: exactly one wins.
    let tokens: Vec<&String> = (0..10).map(|i| if i % 2 == 0 { &case } else { &other }).collect();
    let answers =
        futures_util::future::join_all(tokens.iter().map(|t| app.gql(ACK, json!({ "id": id }), Some(t))))
            .await;
    let won = answers.iter().filter(|a| !a.has_errors()).count();
    assert_eq!(won, 1);
    assert!(answers.iter().filter(|a| a.has_errors()).all(|a| a.reason() == Some("WRONG_STATUS")));

    // Notes and a close at once: every note is kept, the versions count every change.
    let mut calls = Vec::new();
    for (i, token) in tokens.iter().take(8).enumerate() {
        calls.push(app.gql(NOTE, json!({ "id": id, "t": format!("Ghi chú {i}") }), Some(token)));
    }
    calls.push(app.gql(STATUS, json!({ "id": id, "s": "CLOSED", "r": "Đóng.", "c": "OTHER" }), Some(&case)));
    calls.push(app.gql(STATUS, json!({ "id": id, "s": "RESOLVED", "r": "Xong." }), Some(&other)));
    let answers = futures_util::future::join_all(calls).await;
    let ok = answers.iter().filter(|a| !a.has_errors()).count() as i32;
    let row = report_row(&app, &code).await;
    assert_eq!(row.version, 1 + ok, "one version per accepted change");
    // Closing wins either way: first, and resolving then finds it closed; or after resolving,
    // and a resolved case is closed as it is.
    assert_eq!(row.status.as_str(), "CLOSED");
    assert!(ok == 9 || ok == 10, "eight notes and the close, and the resolve if it came first: {ok}");
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let events = entities::violence_report_event::Entity::find()
        .filter(entities::violence_report_event::Column::ReportId.eq(row.id))
        .count(&app.state.db)
        .await
        .unwrap();
    // Submitted, acknowledged, and one step per accepted change.
    assert_eq!(events as i32, 1 + 1 + ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blank_referral_outcome_is_no_outcome() {
    let app = spawn_app().await;
    let case = app.token(BD_CASE_OFFICER).await;
    let code = s(&violence_report(&app, None, "HN-LB-BD-01", false, "Chuyển.").await["referenceCode"]);
    let id = report_id(&app, &code).await;
    app.gql(ACK, json!({ "id": id }), Some(&case)).await.ok();
    let blank = json!({ "agency": "POLICE", "referredOn": today(), "outcome": "  " });
    app.gql(REFER, json!({ "id": id, "i": blank }), Some(&case)).await.ok();
    let data = app.gql(&read_q(), json!({ "id": id }), Some(&case)).await.ok();
    let step = data["violenceReport"]["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((step["kind"].clone(), step["text"].clone()), (json!("REFERRAL"), Value::Null));
}
