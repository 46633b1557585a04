//! Membership: joining, deciding, transfers, leaving, suspension, enrolment, the directory.

use entities::ids::PersonId;
use std::time::Duration;

use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::fixtures::{PASSWORD, Series, name, officer, person, try_enrol};
use crate::helpers::*;

const REQUEST: &str = "mutation($i: RequestMembershipInput!) { requestMembership(input: $i) { id status kind branch { code } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_joins_and_the_leader_approves() {
    let app = spawn_app().await;
    let (member, _, _) = app.register("0978000001", "Phan Thị Gia Nhập", "sen-hong-2026").await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let req = app
        .gql(REQUEST, json!({ "i": { "branchId": branch, "note": "Em ở tổ 5" } }), Some(&member))
        .await
        .ok();
    let id = req["requestMembership"]["id"].as_str().unwrap().to_owned();
    assert_eq!(req["requestMembership"]["status"], "PENDING");

    let leader = app.token(BD1_LEADER).await;
    let queue = app
        .gql("{ membershipRequests(filter: {status: PENDING}) { totalCount edges { node { id applicant { fullName phone } } } } }", json!({}), Some(&leader))
        .await
        .ok();
    assert_eq!(queue["membershipRequests"]["totalCount"], 1);
    assert_eq!(queue["membershipRequests"]["edges"][0]["node"]["applicant"]["phone"], "+84978000001");

    let decided = app
        .gql(
            "mutation($id: ID!) { approveMembershipRequest(id: $id) { status decidedBy { fullName } } }",
            json!({ "id": id }),
            Some(&leader),
        )
        .await
        .ok();
    assert_eq!(decided["approveMembershipRequest"]["status"], "APPROVED");
    let me = app
        .gql(
            "{ me { membership { memberNumber status branch { code } events { kind toBranch { code } } } } }",
            json!({}),
            Some(&member),
        )
        .await
        .ok();
    let m = &me["me"]["membership"];
    assert_eq!(m["status"], "ACTIVE");
    assert_eq!(m["branch"]["code"], "HN-LB-BD-01");
    assert!(m["memberNumber"].as_str().unwrap().starts_with("HN"));
    assert_eq!(m["events"][0]["kind"], "JOINED");
    let _: &Value = m;
}

// ---- helpers ----

const APPROVE: &str = "mutation($id: ID!) { approveMembershipRequest(id: $id) { id status decisionReason decidedAt decidedBy { fullName } } }";
const REJECT: &str = "mutation($id: ID!, $r: String!) { rejectMembershipRequest(id: $id, reason: $r) { id status decisionReason decidedAt decidedBy { fullName } } }";
const CANCEL: &str = "mutation($id: ID!) { cancelMembershipRequest(id: $id) { id status } }";
const TRANSFER: &str = "mutation($i: RequestTransferInput!) { requestTransfer(input: $i) { id status kind branch { code } fromBranch { code } } }";
const LEAVE: &str = "mutation($r: String!) { leaveUnion(reason: $r) { id status leftAt memberNumber } }";
const SUSPEND: &str =
    "mutation($id: ID!, $r: String!) { suspendMembership(id: $id, reason: $r) { id status } }";
const REINSTATE: &str =
    "mutation($id: ID!, $r: String!) { reinstateMembership(id: $id, reason: $r) { id status } }";
const MINE: &str = "{ me { id membership { id memberNumber status joinedAt leftAt branch { code } events { kind at fromBranch { code } toBranch { code } fromStatus toStatus reason actor { fullName } } } } }";
const MY_REQUESTS: &str =
    "{ myMembershipRequests { id status kind decisionReason decidedBy { fullName } branch { code } } }";
const QUEUE: &str = "query($f: MembershipRequestFilter!, $first: Int, $after: String) { membershipRequests(filter: $f, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id status kind createdAt branch { code } applicant { fullName phone } } } } }";
const MEMBERS: &str = "query($f: MemberFilterInput!, $first: Int, $after: String) { members(filter: $f, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id memberNumber fullName phone birthDate status joinedAt branch { code } } } } }";
const NODE_EVENTS: &str = "query($id: ID!) { node(id: $id) { ... on Membership { id memberNumber status phone events { kind reason actor { fullName } } } } }";
const INBOX: &str = "{ unreadNotificationCount notifications(unreadOnly: true, first: 100) { edges { node { kind link read } } } }";

const LEADER_NAME: &str = "Phạm Thị Chi Hội";
const OFFICER_NAME: &str = "Trần Thị Cán Bộ";

/// An app whose registration limit does not get in the way of tests that register many people.
async fn spawn() -> TestApp {
    spawn_app_with(&[("APP_REGISTER_MAX_PER_ADDRESS", "1000")]).await
}

/// This module's test people.
const S: Series = Series::MEMBERSHIP;

/// Registers the test people `ns` a few at a time; returns their tokens in order.
async fn people(app: &TestApp, ns: impl IntoIterator<Item = u32>) -> Vec<String> {
    let ns: Vec<u32> = ns.into_iter().collect();
    let mut tokens = Vec::new();
    for chunk in ns.chunks(8) {
        tokens.extend(join_all(chunk.iter().map(|&n| async move { person(app, S, n).await.token })).await);
    }
    tokens
}

async fn person_uuid(app: &TestApp, phone: &str) -> PersonId {
    id_of::<PersonId>(&app.person_id(phone).await)
}

fn ids(conn: &Value) -> Vec<String> {
    nodes(conn).iter().map(|n| s(&n["id"])).collect()
}

fn kinds(events: &Value) -> Vec<String> {
    events.as_array().expect("events").iter().map(|e| s(&e["kind"])).collect()
}

async fn request(app: &TestApp, token: Option<&str>, code: &str) -> Gql {
    let branch = app.unit_id(code).await;
    app.gql(REQUEST, json!({ "i": { "branchId": branch } }), token).await
}

/// Asks to join `code`; returns the request's id.
async fn request_id(app: &TestApp, token: &str, code: &str) -> String {
    let data = request(app, Some(token), code).await.ok();
    assert_eq!(data["requestMembership"]["status"], "PENDING");
    s(&data["requestMembership"]["id"])
}

async fn approve(app: &TestApp, token: &str, id: &str) -> Gql {
    app.gql(APPROVE, json!({ "id": id }), Some(token)).await
}

async fn reject(app: &TestApp, token: &str, id: &str, reason: &str) -> Gql {
    app.gql(REJECT, json!({ "id": id, "r": reason }), Some(token)).await
}

async fn transfer(app: &TestApp, token: &str, code: &str) -> Gql {
    let to = app.unit_id(code).await;
    app.gql(TRANSFER, json!({ "i": { "toBranchId": to } }), Some(token)).await
}

async fn my_membership(app: &TestApp, token: &str) -> Value {
    app.gql(MINE, json!({}), Some(token)).await.ok()["me"]["membership"].clone()
}

async fn my_requests(app: &TestApp, token: &str) -> Vec<Value> {
    app.gql(MY_REQUESTS, json!({}), Some(token)).await.ok()["myMembershipRequests"]
        .as_array()
        .expect("my requests")
        .clone()
}

/// Registers the n-th test person and makes her a member of `code` (approved by `officer`);
/// returns her token and her membership.
async fn member(app: &TestApp, n: u32, code: &str, officer: &str) -> (String, Value) {
    let token = person(app, S, n).await.token;
    let id = request_id(app, &token, code).await;
    approve(app, officer, &id).await.ok();
    let m = my_membership(app, &token).await;
    assert_eq!(m["status"], "ACTIVE");
    (token, m)
}

async fn queue(app: &TestApp, token: &str, filter: Value) -> Gql {
    app.gql(QUEUE, json!({ "f": filter, "first": 100 }), Some(token)).await
}

/// The ids the queue shows `token` with `filter`, checking `totalCount` against them.
async fn queue_ids(app: &TestApp, token: &str, filter: Value) -> Vec<String> {
    let data = queue(app, token, filter.clone()).await.ok();
    let conn = &data["membershipRequests"];
    let ids = ids(conn);
    assert_eq!(conn["totalCount"], ids.len(), "totalCount with {filter}");
    ids
}

async fn members(app: &TestApp, token: &str, filter: Value) -> Gql {
    app.gql(MEMBERS, json!({ "f": filter, "first": 100 }), Some(token)).await
}

/// The names the directory shows `token` with `filter`, in its order, checking `totalCount`.
async fn member_names(app: &TestApp, token: &str, filter: Value) -> Vec<String> {
    let data = members(app, token, filter.clone()).await.ok();
    let conn = &data["members"];
    let names: Vec<String> = nodes(conn).iter().map(|n| s(&n["fullName"])).collect();
    assert_eq!(conn["totalCount"], names.len(), "totalCount with {filter}");
    names
}

/// A new person made `UNIT_ADMIN` of Hoàn Kiếm (another district than the demo branches).
async fn hoan_kiem_admin(app: &TestApp) -> String {
    officer(app, S, 900, "HN-HK", "UNIT_ADMIN").await.token
}

