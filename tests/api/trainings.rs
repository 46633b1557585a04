//! Trainings: publishing, visibility and discovery, registration with capacity and a waitlist,
//! capacity edits, cancellation and completion, the roster, statement counts.
//! (Races, check-in codes and statistics are in `training_races`.)

use chrono::{Duration, SecondsFormat, Utc};
use entities::ids::TrainingId;
use futures_util::future::join_all;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{Series, enrol, member, members, name, officer, published_training, tokens};
use crate::helpers::*;

/// This module's test people.
const S: Series = Series::TRAININGS;

macro_rules! training_fields {
    () => {
        "id title description category startsAt endsAt place onlineUrl capacity seatsLeft \
         confirmedCount waitlistCount registrationOpensAt registrationClosesAt registrationOpen \
         audience status cancelReason publishedAt unit { code } \
         myRegistration { id status waitlistPosition arrivalNumber }"
    };
}

const CREATE: &str = concat!(
    "mutation($u: ID!, $i: TrainingInput!) { createTraining(unitId: $u, input: $i) { ",
    training_fields!(),
    " } }"
);
const UPDATE: &str = concat!(
    "mutation($id: ID!, $i: TrainingInput!) { updateTraining(id: $id, input: $i) { ",
    training_fields!(),
    " } }"
);
const PUBLISH: &str = concat!("mutation($id: ID!) { publishTraining(id: $id) { ", training_fields!(), " } }");
const CANCEL: &str = concat!(
    "mutation($id: ID!, $r: String!) { cancelTraining(id: $id, reason: $r) { ",
    training_fields!(),
    " } }"
);
const COMPLETE: &str =
    concat!("mutation($id: ID!) { completeTraining(id: $id) { ", training_fields!(), " } }");
const NODE: &str =
    concat!("query($id: ID!) { node(id: $id) { ... on Training { ", training_fields!(), " } } }");
const REGISTER: &str = "mutation($id: ID!) { registerForTraining(trainingId: $id) { id status waitlistPosition arrivalNumber training { id } } }";
const WITHDRAW: &str = "mutation($id: ID!) { cancelTrainingRegistration(trainingId: $id) { id status waitlistPosition arrivalNumber } }";
const LIST: &str = "query($f: TrainingFilterInput!, $first: Int, $after: String) { trainings(filter: $f, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id title status startsAt unit { code } seatsLeft myRegistration { status waitlistPosition } } } } }";
const ROSTER: &str = "query($id: ID!, $s: TrainingRegistrationStatus, $first: Int, $after: String) { node(id: $id) { ... on Training { roster(status: $s, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id fullName phone status waitlistPosition arrivalNumber } } } } } }";
const ROSTER_CSV: &str = "query($id: ID!) { node(id: $id) { ... on Training { rosterCsv } } }";
const INBOX: &str = "{ unreadNotificationCount notifications(unreadOnly: true, first: 100) { edges { node { kind link read } } } }";

// ---- helpers ----

/// An app whose registration limit does not get in the way of tests that register many people.
async fn spawn() -> TestApp {
    spawn_app_with(&[("APP_REGISTER_MAX_PER_ADDRESS", "1000")]).await
}

