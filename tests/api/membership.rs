//! Membership: joining, deciding, transfers, leaving, suspension, enrolment, the directory.

use serde_json::{Value, json};

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
