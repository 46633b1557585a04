//! The reporter's follow-up: by account or by reference code and PIN, adding information,
//! withdrawing, and the PIN lockout.

use serde_json::json;

use super::{workflow::MESSAGE, *};

fn by_reference() -> String {
    format!("query($c: String!, $p: String!) {{ violenceReportByReference(code: $c, pin: $p) {{ {MINE} }} }}")
}

fn add_info() -> String {
    format!(
        "mutation($id: ID, $r: ReportReferenceInput, $t: String!) {{ addViolenceReportInformation(reportId: $id, reference: $r, text: $t) {{ {MINE} }} }}"
    )
}

fn withdraw() -> String {
    format!(
        "mutation($id: ID, $r: ReportReferenceInput, $why: String) {{ withdrawViolenceReport(reportId: $id, reference: $r, reason: $why) {{ {MINE} }} }}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_reporter_follows_adds_and_withdraws_with_code_and_pin() {
    let app = spawn_app().await;
    let case = app.token(BD_CASE_OFFICER).await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let receipt = submit(&app, &input(&branch, false, "Ẩn danh."), None).await;
    let (code, pin) = (s(&receipt["referenceCode"]), s(&receipt["pin"]));
    let id = report_id(&app, &code).await;
    app.gql(MESSAGE, json!({ "id": id, "t": "Chị có an toàn không?" }), Some(&case)).await.ok();

    // Typed loosely, the code still works.
    let typed = code.to_lowercase().replace('-', " ");
    let data = app.gql(&by_reference(), json!({ "c": typed, "p": pin }), None).await.ok();
    let mine = &data["violenceReportByReference"];
    assert_eq!(mine["referenceCode"], code);
    assert_eq!(mine["timeline"][1]["kind"], "MESSAGE");
    assert_eq!(mine["timeline"][1]["text"], "Chị có an toàn không?");
    assert_eq!(mine["timeline"][1]["actorRole"], "CASE_OFFICER");

    let reference = json!({ "code": code, "pin": pin });
    let added = app.gql(&add_info(), json!({ "r": reference, "t": "Tôi vẫn ổn." }), None).await.ok();
    let steps = added["addViolenceReportInformation"]["timeline"].as_array().unwrap().clone();
    assert_eq!(steps.last().unwrap()["text"], "Tôi vẫn ổn.");
    assert_eq!(notifications_of(&app, BD_CASE_OFFICER, "VIOLENCE_REPORT_UPDATED").await.len(), 1);
    // Both proofs, or none, are refused.
    let member = app.token(MEMBER).await;
    app.gql(&add_info(), json!({ "id": id, "r": reference, "t": "x" }), Some(&member))
        .await
        .expect_reason("BAD_USER_INPUT", "EXACTLY_ONE");
    app.gql(&add_info(), json!({ "t": "x" }), None).await.expect_reason("BAD_USER_INPUT", "EXACTLY_ONE");
    // Someone else's account cannot use the id.
    app.gql(&add_info(), json!({ "id": id, "t": "x" }), Some(&member)).await.expect_code("NOT_FOUND");

    let gone = app.gql(&withdraw(), json!({ "r": reference, "why": "Đã ổn." }), None).await.ok();
    assert_eq!(gone["withdrawViolenceReport"]["status"], "CLOSED");
    assert_eq!(gone["withdrawViolenceReport"]["closeReason"], "WITHDRAWN");
    app.gql(&withdraw(), json!({ "r": reference }), None).await.expect_reason("CONFLICT", "WRONG_STATUS");
    app.gql(&add_info(), json!({ "r": reference, "t": "x" }), None)
        .await
        .expect_reason("CONFLICT", "WRONG_STATUS");
    let actions: Vec<String> = log_rows(&app, &code).await.into_iter().map(|r| r.1).collect();
    assert_eq!(actions, ["SUBMIT", "MESSAGE", "REPORTER_READ", "ADD_INFORMATION", "WITHDRAW"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pins_lock_the_reference_for_that_address_and_a_lock_looks_unknown() {
    let app = spawn_app_with(&[
        ("APP_REPORT_PIN_MAX_FAILURES", "3"),
        ("APP_REPORT_PIN_MAX_FAILURES_TOTAL", "8"),
        ("APP_REPORT_PIN_MAX_PER_ADDRESS", "50"),
        ("APP_TRUST_FORWARDED_FOR", "true"),
    ])
    .await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let receipt = submit(&app, &input(&branch, false, "Khóa."), None).await;
    let (code, pin) = (s(&receipt["referenceCode"]), s(&receipt["pin"]));
    let wrong = if pin == "00000000" { "11111111" } else { "00000000" };
    let attacker = "203.0.113.7";
    let q = by_reference();

    app.gql_from(attacker, &q, json!({ "c": "BL-ZZZZZZZZ", "p": pin })).await.expect_code("NOT_FOUND");
    app.gql_from(attacker, &q, json!({ "c": code, "p": wrong })).await.expect_code("NOT_FOUND");
    // A right PIN clears the count…
    app.gql_from(attacker, &q, json!({ "c": code, "p": pin })).await.ok();
    assert_eq!(report_row(&app, &code).await.pin_failures, 0);
    // …three wrong in a row lock it for that address, even for the right PIN, and the lock
    // answers exactly as an unknown code does.
    for _ in 0..3 {
        app.gql_from(attacker, &q, json!({ "c": code, "p": wrong })).await.expect_code("NOT_FOUND");
    }
    let locked = app.gql_from(attacker, &q, json!({ "c": code, "p": pin })).await;
    let unknown = app.gql_from("203.0.113.8", &q, json!({ "c": "BL-ZZZZZZZZ", "p": pin })).await;
    assert_eq!(locked.code(), Some("NOT_FOUND"), "{}", locked.body);
    assert_eq!(locked.body["errors"][0]["extensions"], unknown.body["errors"][0]["extensions"]);
    assert_eq!(locked.status, unknown.status);
    let reference = json!({ "code": code, "pin": pin });
    app.gql_from(attacker, &add_info(), json!({ "r": reference, "t": "x" })).await.expect_code("NOT_FOUND");

    // The reporter, from her own phone, still follows her report.
    let reporter = "198.51.100.20";
    app.gql_from(reporter, &q, json!({ "c": code, "p": pin })).await.ok();

    // Guessing spread over many addresses meets the slower limit over all of them.
    for n in 0..3 {
        for _ in 0..3 {
            app.gql_from(&format!("192.0.2.{n}"), &q, json!({ "c": code, "p": wrong })).await;
        }
    }
    assert!(report_row(&app, &code).await.pin_locked_at.is_some());
    app.gql_from(reporter, &q, json!({ "c": code, "p": pin })).await.expect_code("NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_across_references_is_throttled_per_address() {
    let app = spawn_app_with(&[("APP_REPORT_PIN_MAX_PER_ADDRESS", "4")]).await;
    for i in 0..4 {
        app.gql(&by_reference(), json!({ "c": format!("BL-ABCDEFG{i}"), "p": "12345678" }), None)
            .await
            .expect_code("NOT_FOUND");
    }
    app.gql(&by_reference(), json!({ "c": "BL-ABCDEFGH", "p": "12345678" }), None)
        .await
        .expect_code("RATE_LIMITED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_reporter_follows_her_reports_from_her_account() {
    let app = spawn_app().await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let (token, _, _) = app.register("0966000003", "Ngô Thị Hoa", PASSWORD).await;
    let first = submit(&app, &input(&branch, false, "Một."), Some(&token)).await;
    let second = submit(&app, &input(&branch, true, "Hai."), Some(&token)).await;
    assert!(first["pin"].is_null(), "an account needs no PIN");
    let q = format!("{{ myViolenceReports(first: 10) {{ edges {{ node {{ {MINE} }} }} }} }}");
    let data = app.gql(&q, json!({}), Some(&token)).await.ok();
    let codes: Vec<String> =
        nodes(&data["myViolenceReports"]).iter().map(|n| s(&n["referenceCode"])).collect();
    assert_eq!(codes, [s(&second["referenceCode"]), s(&first["referenceCode"])], "newest first");
    // Her reports are hers only; nobody opens an account's report by code.
    let other = app.token(MEMBER).await;
    let theirs = app.gql(&q, json!({}), Some(&other)).await.ok();
    assert!(nodes(&theirs["myViolenceReports"]).is_empty());
    app.gql(&by_reference(), json!({ "c": first["referenceCode"], "p": "12345678" }), None)
        .await
        .expect_code("NOT_FOUND");
    let id = report_id(&app, &s(&first["referenceCode"])).await;
    let gone = app.gql(&withdraw(), json!({ "id": id }), Some(&token)).await.ok();
    assert_eq!(gone["withdrawViolenceReport"]["closeReason"], "WITHDRAWN");
    let reads = log_rows(&app, &s(&first["referenceCode"])).await;
    assert_eq!(reads.iter().filter(|r| r.1 == "REPORTER_READ").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_cannot_slip_past_the_lock() {
    let app =
        spawn_app_with(&[("APP_REPORT_PIN_MAX_FAILURES", "3"), ("APP_REPORT_PIN_MAX_PER_ADDRESS", "100")])
            .await;
    let receipt = violence_report(&app, None, "HN-LB-BD-01", false, "Đoán.").await;
    let (code, pin) = (s(&receipt["referenceCode"]), s(&receipt["pin"]));
    let guesses: Vec<String> =
        (0..12).map(|i| format!("{:08}", (i * 7919 + 13) % 100_000_000)).filter(|g| *g != pin).collect();
    let q = by_reference();
    let answers = futures_util::future::join_all(
        guesses.iter().map(|g| app.gql(&q, json!({ "c": code, "p": g }), None)),
    )
    .await;
    assert!(answers.iter().all(|a| a.code() == Some("NOT_FOUND")), "a lock answers like a wrong PIN");
    // Only the guesses within the per-address limit reached the PIN check (each of those is
    // counted on the row before it is checked).
    let checked = report_row(&app, &code).await.pin_failures;
    assert!(checked <= 3, "{checked} guesses were checked against the PIN");
    app.gql(&by_reference(), json!({ "c": code, "p": pin }), None).await.expect_code("NOT_FOUND");
}

/// Redaction is the service's rule: the reporter's view it builds carries her steps and the
/// officers' messages, and no internal note, status reason or officer — whoever renders it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reporters_view_from_the_service_carries_no_internal_note_or_status_reason() {
    use super::workflow::{ACK, NOTE, STATUS};
    use service::violence::reporter::{self, Proof};

    let app = spawn_app().await;
    let case = app.token(BD_CASE_OFFICER).await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let receipt = submit(&app, &input(&branch, false, "Diễn biến."), None).await;
    let (code, pin) = (s(&receipt["referenceCode"]), s(&receipt["pin"]));
    let id = report_id(&app, &code).await;
    app.gql(ACK, json!({ "id": id }), Some(&case)).await.ok();
    app.gql(NOTE, json!({ "id": id, "t": "GHI-CHU-NOI-BO" }), Some(&case)).await.ok();
    app.gql(MESSAGE, json!({ "id": id, "t": "TIN-NHAN-CHO-CHI" }), Some(&case)).await.ok();
    app.gql(STATUS, json!({ "id": id, "s": "IN_PROGRESS", "r": "LY-DO-NOI-BO" }), Some(&case)).await.ok();

    let meta = service::RequestMeta { client_addr: "203.0.113.9".into(), ..Default::default() };
    let call = service::Call { state: &app.state, auth: &service::auth::Auth::Anonymous, meta: &meta };
    let view = reporter::follow(call, Proof::Pin { code, pin }).await.unwrap();
    let everything = format!("{view:?}");
    assert!(everything.contains("TIN-NHAN-CHO-CHI"), "the message to her is opened: {everything}");
    for withheld in ["GHI-CHU-NOI-BO", "LY-DO-NOI-BO", "Trần Thị", "+8490"] {
        assert!(!everything.contains(withheld), "{withheld} reached the reporter's view: {everything}");
    }
    assert!(view.timeline.iter().all(|step| step.text.is_none()
        || matches!(
            step.kind,
            service::violence::EventKind::Message | service::violence::EventKind::InformationAdded
        )));
}
