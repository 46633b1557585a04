//! Bulk decisions: approving or rejecting membership requests, certifying or returning
//! pledges, checking in registrations and acknowledging or assigning violence reports, many
//! at once — each item authorised and done on its own, one outcome per id in order.

use chrono::{Datelike, Duration, Utc};
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::{fixtures::*, helpers::*, violence::report_id};

const S: Series = Series::CONSOLE;

/// An app where a hundred people may register from one address.
async fn spawn() -> TestApp {
    spawn_app_with(&[("APP_REGISTER_MAX_PER_ADDRESS", "1000")]).await
}

const APPROVE: &str = "mutation($ids: [ID!]!) { approveMembershipRequests(ids: $ids) { id ok error { code reason field message } item { id status } } }";
const REJECT: &str = "mutation($ids: [ID!]!, $r: String!) { rejectMembershipRequests(ids: $ids, reason: $r) { id ok error { code reason field } item { id status decisionReason } } }";

/// The n-th person of the series asks to join branch `code`; her request's global id.
pub(crate) async fn join_request(app: &TestApp, n: u32, code: &str) -> String {
    let p = person(app, S, n).await;
    let branch = app.unit_id(code).await;
    let made = app
        .gql(
            "mutation($i: RequestMembershipInput!) { requestMembership(input: $i) { id } }",
            json!({ "i": { "branchId": branch } }),
            Some(&p.token),
        )
        .await
        .ok();
    s(&made["requestMembership"]["id"])
}

/// (ok, error code) of each outcome.
fn outcomes(list: &Value) -> Vec<(bool, Option<String>)> {
    list.as_array()
        .expect("a list of outcomes")
        .iter()
        .map(|o| (o["ok"].as_bool().unwrap(), o["error"]["code"].as_str().map(str::to_owned)))
        .collect()
}

