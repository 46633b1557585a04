//! Enrolment with consent (issue 12): an officer enrolling or importing a number the service
//! already knows learns nothing about its holder and makes nobody a member without her; a
//! member outside the officer's reach looks like any other known number; enrolments and
//! imports are counted per officer.

use entities::ids::{PersonId, UnitId};
use entities::{membership, membership_invitation, notification, person};
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::fixtures::{Series, try_enrol};
use crate::helpers::*;

const MINE: &str = "{ myMembershipInvitations { id status createdAt expiresAt respondedAt branch { code } invitedBy { fullName } } }";
const RESPOND: &str = "mutation($id: ID!, $a: Boolean!) { respondToMembershipInvitation(id: $id, accept: $a) { id status respondedAt } }";
const IMPORT: &str = "mutation($csv: String, $dryRun: Boolean) { importMembers(csv: $csv, dryRun: $dryRun) { imported invited invitedLines unchanged rejected { line reason } } }";
const ME: &str = "{ me { membership { status branch { code } events { kind actor { fullName } } } } }";

async fn spawn() -> TestApp {
    spawn_app_with(&[("APP_REGISTER_MAX_PER_ADDRESS", "1000")]).await
}

async fn invitations(app: &TestApp, token: &str) -> Vec<Value> {
    app.gql(MINE, json!({}), Some(token)).await.ok()["myMembershipInvitations"].as_array().unwrap().clone()
}

async fn respond(app: &TestApp, token: &str, id: &Value, accept: bool) -> Gql {
    app.gql(RESPOND, json!({ "id": id, "a": accept }), Some(token)).await
}

async fn person_of(app: &TestApp, phone: &str) -> person::Model {
    person::Entity::find().filter(person::Column::Phone.eq(phone)).one(&app.state.db).await.unwrap().unwrap()
}

async fn memberships(app: &TestApp, person: PersonId) -> Vec<membership::Model> {
    membership::Entity::find()
        .filter(membership::Column::PersonId.eq(person))
        .all(&app.state.db)
        .await
        .unwrap()
}

async fn invitation_notices(app: &TestApp, person: PersonId) -> u64 {
    notification::Entity::find()
        .filter(notification::Column::PersonId.eq(person))
        .filter(notification::Column::Kind.eq("MEMBERSHIP_INVITED"))
        .count(&app.state.db)
        .await
        .unwrap()
}

/// She asks to join the branch `code`, and `officer` approves.
async fn join(app: &TestApp, her: &str, code: &str, officer: &str) {
    let branch = app.unit_id(code).await;
    let req = app
        .gql(
            "mutation($i: RequestMembershipInput!) { requestMembership(input: $i) { id } }",
            json!({ "i": { "branchId": branch } }),
            Some(her),
        )
        .await
        .ok();
    app.gql(
        "mutation($id: ID!) { approveMembershipRequest(id: $id) { status } }",
        json!({ "id": req["requestMembership"]["id"] }),
        Some(officer),
    )
    .await
    .ok();
}

