//! The case officers' view, built by the service: texts opened, the reporter never named.

use entities::ids::PersonId;
use serde_json::json;
use service::{
    auth::{Auth, Viewer},
    violence::{ActorRole, officer, queue},
};

use super::{workflow::ACK, *};

const ADD_INFO: &str =
    "mutation($id: ID, $t: String!) { addViolenceReportInformation(reportId: $id, text: $t) { id } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_officers_view_from_the_service_never_names_a_signed_in_reporter() {
    let app = spawn_app().await;
    let case = app.token(BD_CASE_OFFICER).await;
    let member = app.token(MEMBER).await;
    let reporter = id_of::<PersonId>(&app.person_id(MEMBER).await);
    let branch = app.unit_id("HN-LB-BD-01").await;
    let receipt = submit(&app, &input(&branch, false, "MO-TA-CUA-CHI"), Some(&member)).await;
    let code = s(&receipt["referenceCode"]);
    let id = report_id(&app, &code).await;
    app.gql(ACK, json!({ "id": id }), Some(&case)).await.ok();
    app.gql(ADD_INFO, json!({ "id": id, "t": "THEM-THONG-TIN" }), Some(&member)).await.ok();
    let row = report_row(&app, &code).await;
    assert_eq!(row.reporter_id, Some(reporter), "the report is hers in the database");

    let officer_id = id_of::<PersonId>(&app.person_id(BD_CASE_OFFICER).await);
    let auth = Auth::Signed(Viewer { person_id: officer_id, session_id: uuid::Uuid::now_v7() });
    let meta = service::RequestMeta::default();
    let call = service::Call { state: &app.state, auth: &auth, meta: &meta };
    let view = officer::read(call, row.id).await.unwrap();
    let everything = format!("{view:?}");
    // Everything written is opened for her ...
    assert_eq!(view.description, "MO-TA-CUA-CHI");
    assert!(view.timeline.iter().any(|step| step.text.as_deref() == Some("THEM-THONG-TIN")), "{everything}");
    // ... the acting officer is named, the reporter is not: not by id, name or number.
    assert!(!view.anonymous);
    assert!(view.timeline.iter().any(|step| step.officer == Some(officer_id)), "{everything}");
    let reporter_steps: Vec<_> =
        view.timeline.iter().filter(|s| s.actor_role == ActorRole::Reporter).collect();
    assert_eq!(reporter_steps.len(), 2, "submitted and added information: {everything}");
    assert!(reporter_steps.iter().all(|s| s.officer.is_none()));
    for named in [reporter.to_string(), "Hoàng Thị Hội Viên".into(), MEMBER.into()] {
        assert!(!everything.contains(&named), "{named} reached the officer's view: {everything}");
    }

    // Her submission and reads are in the access log as the role alone.
    let (log, _) = officer::access_log_page(call, row.id, 50, None).await.unwrap();
    assert!(log.iter().any(|e| e.role == ActorRole::Reporter));
    assert!(log.iter().filter(|e| e.role == ActorRole::Reporter).all(|e| e.person.is_none()));
    assert!(log.iter().any(|e| e.person == Some(officer_id)));
    assert!(!format!("{log:?}").contains(&reporter.to_string()));

    // The queue's summary carries neither her nor anything written.
    let q = queue::queue_query(call, &queue::QueueFilter::default()).await.unwrap();
    let (page, _) = officer::queue_page(&app.state.db, &q, 50, None).await.unwrap();
    let summary = page.iter().find(|r| r.id == row.id).expect("in her queue");
    let shown = format!("{summary:?}");
    for withheld in [reporter.to_string(), "MO-TA-CUA-CHI".into(), "THEM-THONG-TIN".into()] {
        assert!(!shown.contains(&withheld), "{withheld} reached the queue: {shown}");
    }
}