/// `offset` from now, as the API takes it.
fn at(offset: Duration) -> String {
    (Utc::now() + offset).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A valid training input starting in `days` days (3 hours long, at a place, no seat limit),
/// with `extra` fields replaced.
fn input(title: &str, days: i64, extra: Value) -> Value {
    let mut v = json!({
        "title": title,
        "description": "Mang theo giấy tờ tùy thân.",
        "category": "VOCATIONAL",
        "startsAt": at(Duration::days(days)),
        "endsAt": at(Duration::days(days) + Duration::hours(3)),
        "place": "Nhà văn hoá phường Bồ Đề",
        "capacity": null,
    });
    if let (Some(base), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in extra {
            base.insert(k.clone(), x.clone());
        }
    }
    v
}

async fn create(app: &TestApp, token: &str, code: &str, input: Value) -> Gql {
    let unit = app.unit_id(code).await;
    app.gql(CREATE, json!({ "u": unit, "i": input }), Some(token)).await
}

/// Creates a draft; returns its id.
async fn draft(app: &TestApp, token: &str, code: &str, input: Value) -> String {
    let t = create(app, token, code, input).await.ok()["createTraining"].clone();
    assert_eq!(t["status"], "DRAFT");
    s(&t["id"])
}

async fn publish(app: &TestApp, token: &str, id: &str) -> Gql {
    app.gql(PUBLISH, json!({ "id": id }), Some(token)).await
}

async fn update(app: &TestApp, token: &str, id: &str, input: Value) -> Gql {
    app.gql(UPDATE, json!({ "id": id, "i": input }), Some(token)).await
}

async fn cancel(app: &TestApp, token: &str, id: &str, reason: &str) -> Gql {
    app.gql(CANCEL, json!({ "id": id, "r": reason }), Some(token)).await
}

async fn complete(app: &TestApp, token: &str, id: &str) -> Gql {
    app.gql(COMPLETE, json!({ "id": id }), Some(token)).await
}

async fn view(app: &TestApp, token: &str, id: &str) -> Gql {
    app.gql(NODE, json!({ "id": id }), Some(token)).await
}

/// The training as `token` sees it (which must be allowed).
async fn seen(app: &TestApp, token: &str, id: &str) -> Value {
    let t = view(app, token, id).await.ok()["node"].clone();
    assert_eq!(t["id"], id);
    t
}

async fn register_for(app: &TestApp, token: &str, id: &str) -> Gql {
    app.gql(REGISTER, json!({ "id": id }), Some(token)).await
}

/// Registers `token` and returns her registration.
async fn registered(app: &TestApp, token: &str, id: &str) -> Value {
    register_for(app, token, id).await.ok()["registerForTraining"].clone()
}

async fn withdraw(app: &TestApp, token: &str, id: &str) -> Gql {
    app.gql(WITHDRAW, json!({ "id": id }), Some(token)).await
}

async fn list(app: &TestApp, token: &str, filter: Value, first: Option<i64>, after: Option<&str>) -> Gql {
    app.gql(LIST, json!({ "f": filter, "first": first, "after": after }), Some(token)).await
}

/// Titles `token` sees with `filter`, in order, after checking `totalCount` against them.
async fn titles(app: &TestApp, token: &str, filter: Value) -> Vec<String> {
    let data = list(app, token, filter.clone(), Some(100), None).await.ok();
    let conn = &data["trainings"];
    let titles: Vec<String> = nodes(conn).iter().map(|n| s(&n["title"])).collect();
    assert_eq!(conn["totalCount"], titles.len(), "totalCount with {filter}");
    titles
}

async fn roster(app: &TestApp, token: &str, id: &str, status: Option<&str>) -> Gql {
    app.gql(ROSTER, json!({ "id": id, "s": status, "first": 100 }), Some(token)).await
}

/// (kind, link) of the caller's unread notifications, after checking the unread count.
async fn unread(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let data = app.gql(INBOX, json!({}), Some(token)).await.ok();
    let list: Vec<(String, String)> = nodes(&data["notifications"])
        .iter()
        .map(|n| (s(&n["kind"]), n["link"].as_str().unwrap_or_default().to_owned()))
        .collect();
    assert_eq!(data["unreadNotificationCount"], list.len());
    list
}

/// Unread notifications of `kind` for the training `id`.
async fn notified(app: &TestApp, token: &str, kind: &str, id: &str) -> usize {
    unread(app, token).await.iter().filter(|(k, l)| k == kind && l == id).count()
}

async fn training_rows(app: &TestApp) -> u64 {
    entities::training::Entity::find().count(&app.state.db).await.unwrap()
}

async fn registration_rows(app: &TestApp, training: &str) -> Vec<entities::training_registration::Model> {
    entities::training_registration::Entity::find()
        .filter(entities::training_registration::Column::TrainingId.eq(uuid_of(training)))
        .all(&app.state.db)
        .await
        .unwrap()
}

// ---- publishing ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_creates_a_draft_publishes_and_cancels_it() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    let i = input(
        "  Tập huấn   kỹ năng số  ",
        7,
        json!({ "category": "DIGITAL_SKILLS", "capacity": 30, "onlineUrl": "https://meet.example.vn/abc" }),
    );
    let t = create(&app, &officer, "HN-LB", i.clone()).await.ok()["createTraining"].clone();
    assert_eq!(t["status"], "DRAFT");
    assert_eq!(t["title"], "Tập huấn kỹ năng số");
    assert_eq!(t["category"], "DIGITAL_SKILLS");
    assert_eq!(t["unit"]["code"], "HN-LB");
    assert_eq!(t["audience"], "MEMBERS");
    assert_eq!(t["capacity"], 30);
    assert_eq!(t["seatsLeft"], 30);
    assert_eq!(t["onlineUrl"], "https://meet.example.vn/abc");
    assert_eq!(t["publishedAt"], Value::Null);
    assert_eq!(t["registrationOpen"], false, "a draft takes no registrations");
    // Registration closes at the start unless set earlier.
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(&s(&t["registrationClosesAt"])).unwrap(),
        chrono::DateTime::parse_from_rfc3339(&s(&i["startsAt"])).unwrap()
    );
    let id = s(&t["id"]);

    let p = publish(&app, &officer, &id).await.ok()["publishTraining"].clone();
    assert_eq!(p["status"], "PUBLISHED");
    assert!(p["publishedAt"].is_string());
    assert_eq!(p["registrationOpen"], true);
    publish(&app, &officer, &id).await.expect_reason("CONFLICT", "WRONG_STATUS");

    // A published training can be edited.
    let edited =
        update(&app, &officer, &id, input("Tập huấn kỹ năng số (buổi 2)", 8, json!({ "capacity": 40 })))
            .await
            .ok()["updateTraining"]
            .clone();
    assert_eq!(edited["title"], "Tập huấn kỹ năng số (buổi 2)");
    assert_eq!(edited["status"], "PUBLISHED");
    assert_eq!(edited["capacity"], 40);

    cancel(&app, &officer, &id, "  ").await.expect_code("BAD_USER_INPUT");
    let c = cancel(&app, &officer, &id, "Giảng viên bị ốm").await.ok()["cancelTraining"].clone();
    assert_eq!(c["status"], "CANCELLED");
    assert_eq!(c["cancelReason"], "Giảng viên bị ốm");

    // A cancelled training is history: no edit, publication, second cancellation or completion.
    update(&app, &officer, &id, input("Sửa lại", 9, json!({})))
        .await
        .expect_reason("CONFLICT", "WRONG_STATUS");
    publish(&app, &officer, &id).await.expect_reason("CONFLICT", "WRONG_STATUS");
    cancel(&app, &officer, &id, "Lần nữa").await.expect_reason("CONFLICT", "WRONG_STATUS");
    complete(&app, &officer, &id).await.expect_reason("CONFLICT", "WRONG_STATUS");
    let after = seen(&app, &officer, &id).await;
    assert_eq!(after["title"], "Tập huấn kỹ năng số (buổi 2)");
    assert_eq!(after["status"], "CANCELLED");

    // A draft can be cancelled too, but not completed.
    let other = draft(&app, &officer, "HN-LB", input("Nháp", 3, json!({}))).await;
    complete(&app, &officer, &other).await.expect_reason("CONFLICT", "WRONG_STATUS");
    assert_eq!(
        cancel(&app, &officer, &other, "Không cần").await.ok()["cancelTraining"]["status"],
        "CANCELLED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_officers_and_branch_leaders_with_reach_create_trainings() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let leader = app.token(BD1_LEADER).await;
    let lb = app.token(LB_OFFICER).await;
    let hk = officer(&app, S, 900, "HN-HK", "UNIT_OFFICER").await.token;
    let bd_member = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let i = || input("Tập huấn pháp luật", 5, json!({ "category": "LEGAL" }));

    // A branch leader for her branch.
    let t = create(&app, &leader, "HN-LB-BD-01", i()).await.ok()["createTraining"].clone();
    assert_eq!(t["unit"]["code"], "HN-LB-BD-01");
    // An officer for her district and anything below it.
    create(&app, &lb, "HN-LB", i()).await.ok();
    create(&app, &lb, "HN-LB-GT-01", i()).await.ok();
    let made = training_rows(&app).await;
    assert_eq!(made, 3);

    // A branch leader holds no role over the ward above her branch, nor over a sibling branch:
    // those are out of her reach (`NOT_FOUND`, as everywhere for units out of reach).
    create(&app, &leader, "HN-LB-BD", i()).await.expect_code("NOT_FOUND");
    create(&app, &leader, "HN-LB-BD-02", i()).await.expect_code("NOT_FOUND");
    // In reach without a managing role: FORBIDDEN.
    create(&app, &app.token(BD_CASE_OFFICER).await, "HN-LB-BD", i()).await.expect_code("FORBIDDEN");
    create(&app, &city, "HN-LB", i()).await.expect_code("FORBIDDEN");
    // Members have no reach at all, even over their own branch.
    create(&app, &bd_member, "HN-LB-BD-01", i()).await.expect_code("NOT_FOUND");
    create(&app, &app.token(MEMBER).await, "HN-LB", i()).await.expect_code("NOT_FOUND");
    // Another district's officer.
    create(&app, &hk, "HN-LB", i()).await.expect_code("NOT_FOUND");
    create(&app, &hk, "HN-LB-BD-01", i()).await.expect_code("NOT_FOUND");
    create(&app, &lb, "HN-HK", i()).await.expect_code("NOT_FOUND");
    // Nobody signed in.
    let unit = app.unit_id("HN-LB").await;
    app.gql(CREATE, json!({ "u": unit, "i": i() }), None).await.expect_code("UNAUTHENTICATED");
    assert_eq!(training_rows(&app).await, made, "a refused create wrote a row");
    // Drafts are seen by their managers only: the leader sees hers, not the district's.
    let leader_sees = nodes(&list(&app, &leader, json!({}), None, None).await.ok()["trainings"]);
    assert_eq!(leader_sees.iter().map(|t| t["unit"]["code"].clone()).collect::<Vec<_>>(), ["HN-LB-BD-01"]);
    assert!(titles(&app, &bd_member, json!({})).await.is_empty());
    assert_eq!(titles(&app, &lb, json!({})).await.len(), 3);

    // Managing someone else's draft follows the same rules.
    let lb_draft = draft(&app, &lb, "HN-LB", i()).await;
    publish(&app, &hk, &lb_draft).await.expect_code("NOT_FOUND");
    publish(&app, &leader, &lb_draft).await.expect_code("NOT_FOUND");
    publish(&app, &bd_member, &lb_draft).await.expect_code("NOT_FOUND");
    update(&app, &hk, &lb_draft, i()).await.expect_code("NOT_FOUND");
    cancel(&app, &hk, &lb_draft, "Không").await.expect_code("NOT_FOUND");
    assert_eq!(seen(&app, &lb, &lb_draft).await["status"], "DRAFT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn training_input_is_validated() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({ "title": "   " }), "input.title", "REQUIRED"),
        (json!({ "title": "a".repeat(201) }), "input.title", "TOO_LONG"),
        (json!({ "description": "a".repeat(5001) }), "input.description", "TOO_LONG"),
        (json!({ "endsAt": at(Duration::days(5)) }), "input.endsAt", "OUT_OF_RANGE"),
        (json!({ "endsAt": at(Duration::days(4)) }), "input.endsAt", "OUT_OF_RANGE"),
        (json!({ "place": null }), "input.place", "REQUIRED"),
        (json!({ "place": "   ", "onlineUrl": "" }), "input.place", "REQUIRED"),
        (json!({ "onlineUrl": "meet.example.vn/abc" }), "input.onlineUrl", "INVALID_FORMAT"),
        (json!({ "onlineUrl": "javascript:alert(1)" }), "input.onlineUrl", "INVALID_FORMAT"),
        (json!({ "onlineUrl": "https://meet.example.vn/a b" }), "input.onlineUrl", "INVALID_FORMAT"),
        (json!({ "capacity": 0 }), "input.capacity", "OUT_OF_RANGE"),
        (json!({ "capacity": -3 }), "input.capacity", "OUT_OF_RANGE"),
        (
            json!({ "registrationOpensAt": at(Duration::days(3)), "registrationClosesAt": at(Duration::days(2)) }),
            "input.registrationOpensAt",
            "OUT_OF_RANGE",
        ),
        (
            json!({ "registrationOpensAt": at(Duration::days(6)) }),
            "input.registrationOpensAt",
            "OUT_OF_RANGE",
        ),
        (
            json!({ "registrationClosesAt": at(Duration::days(6)) }),
            "input.registrationClosesAt",
            "OUT_OF_RANGE",
        ),
    ];
    // The base input starts in 5 days and lasts 3 hours.
    for (extra, field, reason) in &cases {
        let r = create(&app, &officer, "HN-LB", input("Tập huấn", 5, extra.clone())).await;
        assert_eq!(
            (r.code(), r.field(), r.reason()),
            (Some("BAD_USER_INPUT"), Some(*field), Some(*reason)),
            "{extra}: {}",
            r.body
        );
    }
    assert_eq!(training_rows(&app).await, 0);

    // Edits are checked the same way, and a refused edit changes nothing.
    let ok = input("Tập huấn trực tuyến", 5, json!({ "place": null, "onlineUrl": "https://zoom.us/j/123" }));
    let id = draft(&app, &officer, "HN-LB", ok).await;
    for (extra, field, reason) in &cases {
        let r = update(&app, &officer, &id, input("Tập huấn", 5, extra.clone())).await;
        assert_eq!(
            (r.code(), r.field(), r.reason()),
            (Some("BAD_USER_INPUT"), Some(*field), Some(*reason)),
            "{extra}: {}",
            r.body
        );
    }
    let t = seen(&app, &officer, &id).await;
    assert_eq!(t["title"], "Tập huấn trực tuyến");
    assert_eq!(t["place"], Value::Null);
}