async fn active_members_of(app: &TestApp, code: &str) -> u64 {
    let unit = uuid_of(&app.unit_id(code).await);
    entities::membership::Entity::find()
        .filter(entities::membership::Column::BranchId.eq(unit))
        .filter(entities::membership::Column::Status.eq("ACTIVE"))
        .count(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_approval_of_100_with_3_out_of_reach_gives_97_approvals_and_3_not_found() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let mut ids = Vec::new();
    let mut far = Vec::new();
    for n in 0..100 {
        // Three ask to join a branch of another district, out of the leader's reach.
        let code = if n % 33 == 5 { "HN-HK-HB-01" } else { "HN-LB-BD-01" };
        let id = join_request(&app, n, code).await;
        if code == "HN-HK-HB-01" {
            far.push(id.clone());
        }
        ids.push(id);
    }
    assert_eq!(far.len(), 3);
    let before = active_members_of(&app, "HN-LB-BD-01").await;

    let data = app.gql(APPROVE, json!({ "ids": ids }), Some(&leader)).await.ok();
    let list = &data["approveMembershipRequests"];
    let got = outcomes(list);
    assert_eq!(got.len(), 100);
    for (i, (outcome, id)) in list.as_array().unwrap().iter().zip(&ids).enumerate() {
        assert_eq!(outcome["id"], *id, "outcomes are in the order sent");
        if far.contains(id) {
            assert_eq!(got[i], (false, Some("NOT_FOUND".into())));
            assert_eq!(outcome["item"], Value::Null);
        } else {
            assert_eq!(got[i], (true, None));
            assert_eq!(outcome["item"]["status"], "APPROVED");
        }
    }
    assert_eq!(active_members_of(&app, "HN-LB-BD-01").await, before + 97);
    // The far requests are still pending, for their own branch to decide.
    let city = app.token(CITY_ADMIN).await;
    let far_data = app.gql(APPROVE, json!({ "ids": far }), Some(&city)).await.ok();
    assert_eq!(outcomes(&far_data["approveMembershipRequests"]), vec![(true, None); 3]);
}

#[tokio::test]
async fn each_item_stands_alone_and_bad_lists_are_refused_whole() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let a = join_request(&app, 200, "HN-LB-BD-01").await;
    let b = join_request(&app, 201, "HN-LB-BD-01").await;
    let c = join_request(&app, 202, "HN-LB-BD-01").await;

    // A whole-call refusal decides nothing: no reason, an empty list, too many ids.
    let refused = app.gql(REJECT, json!({ "ids": [a, b], "r": "  " }), Some(&leader)).await;
    assert_eq!(refused.expect_reason("BAD_USER_INPUT", "REQUIRED").field(), Some("reason"));
    let empty = app.gql(APPROVE, json!({ "ids": [] }), Some(&leader)).await;
    assert_eq!(empty.expect_reason("BAD_USER_INPUT", "REQUIRED").field(), Some("ids"));
    let many: Vec<String> = (0..101).map(|_| a.clone()).collect();
    let too_many = app.gql(APPROVE, json!({ "ids": many }), Some(&leader)).await;
    assert_eq!(too_many.expect_reason("BAD_USER_INPUT", "TOO_MANY").field(), Some("ids"));
    app.gql(APPROVE, json!({ "ids": [a] }), None).await.expect_code("UNAUTHENTICATED");
    // The shared reason is checked even when no id is well-formed.
    let blank = app.gql(REJECT, json!({ "ids": ["x", "y"], "r": "" }), Some(&leader)).await;
    assert_eq!(blank.expect_reason("BAD_USER_INPUT", "REQUIRED").field(), Some("reason"));
    let pending = entities::membership_request::Entity::find()
        .filter(entities::membership_request::Column::Status.eq("PENDING"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(pending, 3);

    // A malformed id, an id of another kind and a repeated id fail alone.
    let person = app.person_id(BD1_LEADER).await;
    let data = app
        .gql(REJECT, json!({ "ids": [a, "not-an-id", person, b, a, c], "r": "Chưa đủ tuổi" }), Some(&leader))
        .await
        .ok();
    let list = &data["rejectMembershipRequests"];
    assert_eq!(
        outcomes(list),
        vec![
            (true, None),
            (false, Some("BAD_USER_INPUT".into())),
            (false, Some("BAD_USER_INPUT".into())),
            (true, None),
            (false, Some("CONFLICT".into())),
            (true, None),
        ]
    );
    assert_eq!(list[1]["error"]["field"], "ids");
    assert_eq!(list[1]["error"]["reason"], "INVALID_ID");
    assert_eq!(list[4]["error"]["reason"], "ALREADY_DECIDED");
    assert_eq!(list[0]["item"]["status"], "REJECTED");
    assert_eq!(list[0]["item"]["decisionReason"], "Chưa đủ tuổi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_officers_deciding_the_same_requests_at_once_decide_each_once() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let officer = app.token(LB_OFFICER).await;
    let mut ids = Vec::new();
    for n in 300..320 {
        ids.push(join_request(&app, n, "HN-LB-BD-01").await);
    }
    let before = active_members_of(&app, "HN-LB-BD-01").await;
    let mut reversed = ids.clone();
    reversed.reverse();
    let sent = join_all([
        app.gql(APPROVE, json!({ "ids": ids }), Some(&leader)),
        app.gql(APPROVE, json!({ "ids": reversed }), Some(&officer)),
        app.gql(REJECT, json!({ "ids": ids, "r": "Trùng" }), Some(&officer)),
    ])
    .await;
    let mut decided = 0;
    for (gql, field) in sent.into_iter().zip([
        "approveMembershipRequests",
        "approveMembershipRequests",
        "rejectMembershipRequests",
    ]) {
        for (ok, code) in outcomes(&gql.ok()[field]) {
            if ok {
                decided += 1;
            } else {
                assert_eq!(code.as_deref(), Some("CONFLICT"));
            }
        }
    }
    assert_eq!(decided, 20, "each request decided once");
    let approved = entities::membership_request::Entity::find()
        .filter(entities::membership_request::Column::Status.eq("APPROVED"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(active_members_of(&app, "HN-LB-BD-01").await, before + approved);
}

#[tokio::test]
async fn pledges_are_certified_or_returned_many_at_once() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    let campaign =
        launched_campaign(&app, &officer, "HN-LB", crate::campaigns::input("Nhiều cam kết", json!({}))).await;
    let criteria: Vec<String> =
        campaign["criteria"].as_array().unwrap().iter().map(|k| s(&k["id"])).collect();
    let year = Utc::now().year();
    let mut pledges = Vec::new();
    for n in 400..404 {
        let m = member(&app, &officer, S, n, "HN-LB-BD-01").await;
        let made = app
            .gql(
                "mutation($c: ID!, $i: PledgeInput!) { submitPledge(campaignId: $c, input: $i) { id } }",
                json!({ "c": campaign["id"], "i": { "kind": "HOUSEHOLD", "year": year, "householdLabel": format!("Hộ {n}"), "householdSize": 4 } }),
                Some(&m.token),
            )
            .await
            .ok();
        pledges.push(s(&made["submitPledge"]["id"]));
    }
    let certify = "mutation($ids: [ID!]!, $m: String) { certifyPledges(ids: $ids, comment: $m) { id ok error { code reason } item { status checks reviewComment } } }";
    let give_back = "mutation($ids: [ID!]!, $m: String!) { returnPledges(ids: $ids, comment: $m) { id ok error { code reason } item { status reviewComment } } }";

    let data = app.gql(certify, json!({ "ids": &pledges[..3], "m": "Đạt" }), Some(&officer)).await.ok();
    let list = &data["certifyPledges"];
    assert_eq!(outcomes(list), vec![(true, None); 3]);
    let checked: Vec<String> = list[0]["item"]["checks"].as_array().unwrap().iter().map(s).collect();
    assert_eq!(checked, criteria, "certifying many checks every criterion");
    assert_eq!(list[0]["item"]["status"], "CERTIFIED");

    // Returning needs a comment; one already certified fails alone.
    app.gql(give_back, json!({ "ids": &pledges[2..], "m": "" }), Some(&officer))
        .await
        .expect_reason("BAD_USER_INPUT", "REQUIRED");
    let data =
        app.gql(give_back, json!({ "ids": &pledges[2..], "m": "Bổ sung ảnh" }), Some(&officer)).await.ok();
    let list = &data["returnPledges"];
    assert_eq!(outcomes(list), vec![(false, Some("CONFLICT".into())), (true, None)]);
    assert_eq!(list[0]["error"]["reason"], "ALREADY_DECIDED");
    assert_eq!(list[1]["item"]["status"], "RETURNED");
    assert_eq!(list[1]["item"]["reviewComment"], "Bổ sung ảnh");

    // A member cannot review: each item is refused on its own.
    let m = member(&app, &officer, S, 410, "HN-LB-BD-01").await;
    let data = app.gql(certify, json!({ "ids": &pledges[3..] }), Some(&m.token)).await.ok();
    assert!(!outcomes(&data["certifyPledges"])[0].0);
}

#[tokio::test]
async fn registrations_are_checked_in_many_at_once() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    let at = |h: i64| (Utc::now() + Duration::hours(h)).to_rfc3339();
    let input = json!({
        "title": "Điểm danh nhiều người", "description": "Lớp kỹ năng", "category": "VOCATIONAL",
        "startsAt": at(1), "endsAt": at(3), "place": "Nhà văn hoá", "capacity": 3,
    });
    let training = published_training(&app, &officer, "HN-LB-BD", input).await;
    let mut regs = Vec::new();
    for n in 500..504 {
        let m = member(&app, &officer, S, n, "HN-LB-BD-01").await;
        let made = app
            .gql(
                "mutation($id: ID!) { registerForTraining(trainingId: $id) { id status } }",
                json!({ "id": training }),
                Some(&m.token),
            )
            .await
            .ok();
        regs.push((s(&made["registerForTraining"]["id"]), s(&made["registerForTraining"]["status"])));
    }
    // Three seats: the fourth waits.
    assert_eq!(regs[3].1, "WAITLISTED");
    let ids: Vec<&String> = regs.iter().map(|(id, _)| id).collect();
    let q = "mutation($ids: [ID!]!) { checkInManyManually(registrationIds: $ids) { id ok error { code reason field } item { alreadyCheckedIn registration { status } } } }";
    let data = app.gql(q, json!({ "ids": [ids[0], ids[1], ids[3]] }), Some(&officer)).await.ok();
    let list = &data["checkInManyManually"];
    assert_eq!(outcomes(list), vec![(true, None), (true, None), (false, Some("CONFLICT".into()))]);
    assert_eq!(list[2]["error"]["reason"], "NOT_CONFIRMED");
    assert_eq!(list[0]["item"]["registration"]["status"], "ATTENDED");
    // Again: already checked in, still ok.
    let data = app.gql(q, json!({ "ids": [ids[0], ids[2]] }), Some(&officer)).await.ok();
    let list = &data["checkInManyManually"];
    assert_eq!(outcomes(list), vec![(true, None), (true, None)]);
    assert_eq!(list[0]["item"]["alreadyCheckedIn"], true);
    assert_eq!(list[1]["item"]["alreadyCheckedIn"], false);
    let malformed = app.gql(q, json!({ "ids": ["x"] }), Some(&officer)).await.ok();
    assert_eq!(malformed["checkInManyManually"][0]["error"]["field"], "registrationIds");
}

#[tokio::test]
async fn violence_reports_are_acknowledged_and_assigned_many_at_once() {
    let app = spawn().await;
    let case_officer = app.token(BD_CASE_OFFICER).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let receipt = violence_report(&app, None, "HN-LB-BD", false, &format!("Tin báo số {i}")).await;
        ids.push(report_id(&app, receipt["referenceCode"].as_str().unwrap()).await);
    }
    let far = violence_report(&app, None, "HN-HK-HB-01", false, "Ở quận khác").await;
    let far = report_id(&app, far["referenceCode"].as_str().unwrap()).await;

    let ack = "mutation($ids: [ID!]!) { acknowledgeViolenceReports(ids: $ids) { id ok error { code reason } item { id status } } }";
    let data = app.gql(ack, json!({ "ids": [ids[0], ids[1], far] }), Some(&case_officer)).await.ok();
    let list = &data["acknowledgeViolenceReports"];
    assert_eq!(outcomes(list), vec![(true, None), (true, None), (false, Some("NOT_FOUND".into()))]);
    assert_eq!(list[0]["item"]["status"], "ACKNOWLEDGED");
    let data = app.gql(ack, json!({ "ids": [ids[1], ids[2]] }), Some(&case_officer)).await.ok();
    let list = &data["acknowledgeViolenceReports"];
    assert_eq!(outcomes(list), vec![(false, Some("CONFLICT".into())), (true, None)]);
    assert_eq!(list[0]["error"]["reason"], "WRONG_STATUS");

    // Assigned to the ward's other case officer.
    let other = officer(&app, S, 600, "HN-LB-BD", "CASE_OFFICER").await;
    let assign = "mutation($ids: [ID!]!, $o: ID) { assignViolenceReports(ids: $ids, officerId: $o) { id ok error { code } item { assignee { id } } } }";
    let data = app.gql(assign, json!({ "ids": ids, "o": other.person_id }), Some(&case_officer)).await.ok();
    let list = &data["assignViolenceReports"];
    assert_eq!(outcomes(list), vec![(true, None); 3]);
    assert_eq!(list[2]["item"]["assignee"]["id"], other.person_id.as_str());
    // A member sees none of them.
    let m = person(&app, S, 601).await;
    let data = app.gql(ack, json!({ "ids": [ids[2]] }), Some(&m.token)).await.ok();
    assert!(!outcomes(&data["acknowledgeViolenceReports"])[0].0);
}
