//! Case handling between units: a report offered to another unit's case officers stays with
//! the sender until they accept (the case moves) or decline; where a unit requires it, closing
//! goes through a supervisor above the unit holding the case.

use super::*;
use crate::violence::workflow::{ACK, NOTE, STATUS};

const VIEW: &str = "id status closeReason version assignee { fullName } \
    summary { unit { code } handlingUnit { code } pendingTransfer { toUnit { code } requestedAt } \
    pendingClosure { closeReason requestedAt } } timeline { kind public unit { code } closeReason }";

fn transfer_q() -> String {
    format!(
        "mutation($id: ID!, $to: ID!, $r: String!) {{ requestViolenceReportTransfer(id: $id, toUnitId: $to, reason: $r) {{ {VIEW} }} }}"
    )
}

fn accept_q() -> String {
    format!("mutation($id: ID!) {{ acceptViolenceReportTransfer(id: $id) {{ {VIEW} }} }}")
}

fn decline_q() -> String {
    format!(
        "mutation($id: ID!, $r: String!) {{ declineViolenceReportTransfer(id: $id, reason: $r) {{ {VIEW} }} }}"
    )
}

fn cancel_q() -> String {
    format!("mutation($id: ID!) {{ cancelViolenceReportTransfer(id: $id) {{ {VIEW} }} }}")
}

fn closure_q() -> String {
    format!(
        "mutation($id: ID!, $c: ViolenceCloseReason!, $r: String!) {{ requestViolenceReportClosure(id: $id, closeReason: $c, reason: $r) {{ {VIEW} }} }}"
    )
}

fn approve_q() -> String {
    format!("mutation($id: ID!) {{ approveViolenceReportClosure(id: $id) {{ {VIEW} }} }}")
}

fn reject_q() -> String {
    format!(
        "mutation($id: ID!, $r: String!) {{ rejectViolenceReportClosure(id: $id, reason: $r) {{ {VIEW} }} }}"
    )
}

const APPROVAL: &str = "mutation($u: ID!, $r: Boolean!) { setCaseClosureApproval(unitId: $u, required: $r) { code caseClosureApproval } }";

/// A report placed at branch HN-LB-BD-01 by a signed-in reporter, acknowledged by the ward's
/// case officer: (reference code, global id, reporter token).
async fn acknowledged(app: &TestApp, reporter_phone: &str) -> (String, String, String) {
    let case = app.token(BD_CASE_OFFICER).await;
    let reporter = app.register(reporter_phone, "Ngô Thị Hằng", PASSWORD).await.0;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let code = s(&submit(app, &input(&branch, false, "Diễn biến."), Some(&reporter)).await["referenceCode"]);
    let id = report_id(app, &code).await;
    app.gql(ACK, json!({ "id": id }), Some(&case)).await.ok();
    (code, id, reporter)
}