/// Registers test person `n` (`+8498…`), with a birth date only she may see.
async fn account(app: &TestApp, n: u32) -> (String, String) {
    let phone = Series::INVITATIONS.stored_phone(n);
    let data = app
        .register_with(
            &phone,
            json!({ "fullName": "Đinh Thị Riêng Tư", "password": "mat-khau-rieng-1", "birthDate": "1979-09-09" }),
        )
        .await
        .ok();
    (s(&data["register"]["accessToken"]), phone)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolling_an_account_holder_reveals_nothing_and_only_invites_her() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let (her, phone) = account(&app, 1).await;
    let stored = person_of(&app, &phone).await;

    // Officers and the system administrator alike: the answer is what was typed.
    for (number, typed) in
        [(phone.as_str(), "Tên Gõ Vào"), (SYSADMIN, "Quản Trị Gõ Vào"), (LB_OFFICER, "Cán Bộ Gõ Vào")]
    {
        let answer =
            try_enrol(&app, &leader, typed, number, None, "HN-LB-BD-01").await.ok()["enrolMember"].clone();
        assert_eq!(answer["status"], "INVITED", "{number}");
        assert_eq!(answer["fullName"], typed);
        assert_eq!(answer["phone"], number);
        assert_eq!(answer["birthDate"], Value::Null, "never her stored birth date");
        assert_eq!(answer["membership"], Value::Null);
        let p = person_of(&app, number).await;
        assert!(memberships(&app, p.id).await.is_empty(), "{number} was made a member without consent");
    }
    // Nothing about her changed.
    assert_eq!(person_of(&app, &phone).await, stored);

    // She finds the invitation in her inbox and her list.
    assert_eq!(invitation_notices(&app, stored.id).await, 1);
    let mine = invitations(&app, &her).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["status"], "PENDING");
    assert_eq!(mine[0]["branch"]["code"], "HN-LB-BD-01");
    assert_eq!(mine[0]["invitedBy"]["fullName"], "Phạm Thị Chi Hội");
    let inbox = app
        .gql("{ notifications(first: 10) { edges { node { kind link } } } }", json!({}), Some(&her))
        .await
        .ok();
    let node = &inbox["notifications"]["edges"][0]["node"];
    assert_eq!((&node["kind"], &node["link"]), (&json!("MEMBERSHIP_INVITED"), &mine[0]["id"]));

    // She declines: no membership; asking again within 30 days neither notifies nor reopens.
    let declined = respond(&app, &her, &mine[0]["id"], false).await.ok();
    assert_eq!(declined["respondToMembershipInvitation"]["status"], "DECLINED");
    let again = try_enrol(&app, &leader, "Tên Gõ Vào", &phone, None, "HN-LB-BD-01").await.ok();
    assert_eq!(again["enrolMember"]["status"], "INVITED", "the officer's answer does not change");
    assert_eq!(invitation_notices(&app, stored.id).await, 1);
    assert_eq!(invitations(&app, &her).await[0]["status"], "DECLINED");
    respond(&app, &her, &mine[0]["id"], true).await.expect_reason("CONFLICT", "WRONG_STATUS");
    assert!(memberships(&app, stored.id).await.is_empty());

    // Thirty days after her answer the branch may ask again.
    membership_invitation::Entity::update_many()
        .col_expr(
            membership_invitation::Column::RespondedAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::days(31)),
        )
        .filter(membership_invitation::Column::PersonId.eq(stored.id))
        .exec(&app.state.db)
        .await
        .unwrap();
    try_enrol(&app, &leader, "Tên Gõ Vào", &phone, None, "HN-LB-BD-01").await.ok();
    assert_eq!(invitation_notices(&app, stored.id).await, 2);
    assert_eq!(invitations(&app, &her).await[0]["status"], "PENDING");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_makes_her_a_member_and_closes_her_other_invitations() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let officer = app.token(LB_OFFICER).await;
    let (her, phone) = account(&app, 2).await;
    try_enrol(&app, &leader, "Đinh Thị Riêng Tư", &phone, None, "HN-LB-BD-01").await.ok();
    try_enrol(&app, &officer, "Đinh Thị Riêng Tư", &phone, None, "HN-LB-GT-01").await.ok();
    let mine = invitations(&app, &her).await;
    assert_eq!(mine.len(), 2);
    let to_bd = mine.iter().find(|i| i["branch"]["code"] == "HN-LB-BD-01").unwrap()["id"].clone();

    // Only she sees or answers it.
    let (other, _) = account(&app, 3).await;
    respond(&app, &other, &to_bd, true).await.expect_code("NOT_FOUND");
    respond(&app, &leader, &to_bd, true).await.expect_code("NOT_FOUND");
    let node = "query($id: ID!) { node(id: $id) { ... on MembershipInvitation { status } } }";
    app.gql(node, json!({ "id": to_bd }), Some(&other)).await.expect_code("NOT_FOUND");
    assert_eq!(app.gql(node, json!({ "id": to_bd }), Some(&her)).await.ok()["node"]["status"], "PENDING");

    let accepted = respond(&app, &her, &to_bd, true).await.ok();
    assert_eq!(accepted["respondToMembershipInvitation"]["status"], "ACCEPTED");
    let me = app.gql(ME, json!({}), Some(&her)).await.ok();
    let m = &me["me"]["membership"];
    assert_eq!((&m["status"], &m["branch"]["code"]), (&json!("ACTIVE"), &json!("HN-LB-BD-01")));
    assert_eq!(m["events"][0]["kind"], "ENROLLED");
    assert_eq!(m["events"][0]["actor"]["fullName"], "Phạm Thị Chi Hội");
    let statuses: Vec<(String, String)> =
        invitations(&app, &her).await.iter().map(|i| (s(&i["branch"]["code"]), s(&i["status"]))).collect();
    assert!(statuses.contains(&("HN-LB-GT-01".into(), "CANCELLED".into())), "{statuses:?}");
    respond(&app, &her, &to_bd, true).await.expect_reason("CONFLICT", "WRONG_STATUS");
    // Within reach she is a member now: the officer is told so.
    try_enrol(&app, &officer, "Đinh Thị Riêng Tư", &phone, None, "HN-LB-GT-01")
        .await
        .expect_reason("CONFLICT", "ALREADY_MEMBER");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_invitation_cannot_be_accepted() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let (her, phone) = account(&app, 4).await;
    try_enrol(&app, &leader, "Đinh Thị Riêng Tư", &phone, None, "HN-LB-BD-01").await.ok();
    let id = invitations(&app, &her).await[0]["id"].clone();
    membership_invitation::Entity::update_many()
        .col_expr(
            membership_invitation::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .exec(&app.state.db)
        .await
        .unwrap();
    assert_eq!(invitations(&app, &her).await[0]["status"], "EXPIRED");
    respond(&app, &her, &id, true).await.expect_reason("CONFLICT", "WRONG_STATUS");
    let p = person_of(&app, &phone).await;
    assert!(memberships(&app, p.id).await.is_empty());
    // The branch may ask again: the invitation reopens and she is told.
    try_enrol(&app, &leader, "Đinh Thị Riêng Tư", &phone, None, "HN-LB-BD-01").await.ok();
    assert_eq!(invitations(&app, &her).await[0]["status"], "PENDING");
    assert_eq!(invitation_notices(&app, p.id).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_outside_reach_looks_like_any_known_number() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let leader = app.token(BD1_LEADER).await;
    // A paper member of a Hoàn Kiếm branch (outside the Bồ Đề leader's reach), and an account
    // holder who is nobody's member.
    try_enrol(&app, &city, "Lê Thị Hoàn Kiếm", "0913111001", None, "HN-HK-HB-01").await.ok();
    let (_, holder) = account(&app, 5).await;

    let mut shapes = Vec::new();
    for phone in ["0913111001", holder.as_str()] {
        let mut a =
            try_enrol(&app, &leader, "Tên Gõ Vào", phone, None, "HN-LB-BD-01").await.ok()["enrolMember"]
                .clone();
        a["phone"] = Value::Null;
        shapes.push(a);
    }
    assert_eq!(shapes[0], shapes[1], "a member elsewhere answers like any known number");
    assert_eq!(shapes[0]["status"], "INVITED");

    // The import's dry run does not tell them (nor a new number) apart, and writes nothing.
    let csv = format!(
        "name;phone;branch\nTên Một;0913111001;HN-LB-BD-01\nTên Hai;{holder};HN-LB-BD-01\nTên Ba;0913111003;HN-LB-BD-01\n"
    );
    let dry = app.gql(IMPORT, json!({ "csv": csv, "dryRun": true }), Some(&leader)).await.ok();
    let report = &dry["importMembers"];
    assert_eq!((&report["imported"], &report["invited"]), (&json!(3), &json!(0)), "{report}");
    assert_eq!((&report["invitedLines"], &report["rejected"]), (&json!([]), &json!([])));
    assert!(
        person::Entity::find()
            .filter(person::Column::Phone.eq("+84913111003"))
            .one(&app.state.db)
            .await
            .unwrap()
            .is_none()
    );

    // A real import invites the member outside reach (she is told; nobody learns more).
    let officer = app.token(LB_OFFICER).await;
    let hk = person_of(&app, "+84913111001").await;
    let real = app
        .gql(
            IMPORT,
            json!({ "csv": "name;phone;branch\nTên Một;0913111001;HN-LB-GT-01\n", "dryRun": false }),
            Some(&officer),
        )
        .await
        .ok();
    let report = &real["importMembers"];
    assert_eq!(
        (&report["imported"], &report["invitedLines"], &report["rejected"]),
        (&json!(0), &json!([2]), &json!([]))
    );
    assert_eq!(invitation_notices(&app, hk.id).await, 2);
    assert_eq!(
        memberships(&app, hk.id).await[0].branch_id,
        id_of::<UnitId>(&app.unit_id("HN-HK-HB-01").await)
    );

    // Within the officer's reach the truth is told: a member of a Long Biên branch.
    try_enrol(&app, &officer, "Ngô Thị Bồ Đề", "0913111002", None, "HN-LB-BD-02").await.ok();
    try_enrol(&app, &officer, "Ngô Thị Bồ Đề", "0913111002", None, "HN-LB-GT-01")
        .await
        .expect_reason("CONFLICT", "ALREADY_MEMBER");

    // The Hoàn Kiếm member registers, accepts, and her membership moves (with its number); her
    // other invitation is closed.
    let before = memberships(&app, hk.id).await;
    let (token, _, _) = app.register("0913111001", "Lê Thị Hoàn Kiếm", "hoa-sen-2026").await;
    let mine = invitations(&app, &token).await;
    let to_bd = mine.iter().find(|i| i["branch"]["code"] == "HN-LB-BD-01").unwrap()["id"].clone();
    respond(&app, &token, &to_bd, true).await.ok();
    let mine = invitations(&app, &token).await;
    assert_eq!(mine.iter().find(|i| i["branch"]["code"] == "HN-LB-GT-01").unwrap()["status"], "CANCELLED");
    let after = memberships(&app, hk.id).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].member_number, before[0].member_number);
    let me = app.gql(ME, json!({}), Some(&token)).await.ok();
    assert_eq!(me["me"]["membership"]["branch"]["code"], "HN-LB-BD-01");
    assert_eq!(me["me"]["membership"]["events"][1]["kind"], "TRANSFERRED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolments_imports_and_dry_runs_are_limited_per_officer() {
    let app = spawn_app_with(&[
        ("APP_ENROL_MAX_PER_OFFICER", "3"),
        ("APP_IMPORT_MAX_PER_OFFICER", "2"),
        ("APP_IMPORT_ROWS_MAX_PER_OFFICER", "5"),
    ])
    .await;
    let leader = app.token(BD1_LEADER).await;
    for i in 0..3 {
        try_enrol(&app, &leader, "Vũ Thị Giới Hạn", &format!("091320000{i}"), None, "HN-LB-BD-01").await.ok();
    }
    let r = try_enrol(&app, &leader, "Vũ Thị Giới Hạn", "0913200009", None, "HN-LB-BD-01").await;
    r.expect_code("RATE_LIMITED");
    assert!(
        person::Entity::find()
            .filter(person::Column::Phone.eq("+84913200009"))
            .one(&app.state.db)
            .await
            .unwrap()
            .is_none(),
        "nothing looked up or written past the limit"
    );
    // Another officer has her own budget.
    let officer = app.token(LB_OFFICER).await;
    try_enrol(&app, &officer, "Vũ Thị Giới Hạn", "0913200009", None, "HN-LB-BD-01").await.ok();

    // Runs per hour, dry runs included.
    let csv = "name;phone;branch\nTên Một;0913210001;HN-LB-BD-01\n";
    for _ in 0..2 {
        app.gql(IMPORT, json!({ "csv": csv, "dryRun": true }), Some(&leader)).await.ok();
    }
    app.gql(IMPORT, json!({ "csv": csv, "dryRun": false }), Some(&leader)).await.expect_code("RATE_LIMITED");
    assert!(
        person::Entity::find()
            .filter(person::Column::Phone.eq("+84913210001"))
            .one(&app.state.db)
            .await
            .unwrap()
            .is_none()
    );
    // Rows per day: a file of six rows is more than the five allowed.
    let rows: String = (0..6).map(|i| format!("Tên Số {i};091322000{i};HN-LB-BD-01\n")).collect();
    app.gql(IMPORT, json!({ "csv": format!("name;phone;branch\n{rows}"), "dryRun": true }), Some(&officer))
        .await
        .expect_code("RATE_LIMITED");
    // The refused file used up neither rows nor a run: five rows still go through, and then
    // one more row is one too many.
    let five: String = (0..5).map(|i| format!("Tên Số {i};091323000{i};HN-LB-BD-01\n")).collect();
    let csv = format!("name;phone;branch\n{five}");
    app.gql(IMPORT, json!({ "csv": csv, "dryRun": true }), Some(&officer)).await.ok();
    app.gql(
        IMPORT,
        json!({ "csv": "name;phone;branch\nTên;0913240001;HN-LB-BD-01\n", "dryRun": true }),
        Some(&officer),
    )
    .await
    .expect_code("RATE_LIMITED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_answers_to_one_invitation_decide_once() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let (her, phone) = account(&app, 6).await;
    try_enrol(&app, &leader, "Đinh Thị Riêng Tư", &phone, None, "HN-LB-BD-01").await.ok();
    let id = invitations(&app, &her).await[0]["id"].clone();
    let results = join_all((0..8).map(|i| respond(&app, &her, &id, i % 2 == 0))).await;
    let ok: Vec<&Gql> = results.iter().filter(|r| !r.has_errors()).collect();
    assert_eq!(ok.len(), 1, "{:?}", results.iter().map(|r| &r.body).collect::<Vec<_>>());
    assert!(results.iter().filter(|r| r.has_errors()).all(|r| r.reason() == Some("WRONG_STATUS")));
    let status = s(&ok[0].data()["respondToMembershipInvitation"]["status"]);
    let p = person_of(&app, &phone).await;
    assert_eq!(memberships(&app, p.id).await.len(), usize::from(status == "ACCEPTED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_enrolments_of_a_known_number_send_one_invitation() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let officer = app.token(LB_OFFICER).await;
    let (_, phone) = account(&app, 7).await;
    let results = join_all((0..8).map(|i| {
        try_enrol(
            &app,
            if i % 2 == 0 { &leader } else { &officer },
            "Tên Gõ Vào",
            &phone,
            None,
            "HN-LB-BD-01",
        )
    }))
    .await;
    for r in &results {
        assert_eq!(r.data()["enrolMember"]["status"], "INVITED", "{}", r.body);
    }
    let p = person_of(&app, &phone).await;
    let rows = membership_invitation::Entity::find()
        .filter(membership_invitation::Column::PersonId.eq(p.id))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!((rows, invitation_notices(&app, p.id).await), (1, 1));
    assert!(memberships(&app, p.id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_otherwise_closes_open_invitations_and_a_suspended_member_cannot_accept() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let officer = app.token(LB_OFFICER).await;
    let (her, phone) = account(&app, 8).await;
    try_enrol(&app, &leader, "Đinh Thị Riêng Tư", &phone, None, "HN-LB-BD-01").await.ok();
    // She asks to join another branch herself, and is approved: the invitation is moot.
    join(&app, &her, "HN-LB-GT-01", &officer).await;
    let mine = invitations(&app, &her).await;
    assert_eq!(mine[0]["status"], "CANCELLED");
    respond(&app, &her, &mine[0]["id"], true).await.expect_reason("CONFLICT", "WRONG_STATUS");

    // A suspended member elsewhere is invited like anyone, but cannot move by accepting.
    let city = app.token(CITY_ADMIN).await;
    let paper = try_enrol(&app, &city, "Lê Thị Đình Chỉ", "0913300001", None, "HN-HK-HB-01").await.ok();
    app.gql(
        "mutation($id: ID!) { suspendMembership(id: $id, reason: \"Vắng sinh hoạt nhiều kỳ\") { status } }",
        json!({ "id": paper["enrolMember"]["membership"]["id"] }),
        Some(&city),
    )
    .await
    .ok();
    assert_eq!(
        try_enrol(&app, &leader, "Tên Gõ Vào", "0913300001", None, "HN-LB-BD-01").await.ok()["enrolMember"]["status"],
        "INVITED"
    );
    let (token, _, _) = app.register("0913300001", "Lê Thị Đình Chỉ", "hoa-sen-2026").await;
    let id = invitations(&app, &token).await[0]["id"].clone();
    respond(&app, &token, &id, true).await.expect_reason("CONFLICT", "NOT_A_MEMBER");
    assert_eq!(
        invitations(&app, &token).await[0]["status"],
        "PENDING",
        "nothing of the refused answer stays"
    );
    let p = person_of(&app, "+84913300001").await;
    let m = memberships(&app, p.id).await;
    assert_eq!((m.len(), m[0].status.as_str()), (1, "SUSPENDED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accepting_while_a_transfer_is_approved_moves_her_once() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let officer = app.token(LB_OFFICER).await;
    let (her, phone) = account(&app, 9).await;
    // A member of Bồ Đề 2 (outside the Bồ Đề 1 leader's reach) with a pending transfer to Gia Thụy 1.
    join(&app, &her, "HN-LB-BD-02", &officer).await;
    let gt = app.unit_id("HN-LB-GT-01").await;
    let transfer = app
        .gql(
            "mutation($i: RequestTransferInput!) { requestTransfer(input: $i) { id } }",
            json!({ "i": { "toBranchId": gt } }),
            Some(&her),
        )
        .await
        .ok()["requestTransfer"]["id"]
        .clone();
    try_enrol(&app, &leader, "Tên Gõ Vào", &phone, None, "HN-LB-BD-01").await.ok();
    let invitation = invitations(&app, &her).await[0]["id"].clone();

    let approve = app.gql(
        "mutation($id: ID!) { approveMembershipRequest(id: $id) { status } }",
        json!({ "id": transfer }),
        Some(&officer),
    );
    let (approved, accepted) = tokio::join!(approve, respond(&app, &her, &invitation, true));
    let wins = [&approved, &accepted].iter().filter(|r| !r.has_errors()).count();
    assert_eq!(wins, 1, "{} / {}", approved.body, accepted.body);
    let p = person_of(&app, &phone).await;
    let m = memberships(&app, p.id).await;
    assert_eq!(m.len(), 1);
    let expected = if accepted.has_errors() { "HN-LB-GT-01" } else { "HN-LB-BD-01" };
    assert_eq!(m[0].branch_id, id_of::<UnitId>(&app.unit_id(expected).await));
    // The branch counters agree with where she is.
    for code in ["HN-LB-BD-01", "HN-LB-BD-02", "HN-LB-GT-01"] {
        let id = id_of::<UnitId>(&app.unit_id(code).await);
        let active = entities::branch_member_count::Entity::find_by_id(id)
            .one(&app.state.db)
            .await
            .unwrap()
            .map_or(0, |c| c.active);
        assert_eq!(active, i64::from(code == expected), "{code}");
    }
}