/// A moment strictly between what happened before and what happens after.
async fn instant_between() -> String {
    tokio::time::sleep(Duration::from_millis(60)).await;
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    tokio::time::sleep(Duration::from_millis(60)).await;
    at
}

async fn memberships_of(app: &TestApp, person: PersonId) -> Vec<entities::membership::Model> {
    entities::membership::Entity::find()
        .filter(entities::membership::Column::PersonId.eq(person))
        .all(&app.state.db)
        .await
        .unwrap()
}

async fn notifications_of(app: &TestApp, person: PersonId) -> Vec<entities::notification::Model> {
    entities::notification::Entity::find()
        .filter(entities::notification::Column::PersonId.eq(person))
        .all(&app.state.db)
        .await
        .unwrap()
}

/// (kind, link) of the caller's unread notifications, after checking the unread count.
async fn unread(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let data = app.gql(INBOX, json!({}), Some(token)).await.ok();
    let list: Vec<(String, String)> = nodes(&data["notifications"])
        .iter()
        .map(|n| {
            assert_eq!(n["read"], false);
            (s(&n["kind"]), n["link"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    assert_eq!(data["unreadNotificationCount"], list.len());
    list
}

fn is_member_number(n: &str) -> bool {
    n.len() == 9 && n.starts_with("HN") && n[2..].bytes().all(|b| b.is_ascii_digit())
}

// ---- requestMembership and cancelMembershipRequest ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_branch_can_be_asked_to_join() {
    let app = spawn().await;
    let token = person(&app, S, 1).await.token;
    for code in ["HN-LB-BD", "HN-LB", "HN", "HN-LB-BD-01-T1"] {
        let r = request(&app, Some(&token), code).await.expect_code("BAD_USER_INPUT");
        assert_eq!(r.field(), Some("branchId"), "{code}: {}", r.body);
    }
    // A global id of something else than a unit.
    let me = app.person_id(&S.stored_phone(1)).await;
    let r = app
        .gql(REQUEST, json!({ "i": { "branchId": me } }), Some(&token))
        .await
        .expect_code("BAD_USER_INPUT");
    assert_eq!(r.field(), Some("branchId"));
    request(&app, None, "HN-LB-BD-01").await.expect_code("UNAUTHENTICATED");
    assert!(my_requests(&app, &token).await.is_empty());
    let rows = entities::membership_request::Entity::find().count(&app.state.db).await.unwrap();
    assert_eq!(rows, 0);
    // The branch itself is fine.
    request_id(&app, &token, "HN-LB-BD-01").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_pending_request_conflicts() {
    let app = spawn().await;
    let token = person(&app, S, 1).await.token;
    let first = request_id(&app, &token, "HN-LB-BD-01").await;
    for code in ["HN-LB-BD-02", "HN-LB-BD-01", "HN-HK-HB-01"] {
        request(&app, Some(&token), code).await.expect_code("CONFLICT");
    }
    let mine = my_requests(&app, &token).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["id"], first.as_str());
    assert_eq!(mine[0]["status"], "PENDING");
    assert_eq!(mine[0]["kind"], "JOIN");
    assert_eq!(mine[0]["branch"]["code"], "HN-LB-BD-01");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_member_cannot_ask_to_join_again() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let (token, _) = member(&app, 1, "HN-LB-BD-01", &leader).await;
    for code in ["HN-LB-BD-01", "HN-LB-BD-02"] {
        request(&app, Some(&token), code).await.expect_code("CONFLICT");
    }
    let pending = my_requests(&app, &token).await.iter().filter(|r| r["status"] == "PENDING").count();
    assert_eq!(pending, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_applicant_cancels_once_and_can_then_ask_again() {
    let app = spawn().await;
    let token = person(&app, S, 1).await.token;
    let other = person(&app, S, 2).await.token;
    let leader = app.token(BD1_LEADER).await;
    let id = request_id(&app, &token, "HN-LB-BD-01").await;

    // Someone else's request is not hers to cancel, not even for the branch's leader.
    for t in [&other, &leader] {
        app.gql(CANCEL, json!({ "id": id }), Some(t)).await.expect_code("NOT_FOUND");
    }
    app.gql(CANCEL, json!({ "id": id }), None).await.expect_code("UNAUTHENTICATED");

    let cancelled = app.gql(CANCEL, json!({ "id": id }), Some(&token)).await.ok();
    assert_eq!(cancelled["cancelMembershipRequest"]["status"], "CANCELLED");
    app.gql(CANCEL, json!({ "id": id }), Some(&token)).await.expect_code("CONFLICT");
    // A cancelled request cannot be decided any more.
    approve(&app, &leader, &id).await.expect_code("CONFLICT");
    assert!(memberships_of(&app, person_uuid(&app, &S.stored_phone(1)).await).await.is_empty());
    let pending = queue_ids(&app, &leader, json!({ "status": "PENDING" })).await;
    assert!(pending.is_empty(), "{pending:?}");

    let again = request_id(&app, &token, "HN-LB-BD-02").await;
    assert_ne!(again, id);
    let mine = my_requests(&app, &token).await;
    let statuses: Vec<(String, String)> = mine.iter().map(|r| (s(&r["id"]), s(&r["status"]))).collect();
    assert_eq!(statuses, [(again, "PENDING".to_owned()), (id, "CANCELLED".to_owned())]);
}

// ---- the request queue ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_shows_each_officer_her_reach() {
    let app = spawn().await;
    let tokens = people(&app, 1..=4).await;
    let bd1_a = request_id(&app, &tokens[0], "HN-LB-BD-01").await;
    let bd1_b = request_id(&app, &tokens[1], "HN-LB-BD-01").await;
    let bd2 = request_id(&app, &tokens[2], "HN-LB-BD-02").await;
    let hk = request_id(&app, &tokens[3], "HN-HK-HB-01").await;
    let hk_admin = hoan_kiem_admin(&app).await;

    let leader = app.token(BD1_LEADER).await;
    assert_eq!(queue_ids(&app, &leader, json!({})).await, [bd1_a.clone(), bd1_b.clone()]);
    let officer = app.token(LB_OFFICER).await;
    assert_eq!(queue_ids(&app, &officer, json!({})).await, [bd1_a.clone(), bd1_b.clone(), bd2.clone()]);
    let city = app.token(CITY_ADMIN).await;
    assert_eq!(queue_ids(&app, &city, json!({})).await, [bd1_a, bd1_b, bd2, hk.clone()]);
    assert_eq!(queue_ids(&app, &hk_admin, json!({})).await, [hk]);
    // No member-managing role: nothing to see.
    for phone in [MEMBER, BD_CASE_OFFICER] {
        let t = app.token(phone).await;
        assert!(queue_ids(&app, &t, json!({})).await.is_empty(), "{phone}");
    }
    app.gql(QUEUE, json!({ "f": {} }), None).await.expect_code("UNAUTHENTICATED");

    // The queue shows the applicant as a manager sees her.
    let data = queue(&app, &leader, json!({})).await.ok();
    let first = &nodes(&data["membershipRequests"])[0];
    assert_eq!(first["applicant"]["phone"], S.stored_phone(1));
    assert_eq!(first["applicant"]["fullName"], name(1));
    assert_eq!(first["branch"]["code"], "HN-LB-BD-01");
    assert_eq!(first["kind"], "JOIN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_of_another_district_can_neither_see_nor_decide() {
    let app = spawn().await;
    let token = person(&app, S, 1).await.token;
    let id = request_id(&app, &token, "HN-LB-BD-01").await;
    let hk_admin = hoan_kiem_admin(&app).await;

    assert!(queue_ids(&app, &hk_admin, json!({})).await.is_empty());
    for code in ["HN-LB", "HN-LB-BD-01"] {
        queue(&app, &hk_admin, json!({ "unitId": app.unit_id(code).await })).await.expect_code("NOT_FOUND");
    }
    approve(&app, &hk_admin, &id).await.expect_code("NOT_FOUND");
    reject(&app, &hk_admin, &id, "Không thuộc địa bàn").await.expect_code("NOT_FOUND");
    app.gql("query($id: ID!) { node(id: $id) { id } }", json!({ "id": id }), Some(&hk_admin))
        .await
        .expect_code("NOT_FOUND");

    assert_eq!(my_requests(&app, &token).await[0]["status"], "PENDING");
    assert!(memberships_of(&app, person_uuid(&app, &S.stored_phone(1)).await).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deciding_needs_a_member_manager_role_over_the_branch() {
    let app = spawn().await;
    let tokens = people(&app, 1..=2).await;
    let bd1 = request_id(&app, &tokens[0], "HN-LB-BD-01").await;
    let bd2 = request_id(&app, &tokens[1], "HN-LB-BD-02").await;

    // In reach (Bồ Đề), but a case officer does not manage members.
    let case = app.token(BD_CASE_OFFICER).await;
    approve(&app, &case, &bd1).await.expect_code("FORBIDDEN");
    reject(&app, &case, &bd1, "Không đủ điều kiện").await.expect_code("FORBIDDEN");
    // No role at all.
    let plain = app.token(MEMBER).await;
    approve(&app, &plain, &bd1).await.expect_code("NOT_FOUND");
    reject(&app, &plain, &bd1, "Không đủ điều kiện").await.expect_code("NOT_FOUND");
    // The applicant cannot approve herself.
    approve(&app, &tokens[0], &bd1).await.expect_code("NOT_FOUND");
    // The leader of Bồ Đề 01 does not lead Bồ Đề 02.
    let leader = app.token(BD1_LEADER).await;
    approve(&app, &leader, &bd2).await.expect_code("NOT_FOUND");
    app.gql(APPROVE, json!({ "id": bd1 }), None).await.expect_code("UNAUTHENTICATED");
    // The queue's unit filter is checked against the caller's reach too.
    queue(&app, &case, json!({ "unitId": app.unit_id("HN-LB-BD").await })).await.expect_code("FORBIDDEN");
    queue(&app, &leader, json!({ "unitId": app.unit_id("HN-LB-BD").await })).await.expect_code("NOT_FOUND");

    let pending = queue_ids(&app, &app.token(LB_OFFICER).await, json!({ "status": "PENDING" })).await;
    assert_eq!(pending, [bd1.clone(), bd2.clone()]);
    // Those with the role decide.
    assert_eq!(approve(&app, &leader, &bd1).await.ok()["approveMembershipRequest"]["status"], "APPROVED");
    let officer = app.token(LB_OFFICER).await;
    assert_eq!(approve(&app, &officer, &bd2).await.ok()["approveMembershipRequest"]["status"], "APPROVED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_filters_by_unit_status_and_submission_time() {
    let app = spawn().await;
    let tokens = people(&app, 1..=5).await;
    let a = request_id(&app, &tokens[0], "HN-LB-BD-01").await;
    let b = request_id(&app, &tokens[1], "HN-LB-BD-02").await;
    let c = request_id(&app, &tokens[2], "HN-LB-GT-01").await;
    let mark = instant_between().await;
    let d = request_id(&app, &tokens[3], "HN-LB-BD-01").await;
    let e = request_id(&app, &tokens[4], "HN-LB-BD-02").await;
    let officer = app.token(LB_OFFICER).await;
    approve(&app, &officer, &a).await.ok();
    reject(&app, &officer, &b, "Đã là hội viên nơi khác").await.ok();

    let all = [&a, &b, &c, &d, &e].map(|x| x.to_string());
    assert_eq!(queue_ids(&app, &officer, json!({})).await, all);
    assert_eq!(
        queue_ids(&app, &officer, json!({ "unitId": app.unit_id("HN-LB-BD").await })).await,
        [&a, &b, &d, &e].map(|x| x.to_string())
    );
    assert_eq!(
        queue_ids(&app, &officer, json!({ "unitId": app.unit_id("HN-LB-BD-01").await })).await,
        [&a, &d].map(|x| x.to_string())
    );
    assert_eq!(
        queue_ids(&app, &officer, json!({ "unitId": app.unit_id("HN-LB-GT").await })).await,
        std::slice::from_ref(&c)
    );
    assert_eq!(
        queue_ids(&app, &officer, json!({ "status": "PENDING" })).await,
        [&c, &d, &e].map(|x| x.to_string())
    );
    assert_eq!(queue_ids(&app, &officer, json!({ "status": "APPROVED" })).await, std::slice::from_ref(&a));
    assert_eq!(queue_ids(&app, &officer, json!({ "status": "REJECTED" })).await, std::slice::from_ref(&b));
    assert!(queue_ids(&app, &officer, json!({ "status": "CANCELLED" })).await.is_empty());
    assert_eq!(
        queue_ids(&app, &officer, json!({ "submittedFrom": mark })).await,
        [&d, &e].map(|x| x.to_string())
    );
    assert_eq!(
        queue_ids(&app, &officer, json!({ "submittedBefore": mark })).await,
        [&a, &b, &c].map(|x| x.to_string())
    );
    assert_eq!(
        queue_ids(
            &app,
            &officer,
            json!({ "unitId": app.unit_id("HN-LB-BD-02").await, "status": "PENDING", "submittedFrom": mark })
        )
        .await,
        std::slice::from_ref(&e)
    );
    // Each request's own creation time bounds it: `from` is inclusive, `before` exclusive.
    let data = queue(&app, &officer, json!({})).await.ok();
    let created: Vec<String> =
        nodes(&data["membershipRequests"]).iter().map(|n| s(&n["createdAt"])).collect();
    assert_eq!(queue_ids(&app, &officer, json!({ "submittedFrom": created[2] })).await, all[2..].to_vec());
    assert_eq!(queue_ids(&app, &officer, json!({ "submittedBefore": created[2] })).await, all[..2].to_vec());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_is_oldest_first_and_pages_walk_everything_once() {
    let app = spawn().await;
    let tokens = people(&app, 1..=7).await;
    let codes = [
        "HN-LB-BD-02",
        "HN-LB-GT-01",
        "HN-LB-BD-01",
        "HN-LB-NL-03",
        "HN-LB-BD-01",
        "HN-LB-DG-04",
        "HN-LB-PD-02",
    ];
    let mut submitted = Vec::new();
    for (t, code) in tokens.iter().zip(codes) {
        submitted.push(request_id(&app, t, code).await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let officer = app.token(LB_OFFICER).await;
    let data = queue(&app, &officer, json!({})).await.ok();
    let all = nodes(&data["membershipRequests"]);
    assert_eq!(all.iter().map(|n| s(&n["id"])).collect::<Vec<_>>(), submitted);
    let times: Vec<chrono::DateTime<chrono::Utc>> =
        all.iter().map(|n| s(&n["createdAt"]).parse().expect("RFC 3339")).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let data = app.gql(QUEUE, json!({ "f": {}, "first": 3, "after": after }), Some(&officer)).await.ok();
        let conn = &data["membershipRequests"];
        assert_eq!(conn["totalCount"], 7);
        walked.extend(ids(conn));
        pages += 1;
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = Some(s(&conn["pageInfo"]["endCursor"]));
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(walked, submitted);
}

// ---- rejection ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_needs_a_reason_the_applicant_then_sees() {
    let app = spawn().await;
    let token = person(&app, S, 1).await.token;
    let id = request_id(&app, &token, "HN-LB-BD-01").await;
    let leader = app.token(BD1_LEADER).await;
    for reason in ["", "   "] {
        let r = reject(&app, &leader, &id, reason).await.expect_code("BAD_USER_INPUT");
        assert_eq!(r.field(), Some("reason"));
    }
    let r = reject(&app, &leader, &id, &"x".repeat(501)).await.expect_code("BAD_USER_INPUT");
    assert_eq!(r.field(), Some("reason"));
    assert_eq!(my_requests(&app, &token).await[0]["status"], "PENDING");

    let reason = "Chị đang sinh hoạt ở chi hội khác";
    let decided = reject(&app, &leader, &id, reason).await.ok();
    assert_eq!(decided["rejectMembershipRequest"]["status"], "REJECTED");
    assert_eq!(decided["rejectMembershipRequest"]["decisionReason"], reason);
    assert!(decided["rejectMembershipRequest"]["decidedAt"].is_string());

    let mine = my_requests(&app, &token).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["status"], "REJECTED");
    assert_eq!(mine[0]["decisionReason"], reason);
    assert_eq!(mine[0]["decidedBy"]["fullName"], LEADER_NAME);
    assert!(my_membership(&app, &token).await.is_null());
    assert!(memberships_of(&app, person_uuid(&app, &S.stored_phone(1)).await).await.is_empty());

    // Decided once: neither the same nor another officer decides it again.
    let officer = app.token(LB_OFFICER).await;
    approve(&app, &leader, &id).await.expect_code("CONFLICT");
    approve(&app, &officer, &id).await.expect_code("CONFLICT");
    reject(&app, &officer, &id, "Lý do khác").await.expect_code("CONFLICT");
    app.gql(CANCEL, json!({ "id": id }), Some(&token)).await.expect_code("CONFLICT");
    let mine = my_requests(&app, &token).await;
    assert_eq!(mine[0]["decisionReason"], reason);
    assert_eq!(mine[0]["decidedBy"]["fullName"], LEADER_NAME);

    // An approved request is decided too.
    let again = request_id(&app, &token, "HN-LB-BD-01").await;
    approve(&app, &leader, &again).await.ok();
    approve(&app, &officer, &again).await.expect_code("CONFLICT");
    reject(&app, &officer, &again, "Nhầm").await.expect_code("CONFLICT");
    assert_eq!(my_membership(&app, &token).await["status"], "ACTIVE");
}

// ---- concurrency ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_simultaneous_approvals_make_exactly_one_membership() {
    let app = spawn().await;
    let token = person(&app, S, 1).await.token;
    let id = request_id(&app, &token, "HN-LB-BD-01").await;
    let leader = app.token(BD1_LEADER).await;
    let officer = app.token(LB_OFFICER).await;

    let results =
        join_all((0..20).map(|i| approve(&app, if i % 2 == 0 { &leader } else { &officer }, &id))).await;
    let won = results.iter().filter(|r| !r.has_errors()).count();
    let conflicts = results.iter().filter(|r| r.code() == Some("CONFLICT")).count();
    assert_eq!((won, conflicts), (1, 19), "{:?}", results.iter().map(|r| &r.body).collect::<Vec<_>>());

    let who = person_uuid(&app, &S.stored_phone(1)).await;
    let rows = memberships_of(&app, who).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status.as_str(), "ACTIVE");
    let events = entities::membership_event::Entity::find()
        .filter(entities::membership_event::Column::MembershipId.eq(rows[0].id))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["JOINED"]);
    let notes = notifications_of(&app, who).await;
    assert_eq!(notes.iter().map(|n| n.kind.as_str()).collect::<Vec<_>>(), ["REQUEST_APPROVED"]);
    assert_eq!(my_requests(&app, &token).await[0]["status"], "APPROVED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_approvals_and_rejections_have_exactly_one_winner() {
    let app = spawn().await;
    let token = person(&app, S, 1).await.token;
    let id = request_id(&app, &token, "HN-LB-BD-01").await;
    let leader = app.token(BD1_LEADER).await;
    let officer = app.token(LB_OFFICER).await;

    let results = join_all((0..20).map(|i| {
        let t = if i % 3 == 0 { &leader } else { &officer };
        let (app, id) = (&app, &id);
        async move {
            if i % 2 == 0 {
                (true, approve(app, t, id).await)
            } else {
                (false, reject(app, t, id, "Hồ sơ chưa đủ").await)
            }
        }
    }))
    .await;
    let winners: Vec<bool> = results.iter().filter(|(_, r)| !r.has_errors()).map(|(a, _)| *a).collect();
    let conflicts = results.iter().filter(|(_, r)| r.code() == Some("CONFLICT")).count();
    assert_eq!(
        (winners.len(), conflicts),
        (1, 19),
        "{:?}",
        results.iter().map(|(_, r)| &r.body).collect::<Vec<_>>()
    );

    let approved = winners[0];
    let who = person_uuid(&app, &S.stored_phone(1)).await;
    assert_eq!(memberships_of(&app, who).await.len(), usize::from(approved));
    assert_eq!(my_requests(&app, &token).await[0]["status"], if approved { "APPROVED" } else { "REJECTED" });
    let notes = notifications_of(&app, who).await;
    let expected = if approved { "REQUEST_APPROVED" } else { "REQUEST_REJECTED" };
    assert_eq!(notes.iter().map(|n| n.kind.as_str()).collect::<Vec<_>>(), [expected]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_requests_from_one_person_leave_one_pending() {
    let app = spawn().await;
    let token = person(&app, S, 1).await.token;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let results =
        join_all((0..2).map(|_| app.gql(REQUEST, json!({ "i": { "branchId": branch } }), Some(&token))))
            .await;
    let ok = results.iter().filter(|r| !r.has_errors()).count();
    let conflicts = results.iter().filter(|r| r.code() == Some("CONFLICT")).count();
    assert_eq!((ok, conflicts), (1, 1), "{:?}", results.iter().map(|r| &r.body).collect::<Vec<_>>());

    // And ten at once, to other branches, while that one is pending: all refused.
    let second = app.unit_id("HN-LB-BD-02").await;
    let more =
        join_all((0..10).map(|_| app.gql(REQUEST, json!({ "i": { "branchId": second } }), Some(&token))))
            .await;
    assert!(
        more.iter().all(|r| r.code() == Some("CONFLICT")),
        "{:?}",
        more.iter().map(|r| &r.body).collect::<Vec<_>>()
    );

    let who = person_uuid(&app, &S.stored_phone(1)).await;
    let rows = entities::membership_request::Entity::find()
        .filter(entities::membership_request::Column::PersonId.eq(who))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status.as_str(), "PENDING");
    // The losers' notifications were rolled back with them.
    let leader = person_uuid(&app, BD1_LEADER).await;
    assert_eq!(notifications_of(&app, leader).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn member_numbers_are_unique_and_well_formed() {
    let app = spawn().await;
    let tokens = people(&app, 1..=12).await;
    let codes = ["HN-LB-BD-01", "HN-LB-BD-02", "HN-LB-GT-01"];
    let mut requests = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        requests.push(request_id(&app, t, codes[i % 3]).await);
    }
    let officer = app.token(LB_OFFICER).await;
    let city = app.token(CITY_ADMIN).await;
    // Approved all at once by two officers: the counter must not hand out a number twice.
    let results = join_all(
        requests
            .iter()
            .enumerate()
            .map(|(i, id)| approve(&app, if i % 2 == 0 { &officer } else { &city }, id)),
    )
    .await;
    for r in results {
        r.ok();
    }
    let names: Vec<String> = (50..53).map(name).collect();
    let phones: Vec<String> = (50..53).map(|n| S.phone(n)).collect();
    let enrolled = join_all(
        names.iter().zip(&phones).map(|(n, p)| try_enrol(&app, &officer, n, p, None, "HN-LB-NL-01")),
    )
    .await;
    let mut numbers = Vec::new();
    for t in &tokens {
        numbers.push(s(&my_membership(&app, t).await["memberNumber"]));
    }
    for e in enrolled {
        numbers.push(s(&e.ok()["enrolMember"]["membership"]["memberNumber"]));
    }
    assert!(numbers.iter().all(|n| is_member_number(n)), "{numbers:?}");
    let mut distinct = numbers.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 15, "{numbers:?}");
    let stored = entities::membership::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(stored.len(), 15);
}

// ---- transfers ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_is_decided_by_the_receiving_branch() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let officer = app.token(LB_OFFICER).await;
    let (token, before) = member(&app, 1, "HN-LB-BD-01", &leader).await;

    for code in ["HN-LB-BD-01", "HN-LB-GT", "HN-LB-GT-01-T1"] {
        let r = transfer(&app, &token, code).await.expect_code("BAD_USER_INPUT");
        assert_eq!(r.field(), Some("toBranchId"), "{code}: {}", r.body);
    }
    let asked = transfer(&app, &token, "HN-LB-GT-01").await.ok()["requestTransfer"].clone();
    assert_eq!(asked["status"], "PENDING");
    assert_eq!(asked["kind"], "TRANSFER");
    assert_eq!(asked["branch"]["code"], "HN-LB-GT-01");
    assert_eq!(asked["fromBranch"]["code"], "HN-LB-BD-01");
    let id = s(&asked["id"]);
    transfer(&app, &token, "HN-LB-GT-02").await.expect_code("CONFLICT");

    // The sending branch's leader has no say over Gia Thụy: she neither sees nor decides it.
    assert!(!queue_ids(&app, &leader, json!({})).await.contains(&id));
    approve(&app, &leader, &id).await.expect_code("NOT_FOUND");
    reject(&app, &leader, &id, "Ở lại chi hội").await.expect_code("NOT_FOUND");
    assert_eq!(my_membership(&app, &token).await["branch"]["code"], "HN-LB-BD-01");

    assert!(queue_ids(&app, &officer, json!({ "status": "PENDING" })).await.contains(&id));
    let decided = approve(&app, &officer, &id).await.ok();
    assert_eq!(decided["approveMembershipRequest"]["status"], "APPROVED");

    let after = my_membership(&app, &token).await;
    assert_eq!(after["branch"]["code"], "HN-LB-GT-01");
    assert_eq!(after["status"], "ACTIVE");
    assert_eq!(after["id"], before["id"]);
    assert_eq!(after["memberNumber"], before["memberNumber"]);
    assert_eq!(after["joinedAt"], before["joinedAt"]);
    assert_eq!(kinds(&after["events"]), ["JOINED", "TRANSFERRED"]);
    let moved = &after["events"][1];
    assert_eq!(moved["fromBranch"]["code"], "HN-LB-BD-01");
    assert_eq!(moved["toBranch"]["code"], "HN-LB-GT-01");
    assert_eq!(moved["actor"]["fullName"], OFFICER_NAME);
    assert_eq!(moved["toStatus"], "ACTIVE");
    assert_eq!(after["events"][0]["toBranch"]["code"], "HN-LB-BD-01");
    let who = person_uuid(&app, &S.stored_phone(1)).await;
    assert_eq!(memberships_of(&app, who).await.len(), 1);

    // The old branch's leader no longer manages her; she can move back.
    let m = s(&after["id"]);
    app.gql(SUSPEND, json!({ "id": m, "r": "Thử" }), Some(&leader)).await.expect_code("NOT_FOUND");
    let back = s(&transfer(&app, &token, "HN-LB-BD-01").await.ok()["requestTransfer"]["id"]);
    approve(&app, &leader, &back).await.ok();
    let again = my_membership(&app, &token).await;
    assert_eq!(again["branch"]["code"], "HN-LB-BD-01");
    assert_eq!(kinds(&again["events"]), ["JOINED", "TRANSFERRED", "TRANSFERRED"]);
    assert_eq!(again["memberNumber"], before["memberNumber"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_active_member_can_ask_to_transfer() {
    let app = spawn().await;
    let outsider = person(&app, S, 1).await.token;
    transfer(&app, &outsider, "HN-LB-GT-01").await.expect_code("CONFLICT");
    // Pending a join is not being a member either.
    request_id(&app, &outsider, "HN-LB-BD-01").await;
    transfer(&app, &outsider, "HN-LB-GT-01").await.expect_code("CONFLICT");

    let leader = app.token(BD1_LEADER).await;
    let (token, m) = member(&app, 2, "HN-LB-BD-01", &leader).await;
    app.gql(SUSPEND, json!({ "id": m["id"], "r": "Vi phạm điều lệ" }), Some(&leader)).await.ok();
    transfer(&app, &token, "HN-LB-GT-01").await.expect_code("CONFLICT");
    assert!(my_requests(&app, &token).await.iter().all(|r| r["kind"] == "JOIN"));
}

// ---- leaving ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_ends_the_membership_and_she_can_join_again() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let outsider = person(&app, S, 2).await.token;
    app.gql(LEAVE, json!({ "r": "Không còn thời gian" }), Some(&outsider)).await.expect_code("CONFLICT");

    let (token, before) = member(&app, 1, "HN-LB-BD-01", &leader).await;
    for reason in ["", "  "] {
        let r = app.gql(LEAVE, json!({ "r": reason }), Some(&token)).await.expect_code("BAD_USER_INPUT");
        assert_eq!(r.field(), Some("reason"));
    }
    assert_eq!(my_membership(&app, &token).await["status"], "ACTIVE");
    app.gql(LEAVE, json!({ "r": "Chuyển vào Nam" }), None).await.expect_code("UNAUTHENTICATED");

    let left =
        app.gql(LEAVE, json!({ "r": "Chuyển vào Nam" }), Some(&token)).await.ok()["leaveUnion"].clone();
    assert_eq!(left["status"], "LEFT");
    assert!(left["leftAt"].is_string());
    let m = my_membership(&app, &token).await;
    assert_eq!(m["id"], before["id"]);
    assert_eq!(m["status"], "LEFT");
    assert!(m["leftAt"].is_string());
    assert_eq!(kinds(&m["events"]), ["JOINED", "LEFT"]);
    let event = &m["events"][1];
    assert_eq!(event["reason"], "Chuyển vào Nam");
    assert_eq!(event["fromStatus"], "ACTIVE");
    assert_eq!(event["toStatus"], "LEFT");
    assert_eq!(event["fromBranch"]["code"], "HN-LB-BD-01");
    assert!(event["actor"].is_null());

    app.gql(LEAVE, json!({ "r": "Lần nữa" }), Some(&token)).await.expect_code("CONFLICT");
    // A member who left can be neither suspended nor reinstated.
    app.gql(SUSPEND, json!({ "id": m["id"], "r": "Thử" }), Some(&leader)).await.expect_code("CONFLICT");
    app.gql(REINSTATE, json!({ "id": m["id"], "r": "Thử" }), Some(&leader)).await.expect_code("CONFLICT");

    // She comes back: a new membership with a new number.
    let id = request_id(&app, &token, "HN-LB-BD-02").await;
    approve(&app, &app.token(LB_OFFICER).await, &id).await.ok();
    let again = my_membership(&app, &token).await;
    assert_eq!(again["status"], "ACTIVE");
    assert_eq!(again["branch"]["code"], "HN-LB-BD-02");
    assert_ne!(again["id"], before["id"]);
    assert_ne!(again["memberNumber"], before["memberNumber"]);
    assert!(is_member_number(&s(&again["memberNumber"])));
    assert_eq!(kinds(&again["events"]), ["JOINED"]);
    let rows = memberships_of(&app, person_uuid(&app, &S.stored_phone(1)).await).await;
    let mut statuses: Vec<&str> = rows.iter().map(|r| r.status.as_str()).collect();
    statuses.sort();
    assert_eq!(statuses, ["ACTIVE", "LEFT"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_withdraws_a_pending_transfer() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let (token, _) = member(&app, 1, "HN-LB-BD-01", &leader).await;
    let id = s(&transfer(&app, &token, "HN-LB-GT-01").await.ok()["requestTransfer"]["id"]);
    app.gql(LEAVE, json!({ "r": "Chuyển đi xa" }), Some(&token)).await.ok();
    let officer = app.token(LB_OFFICER).await;
    approve(&app, &officer, &id).await.expect_code("CONFLICT");
    let m = my_membership(&app, &token).await;
    assert_eq!(m["status"], "LEFT");
    assert_eq!(m["branch"]["code"], "HN-LB-BD-01");
    assert_eq!(my_requests(&app, &token).await[0]["status"], "CANCELLED");
}

// ---- suspension ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspension_and_reinstatement_record_the_actor_and_reason() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let officer = app.token(LB_OFFICER).await;
    let (token, m) = member(&app, 1, "HN-LB-BD-01", &leader).await;
    let id = s(&m["id"]);

    for reason in ["", " "] {
        let r = app
            .gql(SUSPEND, json!({ "id": id, "r": reason }), Some(&leader))
            .await
            .expect_code("BAD_USER_INPUT");
        assert_eq!(r.field(), Some("reason"));
    }
    let r =
        app.gql(REINSTATE, json!({ "id": id, "r": "" }), Some(&leader)).await.expect_code("BAD_USER_INPUT");
    assert_eq!(r.field(), Some("reason"));
    // Not suspended: nothing to reinstate.
    app.gql(REINSTATE, json!({ "id": id, "r": "Đã khắc phục" }), Some(&leader)).await.expect_code("CONFLICT");

    let suspended =
        app.gql(SUSPEND, json!({ "id": id, "r": "Không sinh hoạt sáu tháng" }), Some(&leader)).await.ok();
    assert_eq!(suspended["suspendMembership"]["status"], "SUSPENDED");
    assert_eq!(my_membership(&app, &token).await["status"], "SUSPENDED");
    app.gql(SUSPEND, json!({ "id": id, "r": "Lần nữa" }), Some(&officer)).await.expect_code("CONFLICT");
    // Suspended is still a current membership: no new request.
    request(&app, Some(&token), "HN-LB-BD-02").await.expect_code("CONFLICT");

    let back =
        app.gql(REINSTATE, json!({ "id": id, "r": "Đã sinh hoạt trở lại" }), Some(&officer)).await.ok();
    assert_eq!(back["reinstateMembership"]["status"], "ACTIVE");
    app.gql(REINSTATE, json!({ "id": id, "r": "Lần nữa" }), Some(&officer)).await.expect_code("CONFLICT");

    let m = my_membership(&app, &token).await;
    assert_eq!(m["status"], "ACTIVE");
    assert_eq!(kinds(&m["events"]), ["JOINED", "SUSPENDED", "REINSTATED"]);
    let (s1, r1) = (&m["events"][1], &m["events"][2]);
    assert_eq!(s1["actor"]["fullName"], LEADER_NAME);
    assert_eq!(s1["reason"], "Không sinh hoạt sáu tháng");
    assert_eq!((&s1["fromStatus"], &s1["toStatus"]), (&json!("ACTIVE"), &json!("SUSPENDED")));
    assert_eq!(r1["actor"]["fullName"], OFFICER_NAME);
    assert_eq!(r1["reason"], "Đã sinh hoạt trở lại");
    assert_eq!((&r1["fromStatus"], &r1["toStatus"]), (&json!("SUSPENDED"), &json!("ACTIVE")));
    assert_eq!(m["events"][0]["actor"]["fullName"], LEADER_NAME);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspension_needs_reach_and_a_member_manager_role() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let (token, m) = member(&app, 1, "HN-LB-BD-01", &leader).await;
    let (other, _) = member(&app, 2, "HN-LB-BD-01", &leader).await;
    let hk_admin = hoan_kiem_admin(&app).await;
    let id = s(&m["id"]);
    let vars = json!({ "id": id, "r": "Vi phạm điều lệ" });

    // The member herself (no role), another member, an admin of another district: not found.
    for t in [&token, &other, &hk_admin, &app.token(MEMBER).await] {
        app.gql(SUSPEND, vars.clone(), Some(t)).await.expect_code("NOT_FOUND");
    }
    // In reach, with a role that does not manage members.
    app.gql(SUSPEND, vars.clone(), Some(&app.token(BD_CASE_OFFICER).await)).await.expect_code("FORBIDDEN");
    app.gql(SUSPEND, vars.clone(), None).await.expect_code("UNAUTHENTICATED");
    assert_eq!(my_membership(&app, &token).await["status"], "ACTIVE");

    app.gql(SUSPEND, vars.clone(), Some(&leader)).await.ok();
    for t in [&token, &other, &hk_admin] {
        app.gql(REINSTATE, vars.clone(), Some(t)).await.expect_code("NOT_FOUND");
    }
    app.gql(REINSTATE, vars.clone(), Some(&app.token(BD_CASE_OFFICER).await)).await.expect_code("FORBIDDEN");
    let m = my_membership(&app, &token).await;
    assert_eq!(m["status"], "SUSPENDED");
    assert_eq!(kinds(&m["events"]), ["JOINED", "SUSPENDED"]);
}

/// An officer who is also a member must not act on her own membership: a suspended branch
/// leader reinstating herself would make the suspension meaningless (as granting oneself a
/// role is refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_cannot_suspend_or_reinstate_her_own_membership() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let officer = app.token(LB_OFFICER).await;
    let id = request_id(&app, &leader, "HN-LB-BD-01").await;
    approve(&app, &officer, &id).await.ok();
    let own = s(&my_membership(&app, &leader).await["id"]);

    app.gql(SUSPEND, json!({ "id": own, "r": "Tự đình chỉ" }), Some(&leader)).await.expect_code("FORBIDDEN");
    assert_eq!(my_membership(&app, &leader).await["status"], "ACTIVE");
    app.gql(SUSPEND, json!({ "id": own, "r": "Vi phạm điều lệ" }), Some(&officer)).await.ok();
    app.gql(REINSTATE, json!({ "id": own, "r": "Tự phục hồi" }), Some(&leader))
        .await
        .expect_code("FORBIDDEN");
    assert_eq!(my_membership(&app, &leader).await["status"], "SUSPENDED");
}

// ---- history visibility ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_is_visible_to_herself_and_to_officers_with_reach_only() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let (token, m) = member(&app, 1, "HN-LB-BD-01", &leader).await;
    let (other, _) = member(&app, 2, "HN-LB-BD-01", &leader).await;
    let id = s(&m["id"]);
    app.gql(SUSPEND, json!({ "id": id, "r": "Không đóng hội phí" }), Some(&leader)).await.ok();

    let mine = my_membership(&app, &token).await;
    assert_eq!(kinds(&mine["events"]), ["JOINED", "SUSPENDED"]);
    assert_eq!(mine["events"][1]["reason"], "Không đóng hội phí");
    assert!(mine["events"].as_array().unwrap().iter().all(|e| e["at"].is_string()));

    for phone in [BD1_LEADER, LB_OFFICER, CITY_ADMIN, SYSADMIN] {
        let t = app.token(phone).await;
        let node = app.gql(NODE_EVENTS, json!({ "id": id }), Some(&t)).await.ok()["node"].clone();
        assert_eq!(node["id"], id.as_str(), "{phone}");
        assert_eq!(node["memberNumber"], mine["memberNumber"], "{phone}");
        assert_eq!(kinds(&node["events"]), ["JOINED", "SUSPENDED"], "{phone}");
        assert_eq!(node["events"][1]["actor"]["fullName"], LEADER_NAME, "{phone}");
    }
    // She reads her own by id as well.
    let own = app.gql(NODE_EVENTS, json!({ "id": id }), Some(&token)).await.ok()["node"].clone();
    assert_eq!(kinds(&own["events"]), ["JOINED", "SUSPENDED"]);

    let hk_admin = hoan_kiem_admin(&app).await;
    for t in [&hk_admin, &other, &app.token(MEMBER).await, &app.token(BD_CASE_OFFICER).await] {
        let r = app.gql(NODE_EVENTS, json!({ "id": id }), Some(t)).await.expect_code("NOT_FOUND");
        assert!(r.data().is_null() || r.data()["node"].is_null(), "{}", r.body);
    }
    app.gql(NODE_EVENTS, json!({ "id": id }), None).await.expect_code("UNAUTHENTICATED");
    // Her requests likewise: herself and managers over the branch only.
    let req = s(&my_requests(&app, &token).await[0]["id"]);
    let q = "query($id: ID!) { node(id: $id) { ... on MembershipRequest { id applicant { phone } } } }";
    assert_eq!(app.gql(q, json!({ "id": req }), Some(&token)).await.ok()["node"]["id"], req.as_str());
    assert_eq!(
        app.gql(q, json!({ "id": req }), Some(&leader)).await.ok()["node"]["applicant"]["phone"],
        S.stored_phone(1)
    );
    for t in [&hk_admin, &other] {
        app.gql(q, json!({ "id": req }), Some(t)).await.expect_code("NOT_FOUND");
    }
}

// ---- direct enrolment ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_enrols_a_member_directly() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    let answer =
        try_enrol(&app, &officer, "Đỗ Thị Ghi Sổ", "0912 345 678", Some("1985-03-08"), "HN-LB-BD-01")
            .await
            .ok()["enrolMember"]
            .clone();
    assert_eq!(answer["status"], "ENROLLED");
    assert_eq!(
        (&answer["fullName"], &answer["phone"], &answer["birthDate"]),
        (&json!("Đỗ Thị Ghi Sổ"), &json!("+84912345678"), &json!("1985-03-08"))
    );
    let enrolled = answer["membership"].clone();
    assert_eq!(enrolled["status"], "ACTIVE");
    assert_eq!(enrolled["fullName"], "Đỗ Thị Ghi Sổ");
    assert_eq!(enrolled["phone"], "+84912345678");
    assert_eq!(enrolled["birthDate"], "1985-03-08");
    assert_eq!(enrolled["branch"]["code"], "HN-LB-BD-01");
    assert!(is_member_number(&s(&enrolled["memberNumber"])));
    assert_eq!(kinds(&enrolled["events"]), ["ENROLLED"]);
    assert_eq!(enrolled["events"][0]["toBranch"]["code"], "HN-LB-BD-01");
    assert_eq!(enrolled["events"][0]["toStatus"], "ACTIVE");
    assert_eq!(enrolled["events"][0]["actor"]["fullName"], OFFICER_NAME);

    // The same woman, her number typed differently, anywhere: already a member.
    for (p, code) in [("+84912345678", "HN-LB-BD-01"), ("84 912.345.678", "HN-LB-GT-01")] {
        try_enrol(&app, &officer, "Đỗ Thị Ghi Sổ", p, None, code).await.expect_code("CONFLICT");
    }
    // A registered member too.
    let leader = app.token(BD1_LEADER).await;
    member(&app, 1, "HN-LB-BD-01", &leader).await;
    try_enrol(&app, &officer, &name(1), &S.phone(1), None, "HN-LB-BD-02").await.expect_code("CONFLICT");

    for bad in ["012345", "0212345678", "số điện thoại", ""] {
        let r = try_enrol(&app, &officer, "Vũ Thị Sai Số", bad, None, "HN-LB-BD-01")
            .await
            .expect_code("BAD_USER_INPUT");
        assert_eq!(r.field(), Some("phone"), "{bad}: {}", r.body);
    }
    for code in ["HN-LB-BD", "HN-LB", "HN-LB-BD-01-T1"] {
        let r = try_enrol(&app, &officer, "Vũ Thị Phường", "0933000111", None, code)
            .await
            .expect_code("BAD_USER_INPUT");
        assert_eq!(r.field(), Some("branchId"), "{code}: {}", r.body);
    }
    let r = try_enrol(&app, &officer, "Vũ Thị Tương Lai", "0933000222", Some("2999-01-01"), "HN-LB-BD-01")
        .await
        .expect_code("BAD_USER_INPUT");
    assert_eq!(r.field(), Some("birthDate"));
    let r =
        try_enrol(&app, &officer, "", "0933000222", None, "HN-LB-BD-01").await.expect_code("BAD_USER_INPUT");
    assert_eq!(r.field(), Some("fullName"));

    // Who may enrol: member managers over the branch.
    let args = ("Vũ Thị Ngoài Tầm", "0933000333", None, "HN-LB-BD-02");
    try_enrol(&app, &leader, args.0, args.1, args.2, args.3).await.expect_code("NOT_FOUND");
    try_enrol(&app, &app.token(MEMBER).await, args.0, args.1, args.2, args.3).await.expect_code("NOT_FOUND");
    try_enrol(&app, &hoan_kiem_admin(&app).await, args.0, args.1, args.2, args.3)
        .await
        .expect_code("NOT_FOUND");
    try_enrol(&app, &app.token(BD_CASE_OFFICER).await, args.0, args.1, args.2, args.3)
        .await
        .expect_code("FORBIDDEN");
    let ok = try_enrol(&app, &leader, "Vũ Thị Trong Tầm", "0933000444", None, "HN-LB-BD-01").await.ok();
    assert_eq!(ok["enrolMember"]["membership"]["events"][0]["actor"]["fullName"], LEADER_NAME);

    // Nothing was written by the refused attempts.
    let people = entities::person::Entity::find()
        .filter(entities::person::Column::Phone.is_in(["+84933000111", "+84933000222", "+84933000333"]))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(people, 0);
    let enrolled_rows = entities::membership::Entity::find().count(&app.state.db).await.unwrap();
    assert_eq!(enrolled_rows, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_enrolments_of_one_woman_make_one_member() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    let city = app.token(CITY_ADMIN).await;
    let forms =
        ["0912345678", "+84912345678", "84912345678", "0912 345 678", "(+84) 912-345-678", "091.234.5678"];
    let codes = ["HN-LB-BD-01", "HN-LB-BD-02", "HN-LB-GT-01"];
    // Twelve at once (each form twice), by two officers, to three branches.
    let results = join_all(forms.iter().chain(&forms).enumerate().map(|(i, p)| {
        try_enrol(&app, if i % 2 == 0 { &officer } else { &city }, "Đỗ Thị Ghi Sổ", p, None, codes[i % 3])
    }))
    .await;
    let ok = results.iter().filter(|r| !r.has_errors()).count();
    let conflicts = results.iter().filter(|r| r.code() == Some("CONFLICT")).count();
    assert_eq!((ok, conflicts), (1, 11), "{:?}", results.iter().map(|r| &r.body).collect::<Vec<_>>());
    let rows = entities::person::Entity::find()
        .filter(entities::person::Column::Phone.eq("+84912345678"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(memberships_of(&app, rows[0].id).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolled_woman_who_registers_gets_her_membership() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    let enrolled =
        try_enrol(&app, &officer, "Đỗ Thị Ghi Sổ", "0912345678", Some("1985-03-08"), "HN-LB-BD-01")
            .await
            .ok()["enrolMember"]["membership"]
            .clone();

    let (token, _, person_id) = app.register("+84 912-345-678", "Đỗ Thị Ghi Sổ", PASSWORD).await;
    let me = app.gql(MINE, json!({}), Some(&token)).await.ok()["me"].clone();
    assert_eq!(me["id"], person_id.as_str());
    assert_eq!(me["membership"]["id"], enrolled["id"]);
    assert_eq!(me["membership"]["memberNumber"], enrolled["memberNumber"]);
    assert_eq!(me["membership"]["status"], "ACTIVE");
    assert_eq!(kinds(&me["membership"]["events"]), ["ENROLLED"]);

    let rows = entities::person::Entity::find()
        .filter(entities::person::Column::Phone.eq("+84912345678"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, id_of::<PersonId>(&person_id));
    assert_eq!(memberships_of(&app, rows[0].id).await.len(), 1);

    // The record is claimed: a second registration of that number is refused.
    let proof = app.verified_phone("0912.345.678", "CLAIM_RECORD", None).await;
    let again = app
        .gql(
            "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
            json!({ "i": { "phone": "0912.345.678", "fullName": "Người Khác", "password": "khac-mat-khau-1", "verificationToken": proof, "privacyNoticeVersion": "2026-12" } }),
            None,
        )
        .await
        .expect_code("CONFLICT");
    assert!(again.data().is_null() || again.data()["register"].is_null());
    // She signs in with her new password, and she is a member: no join request.
    let (signed_in, _) = app.login("0912345678", PASSWORD).await;
    request(&app, Some(&signed_in), "HN-LB-BD-02").await.expect_code("CONFLICT");
}

// ---- the member directory ----

/// Enrols (by the city's admin) the directory test members; returns the admin's token.
async fn directory_fixture(app: &TestApp) -> String {
    let city = app.token(CITY_ADMIN).await;
    for (name, phone, birth, code) in [
        ("Nguyễn Thị Hoa", "0911000001", Some("1980-01-02"), "HN-LB-BD-01"),
        ("Nguyễn Thị Lan", "0911000002", None, "HN-LB-GT-01"),
        ("Trần Thị Mai", "0911000003", Some("1990-05-06"), "HN-LB-BD-02"),
        ("Đặng Thị An", "0911000004", None, "HN-LB-BD-01"),
        ("Nguyễn Thị Hồng", "0911000005", None, "HN-HK-HB-01"),
    ] {
        try_enrol(app, &city, name, phone, birth, code).await.ok();
    }
    city
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_shows_officers_their_subtree_only() {
    let app = spawn().await;
    let city = directory_fixture(&app).await;
    let officer = app.token(LB_OFFICER).await;
    let lb = ["Đặng Thị An", "Nguyễn Thị Hoa", "Nguyễn Thị Lan", "Trần Thị Mai"];
    assert_eq!(member_names(&app, &officer, json!({})).await, lb);
    let leader = app.token(BD1_LEADER).await;
    assert_eq!(member_names(&app, &leader, json!({})).await, ["Đặng Thị An", "Nguyễn Thị Hoa"]);
    assert_eq!(
        member_names(&app, &city, json!({})).await,
        ["Đặng Thị An", "Nguyễn Thị Hoa", "Nguyễn Thị Hồng", "Nguyễn Thị Lan", "Trần Thị Mai"]
    );
    let hk_admin = hoan_kiem_admin(&app).await;
    assert_eq!(member_names(&app, &hk_admin, json!({})).await, ["Nguyễn Thị Hồng"]);

    // Officers see phone and birth date of their members.
    let data = members(&app, &officer, json!({ "phone": "0911000001" })).await.ok();
    let hoa = &nodes(&data["members"])[0];
    assert_eq!(hoa["phone"], "+84911000001");
    assert_eq!(hoa["birthDate"], "1980-01-02");
    assert_eq!(hoa["branch"]["code"], "HN-LB-BD-01");

    // Out of reach.
    members(&app, &officer, json!({ "unitId": app.unit_id("HN-HK").await })).await.expect_code("NOT_FOUND");
    members(&app, &leader, json!({ "unitId": app.unit_id("HN-LB-BD-02").await }))
        .await
        .expect_code("NOT_FOUND");
    members(&app, &hk_admin, json!({ "unitId": app.unit_id("HN-LB").await })).await.expect_code("NOT_FOUND");
    members(&app, &app.token(BD_CASE_OFFICER).await, json!({ "unitId": app.unit_id("HN-LB-BD").await }))
        .await
        .expect_code("FORBIDDEN");
    app.gql(MEMBERS, json!({ "f": {} }), None).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_list_other_members() {
    let app = spawn().await;
    directory_fixture(&app).await;
    let leader = app.token(BD1_LEADER).await;
    let (token, _) = member(&app, 1, "HN-LB-BD-01", &leader).await;
    // Without a member-managing role the directory is empty (the code answers an empty reach),
    // whatever the filter: no phone number or birth date of anyone comes back.
    for t in [token.clone(), app.token(MEMBER).await, app.token(BD_CASE_OFFICER).await] {
        for filter in [json!({}), json!({ "search": "nguyen" }), json!({ "phone": "0911000001" })] {
            let data = members(&app, &t, filter.clone()).await.ok();
            assert_eq!(data["members"]["totalCount"], 0, "{filter}");
            assert!(nodes(&data["members"]).is_empty(), "{filter}");
        }
        assert!(queue_ids(&app, &t, json!({})).await.is_empty());
    }
    // A unit filter of her own branch is refused outright.
    members(&app, &token, json!({ "unitId": app.unit_id("HN-LB-BD-01").await }))
        .await
        .expect_code("NOT_FOUND");
    // Nor through another's membership by id, nor a person by id.
    let hoa = memberships_of(&app, person_uuid(&app, "+84911000001").await).await[0].id;
    app.gql(NODE_EVENTS, json!({ "id": global_id("Membership", hoa) }), Some(&token))
        .await
        .expect_code("NOT_FOUND");
    let someone = app.person_id("+84911000002").await;
    app.gql("query($id: ID!) { node(id: $id) { id } }", json!({ "id": someone }), Some(&token))
        .await
        .expect_code("NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_filters_by_name_phone_status_date_and_unit() {
    let app = spawn().await;
    let city = directory_fixture(&app).await;
    let officer = app.token(LB_OFFICER).await;

    for search in ["nguyen thi", "NGUYỄN THỊ", "  Nguyen   Thi ", "nguyễn thị"] {
        assert_eq!(
            member_names(&app, &officer, json!({ "search": search })).await,
            ["Nguyễn Thị Hoa", "Nguyễn Thị Lan"],
            "{search}"
        );
    }
    assert_eq!(member_names(&app, &officer, json!({ "search": "hoa" })).await, ["Nguyễn Thị Hoa"]);
    assert_eq!(member_names(&app, &officer, json!({ "search": "dang" })).await, ["Đặng Thị An"]);
    assert_eq!(member_names(&app, &officer, json!({ "search": "thi" })).await.len(), 4);
    assert!(member_names(&app, &officer, json!({ "search": "hong" })).await.is_empty());
    // LIKE wildcards are plain characters.
    assert!(member_names(&app, &officer, json!({ "search": "%" })).await.is_empty());
    assert!(member_names(&app, &officer, json!({ "search": "_" })).await.is_empty());

    for p in ["0911000003", "+84911000003", "84911000003", "0911 000 003", "(+84) 911-000-003"] {
        assert_eq!(member_names(&app, &officer, json!({ "phone": p })).await, ["Trần Thị Mai"], "{p}");
    }
    assert!(member_names(&app, &officer, json!({ "phone": "0911000005" })).await.is_empty());
    members(&app, &officer, json!({ "phone": "not a phone" })).await.expect_code("BAD_USER_INPUT");

    assert_eq!(
        member_names(&app, &officer, json!({ "unitId": app.unit_id("HN-LB-BD").await })).await,
        ["Đặng Thị An", "Nguyễn Thị Hoa", "Trần Thị Mai"]
    );
    assert_eq!(
        member_names(&app, &officer, json!({ "unitId": app.unit_id("HN-LB-GT-01").await })).await,
        ["Nguyễn Thị Lan"]
    );

    // Status.
    let mai =
        s(&nodes(&members(&app, &officer, json!({ "phone": "0911000003" })).await.ok()["members"])[0]["id"]);
    app.gql(SUSPEND, json!({ "id": mai, "r": "Vắng mặt lâu ngày" }), Some(&officer)).await.ok();
    assert_eq!(member_names(&app, &officer, json!({ "status": "SUSPENDED" })).await, ["Trần Thị Mai"]);
    assert_eq!(
        member_names(&app, &officer, json!({ "status": "ACTIVE" })).await,
        ["Đặng Thị An", "Nguyễn Thị Hoa", "Nguyễn Thị Lan"]
    );
    assert!(member_names(&app, &officer, json!({ "status": "LEFT" })).await.is_empty());

    // Joined between.
    let mark = instant_between().await;
    try_enrol(&app, &city, "Bùi Thị Yến", "0911000006", None, "HN-LB-BD-03").await.ok();
    try_enrol(&app, &city, "Vũ Thị Bình", "0911000007", None, "HN-HK-HB-01").await.ok();
    assert_eq!(member_names(&app, &officer, json!({ "joinedFrom": mark })).await, ["Bùi Thị Yến"]);
    assert_eq!(
        member_names(&app, &officer, json!({ "joinedBefore": mark })).await,
        ["Đặng Thị An", "Nguyễn Thị Hoa", "Nguyễn Thị Lan", "Trần Thị Mai"]
    );
    assert_eq!(
        member_names(&app, &city, json!({ "joinedFrom": mark })).await,
        ["Bùi Thị Yến", "Vũ Thị Bình"]
    );
    // Combined.
    assert_eq!(
        member_names(
            &app,
            &officer,
            json!({ "search": "nguyen", "status": "ACTIVE", "unitId": app.unit_id("HN-LB-BD").await, "joinedBefore": mark })
        )
        .await,
        ["Nguyễn Thị Hoa"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_pages_walk_everything_once_in_name_order() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    // Enrolled out of order; two share a name.
    let names = [
        "Vũ Thị Bình",
        "Đặng Thị An",
        "Nguyễn Thị Lan",
        "Bùi Thị Yến",
        "Lê Thị Hoa",
        "Nguyễn Thị Hoa",
        "Trần Thị Mai",
        "Nguyễn Thị Hoa",
    ];
    for (i, n) in names.iter().enumerate() {
        try_enrol(&app, &officer, n, &format!("09120000{i:02}"), None, "HN-LB-BD-01").await.ok();
    }
    let expected = [
        "Bùi Thị Yến",
        "Đặng Thị An",
        "Lê Thị Hoa",
        "Nguyễn Thị Hoa",
        "Nguyễn Thị Hoa",
        "Nguyễn Thị Lan",
        "Trần Thị Mai",
        "Vũ Thị Bình",
    ];
    assert_eq!(member_names(&app, &officer, json!({})).await, expected);

    let mut walked: Vec<(String, String)> = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let data =
            app.gql(MEMBERS, json!({ "f": {}, "first": 3, "after": after }), Some(&officer)).await.ok();
        let conn = &data["members"];
        assert_eq!(conn["totalCount"], 8);
        walked.extend(nodes(conn).iter().map(|n| (s(&n["id"]), s(&n["fullName"]))));
        pages += 1;
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = Some(s(&conn["pageInfo"]["endCursor"]));
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(walked.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(), expected);
    let mut distinct: Vec<&String> = walked.iter().map(|(id, _)| id).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 8);
}

// ---- statement counts ----

async fn statements_for_queue_page(app: &TestApp, token: &str, n: usize) -> u64 {
    let q = "query($n: Int) { membershipRequests(first: $n) { edges { node { id status createdAt branch { name } applicant { fullName phone } } } } }";
    let before = app.statements();
    let data = app.gql(q, json!({ "n": n }), Some(token)).await.ok();
    let after = app.statements();
    let rows = nodes(&data["membershipRequests"]);
    assert_eq!(rows.len(), n);
    assert!(rows.iter().all(|r| r["branch"]["name"].is_string() && r["applicant"]["phone"].is_string()));
    after - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_page_issues_a_bounded_number_of_statements() {
    let app = spawn().await;
    let tokens = people(&app, 0..60).await;
    let codes = ["HN-LB-BD-01", "HN-LB-BD-02", "HN-LB-GT-01", "HN-LB-NL-02", "HN-LB-DG-03"];
    for (i, t) in tokens.iter().enumerate() {
        request_id(&app, t, codes[i % codes.len()]).await;
    }
    let officer = app.token(LB_OFFICER).await;
    let (mut small, mut large) = (u64::MAX, u64::MAX);
    for _ in 0..5 {
        small = small.min(statements_for_queue_page(&app, &officer, 5).await);
        large = large.min(statements_for_queue_page(&app, &officer, 50).await);
    }
    assert_eq!(small, large, "statements grow with the page size");
    assert!(large <= 8, "{large} statements for one page");
}

async fn statements_for_member_page(app: &TestApp, token: &str, n: usize) -> u64 {
    let q = "query($n: Int) { members(first: $n) { edges { node { memberNumber fullName phone branch { name } events { kind } } } } }";
    let before = app.statements();
    let data = app.gql(q, json!({ "n": n }), Some(token)).await.ok();
    let after = app.statements();
    let rows = nodes(&data["members"]);
    assert_eq!(rows.len(), n);
    assert!(rows.iter().all(|r| r["branch"]["name"].is_string() && kinds(&r["events"]) == ["ENROLLED"]));
    after - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_page_issues_a_bounded_number_of_statements() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    let codes = ["HN-LB-BD-01", "HN-LB-BD-02", "HN-LB-GT-01", "HN-LB-NL-02", "HN-LB-DG-03"];
    for n in 0..60u32 {
        try_enrol(&app, &officer, &name(n), &S.phone(n), Some("1990-01-01"), codes[n as usize % codes.len()])
            .await
            .ok();
    }
    let (mut small, mut large) = (u64::MAX, u64::MAX);
    for _ in 0..5 {
        small = small.min(statements_for_member_page(&app, &officer, 5).await);
        large = large.min(statements_for_member_page(&app, &officer, 50).await);
    }
    assert_eq!(small, large, "statements grow with the page size");
    assert!(large <= 8, "{large} statements for one page");
}

// ---- notifications sent by membership ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_request_notifies_the_branch_leader() {
    let app = spawn().await;
    let token = person(&app, S, 1).await.token;
    let leader = app.token(BD1_LEADER).await;
    assert!(unread(&app, &leader).await.is_empty());
    let id = request_id(&app, &token, "HN-LB-BD-01").await;
    assert_eq!(unread(&app, &leader).await, [("JOIN_REQUESTED".to_owned(), id.clone())]);
    // The link opens the request for her.
    let q =
        "query($id: ID!) { node(id: $id) { ... on MembershipRequest { id status applicant { fullName } } } }";
    let node = app.gql(q, json!({ "id": id }), Some(&leader)).await.ok()["node"].clone();
    assert_eq!(node["status"], "PENDING");
    assert_eq!(node["applicant"]["fullName"], name(1));
    // The applicant herself is not told she asked.
    assert!(unread(&app, &token).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_request_notifies_the_receiving_branch_leader() {
    let app = spawn().await;
    // Gia Thụy 01 gets a leader of its own.
    let gt_leader = person(&app, S, 800).await.token;
    app.grant(&S.stored_phone(800), "HN-LB-GT-01", "BRANCH_LEADER").await;
    let leader = app.token(BD1_LEADER).await;
    let (token, _) = member(&app, 1, "HN-LB-BD-01", &leader).await;
    let before = unread(&app, &leader).await;

    let id = s(&transfer(&app, &token, "HN-LB-GT-01").await.ok()["requestTransfer"]["id"]);
    assert_eq!(unread(&app, &gt_leader).await, [("TRANSFER_REQUESTED".to_owned(), id.clone())]);
    // The sending branch's leader is not the one asked.
    assert_eq!(unread(&app, &leader).await, before);

    // The receiving branch's leader decides it.
    approve(&app, &gt_leader, &id).await.ok();
    assert_eq!(my_membership(&app, &token).await["branch"]["code"], "HN-LB-GT-01");
    let mine = unread(&app, &token).await;
    assert!(mine.contains(&("REQUEST_APPROVED".to_owned(), id)), "{mine:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_notify_the_applicant() {
    let app = spawn().await;
    let tokens = people(&app, 1..=2).await;
    let leader = app.token(BD1_LEADER).await;
    let yes = request_id(&app, &tokens[0], "HN-LB-BD-01").await;
    let no = request_id(&app, &tokens[1], "HN-LB-BD-01").await;
    approve(&app, &leader, &yes).await.ok();
    reject(&app, &leader, &no, "Chưa đủ tuổi").await.ok();
    assert_eq!(unread(&app, &tokens[0]).await, [("REQUEST_APPROVED".to_owned(), yes)]);
    assert_eq!(unread(&app, &tokens[1]).await, [("REQUEST_REJECTED".to_owned(), no)]);
    // The deciding officer gets nothing new beyond the two join requests.
    let kinds: Vec<String> = unread(&app, &leader).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["JOIN_REQUESTED", "JOIN_REQUESTED"]);
}
