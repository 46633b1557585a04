//! Access to a report needs a current `CASE_OFFICER` role whose reach covers it: an assignment
//! alone grants nothing, and revoking the role takes the assignment back.

use serde_json::json;

use super::{workflow::MESSAGE, workflow::STATUS, *};

const ASSIGN: &str = "mutation($id: ID!) { assignViolenceReport(id: $id) { version } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_case_officer_loses_the_reports_assigned_to_her() {
    let app = spawn_app().await;
    let city = app.token(CITY_ADMIN).await;
    let her = officer(&app, S, 21, "HN-LB-BD", "CASE_OFFICER").await.token;
    let ward = app.unit_id("HN-LB-BD").await;
    let reporter = app.register("0966000021", "Phan Thị Mai", PASSWORD).await.0;
    let code = s(
        &submit(&app, &input(&ward, false, "Bị đe dọa hằng ngày."), Some(&reporter)).await["referenceCode"],
    );
    let id = report_id(&app, &code).await;
    app.gql(ASSIGN, json!({ "id": id }), Some(&her)).await.ok();
    assert!(report_row(&app, &code).await.assigned_to.is_some());

    let role =
        app.gql("{ me { roles { id } } }", json!({}), Some(&her)).await.ok()["me"]["roles"][0]["id"].clone();
    app.gql(
        "mutation($id: ID!) { revokeOfficerRole(id: $id) { active } }",
        json!({ "id": role }),
        Some(&city),
    )
    .await
    .ok();

    // Nothing of it is hers any more: not its details, not the queue, not the workflow.
    app.gql(&read_q(), json!({ "id": id }), Some(&her)).await.expect_code("NOT_FOUND");
    let queue = app.gql(QUEUE, json!({ "f": { "assignedToMe": true } }), Some(&her)).await.ok();
    assert_eq!(queue["violenceReports"]["totalCount"], 0);
    let everything = app.gql(QUEUE, json!({}), Some(&her)).await.ok();
    assert_eq!(everything["violenceReports"]["totalCount"], 0);
    app.gql(MESSAGE, json!({ "id": id, "t": "Chị ổn không?" }), Some(&her)).await.expect_code("NOT_FOUND");
    app.gql(STATUS, json!({ "id": id, "s": "CLOSED", "r": "x", "c": "OTHER" }), Some(&her))
        .await
        .expect_code("NOT_FOUND");

    // The report is back in the ward's queue, the step is on the timeline (internal), and the
    // ward's case officers are told.
    let row = report_row(&app, &code).await;
    assert!(row.assigned_to.is_none());
    let case = app.token(BD_CASE_OFFICER).await;
    let data = app.gql(&read_q(), json!({ "id": id }), Some(&case)).await.ok();
    let steps = steps(&data);
    assert_eq!(steps.last(), Some(&("UNASSIGNED".to_owned(), false)), "{steps:?}");
    assert!(data["violenceReport"]["assignee"].is_null());
    assert_eq!(notifications_of(&app, BD_CASE_OFFICER, "VIOLENCE_REPORT_UNASSIGNED").await.len(), 1);
    // The reporter does not see the internal step.
    let mine = app
        .gql(
            &format!("{{ myViolenceReports(first: 5) {{ edges {{ node {{ {MINE} }} }} }} }}"),
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
    assert!(!kinds.contains(&"UNASSIGNED".to_owned()), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_who_still_covers_the_report_keeps_it() {
    // Two case roles, one revoked: the other still covers the ward, so the assignment stays.
    let app = spawn_app().await;
    let city = app.token(CITY_ADMIN).await;
    let her = officer(&app, S, 22, "HN-LB-BD", "CASE_OFFICER").await.token;
    app.grant("+84970000022", "HN-LB", "CASE_OFFICER").await;
    let ward = app.unit_id("HN-LB-BD").await;
    let code = s(&submit(&app, &input(&ward, false, "Bị xúc phạm."), None).await["referenceCode"]);
    let id = report_id(&app, &code).await;
    app.gql(ASSIGN, json!({ "id": id }), Some(&her)).await.ok();
    let roles = app.gql("{ me { roles { id unit { code } } } }", json!({}), Some(&her)).await.ok();
    let ward_role = roles["me"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["unit"]["code"] == "HN-LB-BD")
        .unwrap()["id"]
        .clone();
    app.gql(
        "mutation($id: ID!) { revokeOfficerRole(id: $id) { active } }",
        json!({ "id": ward_role }),
        Some(&city),
    )
    .await
    .ok();
    assert!(report_row(&app, &code).await.assigned_to.is_some());
    app.gql(&read_q(), json!({ "id": id }), Some(&her)).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignment_racing_a_revocation_never_outlives_the_role() {
    let app = spawn_app_with(&[("APP_REPORT_MAX_PER_ADDRESS", "100")]).await;
    let city = app.token(CITY_ADMIN).await;
    let ward = app.unit_id("HN-LB-BD").await;
    let revoke = "mutation($id: ID!) { revokeOfficerRole(id: $id) { active } }";
    for round in 0..6u32 {
        let her = officer(&app, S, 40 + round, "HN-LB-BD", "CASE_OFFICER").await.token;
        let code = s(&submit(&app, &input(&ward, false, "Đua."), None).await["referenceCode"]);
        let id = report_id(&app, &code).await;
        let role =
            app.gql("{ me { roles { id } } }", json!({}), Some(&her)).await.ok()["me"]["roles"][0]["id"]
                .clone();
        let (assigned, revoked) = futures_util::future::join(
            app.gql(ASSIGN, json!({ "id": id }), Some(&her)),
            app.gql(revoke, json!({ "id": role }), Some(&city)),
        )
        .await;
        // Either may lose the race (and be told to retry), but never both win and leave her the
        // report without the role.
        for res in [&assigned, &revoked] {
            assert!(
                !res.has_errors() || matches!(res.code(), Some("NOT_FOUND" | "FORBIDDEN" | "UNAVAILABLE")),
                "{}",
                res.body
            );
        }
        let row = report_row(&app, &code).await;
        let role_ended = !revoked.has_errors();
        assert!(!(role_ended && row.assigned_to.is_some()), "round {round}: assigned after the role ended");
    }
}
