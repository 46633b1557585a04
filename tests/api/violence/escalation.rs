//! Escalation with a controllable clock: rounds run with a chosen `now`, on one instance, after
//! a restart, and on two instances at once.

use chrono::{Duration, Utc};
use serde_json::json;

use super::*;
use service::violence::escalation::run_round;

async fn escalated_to(app: &TestApp, code: &str) -> (String, i32) {
    use sea_orm::EntityTrait;
    let row = report_row(app, code).await;
    let unit =
        entities::org_unit::Entity::find_by_id(row.routed_unit_id).one(&app.state.db).await.unwrap().unwrap();
    (unit.code, row.escalation_level)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_urgent_report_climbs_the_tree_hour_by_hour() {
    let app = spawn_app().await;
    officer(&app, S, 7, "HN-LB", "CASE_OFFICER").await;
    officer(&app, S, 8, "HN", "CASE_OFFICER").await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let urgent = s(&submit(&app, &input(&branch, true, "Khẩn."), None).await["referenceCode"]);
    let normal = s(&submit(&app, &input(&branch, false, "Thường."), None).await["referenceCode"]);
    let t0 = Utc::now();

    run_round(&app.state, t0 + Duration::minutes(59)).await.unwrap();
    assert_eq!(escalated_to(&app, &urgent).await, ("HN-LB-BD".into(), 0));
    run_round(&app.state, t0 + Duration::minutes(61)).await.unwrap();
    assert_eq!(escalated_to(&app, &urgent).await, ("HN-LB".into(), 1));
    assert_eq!(escalated_to(&app, &normal).await, ("HN-LB-BD".into(), 0), "not before 24 hours");
    assert_eq!(notifications_of(&app, "+84970000007", "VIOLENCE_REPORT_ESCALATED").await.len(), 1);
    // The same moment again escalates nothing more.
    run_round(&app.state, t0 + Duration::minutes(61)).await.unwrap();
    assert_eq!(escalated_to(&app, &urgent).await, ("HN-LB".into(), 1));
    run_round(&app.state, t0 + Duration::minutes(125)).await.unwrap();
    assert_eq!(escalated_to(&app, &urgent).await, ("HN".into(), 2));
    assert_eq!(notifications_of(&app, "+84970000008", "VIOLENCE_REPORT_ESCALATED").await.len(), 1);
    // At the top it stops, still overdue.
    run_round(&app.state, t0 + Duration::hours(5)).await.unwrap();
    assert_eq!(escalated_to(&app, &urgent).await, ("HN".into(), 2));
    assert!(report_row(&app, &urgent).await.escalate_at.is_none());
    run_round(&app.state, t0 + Duration::hours(25)).await.unwrap();
    assert_eq!(escalated_to(&app, &normal).await, ("HN-LB".into(), 1));

    // The steps are on the timeline (internal), and the queue calls it overdue.
    let case = app.token(BD_CASE_OFFICER).await;
    let data = app.gql(&read_q(), json!({ "id": report_id(&app, &urgent).await }), Some(&case)).await.ok();
    let steps: Vec<(String, String, bool)> = data["violenceReport"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "ESCALATED")
        .map(|t| (s(&t["unit"]["code"]), s(&t["actorRole"]), t["public"] == true))
        .collect();
    assert_eq!(steps, [("HN-LB".into(), "SYSTEM".into(), false), ("HN".into(), "SYSTEM".into(), false)]);
    assert_eq!(data["violenceReport"]["summary"]["overdue"], true);
    let overdue = app.gql(QUEUE, json!({ "f": { "overdue": true } }), Some(&case)).await.ok();
    assert_eq!(nodes(&overdue["violenceReports"]).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_report_does_not_escalate() {
    let app = spawn_app().await;
    officer(&app, S, 9, "HN-LB", "CASE_OFFICER").await;
    let case = app.token(BD_CASE_OFFICER).await;
    let code = s(
        &submit(&app, &input(&app.unit_id("HN-LB-BD").await, true, "Đã nhận."), None).await["referenceCode"],
    );
    app.gql(super::workflow::ACK, json!({ "id": report_id(&app, &code).await }), Some(&case)).await.ok();
    run_round(&app.state, Utc::now() + Duration::hours(30)).await.unwrap();
    assert_eq!(escalated_to(&app, &code).await, ("HN-LB-BD".into(), 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_survives_a_restart_and_two_instances_escalate_once() {
    let app = spawn_app().await;
    officer(&app, S, 10, "HN-LB", "CASE_OFFICER").await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let mut codes = Vec::new();
    for i in 0..6 {
        codes
            .push(s(&submit(&app, &input(&branch, true, &format!("Tin {i}.")), None).await["referenceCode"]));
    }
    // A new instance on the same database (a restart) picks the deadlines up from there.
    let restarted = app.spawn_peer().await;
    let second = app.spawn_peer().await;
    let at = Utc::now() + Duration::minutes(90);
    let (a, b) = tokio::join!(run_round(&restarted.state, at), run_round(&second.state, at));
    a.unwrap();
    b.unwrap();
    for code in &codes {
        assert_eq!(escalated_to(&app, code).await, ("HN-LB".into(), 1), "{code}");
    }
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let steps = entities::violence_report_event::Entity::find()
        .filter(entities::violence_report_event::Column::Kind.eq("ESCALATED"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(steps, 6, "one escalation per report");
    assert_eq!(notifications_of(&app, "+84970000010", "VIOLENCE_REPORT_ESCALATED").await.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_with_nobody_above_stays_overdue_once_its_deadline_passes() {
    let app = spawn_app().await;
    // Hoàn Kiếm has no case officer up to the city: the report is routed to the root.
    let code = s(
        &submit(&app, &input(&app.unit_id("HN-HK-HB").await, true, "Không ai."), None).await["referenceCode"],
    );
    run_round(&app.state, Utc::now() + Duration::minutes(61)).await.unwrap();
    let row = report_row(&app, &code).await;
    assert!(row.escalate_at.is_none() && row.escalation_level == 0);
    let counts = "query($u: ID!) { violenceReportCounts(unitId: $u) { overdue } }";
    // Exact counts are a case officer's: one is appointed at the root now.
    let city = officer(&app, S, 31, "HN", "CASE_OFFICER").await.token;
    let c = app.gql(counts, json!({ "u": app.unit_id("HN").await }), Some(&city)).await.ok();
    assert_eq!(c["violenceReportCounts"]["overdue"], 1);
}