fn kinds(view: &Value) -> Vec<String> {
    view["timeline"].as_array().unwrap().iter().map(|t| s(&t["kind"])).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_waits_for_the_receiving_unit_and_moves_the_case_when_accepted() {
    let app = spawn_app().await;
    let sender = app.token(BD_CASE_OFFICER).await;
    let receiver = officer(&app, S, 50, "HN-LB-GT", "CASE_OFFICER").await;
    let (code, id, reporter) = acknowledged(&app, "0966000050").await;
    let gt = app.unit_id("HN-LB-GT").await;

    // Before any transfer the other ward's officer does not know the report exists.
    app.gql(&read_q(), json!({ "id": id }), Some(&receiver.token)).await.expect_code("NOT_FOUND");
    let asked = app
        .gql(
            &transfer_q(),
            json!({ "id": id, "to": gt, "r": "Chị ấy đã chuyển sang Gia Thụy." }),
            Some(&sender),
        )
        .await
        .ok();
    let view = &asked["requestViolenceReportTransfer"];
    assert_eq!(view["summary"]["handlingUnit"]["code"], "HN-LB-BD-01", "it stays where it was placed");
    assert_eq!(view["summary"]["pendingTransfer"]["toUnit"]["code"], "HN-LB-GT");
    assert_eq!(view["status"], "ACKNOWLEDGED");
    assert_eq!(notifications_of(&app, &receiver.phone, "VIOLENCE_REPORT_TRANSFER_OFFERED").await.len(), 1);
    // One request at a time.
    app.gql(&transfer_q(), json!({ "id": id, "to": gt, "r": "Lần nữa." }), Some(&sender))
        .await
        .expect_reason("CONFLICT", "REQUEST_PENDING");

    // The receiving officer reads it to decide and finds it in her queue, but works nothing
    // on it yet; the sender keeps working it; the sender cannot answer her own request.
    app.gql(&read_q(), json!({ "id": id }), Some(&receiver.token)).await.ok();
    let queue = app.gql(QUEUE, json!({}), Some(&receiver.token)).await.ok();
    assert_eq!(queue["violenceReports"]["totalCount"], 1);
    app.gql(NOTE, json!({ "id": id, "t": "Ghi chú." }), Some(&receiver.token)).await.expect_code("FORBIDDEN");
    app.gql(NOTE, json!({ "id": id, "t": "Vẫn theo dõi." }), Some(&sender)).await.ok();
    app.gql(&accept_q(), json!({ "id": id }), Some(&sender)).await.expect_code("FORBIDDEN");

    let taken = app.gql(&accept_q(), json!({ "id": id }), Some(&receiver.token)).await.ok();
    let view = &taken["acceptViolenceReportTransfer"];
    assert_eq!(view["summary"]["handlingUnit"]["code"], "HN-LB-GT");
    assert_eq!(view["summary"]["unit"]["code"], "HN-LB-BD-01", "the place does not move");
    assert!(view["summary"]["pendingTransfer"].is_null());
    assert_eq!(view["assignee"]["fullName"], crate::fixtures::name(50));
    assert_eq!(
        kinds(view).iter().filter(|k| k.starts_with("TRANSFER")).collect::<Vec<_>>(),
        ["TRANSFER_REQUESTED", "TRANSFER_ACCEPTED"]
    );
    assert!(
        view["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| !s(&t["kind"]).starts_with("TRANSFER") || t["public"] == false)
    );
    app.gql(&accept_q(), json!({ "id": id }), Some(&receiver.token))
        .await
        .expect_reason("CONFLICT", "ALREADY_DECIDED");

    // The sender's ward no longer holds it; the district above both still does.
    app.gql(&read_q(), json!({ "id": id }), Some(&sender)).await.expect_code("NOT_FOUND");
    app.gql(&read_q(), json!({ "id": id }), Some(&app.token(LB_CASE_OFFICER).await)).await.ok();
    app.gql(NOTE, json!({ "id": id, "t": "Đã nhận." }), Some(&receiver.token)).await.ok();
    let row = report_row(&app, &code).await;
    assert_eq!(global_id("OrgUnit", row.handling_unit_id), gt);
    assert_eq!(global_id("OrgUnit", row.routed_unit_id), gt);
    let actions: Vec<String> = log_rows(&app, &code).await.into_iter().map(|(_, a, _)| a).collect();
    assert_eq!(actions.iter().filter(|a| *a == "TRANSFER").count(), 2);

    // The reporter sees none of it.
    let mine = app
        .gql(
            &format!("{{ myViolenceReports(first: 10) {{ edges {{ node {{ {MINE} }} }} }} }}"),
            json!({}),
            Some(&reporter),
        )
        .await
        .ok();
    let text = mine.to_string();
    assert!(!text.contains("TRANSFER") && !text.contains("HN-LB-GT"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_or_cancelled_transfer_leaves_the_case_with_the_sender() {
    let app = spawn_app().await;
    let sender = app.token(BD_CASE_OFFICER).await;
    let receiver = officer(&app, S, 51, "HN-LB-GT", "CASE_OFFICER").await;
    let gt = app.unit_id("HN-LB-GT").await;
    let branch = app.unit_id("HN-LB-BD-01").await;

    // Only a case being worked is transferred, and only to another unit.
    let fresh = s(&submit(&app, &input(&branch, false, "Mới."), None).await["referenceCode"]);
    let fresh = report_id(&app, &fresh).await;
    app.gql(&transfer_q(), json!({ "id": fresh, "to": gt, "r": "x" }), Some(&sender))
        .await
        .expect_reason("CONFLICT", "WRONG_STATUS");
    let (code, id, _) = acknowledged(&app, "0966000051").await;
    let own = app.gql(&transfer_q(), json!({ "id": id, "to": branch, "r": "x" }), Some(&sender)).await;
    assert_eq!((own.code(), own.field()), (Some("BAD_USER_INPUT"), Some("toUnitId")));
    let empty = app.gql(&transfer_q(), json!({ "id": id, "to": gt, "r": "  " }), Some(&sender)).await;
    assert_eq!((empty.code(), empty.field()), (Some("BAD_USER_INPUT"), Some("reason")));

    app.gql(&transfer_q(), json!({ "id": id, "to": gt, "r": "Nhờ hỗ trợ." }), Some(&sender)).await.ok();
    let no_reason = app.gql(&decline_q(), json!({ "id": id, "r": "" }), Some(&receiver.token)).await;
    assert_eq!((no_reason.code(), no_reason.field()), (Some("BAD_USER_INPUT"), Some("reason")));
    let declined = app
        .gql(&decline_q(), json!({ "id": id, "r": "Không thuộc địa bàn." }), Some(&receiver.token))
        .await
        .ok();
    let view = &declined["declineViolenceReportTransfer"];
    assert_eq!(view["summary"]["handlingUnit"]["code"], "HN-LB-BD-01");
    assert!(view["summary"]["pendingTransfer"].is_null());
    assert_eq!(notifications_of(&app, BD_CASE_OFFICER, "VIOLENCE_REPORT_UPDATED").await.len(), 1);
    app.gql(&read_q(), json!({ "id": id }), Some(&receiver.token)).await.expect_code("NOT_FOUND");
    // Another officer of the unit it was offered to knew of it: her late answer is told it is
    // decided; an officer it was never offered to still learns nothing.
    let peer = officer(&app, S, 58, "HN-LB-GT", "CASE_OFFICER").await;
    app.gql(&accept_q(), json!({ "id": id }), Some(&peer.token))
        .await
        .expect_reason("CONFLICT", "ALREADY_DECIDED");
    let stranger = officer(&app, S, 59, "HN-HK", "CASE_OFFICER").await;
    app.gql(&accept_q(), json!({ "id": id }), Some(&stranger.token)).await.expect_code("NOT_FOUND");
    app.gql(&decline_q(), json!({ "id": id, "r": "Không." }), Some(&stranger.token))
        .await
        .expect_code("NOT_FOUND");

    // Taken back before anyone answers.
    app.gql(&transfer_q(), json!({ "id": id, "to": gt, "r": "Lần hai." }), Some(&sender)).await.ok();
    let cancelled = app.gql(&cancel_q(), json!({ "id": id }), Some(&sender)).await.ok();
    assert!(cancelled["cancelViolenceReportTransfer"]["summary"]["pendingTransfer"].is_null());
    app.gql(&accept_q(), json!({ "id": id }), Some(&receiver.token))
        .await
        .expect_reason("CONFLICT", "ALREADY_DECIDED");
    app.gql(&cancel_q(), json!({ "id": id }), Some(&sender))
        .await
        .expect_reason("CONFLICT", "ALREADY_DECIDED");

    // Closing the case drops a pending request.
    app.gql(&transfer_q(), json!({ "id": id, "to": gt, "r": "Lần ba." }), Some(&sender)).await.ok();
    let closed = app
        .gql(STATUS, json!({ "id": id, "s": "CLOSED", "r": "Đã xong.", "c": "RESOLVED" }), Some(&sender))
        .await
        .ok();
    assert_eq!(closed["changeViolenceReportStatus"]["status"], "CLOSED");
    let stored = report_row(&app, &code).await;
    assert!(stored.transfer_to_unit_id.is_none() && stored.transfer_requested_by.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_answers_decide_a_transfer_and_a_closure_once() {
    let app = spawn_app().await;
    let sender = app.token(BD_CASE_OFFICER).await;
    let receivers = [
        officer(&app, S, 52, "HN-LB-GT", "CASE_OFFICER").await,
        officer(&app, S, 53, "HN-LB-GT", "CASE_OFFICER").await,
        officer(&app, S, 54, "HN-LB-GT", "CASE_OFFICER").await,
    ];
    let gt = app.unit_id("HN-LB-GT").await;
    let (code, id, _) = acknowledged(&app, "0966000052").await;
    app.gql(&transfer_q(), json!({ "id": id, "to": gt, "r": "Chuyển." }), Some(&sender)).await.ok();
    let (accept, decline) = (accept_q(), decline_q());
    let (a, b, c) = tokio::join!(
        app.gql(&accept, json!({ "id": id }), Some(&receivers[0].token)),
        app.gql(&accept, json!({ "id": id }), Some(&receivers[1].token)),
        app.gql(&decline, json!({ "id": id, "r": "Không nhận." }), Some(&receivers[2].token)),
    );
    let answers = [a, b, c];
    assert_eq!(answers.iter().filter(|g| !g.has_errors()).count(), 1, "one answer wins");
    for lost in answers.iter().filter(|g| g.has_errors()) {
        assert_eq!(lost.reason(), Some("ALREADY_DECIDED"));
    }
    let row = report_row(&app, &code).await;
    assert!(row.transfer_to_unit_id.is_none());

    // Two supervisors approving one closure close it once.
    let city = app.token(CITY_ADMIN).await;
    app.gql(APPROVAL, json!({ "u": app.unit_id("HN-LB").await, "r": true }), Some(&city)).await.ok();
    let second_supervisor = officer(&app, S, 55, "HN-LB", "CASE_OFFICER").await;
    let (_, other, _) = acknowledged(&app, "0966000053").await;
    app.gql(&closure_q(), json!({ "id": other, "c": "RESOLVED", "r": "Đã an toàn." }), Some(&sender))
        .await
        .ok();
    let (approve, first_supervisor) = (approve_q(), app.token(LB_CASE_OFFICER).await);
    let (x, y) = tokio::join!(
        app.gql(&approve, json!({ "id": other }), Some(&first_supervisor)),
        app.gql(&approve, json!({ "id": other }), Some(&second_supervisor.token)),
    );
    assert_eq!([&x, &y].iter().filter(|g| !g.has_errors()).count(), 1);
    let lost = if x.has_errors() { x } else { y };
    assert_eq!(lost.reason(), Some("ALREADY_DECIDED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_a_unit_requires_approval_its_case_officers_close_through_a_supervisor() {
    let app = spawn_app().await;
    let case = app.token(BD_CASE_OFFICER).await;
    let supervisor = app.token(LB_CASE_OFFICER).await;
    let peer = officer(&app, S, 56, "HN-LB-BD", "CASE_OFFICER").await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.unit_id("HN-LB").await;

    // Only an admin over the unit turns it on; the units below inherit it.
    app.gql(APPROVAL, json!({ "u": lb, "r": true }), Some(&case)).await.expect_code("NOT_FOUND");
    let set = app.gql(APPROVAL, json!({ "u": lb, "r": true }), Some(&city)).await.ok();
    assert_eq!(set["setCaseClosureApproval"], json!({ "code": "HN-LB", "caseClosureApproval": true }));

    let (_, id, reporter) = acknowledged(&app, "0966000056").await;
    app.gql(STATUS, json!({ "id": id, "s": "CLOSED", "r": "Xong.", "c": "RESOLVED" }), Some(&case))
        .await
        .expect_reason("CONFLICT", "CLOSURE_APPROVAL_REQUIRED");
    let asked = app
        .gql(&closure_q(), json!({ "id": id, "c": "RESOLVED", "r": "Đã an toàn." }), Some(&case))
        .await
        .ok();
    let view = &asked["requestViolenceReportClosure"];
    assert_eq!(view["status"], "ACKNOWLEDGED", "nothing closes before approval");
    assert_eq!(view["summary"]["pendingClosure"]["closeReason"], "RESOLVED");
    assert_eq!(notifications_of(&app, LB_CASE_OFFICER, "VIOLENCE_REPORT_CLOSURE_REQUESTED").await.len(), 1);
    app.gql(&closure_q(), json!({ "id": id, "c": "OTHER", "r": "x" }), Some(&case))
        .await
        .expect_reason("CONFLICT", "REQUEST_PENDING");

    // Not the one who asked, not a peer at the same unit: a supervisor above.
    app.gql(&approve_q(), json!({ "id": id }), Some(&case)).await.expect_code("FORBIDDEN");
    app.gql(&approve_q(), json!({ "id": id }), Some(&peer.token)).await.expect_code("FORBIDDEN");
    let bare = app.gql(&reject_q(), json!({ "id": id, "r": "" }), Some(&supervisor)).await;
    assert_eq!((bare.code(), bare.field()), (Some("BAD_USER_INPUT"), Some("reason")));
    let rejected =
        app.gql(&reject_q(), json!({ "id": id, "r": "Cần gặp lại chị." }), Some(&supervisor)).await.ok();
    let view = &rejected["rejectViolenceReportClosure"];
    assert_eq!(view["status"], "ACKNOWLEDGED");
    assert!(view["summary"]["pendingClosure"].is_null());
    app.gql(&approve_q(), json!({ "id": id }), Some(&supervisor))
        .await
        .expect_reason("CONFLICT", "ALREADY_DECIDED");

    app.gql(&closure_q(), json!({ "id": id, "c": "RESOLVED", "r": "Đã gặp lại." }), Some(&case)).await.ok();
    let approved = app.gql(&approve_q(), json!({ "id": id }), Some(&supervisor)).await.ok();
    let view = &approved["approveViolenceReportClosure"];
    assert_eq!((view["status"].clone(), view["closeReason"].clone()), (json!("CLOSED"), json!("RESOLVED")));
    let closure: Vec<(String, bool)> = view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| s(&t["kind"]).starts_with("CLOSURE"))
        .map(|t| (s(&t["kind"]), t["public"] == true))
        .collect();
    assert_eq!(
        closure,
        [
            ("CLOSURE_REQUESTED".to_owned(), false),
            ("CLOSURE_REJECTED".to_owned(), false),
            ("CLOSURE_REQUESTED".to_owned(), false),
            ("CLOSURE_APPROVED".to_owned(), true),
        ]
    );
    let mine = app
        .gql(
            &format!("{{ myViolenceReports(first: 10) {{ edges {{ node {{ {MINE} }} }} }} }}"),
            json!({}),
            Some(&reporter),
        )
        .await
        .ok();
    let kinds: Vec<String> = nodes(&mine["myViolenceReports"])[0]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| s(&t["kind"]))
        .collect();
    assert!(
        kinds.contains(&"CLOSURE_APPROVED".to_owned()) && !kinds.contains(&"CLOSURE_REQUESTED".to_owned())
    );

    // A supervisor closes directly; with the rule off, so does the ward's officer.
    let (_, direct, _) = acknowledged(&app, "0966000057").await;
    app.gql(STATUS, json!({ "id": direct, "s": "CLOSED", "r": "Xong.", "c": "RESOLVED" }), Some(&supervisor))
        .await
        .ok();
    app.gql(APPROVAL, json!({ "u": lb, "r": false }), Some(&city)).await.ok();
    let (_, free, _) = acknowledged(&app, "0966000058").await;
    app.gql(STATUS, json!({ "id": free, "s": "CLOSED", "r": "Xong.", "c": "RESOLVED" }), Some(&case))
        .await
        .ok();

    // The setting is an officer action on the audit trail.
    let trail = app
        .gql(
            "query($u: ID!) { auditTrail(unitId: $u, area: STRUCTURE) { edges { node { action changes { field before after } } } } }",
            json!({ "u": lb }),
            Some(&city),
        )
        .await
        .ok();
    let changes: Vec<Value> = nodes(&trail["auditTrail"])
        .into_iter()
        .filter(|n| n["action"] == "CASE_CLOSURE_APPROVAL_SET")
        .map(|n| n["changes"][0].clone())
        .collect();
    assert_eq!(
        changes,
        [
            json!({ "field": "caseClosureApproval", "before": "true", "after": "false" }),
            json!({ "field": "caseClosureApproval", "before": "false", "after": "true" }),
        ]
    );
}

/// Nobody stands above the root: a case its case officers hold closes without approval, even
/// where approval is required.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_held_at_the_root_closes_without_approval() {
    let app = spawn_app().await;
    let sender = app.token(BD_CASE_OFFICER).await;
    let city_officer = officer(&app, S, 57, "HN", "CASE_OFFICER").await;
    let city = app.token(CITY_ADMIN).await;
    let root = app.unit_id("HN").await;
    app.gql(APPROVAL, json!({ "u": root, "r": true }), Some(&city)).await.ok();

    // Below the root the rule holds.
    let (_, id, _) = acknowledged(&app, "0966000059").await;
    app.gql(STATUS, json!({ "id": id, "s": "CLOSED", "r": "Xong.", "c": "RESOLVED" }), Some(&sender))
        .await
        .expect_reason("CONFLICT", "CLOSURE_APPROVAL_REQUIRED");
    // Moved to the city's case officers, it is theirs to close.
    app.gql(&transfer_q(), json!({ "id": id, "to": root, "r": "Lên thành phố." }), Some(&sender)).await.ok();
    let taken = app.gql(&accept_q(), json!({ "id": id }), Some(&city_officer.token)).await.ok();
    assert_eq!(taken["acceptViolenceReportTransfer"]["summary"]["handlingUnit"]["code"], "HN");
    let closed = app
        .gql(
            STATUS,
            json!({ "id": id, "s": "CLOSED", "r": "Xong.", "c": "RESOLVED" }),
            Some(&city_officer.token),
        )
        .await
        .ok();
    assert_eq!(closed["changeViolenceReportStatus"]["status"], "CLOSED");
}
