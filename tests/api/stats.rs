//! Member statistics: subtree totals and per-child figures from the maintained counters, the
//! period, transfers, the attraction rate, and reach.

use entities::ids::UnitId;
use std::collections::HashMap;

use chrono::{Duration, Utc};
use entities::{branch_member_count, membership};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::fixtures::{Series, enrol};
use crate::helpers::*;

/// This module's test people.
const S: Series = Series::STATS;

const STATS: &str = "query($u: ID!, $f: Date!, $t: Date!) { memberStatistics(unitId: $u, from: $f, to: $t) { \
    total { unit { code } activeMembers newMembers leavers adultWomen attractionRate } \
    children { unit { code } activeMembers newMembers leavers } } }";

fn today() -> String {
    (Utc::now() + Duration::hours(7)).date_naive().to_string()
}

async fn stats(app: &TestApp, token: &str, code: &str, from: &str, to: &str) -> Gql {
    app.gql(STATS, json!({ "u": app.unit_id(code).await, "f": from, "t": to }), Some(token)).await
}

fn child<'a>(report: &'a Value, code: &str) -> &'a Value {
    report["children"].as_array().unwrap().iter().find(|c| c["unit"]["code"] == code).unwrap()
}

/// Recounts active members per branch from the membership rows.
async fn recount(app: &TestApp) -> HashMap<UnitId, i64> {
    let mut out = HashMap::new();
    for m in membership::Entity::find()
        .filter(membership::Column::Status.eq("ACTIVE"))
        .all(&app.state.db)
        .await
        .unwrap()
    {
        *out.entry(m.branch_id).or_insert(0) += 1;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subtree_totals_and_children_follow_enrolments_suspensions_transfers_and_leaving() {
    let app = spawn_app().await;
    let city = app.token(CITY_ADMIN).await;
    for (i, branch) in
        ["HN-LB-BD-01", "HN-LB-BD-02", "HN-LB-BD-01", "HN-LB-GT-01", "HN-HK-HB-01"].iter().enumerate()
    {
        enrol(&app, &city, S, i as u32, branch).await;
    }
    let suspended = enrol(&app, &city, S, 10, "HN-LB-GT-01").await;
    app.gql(
        "mutation($id: ID!) { suspendMembership(id: $id, reason: \"Vắng lâu\") { status } }",
        json!({ "id": suspended }),
        Some(&city),
    )
    .await
    .ok();
    // A member who joins and then transfers and leaves.
    let (member, _, _) = app.register("0977000020", "Đào Thị Chuyển", "sen-do-2026").await;
    let req = app
        .gql(
            "mutation($i: RequestMembershipInput!) { requestMembership(input: $i) { id } }",
            json!({ "i": { "branchId": app.unit_id("HN-LB-BD-03").await } }),
            Some(&member),
        )
        .await
        .ok();
    let approve = "mutation($id: ID!) { approveMembershipRequest(id: $id) { status } }";
    app.gql(approve, json!({ "id": req["requestMembership"]["id"] }), Some(&city)).await.ok();
    let tr = app
        .gql(
            "mutation($i: RequestTransferInput!) { requestTransfer(input: $i) { id } }",
            json!({ "i": { "toBranchId": app.unit_id("HN-HK-HB-02").await } }),
            Some(&member),
        )
        .await
        .ok();
    app.gql(approve, json!({ "id": tr["requestTransfer"]["id"] }), Some(&city)).await.ok();

    let day = today();
    let lb = stats(&app, &city, "HN-LB", &day, &day).await.ok()["memberStatistics"].clone();
    // Long Biên: 4 enrolled active + 1 suspended (not active); the transferred member left for
    // Hoàn Kiếm; joins today: 5 enrolled + 1 joined (her transfer out is not a departure).
    assert_eq!(lb["total"]["activeMembers"], 4);
    assert_eq!(lb["total"]["newMembers"], 6);
    assert_eq!(lb["total"]["leavers"], 0);
    assert_eq!(child(&lb, "HN-LB-BD")["activeMembers"], 3);
    assert_eq!(child(&lb, "HN-LB-GT")["activeMembers"], 1);
    assert_eq!(child(&lb, "HN-LB-DG")["activeMembers"], 0);

    let hn = stats(&app, &city, "HN", &day, &day).await.ok()["memberStatistics"].clone();
    assert_eq!(hn["total"]["activeMembers"], 6);
    assert_eq!(child(&hn, "HN-HK")["activeMembers"], 2);

    app.gql("mutation { leaveUnion(reason: \"Chuyển đi tỉnh khác\") { status } }", json!({}), Some(&member))
        .await
        .ok();
    let hk = stats(&app, &city, "HN-HK", &day, &day).await.ok()["memberStatistics"].clone();
    assert_eq!(hk["total"]["activeMembers"], 1);
    assert_eq!(hk["total"]["leavers"], 1);

    // The maintained counters equal a recount of the rows.
    let counters: HashMap<UnitId, i64> = branch_member_count::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.active != 0)
        .map(|c| (c.branch_id, c.active))
        .collect();
    assert_eq!(counters, recount(&app).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_period_bounds_new_members_and_leavers() {
    let app = spawn_app().await;
    let city = app.token(CITY_ADMIN).await;
    enrol(&app, &city, S, 100_001, "HN-LB-BD-01").await;
    let last_year = (Utc::now() - Duration::days(400)).date_naive();
    let a_month_later = last_year + Duration::days(30);
    let past = stats(&app, &city, "HN-LB", &last_year.to_string(), &a_month_later.to_string()).await.ok();
    assert_eq!(past["memberStatistics"]["total"]["newMembers"], 0);
    assert_eq!(past["memberStatistics"]["total"]["activeMembers"], 1, "active is always now");
    stats(&app, &city, "HN-LB", &today(), &last_year.to_string()).await.expect_code("BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attraction_rate_uses_the_entered_population_and_the_latest_entry_wins() {
    let app = spawn_app().await;
    let city = app.token(CITY_ADMIN).await;
    for i in 0..3 {
        enrol(&app, &city, S, 200_000 + i, "HN-LB-BD-01").await;
    }
    let day = today();
    let none = stats(&app, &city, "HN-LB", &day, &day).await.ok();
    assert_eq!(none["memberStatistics"]["total"]["attractionRate"], Value::Null);

    let year: i32 = day[..4].parse().unwrap();
    let set = "mutation($i: SetPopulationFigureInput!) { setPopulationFigure(input: $i) }";
    let officer = app.token(LB_OFFICER).await;
    for women in [1000, 12] {
        app.gql(
            set,
            json!({ "i": { "unitId": app.unit_id("HN-LB").await, "year": year, "adultWomen": women } }),
            Some(&officer),
        )
        .await
        .ok();
    }
    let rate = stats(&app, &city, "HN-LB", &day, &day).await.ok();
    assert_eq!(rate["memberStatistics"]["total"]["adultWomen"], 12);
    assert_eq!(rate["memberStatistics"]["total"]["attractionRate"], 0.25);

    let leader = app.token(BD1_LEADER).await;
    app.gql(
        set,
        json!({ "i": { "unitId": app.unit_id("HN-LB-BD-01").await, "year": year, "adultWomen": 5 } }),
        Some(&leader),
    )
    .await
    .expect_code("FORBIDDEN");
    app.gql(
        set,
        json!({ "i": { "unitId": app.unit_id("HN-LB").await, "year": 1850, "adultWomen": 5 } }),
        Some(&officer),
    )
    .await
    .expect_code("BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_are_for_officers_with_reach_only() {
    let app = spawn_app().await;
    let day = today();
    stats(&app, &app.token(MEMBER).await, "HN-LB", &day, &day).await.expect_code("NOT_FOUND");
    stats(&app, &app.token(LB_OFFICER).await, "HN-HK", &day, &day).await.expect_code("NOT_FOUND");
    stats(&app, &app.token(LB_OFFICER).await, "HN-LB", &day, &day).await.ok();
    let anon = app.gql(STATS, json!({ "u": app.unit_id("HN").await, "f": day, "t": day }), None).await;
    anon.expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn city_statistics_take_a_fixed_number_of_statements() {
    let app = spawn_app().await;
    let city = app.token(CITY_ADMIN).await;
    let day = today();
    stats(&app, &city, "HN", &day, &day).await.ok();
    let before = app.statements();
    stats(&app, &city, "HN", &day, &day).await.ok();
    let used = app.statements() - before;
    // unit, authorisation (roles, admin flag), children, active sums, period sums, figures,
    // plus the unit id lookup of the test itself.
    assert!(used <= 9, "{used} statements");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_a_ward_moves_its_members_in_the_statistics() {
    let app = spawn_app().await;
    let city = app.token(CITY_ADMIN).await;
    for i in 0..4 {
        enrol(&app, &city, S, 300_000 + i, "HN-LB-BD-02").await;
    }
    enrol(&app, &city, S, 300_099, "HN-LB-GT-01").await;
    let day = today();
    let active = |report: &Value| report["memberStatistics"]["total"]["activeMembers"].clone();
    assert_eq!(active(&stats(&app, &city, "HN-LB", &day, &day).await.ok()), 5);

    let mv = "mutation($i: MoveOrgUnitInput!) { moveOrgUnit(input: $i) { code } }";
    let input = json!({ "id": app.unit_id("HN-LB-BD").await, "newParentId": app.unit_id("HN-HK").await });
    app.gql(mv, json!({ "i": input }), Some(&city)).await.ok();

    let lb = stats(&app, &city, "HN-LB", &day, &day).await.ok();
    let hk = stats(&app, &city, "HN-HK", &day, &day).await.ok();
    assert_eq!(active(&lb), 1);
    assert_eq!(lb["memberStatistics"]["total"]["newMembers"], 1);
    assert_eq!(active(&hk), 4);
    assert_eq!(hk["memberStatistics"]["total"]["newMembers"], 4);
    assert_eq!(active(&stats(&app, &city, "HN", &day, &day).await.ok()), 5);
    assert_eq!(child(&hk["memberStatistics"], "HN-LB-BD")["activeMembers"], 4);
}