// ---- visibility and discovery ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_sees_published_trainings_of_her_branch_and_its_ancestors_soonest_first() {
    let app = spawn().await;
    let sys = app.token(SYSADMIN).await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let i = |title: &str, days: i64| input(title, days, json!({}));

    let city_t = published_training(&app, &sys, "HN", i("Thành phố", 2)).await;
    let ward_t = published_training(&app, &lb, "HN-LB-BD", i("Phường Bồ Đề", 3)).await;
    let district_t = published_training(&app, &lb, "HN-LB", i("Quận Long Biên", 4)).await;
    let branch_t = published_training(&app, &leader, "HN-LB-BD-01", i("Chi hội Bồ Đề 1", 5)).await;
    let draft_t = draft(&app, &lb, "HN-LB", i("Nháp của quận", 1)).await;
    let hk_t = published_training(&app, &sys, "HN-HK", i("Hoàn Kiếm", 1)).await;
    let sibling_t = published_training(&app, &lb, "HN-LB-BD-02", i("Chi hội Bồ Đề 2", 1)).await;
    let gt_t = published_training(&app, &lb, "HN-LB-GT-01", i("Chi hội Gia Thụy 1", 6)).await;
    let officers_t =
        published_training(&app, &lb, "HN-LB", input("Cán bộ quận", 1, json!({ "audience": "OFFICERS" })))
            .await;

    let bd1 = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let bd2 = member(&app, &city, S, 2, "HN-LB-BD-02").await.token;
    let hk = member(&app, &city, S, 3, "HN-HK-HB-01").await.token;

    assert_eq!(
        titles(&app, &bd1, json!({})).await,
        ["Thành phố", "Phường Bồ Đề", "Quận Long Biên", "Chi hội Bồ Đề 1"]
    );
    assert_eq!(
        titles(&app, &bd2, json!({})).await,
        ["Chi hội Bồ Đề 2", "Thành phố", "Phường Bồ Đề", "Quận Long Biên"]
    );
    assert_eq!(titles(&app, &hk, json!({})).await, ["Hoàn Kiếm", "Thành phố"]);
    assert!(titles(&app, &app.token(MEMBER).await, json!({})).await.is_empty());
    // The officer sees everything of her district, drafts and officer trainings included, and
    // nothing of another district.
    assert_eq!(
        titles(&app, &lb, json!({})).await,
        [
            "Nháp của quận",
            "Chi hội Bồ Đề 2",
            "Cán bộ quận",
            "Phường Bồ Đề",
            "Quận Long Biên",
            "Chi hội Bồ Đề 1",
            "Chi hội Gia Thụy 1"
        ]
    );

    for id in [&city_t, &ward_t, &district_t, &branch_t] {
        assert_eq!(seen(&app, &bd1, id).await["status"], "PUBLISHED");
    }
    for id in [&draft_t, &hk_t, &sibling_t, &gt_t, &officers_t] {
        view(&app, &bd1, id).await.expect_code("NOT_FOUND");
        register_for(&app, &bd1, id).await.expect_code("NOT_FOUND");
    }
    view(&app, &hk, &district_t).await.expect_code("NOT_FOUND");
    register_for(&app, &hk, &district_t).await.expect_code("NOT_FOUND");
    view(&app, &app.token(MEMBER).await, &district_t).await.expect_code("NOT_FOUND");
    view(&app, &bd1, &draft_t).await.expect_code("NOT_FOUND");
    assert!(
        registration_rows(&app, &hk_t).await.is_empty() && registration_rows(&app, &draft_t).await.is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officer_trainings_are_for_officers_of_the_subtree_only() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let case = app.token(BD_CASE_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let hk = officer(&app, S, 900, "HN-HK", "UNIT_OFFICER").await.token;
    let bd1 = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let id = published_training(
        &app,
        &lb,
        "HN-LB",
        input("Nghiệp vụ cán bộ", 3, json!({ "audience": "OFFICERS" })),
    )
    .await;

    // Officers below the unit are its audience; officers above it see it.
    for token in [&case, &leader, &city] {
        assert_eq!(seen(&app, token, &id).await["audience"], "OFFICERS");
        assert_eq!(titles(&app, token, json!({})).await, ["Nghiệp vụ cán bộ"]);
    }
    assert_eq!(registered(&app, &case, &id).await["status"], "CONFIRMED");
    // A plain member, and an officer of another district, do not.
    for token in [&bd1, &hk] {
        view(&app, token, &id).await.expect_code("NOT_FOUND");
        register_for(&app, token, &id).await.expect_code("NOT_FOUND");
        assert!(titles(&app, token, json!({})).await.is_empty());
    }
    let rows = roster(&app, &lb, &id, None).await.ok();
    let names: Vec<String> = nodes(&rows["node"]["roster"]).iter().map(|n| s(&n["phone"])).collect();
    assert_eq!(names, [BD_CASE_OFFICER]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_filters_by_upcoming_status_category_unit_and_search() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let past = input(
        "Dạy nghề đã qua",
        0,
        json!({ "startsAt": at(-Duration::days(3)), "endsAt": at(-Duration::days(2)) }),
    );
    published_training(&app, &lb, "HN-LB-BD-01", past).await;
    let running = input(
        "Chăm sóc sức khỏe",
        0,
        json!({ "category": "HEALTH", "startsAt": at(-Duration::hours(1)), "endsAt": at(Duration::hours(1)) }),
    );
    let done = published_training(&app, &lb, "HN-LB", running).await;
    complete(&app, &lb, &done).await.ok();
    published_training(&app, &lb, "HN-LB-BD-01", input("Dạy nghề may công nghiệp", 2, json!({}))).await;
    published_training(
        &app,
        &lb,
        "HN-LB-BD",
        input("Kỹ năng số cho phụ nữ", 3, json!({ "category": "DIGITAL_SKILLS" })),
    )
    .await;
    published_training(
        &app,
        &lb,
        "HN-LB",
        input("Pháp luật về hôn nhân và gia đình", 4, json!({ "category": "LEGAL" })),
    )
    .await;
    let called_off = published_training(
        &app,
        &lb,
        "HN-LB",
        input("Pháp luật lao động", 5, json!({ "category": "LEGAL" })),
    )
    .await;
    cancel(&app, &lb, &called_off, "Hoãn").await.ok();

    let m = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let upcoming = ["Dạy nghề may công nghiệp", "Kỹ năng số cho phụ nữ", "Pháp luật về hôn nhân và gia đình"];
    assert_eq!(titles(&app, &m, json!({})).await, upcoming);
    assert_eq!(titles(&app, &m, json!({ "upcoming": true })).await, upcoming);
    assert_eq!(
        titles(&app, &m, json!({ "upcoming": false })).await,
        [
            "Dạy nghề đã qua",
            "Chăm sóc sức khỏe",
            "Dạy nghề may công nghiệp",
            "Kỹ năng số cho phụ nữ",
            "Pháp luật về hôn nhân và gia đình",
            "Pháp luật lao động"
        ]
    );
    assert_eq!(
        titles(&app, &m, json!({ "upcoming": false, "status": "CANCELLED" })).await,
        ["Pháp luật lao động"]
    );
    assert_eq!(
        titles(&app, &m, json!({ "upcoming": false, "status": "COMPLETED" })).await,
        ["Chăm sóc sức khỏe"]
    );
    assert_eq!(titles(&app, &m, json!({ "category": "DIGITAL_SKILLS" })).await, ["Kỹ năng số cho phụ nữ"]);
    assert_eq!(
        titles(&app, &m, json!({ "upcoming": false, "category": "VOCATIONAL" })).await,
        ["Dạy nghề đã qua", "Dạy nghề may công nghiệp"]
    );
    assert!(titles(&app, &m, json!({ "category": "HEALTH" })).await.is_empty());
    let unit = |code: &'static str| {
        let app = &app;
        async move { app.unit_id(code).await }
    };
    assert_eq!(
        titles(&app, &m, json!({ "unitId": unit("HN-LB-BD").await })).await,
        ["Dạy nghề may công nghiệp", "Kỹ năng số cho phụ nữ"]
    );
    assert_eq!(
        titles(&app, &m, json!({ "unitId": unit("HN-LB-BD-01").await })).await,
        ["Dạy nghề may công nghiệp"]
    );
    assert!(titles(&app, &m, json!({ "unitId": unit("HN-HK").await })).await.is_empty());
    // Accent- and case-insensitive search on the title.
    assert_eq!(titles(&app, &m, json!({ "search": "day nghe" })).await, ["Dạy nghề may công nghiệp"]);
    assert_eq!(titles(&app, &m, json!({ "search": "KỸ NĂNG SỐ" })).await, ["Kỹ năng số cho phụ nữ"]);
    assert_eq!(
        titles(&app, &m, json!({ "search": "hon nhan" })).await,
        ["Pháp luật về hôn nhân và gia đình"]
    );
    assert_eq!(
        titles(&app, &m, json!({ "upcoming": false, "search": "Phap Luat" })).await,
        ["Pháp luật về hôn nhân và gia đình", "Pháp luật lao động"]
    );
    assert_eq!(
        titles(&app, &m, json!({ "search": "GIA DINH" })).await,
        ["Pháp luật về hôn nhân và gia đình"]
    );
    assert!(titles(&app, &m, json!({ "search": "%" })).await.is_empty());
    assert!(titles(&app, &m, json!({ "search": "_" })).await.is_empty());
    assert_eq!(titles(&app, &m, json!({ "search": "  " })).await, upcoming);
    let long = list(&app, &m, json!({ "search": "a".repeat(101) }), None, None).await;
    assert_eq!((long.code(), long.field()), (Some("BAD_USER_INPUT"), Some("filter.search")));
    list(&app, &m, json!({ "unitId": "not-an-id" }), None, None).await.expect_code("BAD_USER_INPUT");
    app.gql(LIST, json!({ "f": {} }), None).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_walk_every_training_once_in_start_order() {
    let app = spawn().await;
    let lb = app.token(LB_OFFICER).await;
    let same = at(Duration::days(4));
    let same_end = at(Duration::days(4) + Duration::hours(2));
    let mut made = Vec::new();
    for (n, days) in [6, 1, 4, 2, 9, 3, 7].into_iter().enumerate() {
        let mut i = input(&format!("Tập huấn {n}"), days, json!({}));
        if n % 2 == 0 {
            // Four trainings start at the very same moment.
            i["startsAt"] = json!(same);
            i["endsAt"] = json!(same_end);
        }
        made.push(draft(&app, &lb, "HN-LB", i).await);
    }
    let all = list(&app, &lb, json!({}), Some(100), None).await.ok();
    let everything: Vec<Value> = nodes(&all["trainings"]);
    assert_eq!(everything.len(), 7);
    let starts: Vec<chrono::DateTime<chrono::FixedOffset>> = everything
        .iter()
        .map(|n| chrono::DateTime::parse_from_rfc3339(&s(&n["startsAt"])).unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "not soonest first: {starts:?}");
    let all_ids: Vec<String> = everything.iter().map(|n| s(&n["id"])).collect();

    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = list(&app, &lb, json!({}), Some(2), after.as_deref()).await.ok();
        let conn = &page["trainings"];
        assert_eq!(conn["totalCount"], 7);
        let got = nodes(conn);
        assert!(got.len() <= 2);
        walked.extend(got.iter().map(|n| s(&n["id"])));
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = Some(s(&conn["pageInfo"]["endCursor"]));
        assert!(walked.len() <= 7, "the walk does not end");
    }
    assert_eq!(walked, all_ids);
    let mut sorted = walked.clone();
    sorted.sort();
    made.sort();
    assert_eq!(sorted, made);
    list(&app, &lb, json!({}), Some(2), Some("not-a-cursor")).await.expect_code("BAD_USER_INPUT");
    list(&app, &lb, json!({}), Some(101), None).await.expect_code("BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_left_and_my_registration_follow_her_registration() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let id = published_training(&app, &lb, "HN-LB", input("Dạy nghề", 3, json!({ "capacity": 2 }))).await;
    let unlimited = published_training(&app, &lb, "HN-LB", input("Không giới hạn", 4, json!({}))).await;
    let m = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;

    let before = seen(&app, &m, &id).await;
    assert_eq!((before["seatsLeft"].clone(), before["myRegistration"].clone()), (json!(2), Value::Null));
    assert_eq!(before["registrationOpen"], true);
    let first = nodes(&list(&app, &m, json!({}), None, None).await.ok()["trainings"]);
    assert_eq!(first[0]["myRegistration"], Value::Null);
    assert_eq!(first[1]["seatsLeft"], Value::Null);

    let r = registered(&app, &m, &id).await;
    assert_eq!(r["status"], "CONFIRMED");
    assert_eq!(r["training"]["id"], id.as_str());
    let after = seen(&app, &m, &id).await;
    assert_eq!(after["seatsLeft"], 1);
    assert_eq!(after["confirmedCount"], 1);
    assert_eq!(after["myRegistration"]["id"], r["id"]);
    assert_eq!(after["myRegistration"]["status"], "CONFIRMED");
    let page = nodes(&list(&app, &m, json!({}), None, None).await.ok()["trainings"]);
    assert_eq!(page[0]["myRegistration"]["status"], "CONFIRMED");
    assert_eq!(page[0]["seatsLeft"], 1);
    assert_eq!(page[1]["myRegistration"], Value::Null);
    // Someone else's view of the same training has no registration of hers.
    assert_eq!(seen(&app, &lb, &id).await["myRegistration"], Value::Null);
    assert_eq!(registered(&app, &m, &unlimited).await["status"], "CONFIRMED");
    assert_eq!(seen(&app, &m, &unlimited).await["seatsLeft"], Value::Null);
}

// ---- registration ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_are_confirmed_then_waitlisted_in_arrival_order_and_a_retry_is_harmless() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let id = published_training(&app, &lb, "HN-LB", input("Dạy nghề may", 3, json!({ "capacity": 2 }))).await;
    let people = tokens(members(&app, &city, S, 1..=5, "HN-LB-BD-01").await);

    let mut regs = Vec::new();
    for p in &people {
        regs.push(registered(&app, p, &id).await);
    }
    let got: Vec<(String, Value)> =
        regs.iter().map(|r| (s(&r["status"]), r["waitlistPosition"].clone())).collect();
    assert_eq!(
        got,
        [
            ("CONFIRMED".to_owned(), Value::Null),
            ("CONFIRMED".to_owned(), Value::Null),
            ("WAITLISTED".to_owned(), json!(1)),
            ("WAITLISTED".to_owned(), json!(2)),
            ("WAITLISTED".to_owned(), json!(3)),
        ]
    );
    let arrivals: Vec<i64> = regs.iter().map(|r| r["arrivalNumber"].as_i64().unwrap()).collect();
    assert!(arrivals.windows(2).all(|w| w[0] < w[1]), "arrival numbers {arrivals:?}");
    let t = seen(&app, &lb, &id).await;
    assert_eq!(
        (t["confirmedCount"].clone(), t["waitlistCount"].clone(), t["seatsLeft"].clone()),
        (json!(2), json!(3), json!(0))
    );
    assert_eq!(seen(&app, &people[3], &id).await["myRegistration"]["waitlistPosition"], 2);

    // Registering again answers the same registration, unchanged, and writes no row.
    for (p, r) in people.iter().zip(&regs) {
        let again = registered(&app, p, &id).await;
        assert_eq!(again["id"], r["id"]);
        assert_eq!(again["status"], r["status"]);
        assert_eq!(again["waitlistPosition"], r["waitlistPosition"]);
        assert_eq!(again["arrivalNumber"], r["arrivalNumber"]);
    }
    assert_eq!(registration_rows(&app, &id).await.len(), 5);
    let t = seen(&app, &lb, &id).await;
    assert_eq!((t["confirmedCount"].clone(), t["waitlistCount"].clone()), (json!(2), json!(3)));
    let mine = app
        .gql("{ myTrainingRegistrations { id status training { id } } }", json!({}), Some(&people[2]))
        .await
        .ok();
    assert_eq!(mine["myTrainingRegistrations"].as_array().unwrap().len(), 1);
    assert_eq!(mine["myTrainingRegistrations"][0]["id"], regs[2]["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_outside_its_window_is_refused() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let m = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;

    let not_yet = published_training(
        &app,
        &lb,
        "HN-LB",
        input("Chưa mở", 7, json!({ "registrationOpensAt": at(Duration::days(1)) })),
    )
    .await;
    assert_eq!(seen(&app, &m, &not_yet).await["registrationOpen"], false);
    register_for(&app, &m, &not_yet).await.expect_reason("CONFLICT", "REGISTRATION_NOT_OPEN");

    let closed = published_training(
        &app,
        &lb,
        "HN-LB",
        input(
            "Đã đóng",
            7,
            json!({ "registrationOpensAt": at(-Duration::days(2)), "registrationClosesAt": at(-Duration::days(1)) }),
        ),
    )
    .await;
    assert_eq!(seen(&app, &m, &closed).await["registrationOpen"], false);
    register_for(&app, &m, &closed).await.expect_reason("CONFLICT", "REGISTRATION_CLOSED");

    // Registration closes at the start by default.
    let started = published_training(
        &app,
        &lb,
        "HN-LB",
        input(
            "Đang diễn ra",
            0,
            json!({ "startsAt": at(-Duration::minutes(5)), "endsAt": at(Duration::hours(2)) }),
        ),
    )
    .await;
    register_for(&app, &m, &started).await.expect_reason("CONFLICT", "REGISTRATION_CLOSED");

    // An explicit window that is open now.
    let open = published_training(
        &app,
        &lb,
        "HN-LB",
        input("Đang mở", 7, json!({ "registrationOpensAt": at(-Duration::hours(1)), "registrationClosesAt": at(Duration::days(1)) })),
    )
    .await;
    assert_eq!(seen(&app, &m, &open).await["registrationOpen"], true);
    assert_eq!(registered(&app, &m, &open).await["status"], "CONFIRMED");

    for id in [&not_yet, &closed, &started] {
        assert!(registration_rows(&app, id).await.is_empty());
        assert_eq!(seen(&app, &lb, id).await["confirmedCount"], 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_needs_a_published_training_of_her_audience() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let m = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;

    let unpublished = draft(&app, &lb, "HN-LB", input("Nháp", 3, json!({}))).await;
    register_for(&app, &m, &unpublished).await.expect_code("NOT_FOUND");
    // Its manager does not register for a draft either.
    register_for(&app, &lb, &unpublished).await.expect_code("CONFLICT");

    let called_off = published_training(&app, &lb, "HN-LB", input("Bị hủy", 3, json!({}))).await;
    cancel(&app, &lb, &called_off, "Hoãn").await.ok();
    register_for(&app, &m, &called_off).await.expect_reason("CONFLICT", "WRONG_STATUS");

    let other =
        published_training(&app, &app.token(SYSADMIN).await, "HN-HK", input("Hoàn Kiếm", 3, json!({}))).await;
    register_for(&app, &m, &other).await.expect_code("NOT_FOUND");
    register_for(&app, &app.token(MEMBER).await, &other).await.expect_code("NOT_FOUND");
    withdraw(&app, &m, &other).await.expect_code("NOT_FOUND");

    // A member who leaves the union is no longer of the audience.
    let open = published_training(&app, &lb, "HN-LB", input("Mở", 3, json!({}))).await;
    let leaver = member(&app, &city, S, 2, "HN-LB-BD-01").await.token;
    app.gql("mutation { leaveUnion(reason: \"Chuyển nhà\") { status } }", json!({}), Some(&leaver))
        .await
        .ok();
    register_for(&app, &leaver, &open).await.expect_code("NOT_FOUND");
    for id in [&unpublished, &called_off, &other, &open] {
        assert!(registration_rows(&app, id).await.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_promotes_the_first_waitlisted_person_who_is_notified() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let id = published_training(&app, &lb, "HN-LB", input("Dạy nghề", 3, json!({ "capacity": 2 }))).await;
    let p = tokens(members(&app, &city, S, 1..=5, "HN-LB-BD-01").await);
    let (a, b, c, d, e) = (&p[0], &p[1], &p[2], &p[3], &p[4]);
    let ra = registered(&app, a, &id).await;
    registered(&app, b, &id).await;
    let rc = registered(&app, c, &id).await;
    let rd = registered(&app, d, &id).await;
    assert_eq!((rc["waitlistPosition"].clone(), rd["waitlistPosition"].clone()), (json!(1), json!(2)));

    // A confirmed seat freed: C, first in line, gets it and is told; D moves up.
    let gone = withdraw(&app, a, &id).await.ok()["cancelTrainingRegistration"].clone();
    assert_eq!(gone["id"], ra["id"]);
    assert_eq!(gone["status"], "CANCELLED");
    let cs = seen(&app, c, &id).await["myRegistration"].clone();
    assert_eq!((cs["status"].clone(), cs["waitlistPosition"].clone()), (json!("CONFIRMED"), Value::Null));
    let ds = seen(&app, d, &id).await["myRegistration"].clone();
    assert_eq!((ds["status"].clone(), ds["waitlistPosition"].clone()), (json!("WAITLISTED"), json!(1)));
    let t = seen(&app, &lb, &id).await;
    assert_eq!((t["confirmedCount"].clone(), t["waitlistCount"].clone()), (json!(2), json!(1)));
    assert_eq!(notified(&app, c, "TRAINING_SEAT_CONFIRMED", &id).await, 1);
    for other in [a, b, d] {
        assert_eq!(notified(&app, other, "TRAINING_SEAT_CONFIRMED", &id).await, 0);
    }

    // Cancelling again answers the cancelled registration; nobody else moves.
    assert_eq!(withdraw(&app, a, &id).await.ok()["cancelTrainingRegistration"]["status"], "CANCELLED");
    assert_eq!(seen(&app, d, &id).await["myRegistration"]["status"], "WAITLISTED");
    // Someone never registered has nothing to cancel.
    withdraw(&app, e, &id).await.expect_code("NOT_FOUND");

    // She registers again: the same registration, at the end of the queue.
    let back = registered(&app, a, &id).await;
    assert_eq!(back["id"], ra["id"]);
    assert_eq!((back["status"].clone(), back["waitlistPosition"].clone()), (json!("WAITLISTED"), json!(2)));
    assert!(back["arrivalNumber"].as_i64() > rd["arrivalNumber"].as_i64());
    assert_eq!(registration_rows(&app, &id).await.len(), 4);
    let re = registered(&app, e, &id).await;
    assert_eq!(re["waitlistPosition"], 3);

    // A waitlisted person leaving frees no seat and promotes nobody; those behind move up.
    assert_eq!(withdraw(&app, d, &id).await.ok()["cancelTrainingRegistration"]["status"], "CANCELLED");
    let t = seen(&app, &lb, &id).await;
    assert_eq!((t["confirmedCount"].clone(), t["waitlistCount"].clone()), (json!(2), json!(2)));
    assert_eq!(seen(&app, a, &id).await["myRegistration"]["waitlistPosition"], 1);
    assert_eq!(seen(&app, e, &id).await["myRegistration"]["waitlistPosition"], 2);

    // B leaves: A (back in line first now) is promoted, not E.
    withdraw(&app, b, &id).await.ok();
    assert_eq!(seen(&app, a, &id).await["myRegistration"]["status"], "CONFIRMED");
    assert_eq!(seen(&app, e, &id).await["myRegistration"]["waitlistPosition"], 1);
    assert_eq!(notified(&app, a, "TRAINING_SEAT_CONFIRMED", &id).await, 1);
    assert_eq!(notified(&app, e, "TRAINING_SEAT_CONFIRMED", &id).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_registration_does_not_keep_a_leaver_in_the_audience() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let id = published_training(&app, &lb, "HN-LB", input("Dạy nghề", 3, json!({}))).await;
    let other = published_training(&app, &lb, "HN-LB", input("Kỹ năng", 4, json!({}))).await;
    let m = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let kept = registered(&app, &m, &id).await;
    registered(&app, &m, &other).await;
    withdraw(&app, &m, &other).await.ok();
    app.gql("mutation { leaveUnion(reason: \"Chuyển nhà\") { status } }", json!({}), Some(&m)).await.ok();

    // Her live registration stays hers, and a retry still answers it.
    assert_eq!(registered(&app, &m, &id).await["id"], kept["id"]);
    // But a cancelled one is no ticket back in: she is no longer of the audience.
    register_for(&app, &m, &other).await.expect_code("NOT_FOUND");
    let rows = registration_rows(&app, &other).await;
    assert_eq!(rows.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(), ["CANCELLED"]);
    assert_eq!(seen(&app, &lb, &other).await["confirmedCount"], 0);
}

// ---- capacity edits ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_cannot_go_below_the_confirmed_seats_and_new_seats_go_to_the_waitlist() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let base = input("Khởi nghiệp", 3, json!({ "capacity": 3, "category": "ENTREPRENEURSHIP" }));
    let id = published_training(&app, &lb, "HN-LB", base.clone()).await;
    let p = tokens(members(&app, &city, S, 1..=6, "HN-LB-BD-01").await);
    for t in &p {
        registered(&app, t, &id).await;
    }

    let mut smaller = base.clone();
    smaller["capacity"] = json!(2);
    smaller["title"] = json!("Khởi nghiệp (đổi tên)");
    update(&app, &lb, &id, smaller).await.expect_reason("CONFLICT", "CAPACITY_BELOW_CONFIRMED");
    let t = seen(&app, &lb, &id).await;
    assert_eq!(t["title"], "Khởi nghiệp", "a refused edit changed the training");
    assert_eq!(
        (t["capacity"].clone(), t["confirmedCount"].clone(), t["waitlistCount"].clone()),
        (json!(3), json!(3), json!(3))
    );

    // The same capacity with other edits: registrations are kept.
    let mut renamed = base.clone();
    renamed["title"] = json!("Khởi nghiệp kinh doanh");
    let t = update(&app, &lb, &id, renamed.clone()).await.ok()["updateTraining"].clone();
    assert_eq!(
        (t["title"].clone(), t["confirmedCount"].clone(), t["waitlistCount"].clone()),
        (json!("Khởi nghiệp kinh doanh"), json!(3), json!(3))
    );
    assert_eq!(registration_rows(&app, &id).await.len(), 6);

    // One more seat goes to the first in line.
    renamed["capacity"] = json!(4);
    let t = update(&app, &lb, &id, renamed.clone()).await.ok()["updateTraining"].clone();
    assert_eq!(
        (t["confirmedCount"].clone(), t["waitlistCount"].clone(), t["seatsLeft"].clone()),
        (json!(4), json!(2), json!(0))
    );
    let status = |i: usize| {
        let (app, p, id) = (&app, &p, &id);
        async move { seen(app, &p[i], id).await["myRegistration"].clone() }
    };
    assert_eq!(status(3).await["status"], "CONFIRMED");
    assert_eq!(status(4).await["waitlistPosition"], 1);
    assert_eq!(status(5).await["waitlistPosition"], 2);
    assert_eq!(notified(&app, &p[3], "TRAINING_SEAT_CONFIRMED", &id).await, 1);
    assert_eq!(notified(&app, &p[4], "TRAINING_SEAT_CONFIRMED", &id).await, 0);
    // Below the new confirmed count is refused too.
    renamed["capacity"] = json!(3);
    update(&app, &lb, &id, renamed.clone()).await.expect_reason("CONFLICT", "CAPACITY_BELOW_CONFIRMED");

    // No limit: everyone waiting gets a seat.
    renamed["capacity"] = Value::Null;
    let t = update(&app, &lb, &id, renamed).await.ok()["updateTraining"].clone();
    assert_eq!(
        (t["confirmedCount"].clone(), t["waitlistCount"].clone(), t["seatsLeft"].clone()),
        (json!(6), json!(0), Value::Null)
    );
    assert_eq!(status(5).await["status"], "CONFIRMED");
    assert_eq!(notified(&app, &p[5], "TRAINING_SEAT_CONFIRMED", &id).await, 1);
    let confirmed =
        registration_rows(&app, &id).await.iter().filter(|r| r.status.as_str() == "CONFIRMED").count();
    assert_eq!(confirmed, 6);
}

// ---- check-in opens shortly before the start ----

const CHECK_IN_MANUALLY: &str = "mutation($id: ID!) { checkInManually(registrationId: $id) { alreadyCheckedIn registration { status } } }";
const CHECK_IN: &str =
    "mutation($t: ID!, $c: String!) { checkIn(trainingId: $t, token: $c) { alreadyCheckedIn } }";
const REGISTRATION_CODE: &str =
    "query($id: ID!) { node(id: $id) { ... on Training { myRegistration { checkInCode { code } } } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_in_opens_an_hour_before_the_start_not_days_before() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    // Starts in three days.
    let id = published_training(&app, &lb, "HN-LB", input("Sớm quá", 3, json!({}))).await;
    let p = tokens(members(&app, &city, S, 41..=42, "HN-LB-BD-01").await);
    let first = registered(&app, &p[0], &id).await;
    let second = registered(&app, &p[1], &id).await;
    let refused = app.gql(CHECK_IN_MANUALLY, json!({ "id": first["id"] }), Some(&lb)).await;
    refused.expect_reason("CONFLICT", "NOT_STARTED_YET");
    // By code too.
    let code = app.gql(REGISTRATION_CODE, json!({ "id": id }), Some(&p[1])).await.ok();
    let code = s(&code["node"]["myRegistration"]["checkInCode"]["code"]);
    app.gql(CHECK_IN, json!({ "t": id, "c": code }), Some(&lb))
        .await
        .expect_reason("CONFLICT", "NOT_STARTED_YET");
    assert!(registration_rows(&app, &id).await.iter().all(|r| r.status.as_str() == "CONFIRMED"));

    // Fifty minutes before the start (the default window is an hour) it is open.
    app.state.clock.advance(Duration::days(3) - Duration::minutes(50));
    let done = app.gql(CHECK_IN_MANUALLY, json!({ "id": first["id"] }), Some(&lb)).await.ok();
    assert_eq!(done["checkInManually"]["registration"]["status"], "ATTENDED");
    let bulk = app
        .gql(
            "mutation($ids: [ID!]!) { checkInManyManually(registrationIds: $ids) { ok } }",
            json!({ "ids": [second["id"]] }),
            Some(&lb),
        )
        .await
        .ok();
    assert_eq!(bulk["checkInManyManually"][0]["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_in_window_is_configurable() {
    let app = spawn_app_with(&[
        ("APP_REGISTER_MAX_PER_ADDRESS", "1000"),
        ("APP_CHECK_IN_OPENS_BEFORE_SECS", "345600"),
    ])
    .await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    // Four days' window: a training in three days is open already.
    let id = published_training(&app, &lb, "HN-LB", input("Cửa sổ dài", 3, json!({}))).await;
    let p = tokens(members(&app, &city, S, 43..=43, "HN-LB-BD-01").await);
    let reg = registered(&app, &p[0], &id).await;
    let done = app.gql(CHECK_IN_MANUALLY, json!({ "id": reg["id"] }), Some(&lb)).await.ok();
    assert_eq!(done["checkInManually"]["registration"]["status"], "ATTENDED");
}

// ---- cancelling and completing a training ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_training_under_way_tells_those_already_checked_in() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    // Started an hour ago, ends in two.
    let (starts, ends) = (Utc::now() - Duration::hours(1), Utc::now() + Duration::hours(2));
    let running = json!({ "startsAt": starts.to_rfc3339(), "endsAt": ends.to_rfc3339(), "registrationClosesAt": ends.to_rfc3339() });
    let id = published_training(&app, &lb, "HN-LB", input("Đang học", 1, running)).await;
    let p = tokens(members(&app, &city, S, 44..=45, "HN-LB-BD-01").await);
    let present = registered(&app, &p[0], &id).await;
    registered(&app, &p[1], &id).await;
    let done = app.gql(CHECK_IN_MANUALLY, json!({ "id": present["id"] }), Some(&lb)).await.ok();
    assert_eq!(done["checkInManually"]["registration"]["status"], "ATTENDED");
    cancel(&app, &lb, &id, "Mất điện").await.ok();
    for token in &p {
        assert_eq!(notified(&app, token, "TRAINING_CANCELLED", &id).await, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_training_notifies_everyone_registered_and_nobody_else() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let id = published_training(
        &app,
        &lb,
        "HN-LB",
        input("Sức khỏe sinh sản", 3, json!({ "capacity": 1, "category": "HEALTH" })),
    )
    .await;
    let other = published_training(&app, &lb, "HN-LB", input("Khác", 4, json!({}))).await;
    let p = tokens(members(&app, &city, S, 1..=5, "HN-LB-BD-01").await);
    let (seated, waiting, withdrew, bystander, elsewhere) = (&p[0], &p[1], &p[2], &p[3], &p[4]);
    registered(&app, seated, &id).await;
    registered(&app, waiting, &id).await;
    registered(&app, withdrew, &id).await;
    withdraw(&app, withdrew, &id).await.ok();
    registered(&app, elsewhere, &other).await;

    let t = cancel(&app, &lb, &id, "Mưa bão").await.ok()["cancelTraining"].clone();
    assert_eq!(t["status"], "CANCELLED");
    for token in [seated, waiting] {
        assert_eq!(notified(&app, token, "TRAINING_CANCELLED", &id).await, 1);
    }
    for token in [withdrew, bystander, elsewhere, &lb] {
        assert!(
            !unread(&app, token).await.iter().any(|(k, _)| k == "TRAINING_CANCELLED"),
            "wrongly notified"
        );
    }
    // The people registered still see what happened.
    let seen_by = seen(&app, waiting, &id).await;
    assert_eq!(
        (seen_by["status"].clone(), seen_by["cancelReason"].clone()),
        (json!("CANCELLED"), json!("Mưa bão"))
    );
    assert_eq!(seen(&app, &lb, &other).await["status"], "PUBLISHED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completing_a_started_training_marks_unused_seats_no_show() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let future = published_training(&app, &lb, "HN-LB", input("Tuần sau", 7, json!({}))).await;
    complete(&app, &lb, &future).await.expect_reason("CONFLICT", "NOT_STARTED_YET");
    assert_eq!(seen(&app, &lb, &future).await["status"], "PUBLISHED");

    // Started an hour ago, registration still open until the end.
    let running = input(
        "Đang học",
        0,
        json!({
            "capacity": 2,
            "startsAt": at(-Duration::hours(1)),
            "endsAt": at(Duration::hours(2)),
            "registrationClosesAt": at(Duration::hours(1)),
        }),
    );
    let id = published_training(&app, &lb, "HN-LB", running).await;
    let p = tokens(members(&app, &city, S, 1..=3, "HN-LB-BD-01").await);
    let came = registered(&app, &p[0], &id).await;
    registered(&app, &p[1], &id).await;
    assert_eq!(registered(&app, &p[2], &id).await["status"], "WAITLISTED");
    app.gql(
        "mutation($id: ID!) { checkInManually(registrationId: $id) { alreadyCheckedIn } }",
        json!({ "id": came["id"] }),
        Some(&lb),
    )
    .await
    .ok();

    // Only a manager completes it.
    complete(&app, &p[0], &id).await.expect_code("FORBIDDEN");
    complete(&app, &app.token(BD1_LEADER).await, &id).await.expect_code("NOT_FOUND");
    let t = complete(&app, &lb, &id).await.ok()["completeTraining"].clone();
    assert_eq!(t["status"], "COMPLETED");
    let st = |i: usize| {
        let (app, p, id) = (&app, &p, &id);
        async move { s(&seen(app, &p[i], id).await["myRegistration"]["status"]) }
    };
    assert_eq!(st(0).await, "ATTENDED");
    assert_eq!(st(1).await, "NO_SHOW");
    assert_ne!(st(2).await, "NO_SHOW", "she never had a seat");
    complete(&app, &lb, &id).await.expect_reason("CONFLICT", "WRONG_STATUS");
    cancel(&app, &lb, &id, "Muộn").await.expect_reason("CONFLICT", "WRONG_STATUS");
    let late = member(&app, &city, S, 4, "HN-LB-BD-01").await.token;
    register_for(&app, &late, &id).await.expect_code("CONFLICT");
    // A no-show is history, not a seat to give back.
    withdraw(&app, &p[1], &id).await.expect_code("CONFLICT");
}

// ---- the roster ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_roster_is_for_managers_in_arrival_order() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let case = app.token(BD_CASE_OFFICER).await;
    let hk = officer(&app, S, 900, "HN-HK", "UNIT_OFFICER").await.token;
    let id = published_training(
        &app,
        &lb,
        "HN-LB-BD",
        input("Pháp luật", 3, json!({ "capacity": 2, "category": "LEGAL" })),
    )
    .await;
    let p = tokens(members(&app, &city, S, 1..=5, "HN-LB-BD-01").await);
    for t in &p {
        registered(&app, t, &id).await;
    }
    // Arrivals: 1 C, 2 C, 3 W, 4 W, 5 W; then 2 cancels (3 is promoted).
    withdraw(&app, &p[1], &id).await.ok();

    let data = roster(&app, &lb, &id, None).await.ok();
    let r = &data["node"]["roster"];
    assert_eq!(r["totalCount"], 5);
    let rows: Vec<(String, String, String, Value)> = nodes(r)
        .iter()
        .map(|n| (s(&n["fullName"]), s(&n["phone"]), s(&n["status"]), n["waitlistPosition"].clone()))
        .collect();
    let expect =
        |n: u32, status: &str, pos: Value| (name(n), format!("+84977{n:06}"), status.to_owned(), pos);
    assert_eq!(
        rows,
        [
            expect(1, "CONFIRMED", Value::Null),
            expect(2, "CANCELLED", Value::Null),
            expect(3, "CONFIRMED", Value::Null),
            expect(4, "WAITLISTED", json!(1)),
            expect(5, "WAITLISTED", json!(2)),
        ]
    );
    let arrivals: Vec<i64> = nodes(r).iter().map(|n| n["arrivalNumber"].as_i64().unwrap()).collect();
    assert!(arrivals.windows(2).all(|w| w[0] < w[1]));

    let waiting = roster(&app, &lb, &id, Some("WAITLISTED")).await.ok();
    let w = &waiting["node"]["roster"];
    assert_eq!(w["totalCount"], 2);
    assert_eq!(nodes(w).iter().map(|n| s(&n["fullName"])).collect::<Vec<_>>(), [name(4), name(5)]);
    let confirmed = roster(&app, &lb, &id, Some("CONFIRMED")).await.ok();
    assert_eq!(confirmed["node"]["roster"]["totalCount"], 2);

    // Pages of two walk the roster once.
    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = app.gql(ROSTER, json!({ "id": id, "first": 2, "after": after }), Some(&lb)).await.ok();
        let conn = &page["node"]["roster"];
        walked.extend(nodes(conn).iter().map(|n| s(&n["fullName"])));
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = Some(s(&conn["pageInfo"]["endCursor"]));
        assert!(walked.len() <= 5);
    }
    assert_eq!(walked, (1..=5).map(name).collect::<Vec<_>>());

    // The CSV: a header and one line per registration, in arrival order.
    let csv = app.gql(ROSTER_CSV, json!({ "id": id }), Some(&lb)).await.ok()["node"]["rosterCsv"].clone();
    let csv = s(&csv);
    let lines: Vec<&str> = csv.trim_end_matches("\r\n").split("\r\n").collect();
    assert_eq!(lines.len(), 6, "{csv}");
    assert!(lines[0].trim_start_matches('\u{feff}').starts_with("STT,"), "header: {}", lines[0]);
    let cells: Vec<Vec<&str>> = lines[1..].iter().map(|l| l.split(',').collect()).collect();
    let got: Vec<(&str, &str, &str)> = cells.iter().map(|c| (c[1], c[3], c[4])).collect();
    let names: Vec<String> = (1..=5).map(name).collect();
    assert_eq!(
        got,
        [
            (names[0].as_str(), "Đã có chỗ", ""),
            (names[1].as_str(), "Đã huỷ", ""),
            (names[2].as_str(), "Đã có chỗ", ""),
            (names[3].as_str(), "Danh sách chờ", "1"),
            (names[4].as_str(), "Danh sách chờ", "2"),
        ]
    );
    assert!(cells.iter().all(|c| c[2].starts_with("+84977")));
    // Registered at, in Hanoi local time to the minute.
    assert!(
        cells.iter().all(|c| c[5].len() == 16 && c[5].as_bytes()[2] == b'/' && c[5].as_bytes()[13] == b':'),
        "{csv}"
    );

    // People who see the training without managing it: FORBIDDEN. Others: NOT_FOUND.
    for token in [&p[0], &case, &city] {
        roster(&app, token, &id, None).await.expect_code("FORBIDDEN");
        app.gql(ROSTER_CSV, json!({ "id": id }), Some(token)).await.expect_code("FORBIDDEN");
    }
    for token in [&hk, &app.token(MEMBER).await] {
        roster(&app, token, &id, None).await.expect_code("NOT_FOUND");
        app.gql(ROSTER_CSV, json!({ "id": id }), Some(token)).await.expect_code("NOT_FOUND");
    }
    // Another person's registration is not hers to read.
    let reg = s(&nodes(r)[0]["id"]);
    let q = "query($id: ID!) { node(id: $id) { ... on TrainingRegistration { status } } }";
    app.gql(q, json!({ "id": reg }), Some(&p[2])).await.expect_code("NOT_FOUND");
    assert_eq!(app.gql(q, json!({ "id": reg }), Some(&p[0])).await.ok()["node"]["status"], "CONFIRMED");
    assert_eq!(app.gql(q, json!({ "id": reg }), Some(&lb)).await.ok()["node"]["status"], "CONFIRMED");
}

// ---- statement counts ----

async fn statements_for_training_page(app: &TestApp, token: &str, n: usize) -> u64 {
    let q = "query($n: Int) { trainings(first: $n) { totalCount edges { node { id title unit { name } seatsLeft myRegistration { status waitlistPosition } } } } }";
    let before = app.statements();
    let data = app.gql(q, json!({ "n": n }), Some(token)).await.ok();
    let after = app.statements();
    let rows = nodes(&data["trainings"]);
    assert_eq!(rows.len(), n);
    assert!(rows.iter().all(|r| r["unit"]["name"].is_string()));
    assert_eq!(rows[0]["myRegistration"]["status"], "CONFIRMED");
    assert_eq!(rows[1]["myRegistration"]["waitlistPosition"], 1);
    after - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_training_page_issues_a_bounded_number_of_statements() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let codes = ["HN-LB", "HN-LB-BD", "HN-LB-BD-01"];
    let mut ids = Vec::new();
    for chunk in (0..60i64).collect::<Vec<_>>().chunks(10) {
        ids.extend(
            join_all(chunk.iter().map(|&n| {
                let lb = &lb;
                let app = &app;
                async move {
                    let i = input(
                        &format!("Tập huấn {n:02}"),
                        0,
                        json!({
                            "capacity": 1,
                            "startsAt": at(Duration::days(2) + Duration::minutes(n)),
                            "endsAt": at(Duration::days(2) + Duration::minutes(n) + Duration::hours(1)),
                        }),
                    );
                    published_training(app, lb, codes[n as usize % codes.len()], i).await
                }
            }))
            .await,
        );
    }
    let first = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let m = member(&app, &city, S, 2, "HN-LB-BD-01").await.token;
    // She has a seat in the first training and waits in line for the second and the tenth.
    registered(&app, &first, &ids[1]).await;
    registered(&app, &first, &ids[9]).await;
    registered(&app, &m, &ids[0]).await;
    assert_eq!(registered(&app, &m, &ids[1]).await["status"], "WAITLISTED");
    assert_eq!(registered(&app, &m, &ids[9]).await["status"], "WAITLISTED");

    let (mut small, mut large) = (u64::MAX, u64::MAX);
    for _ in 0..5 {
        small = small.min(statements_for_training_page(&app, &m, 5).await);
        large = large.min(statements_for_training_page(&app, &m, 50).await);
    }
    assert_eq!(small, large, "statements grow with the page size");
    assert!(large <= 10, "{large} statements for one page");
}

async fn statements_for_roster_page(app: &TestApp, token: &str, id: &str, n: usize) -> u64 {
    let q = "query($id: ID!, $n: Int) { node(id: $id) { ... on Training { roster(first: $n) { totalCount edges { node { id fullName phone status waitlistPosition arrivalNumber } } } } } }";
    let before = app.statements();
    let data = app.gql(q, json!({ "id": id, "n": n }), Some(token)).await.ok();
    let after = app.statements();
    let rows = nodes(&data["node"]["roster"]);
    assert_eq!(rows.len(), n);
    assert!(rows.iter().all(|r| r["fullName"].is_string() && r["phone"].is_string()));
    assert!(rows.iter().any(|r| r["waitlistPosition"] == 1));
    after - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roster_page_issues_a_bounded_number_of_statements() {
    let app = spawn().await;
    let lb = app.token(LB_OFFICER).await;
    let id = published_training(&app, &lb, "HN-LB", input("Đông người", 3, json!({ "capacity": 2 }))).await;
    for chunk in (0..60u32).collect::<Vec<_>>().chunks(10) {
        join_all(chunk.iter().map(|&n| enrol(&app, &lb, S, n, "HN-LB-BD-01"))).await;
    }
    // Registrations written directly (setup only): two seats, then a waitlist in arrival order.
    let training = id_of::<TrainingId>(&id);
    let now = Utc::now();
    for n in 0..60u32 {
        let person = entities::person::Entity::find()
            .filter(entities::person::Column::Phone.eq(format!("+84977{n:06}")))
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        let seated = n < 2;
        entities::training_registration::ActiveModel {
            id: Set(Uuid::now_v7()),
            training_id: Set(training),
            person_id: Set(person.id),
            status: Set(if seated {
                service::trainings::RegistrationStatus::Confirmed
            } else {
                service::trainings::RegistrationStatus::Waitlisted
            }),
            queue_no: Set(i64::from(n) + 1),
            registered_at: Set(now),
            confirmed_at: Set(seated.then_some(now)),
            cancelled_at: Set(None),
            attended_at: Set(None),
            checked_in_by: Set(None),
            check_in_method: Set(None),
            updated_at: Set(now),
        }
        .insert(&app.state.db)
        .await
        .unwrap();
    }
    let t = entities::training::Entity::find_by_id(training).one(&app.state.db).await.unwrap().unwrap();
    let mut t: entities::training::ActiveModel = t.into();
    t.confirmed_count = Set(2);
    t.waitlist_count = Set(58);
    t.next_queue_no = Set(61);
    t.update(&app.state.db).await.unwrap();

    let (mut small, mut large) = (u64::MAX, u64::MAX);
    for _ in 0..5 {
        small = small.min(statements_for_roster_page(&app, &lb, &id, 5).await);
        large = large.min(statements_for_roster_page(&app, &lb, &id, 50).await);
    }
    assert_eq!(small, large, "statements grow with the page size");
    assert!(large <= 10, "{large} statements for one page");
}
