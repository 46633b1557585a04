//! Who may read a report: the case officers whose reach covers its place and its assigned
//! officer; everyone else `NOT_FOUND` (other officers get counts). Every read and change is
//! logged exactly once; the log is for case officers in reach and cannot be rewritten.

use entities::ids::PersonId;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use serde_json::json;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_case_officers_in_reach_read_a_report() {
    let app = spawn_app().await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let member = app.register("0966000001", "Ngô Thị Mai", PASSWORD).await.0;
    let code = s(&submit(&app, &input(&branch, false, "Nội dung."), Some(&member)).await["referenceCode"]);
    let id = report_id(&app, &code).await;

    let hk_case = officer(&app, S, 2, "HN-HK", "CASE_OFFICER").await.token;
    let lb_case = officer(&app, S, 3, "HN-LB", "CASE_OFFICER").await.token;
    let refused = [
        app.token(MEMBER).await,
        app.token(BD1_LEADER).await,
        app.token(LB_OFFICER).await,
        app.token(CITY_ADMIN).await,
        app.token(SYSADMIN).await,
        member.clone(),
        hk_case,
    ];
    for token in &refused {
        app.gql(&read_q(), json!({ "id": id }), Some(token)).await.expect_code("NOT_FOUND");
        let queue = app.gql(QUEUE, json!({}), Some(token)).await.ok();
        assert!(nodes(&queue["violenceReports"]).is_empty());
        app.gql(
            "mutation($id: ID!) { acknowledgeViolenceReport(id: $id) { id } }",
            json!({ "id": id }),
            Some(token),
        )
        .await
        .expect_code("NOT_FOUND");
    }
    app.gql(&read_q(), json!({ "id": id }), None).await.expect_code("UNAUTHENTICATED");
    // node() never opens a report (its reads are logged through violenceReport only).
    let case = app.token(BD_CASE_OFFICER).await;
    app.gql("query($id: ID!) { node(id: $id) { id } }", json!({ "id": id }), Some(&case))
        .await
        .expect_code("NOT_FOUND");

    for token in [&case, &lb_case] {
        let data = app.gql(&read_q(), json!({ "id": id }), Some(token)).await.ok();
        assert_eq!(data["violenceReport"]["description"], "Nội dung.");
        assert_eq!(data["violenceReport"]["anonymous"], false);
    }
    // Refused reads left no trace; the two reads one row each.
    let reads: Vec<_> = log_rows(&app, &code).await.into_iter().filter(|r| r.1 == "READ").collect();
    assert_eq!(reads.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assigned_officer_reads_it_and_other_officers_see_only_counts() {
    let app = spawn_app().await;
    let case = app.token(BD_CASE_OFFICER).await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let code = s(&submit(&app, &input(&branch, true, "Khẩn cấp."), None).await["referenceCode"]);
    let id = report_id(&app, &code).await;
    // Someone out of reach cannot be assigned; someone in reach can, and then reads it.
    let hk_case = officer(&app, S, 4, "HN-HK", "CASE_OFFICER").await.token;
    let hk_id = app.person_id("+84970000004").await;
    let assign = "mutation($id: ID!, $o: ID) { assignViolenceReport(id: $id, officerId: $o) { assignee { fullName } } }";
    app.gql(assign, json!({ "id": id, "o": hk_id }), Some(&case))
        .await
        .expect_reason("BAD_USER_INPUT", "INVALID_ID");
    let bd2 = officer(&app, S, 5, "HN-LB-BD", "CASE_OFFICER").await.token;
    let bd2_id = app.person_id("+84970000005").await;
    app.gql(&read_q(), json!({ "id": id }), Some(&hk_case)).await.expect_code("NOT_FOUND");
    let data = app.gql(assign, json!({ "id": id, "o": bd2_id }), Some(&case)).await.ok();
    assert!(data["assignViolenceReport"]["assignee"]["fullName"].is_string());
    assert_eq!(notifications_of(&app, "+84970000005", "VIOLENCE_REPORT_ASSIGNED").await.len(), 1);
    let queue = app.gql(QUEUE, json!({ "f": { "assignedToMe": true } }), Some(&bd2)).await.ok();
    assert_eq!(nodes(&queue["violenceReports"]).len(), 1);

    // Counts: exact for the case officer in reach, coarse (here: suppressed) for other officers.
    let counts = "query($u: ID!) { violenceReportCounts(unitId: $u) { coarse total open urgentOpen overdue byStatus { status count } } }";
    let lb = app.unit_id("HN-LB").await;
    let bd = app.unit_id("HN-LB-BD").await;
    let c = app.gql(counts, json!({ "u": bd }), Some(&case)).await.ok()["violenceReportCounts"].clone();
    assert_eq!(
        (c["coarse"].clone(), c["total"].clone(), c["open"].clone(), c["urgentOpen"].clone()),
        (json!(false), json!(1), json!(1), json!(1))
    );
    assert_eq!(c["byStatus"][0], json!({ "status": "SUBMITTED", "count": 1 }));
    for (phone, unit) in [(LB_OFFICER, &lb), (CITY_ADMIN, &lb), (BD1_LEADER, &branch)] {
        let t = app.token(phone).await;
        let c = app.gql(counts, json!({ "u": unit }), Some(&t)).await.ok()["violenceReportCounts"].clone();
        assert_eq!(
            c,
            json!({ "coarse": true, "total": null, "open": null, "urgentOpen": null, "overdue": null, "byStatus": [] })
        );
    }
    app.gql(counts, json!({ "u": lb }), Some(&app.token(MEMBER).await)).await.expect_code("NOT_FOUND");
    let hk = app.unit_id("HN-HK").await;
    let t = app.token(LB_OFFICER).await;
    app.gql(counts, json!({ "u": hk }), Some(&t)).await.expect_code("NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_and_change_is_logged_once_and_the_log_cannot_be_rewritten() {
    let app = spawn_app().await;
    let case = app.token(BD_CASE_OFFICER).await;
    let case_person = id_of::<PersonId>(&app.person_id(BD_CASE_OFFICER).await);
    let branch = app.unit_id("HN-LB-BD-01").await;
    let code = s(&submit(&app, &input(&branch, false, "Nhật ký."), None).await["referenceCode"]);
    let id = report_id(&app, &code).await;
    app.gql(QUEUE, json!({}), Some(&case)).await.ok();
    app.gql(&read_q(), json!({ "id": id }), Some(&case)).await.ok();
    app.gql(super::workflow::ACK, json!({ "id": id }), Some(&case)).await.ok();
    app.gql(&read_q(), json!({ "id": id }), Some(&case)).await.ok();
    let rows = log_rows(&app, &code).await;
    let actions: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(actions, ["SUBMIT", "READ", "ACKNOWLEDGE", "READ"], "the queue itself reads no details");
    assert!(rows[1..].iter().all(|r| r.0 == "CASE_OFFICER" && r.2 == Some(case_person)));
    assert_eq!(rows[0], ("REPORTER".to_owned(), "SUBMIT".to_owned(), None));

    // The log, for case officers in reach; reading it is logged too.
    let log = "query($id: ID!) { violenceReportAccessLog(reportId: $id, first: 10) { edges { node { role action person { fullName } } } } }";
    let data = app.gql(log, json!({ "id": id }), Some(&case)).await.ok();
    let entries = nodes(&data["violenceReportAccessLog"]);
    assert_eq!(entries.len(), 5);
    assert_eq!(entries[4]["action"], "READ_LOG");
    app.gql(log, json!({ "id": id }), Some(&app.token(LB_OFFICER).await)).await.expect_code("NOT_FOUND");
    assert!(entries[0]["person"].is_null(), "the reporter appears as a role only");
    assert!(entries[1]["person"]["fullName"].is_string());

    // The database refuses to change or remove a log row.
    let db = &app.state.db;
    assert!(db.execute_unprepared("UPDATE violence_access_log SET action = 'READ'").await.is_err());
    assert!(db.execute_unprepared("DELETE FROM violence_access_log").await.is_err());
    // Erasing who an entry names is allowed for a reporter's own entries only (her account's
    // deletion), never for an officer's, and never with another change.
    assert!(
        db.execute_unprepared("UPDATE violence_access_log SET person_id = NULL WHERE role <> 'REPORTER'")
            .await
            .is_err()
    );
    assert!(
        db.execute_unprepared(
            "UPDATE violence_access_log SET person_id = NULL, action = 'READ' WHERE role = 'REPORTER'"
        )
        .await
        .is_err()
    );
    assert_eq!(entities::violence_access_log::Entity::find().count(db).await.unwrap(), 5);
}
