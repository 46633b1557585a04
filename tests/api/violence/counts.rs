//! `violenceReportCounts` never singles out a report: exact counts only for case officers in
//! reach; for other officers coarse totals, whole days, small counts suppressed, steps of 5.

use serde_json::{Value, json};

use super::*;

const COUNTS: &str = "query($u: ID!, $d: DateRangeInput) { violenceReportCounts(unitId: $u, submittedOn: $d) { coarse total open urgentOpen overdue byStatus { status count } } }";

async fn counts(app: &TestApp, token: &str, unit: &str, days: Value) -> Value {
    app.gql(COUNTS, json!({ "u": unit, "d": days }), Some(token)).await.ok()["violenceReportCounts"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officers_without_a_case_role_get_coarse_counts_that_single_out_nobody() {
    let app = spawn_app_with(&[("APP_REPORT_MAX_PER_ADDRESS", "100")]).await;
    let ward = app.unit_id("HN-LB-BD").await;
    let leader = app.token(BD1_LEADER).await;
    let officer = app.token(LB_OFFICER).await;
    let case = app.token(BD_CASE_OFFICER).await;
    let lb = app.unit_id("HN-LB").await;
    let today = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive().to_string();
    let day = json!({ "from": today, "to": today });

    let one = s(&submit(&app, &input(&ward, true, "Một."), None).await["referenceCode"]);
    // One report: suppressed for the district officer, whatever the range.
    let c = counts(&app, &officer, &lb, day.clone()).await;
    assert_eq!(
        (c["coarse"].clone(), c["total"].clone(), c["urgentOpen"].clone()),
        (json!(true), Value::Null, Value::Null)
    );
    assert_eq!(c["byStatus"], json!([]));
    // Four more: 5 in all, shown as 5; the case officer sees them exactly, by status.
    for n in 0..4 {
        submit(&app, &input(&ward, false, &format!("Thêm {n}.")), None).await;
    }
    assert_eq!(counts(&app, &officer, &lb, day.clone()).await["total"], 5);
    let exact = counts(&app, &case, &ward, day.clone()).await;
    assert_eq!(
        (exact["coarse"].clone(), exact["total"].clone(), exact["urgentOpen"].clone()),
        (json!(false), json!(5), json!(1))
    );
    // A sixth changes nothing a coarse reader sees: the difference of two counts is never one
    // report.
    submit(&app, &input(&ward, false, "Sáu."), None).await;
    assert_eq!(counts(&app, &officer, &lb, day.clone()).await["total"], 5);
    assert_eq!(
        counts(&app, &leader, &app.unit_id("HN-LB-BD-01").await, day.clone()).await["total"],
        Value::Null
    );
    // Acting on one report shows in no coarse count.
    let id = report_id(&app, &one).await;
    app.gql(super::workflow::ACK, json!({ "id": id }), Some(&case)).await.ok();
    let c = counts(&app, &officer, &lb, day.clone()).await;
    assert_eq!(
        (c["total"].clone(), c["open"].clone(), c["overdue"].clone()),
        (json!(5), Value::Null, Value::Null)
    );
    // A coarse reader counts whole months: a range of one day reads the same as its month.
    let month = json!({ "from": format!("{}-01", &today[..7]), "to": today });
    assert_eq!(counts(&app, &officer, &lb, month).await, counts(&app, &officer, &lb, day.clone()).await);
    // Ranges are whole days: yesterday holds none of them, today all.
    let yesterday = (chrono::Utc::now() + chrono::Duration::hours(7) - chrono::Duration::days(1))
        .date_naive()
        .to_string();
    let exact = counts(&app, &case, &ward, json!({ "from": yesterday, "to": yesterday })).await;
    assert_eq!(exact["total"], 0);
    assert_eq!(counts(&app, &case, &ward, json!({ "from": yesterday, "to": today })).await["total"], 6);
}

#[tokio::test]
async fn the_coarse_step_is_the_suppression_threshold_of_the_settings() {
    let app =
        spawn_app_with(&[("APP_REPORT_MAX_PER_ADDRESS", "100"), ("APP_SUPPRESSION_MIN_COUNT", "3")]).await;
    let ward = app.unit_id("HN-LB-BD").await;
    let lb = app.unit_id("HN-LB").await;
    let officer = app.token(LB_OFFICER).await;
    let mut seen = Vec::new();
    for n in 0..7 {
        submit(&app, &input(&ward, false, &format!("Tin {n}.")), None).await;
        seen.push(counts(&app, &officer, &lb, Value::Null).await["total"].clone());
    }
    // k = 3: nothing below 3, then multiples of 3.
    assert_eq!(seen, [Value::Null, Value::Null, json!(3), json!(3), json!(3), json!(6), json!(6)]);
}
