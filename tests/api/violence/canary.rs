//! The canary: a report whose every text carries a unique marker goes through the whole
//! workflow (and through errors); the marker must never appear in the captured logs, in any
//! column of any table as stored, or in an error message.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use super::{workflow::*, *};

/// Every table's rows as stored, as text: PostgreSQL renders `bytea` as hex, so the marker's
/// hex is looked for too; SQLite's file (and its write-ahead log) is read byte by byte.
async fn stored_text(app: &TestApp) -> Vec<u8> {
    let db = &app.state.db;
    if backend() == "postgres" {
        every_row(app).await.join("|").into_bytes()
    } else {
        db.execute_unprepared("PRAGMA wal_checkpoint(FULL)").await.ok();
        let url = app.vars["DATABASE_URL"].clone();
        let path = url.trim_start_matches("sqlite://").split('?').next().unwrap().to_owned();
        let mut out = std::fs::read(&path).unwrap();
        if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
            out.extend(wal);
        }
        out
    }
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reports_words_never_reach_logs_storage_or_errors() {
    let app = spawn_app().await;
    let marker = format!("CANARY{}", uuid::Uuid::new_v4().simple());
    let case = app.token(BD_CASE_OFFICER).await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let said = |what: &str| format!("{what} {marker}");

    let mut report = input(&branch, true, &said("Mô tả"));
    report["address"] = json!(said("Ngõ 12"));
    report["contact"] = json!({ "phone": "0912345678", "safeTimes": said("Sau 9 giờ"), "channel": "CALL" });
    let receipt = submit(&app, &report, None).await;
    let (code, pin) = (s(&receipt["referenceCode"]), s(&receipt["pin"]));
    let id = report_id(&app, &code).await;

    // Errors carrying the marker in their input: none echoes it.
    let mut errors: Vec<Value> = Vec::new();
    let mut long = input(&branch, false, &format!("{marker}{}", "x".repeat(5000)));
    errors.push(app.gql(SUBMIT, json!({ "i": long.clone() }), None).await.body);
    long["description"] = json!(said("Khác"));
    long["idempotencyKey"] = report["idempotencyKey"].clone();
    errors.push(app.gql(SUBMIT, json!({ "i": long }), None).await.body);
    errors.push(
        app.gql(NOTE, json!({ "id": id, "t": format!("{marker}{}", "y".repeat(2000)) }), Some(&case))
            .await
            .body,
    );
    errors.push(app.gql(REOPEN, json!({ "id": id, "r": said("Mở lại") }), Some(&case)).await.body);
    errors.push(
        app.gql(NOTE, json!({ "id": id, "t": said("Không có quyền") }), Some(&app.token(MEMBER).await))
            .await
            .body,
    );
    let by_ref =
        "query($c: String!, $p: String!) { violenceReportByReference(code: $c, pin: $p) { status } }";
    errors.push(app.gql(by_ref, json!({ "c": code, "p": marker }), None).await.body);
    errors.push(
        app.gql(&format!("{{ violenceReport(id: \"{marker}\") {{ id }} }}"), json!({}), Some(&case))
            .await
            .body,
    );
    for e in &errors {
        assert!(e["errors"].is_array(), "{e}");
        assert!(!e.to_string().contains(&marker), "an error echoed the marker: {e}");
    }

    // The whole workflow, every text marked.
    app.gql(ACK, json!({ "id": id }), Some(&case)).await.ok();
    app.gql(NOTE, json!({ "id": id, "t": said("Ghi chú") }), Some(&case)).await.ok();
    app.gql(MESSAGE, json!({ "id": id, "t": said("Tin nhắn") }), Some(&case)).await.ok();
    let today = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive().to_string();
    let referral = json!({ "agency": "POLICE", "referredOn": today, "outcome": said("Kết quả") });
    app.gql(REFER, json!({ "id": id, "i": referral }), Some(&case)).await.ok();
    let info = "mutation($r: ReportReferenceInput, $t: String!) { addViolenceReportInformation(reference: $r, text: $t) { status } }";
    app.gql(info, json!({ "r": { "code": code, "pin": pin }, "t": said("Thêm") }), None).await.ok();
    app.gql(STATUS, json!({ "id": id, "s": "RESOLVED", "r": said("Lý do") }), Some(&case)).await.ok();
    app.gql(REOPEN, json!({ "id": id, "r": said("Mở lại") }), Some(&case)).await.ok();
    service::violence::escalation::run_round(&app.state, chrono::Utc::now() + chrono::Duration::days(3))
        .await
        .unwrap();

    // The officer reads it all back: the canary was really there.
    let data = app.gql(&read_q(), json!({ "id": id }), Some(&case)).await.ok();
    let seen = data.to_string();
    assert_eq!(seen.matches(&marker).count(), 9, "description, address, safe times and six steps");
    let notes = entities::notification::Entity::find();
    use sea_orm::EntityTrait;
    let all = notes.all(&app.state.db).await.unwrap();
    assert!(all.iter().all(|n| !n.params.contains(&marker)));

    let logs = captured_logs();
    assert!(!logs.contains(&marker), "the logs hold the marker");
    let stored = stored_text(&app).await;
    assert!(!contains(&stored, &marker), "a column holds the marker");
    assert!(!contains(&stored, &hex(&marker)), "a column holds the marker's bytes");
    assert!(!contains(&stored, "0912345678"), "the safe contact phone is sealed too");
}
