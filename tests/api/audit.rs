//! The audit trail of officer actions (`auditTrail`): every officer mutation appends one entry —
//! who, the role that allowed it, over which unit, on what, and the before/after of the fields
//! it changed — in the transaction that makes the change, so a refused, failed or lost action
//! writes nothing. Admins at or above a unit (and system administrators) read its subtree's
//! trail, filtered by actor, area and time, newest first, in keyset pages with a bounded number
//! of statements. The database refuses to update or delete an entry, and no entry holds a
//! secret, a webhook URL's path or query, or a phone number.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use entities::audit_event;
use futures_util::future::join_all;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, QueryOrder, sea_query::Expr};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{Series, enrol, member, officer, person, published_training, word};
use crate::helpers::*;

/// This module's test people: numbers 600–699 of the console's series.
const S: Series = Series::CONSOLE;

const TRAIL: &str = "query($u: ID!, $actor: ID, $area: AuditArea, $since: DateTime, $until: DateTime, \
    $first: Int, $after: String) { auditTrail(unitId: $u, actorId: $actor, area: $area, since: $since, \
    until: $until, first: $first, after: $after) { pageInfo { hasNextPage endCursor } edges { node { \
    id at actor { id } actorRole area action unit { code } subjectKind subjectId \
    changes { field before after } } } } }";

const RENAME: &str = "mutation($i: RenameOrgUnitInput!) { renameOrgUnit(input: $i) { code name } }";
const APPROVE: &str = "mutation($id: ID!) { approveMembershipRequest(id: $id) { status decidedBy { id } } }";
const REJECT: &str =
    "mutation($id: ID!, $r: String!) { rejectMembershipRequest(id: $id, reason: $r) { status } }";

// ---- helpers ----

/// An app whose registration limit does not get in the way of tests that register many people.
async fn spawn() -> TestApp {
    spawn_app_with(&[("APP_REGISTER_MAX_PER_ADDRESS", "1000")]).await
}

/// `auditTrail` over the subtree of unit `code` as `token` (100 entries unless `extra` says
/// otherwise; `extra` sets any other variable): the raw answer.
async fn trail_of(app: &TestApp, token: Option<&str>, code: &str, extra: Value) -> Gql {
    let mut vars = json!({ "u": app.unit_id(code).await, "first": 100 });
    for (k, v) in extra.as_object().expect("an object of variables") {
        vars[k] = v.clone();
    }
    app.gql(TRAIL, vars, token).await
}

/// The entries of the trail over `code`'s subtree as `token` reads it with `extra` variables,
/// newest first (all of them: fewer than a page).
async fn trail(app: &TestApp, token: &str, code: &str, extra: Value) -> Vec<Value> {
    let data = trail_of(app, Some(token), code, extra).await.ok();
    assert_eq!(data["auditTrail"]["pageInfo"]["hasNextPage"], false, "more than one page");
    nodes(&data["auditTrail"])
}

/// The entries of one area over the whole city, as its admin reads them, newest first.
async fn area(app: &TestApp, name: &str) -> Vec<Value> {
    let city = app.token(CITY_ADMIN).await;
    let entries = trail(app, &city, "HN", json!({ "area": name })).await;
    assert!(entries.iter().all(|e| e["area"] == name), "{entries:#?}");
    entries
}

/// The actions of `entries`, oldest first.
fn actions(entries: &[Value]) -> Vec<String> {
    entries.iter().rev().map(|e| s(&e["action"])).collect()
}

/// The entries with `action`, oldest first.
fn all_of<'a>(entries: &'a [Value], action: &str) -> Vec<&'a Value> {
    entries.iter().rev().filter(|e| e["action"] == action).collect()
}

/// The only entry with `action`.
#[track_caller]
fn only<'a>(entries: &'a [Value], action: &str) -> &'a Value {
    let found = all_of(entries, action);
    assert_eq!(found.len(), 1, "{action} in {entries:#?}");
    found[0]
}

/// (before, after) of the field `field` an entry records (it must record it).
#[track_caller]
fn change(e: &Value, field: &str) -> (Value, Value) {
    let c = e["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["field"] == field)
        .unwrap_or_else(|| panic!("no change of {field} in {e:#}"));
    (c["before"].clone(), c["after"].clone())
}

/// The fields an entry records, sorted.
fn fields(e: &Value) -> Vec<String> {
    let mut out: Vec<String> =
        e["changes"].as_array().expect("changes").iter().map(|c| s(&c["field"])).collect();
    out.sort();
    out
}

/// A change from nothing to `after`.
fn set(after: &str) -> (Value, Value) {
    (Value::Null, json!(after))
}

/// A change from `before` to `after`.
fn was(before: &str, after: &str) -> (Value, Value) {
    (json!(before), json!(after))
}

/// Asserts an entry's area, actor, actor's role, unit and kind of subject.
#[track_caller]
fn assert_entry(e: &Value, area: &str, actor: &str, role: &str, unit: &str, kind: &str) {
    let got = (&e["area"], &e["actor"]["id"], &e["actorRole"], &e["unit"]["code"], &e["subjectKind"]);
    assert_eq!(got, (&json!(area), &json!(actor), &json!(role), &json!(unit), &json!(kind)), "{e:#}");
}

/// The UUID inside a global id, as the trail writes ids in `changes`.
fn raw_id(global: &str) -> String {
    uuid_of(global).to_string()
}

/// The subject id of an entry whose subject is no node: a bare UUID.
#[track_caller]
fn bare_uuid(e: &Value) -> Uuid {
    s(&e["subjectId"]).parse().unwrap_or_else(|_| panic!("not a bare UUID: {e:#}"))
}

fn time(v: &Value) -> DateTime<Utc> {
    s(v).parse().unwrap_or_else(|_| panic!("not an RFC 3339 time: {v}"))
}

/// `t` as the API takes it.
fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The instant between what was done before and what is done after (a few milliseconds apart
/// from both).
async fn instant() -> DateTime<Utc> {
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let t = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    t
}

/// Entries stored, read from the database.
async fn stored(app: &TestApp) -> u64 {
    audit_event::Entity::find().count(&app.state.db).await.unwrap()
}

/// Every stored entry, in id order.
async fn rows(app: &TestApp) -> Vec<audit_event::Model> {
    audit_event::Entity::find().order_by_asc(audit_event::Column::Id).all(&app.state.db).await.unwrap()
}

async fn rename(app: &TestApp, token: &str, code: &str, name: &str) -> Gql {
    app.gql(RENAME, json!({ "i": { "id": app.unit_id(code).await, "name": name } }), Some(token)).await
}

/// The person signed in as `token` asks to join branch `code`: the request's id.
async fn request(app: &TestApp, token: &str, code: &str) -> String {
    let data = app
        .gql(
            "mutation($i: RequestMembershipInput!) { requestMembership(input: $i) { id } }",
            json!({ "i": { "branchId": app.unit_id(code).await } }),
            Some(token),
        )
        .await
        .ok();
    s(&data["requestMembership"]["id"])
}

/// The current year in Hanoi.
fn this_year() -> i32 {
    use chrono::Datelike;
    (Utc::now() + Duration::hours(7)).year()
}

/// `offset` from now, as the API takes it (whole seconds).
fn from_now(offset: Duration) -> String {
    (Utc::now() + offset).to_rfc3339_opts(SecondsFormat::Secs, true)
}

// ---- what each area records ----

/// Creating, renaming and moving a unit are recorded with the admin, the role that allowed
/// it (a system administrator's right when it was hers), and the fields before and after;
/// granting and revoking a role likewise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structure_and_role_changes_name_the_admin_her_role_and_the_fields_changed() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let city_id = app.person_id(CITY_ADMIN).await;
    let sysadmin = app.token(SYSADMIN).await;
    let sysadmin_id = app.person_id(SYSADMIN).await;

    let created = app
        .gql(
            "mutation($i: CreateOrgUnitInput!) { createOrgUnit(input: $i) { id } }",
            json!({ "i": { "parentId": app.unit_id("HN-LB-BD").await, "kind": "BRANCH",
                           "code": "HN-LB-BD-77", "name": "Chi hội Kiểm Tra" } }),
            Some(&city),
        )
        .await
        .ok();
    let unit = s(&created["createOrgUnit"]["id"]);
    rename(&app, &city, "HN-LB-BD-77", "Chi hội Kiểm Tra Mới").await.ok();
    app.gql(
        "mutation($i: MoveOrgUnitInput!) { moveOrgUnit(input: $i) { code } }",
        json!({ "i": { "id": unit, "newParentId": app.unit_id("HN-LB-GT").await } }),
        Some(&city),
    )
    .await
    .ok();
    rename(&app, &sysadmin, "HN-LB-GT", "Phường Gia Thụy Mới").await.ok();

    let entries = area(&app, "STRUCTURE").await;
    assert_eq!(actions(&entries), ["UNIT_CREATED", "UNIT_RENAMED", "UNIT_MOVED", "UNIT_RENAMED"]);
    let (bd, gt) = (raw_id(&app.unit_id("HN-LB-BD").await), raw_id(&app.unit_id("HN-LB-GT").await));
    let e = only(&entries, "UNIT_CREATED");
    assert_entry(e, "STRUCTURE", &city_id, "UNIT_ADMIN", "HN-LB-BD-77", "UNIT");
    assert_eq!(e["subjectId"], unit);
    assert_eq!(change(e, "parentId"), set(&bd));
    assert_eq!(change(e, "kind"), set("BRANCH"));
    assert_eq!(change(e, "code"), set("HN-LB-BD-77"));
    assert_eq!(change(e, "name"), set("Chi hội Kiểm Tra"));
    let renamed = all_of(&entries, "UNIT_RENAMED");
    assert_entry(renamed[0], "STRUCTURE", &city_id, "UNIT_ADMIN", "HN-LB-BD-77", "UNIT");
    assert_eq!(renamed[0]["subjectId"], unit);
    assert_eq!(fields(renamed[0]), ["name"]);
    assert_eq!(change(renamed[0], "name"), was("Chi hội Kiểm Tra", "Chi hội Kiểm Tra Mới"));
    let e = only(&entries, "UNIT_MOVED");
    assert_entry(e, "STRUCTURE", &city_id, "UNIT_ADMIN", "HN-LB-BD-77", "UNIT");
    assert_eq!(change(e, "parentId"), was(&bd, &gt));
    // The system administrator holds no role: her right allowed it.
    assert_entry(renamed[1], "STRUCTURE", &sysadmin_id, "SYSTEM_ADMIN", "HN-LB-GT", "UNIT");
    assert_eq!(change(renamed[1], "name"), was("Phường Gia Thụy", "Phường Gia Thụy Mới"));

    // Roles: the city grants a ward admin, who grants a branch leader; the city grants and
    // revokes an officer.
    let ward_admin = officer(&app, S, 600, "HN-LB-BD", "UNIT_ADMIN").await;
    let leader = person(&app, S, 601).await;
    let granted =
        crate::fixtures::try_grant(&app, &ward_admin.token, &leader.phone, "HN-LB-BD-01", "BRANCH_LEADER")
            .await
            .ok();
    let leader_role = s(&granted["assignOfficerRole"]["id"]);
    let clerk = person(&app, S, 602).await;
    let granted =
        crate::fixtures::try_grant(&app, &city, &clerk.phone, "HN-LB-BD", "UNIT_OFFICER").await.ok();
    let clerk_role = s(&granted["assignOfficerRole"]["id"]);
    let revoked = app
        .gql(
            "mutation($id: ID!) { revokeOfficerRole(id: $id) { revokedAt } }",
            json!({ "id": clerk_role }),
            Some(&city),
        )
        .await
        .ok();

    let entries = area(&app, "ROLES").await;
    assert_eq!(actions(&entries), ["ROLE_ASSIGNED", "ROLE_ASSIGNED", "ROLE_ASSIGNED", "ROLE_REVOKED"]);
    let assigned = all_of(&entries, "ROLE_ASSIGNED");
    assert_entry(assigned[0], "ROLES", &city_id, "UNIT_ADMIN", "HN-LB-BD", "OFFICER_ROLE");
    assert_eq!(change(assigned[0], "personId"), set(&raw_id(&ward_admin.person_id)));
    assert_eq!(change(assigned[0], "role"), set("UNIT_ADMIN"));
    assert_entry(assigned[1], "ROLES", &ward_admin.person_id, "UNIT_ADMIN", "HN-LB-BD-01", "OFFICER_ROLE");
    assert_eq!(assigned[1]["subjectId"], leader_role);
    assert_eq!(change(assigned[1], "personId"), set(&raw_id(&leader.person_id)));
    assert_eq!(change(assigned[1], "role"), set("BRANCH_LEADER"));
    assert_eq!(assigned[2]["subjectId"], clerk_role);
    assert_eq!(change(assigned[2], "role"), set("UNIT_OFFICER"));
    let e = only(&entries, "ROLE_REVOKED");
    assert_entry(e, "ROLES", &city_id, "UNIT_ADMIN", "HN-LB-BD", "OFFICER_ROLE");
    assert_eq!(e["subjectId"], clerk_role);
    let (before, after) = change(e, "revokedAt");
    assert_eq!(before, Value::Null);
    let when = time(&revoked["revokeOfficerRole"]["revokedAt"]);
    assert!((time(&after) - when).num_seconds().abs() <= 1, "{after} for {when}");
}

/// Deciding join requests, enrolling, suspending and reinstating a member and setting a
/// population figure are recorded, each with the fields it changed (a figure set again records
/// only the count that changed, before and after).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_decisions_enrolments_suspensions_and_figures_are_recorded() {
    let app = spawn().await;
    let lb = app.token(LB_OFFICER).await;
    let lb_id = app.person_id(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let leader_id = app.person_id(BD1_LEADER).await;

    let joining = person(&app, S, 610).await;
    let approved = request(&app, &joining.token, "HN-LB-BD-01").await;
    app.gql(APPROVE, json!({ "id": approved }), Some(&leader)).await.ok();
    let refused = person(&app, S, 611).await;
    let rejected = request(&app, &refused.token, "HN-LB-BD-02").await;
    app.gql(REJECT, json!({ "id": rejected, "r": "Không đúng địa bàn" }), Some(&lb)).await.ok();
    let membership = enrol(&app, &lb, S, 612, "HN-LB-GT-01").await;
    let enrolled_person = app.person_id(&S.stored_phone(612)).await;
    for (mutation, reason) in
        [("suspendMembership", "Không sinh hoạt"), ("reinstateMembership", "Đã quay lại")]
    {
        app.gql(
            &format!("mutation($id: ID!, $r: String!) {{ {mutation}(id: $id, reason: $r) {{ status }} }}"),
            json!({ "id": membership, "r": reason }),
            Some(&lb),
        )
        .await
        .ok();
    }
    let y = this_year();
    for women in [1000, 1200] {
        app.gql(
            "mutation($i: SetPopulationFigureInput!) { setPopulationFigure(input: $i) }",
            json!({ "i": { "unitId": app.unit_id("HN-LB").await, "year": y, "adultWomen": women } }),
            Some(&lb),
        )
        .await
        .ok();
    }

    let entries = area(&app, "MEMBERSHIP").await;
    assert_eq!(
        actions(&entries),
        [
            "REQUEST_APPROVED",
            "REQUEST_REJECTED",
            "MEMBER_ENROLLED",
            "MEMBERSHIP_SUSPENDED",
            "MEMBERSHIP_REINSTATED",
            "POPULATION_SET",
            "POPULATION_SET",
        ]
    );
    let e = only(&entries, "REQUEST_APPROVED");
    assert_entry(e, "MEMBERSHIP", &leader_id, "BRANCH_LEADER", "HN-LB-BD-01", "MEMBERSHIP_REQUEST");
    assert_eq!(e["subjectId"], approved);
    assert_eq!(fields(e), ["status"], "no reason was given");
    assert_eq!(change(e, "status"), was("PENDING", "APPROVED"));
    let e = only(&entries, "REQUEST_REJECTED");
    assert_entry(e, "MEMBERSHIP", &lb_id, "UNIT_OFFICER", "HN-LB-BD-02", "MEMBERSHIP_REQUEST");
    assert_eq!(e["subjectId"], rejected);
    assert_eq!(change(e, "status"), was("PENDING", "REJECTED"));
    assert_eq!(change(e, "decisionReason"), set("Không đúng địa bàn"));
    let e = only(&entries, "MEMBER_ENROLLED");
    assert_entry(e, "MEMBERSHIP", &lb_id, "UNIT_OFFICER", "HN-LB-GT-01", "MEMBERSHIP");
    assert_eq!(e["subjectId"], membership);
    assert_eq!(change(e, "personId"), set(&raw_id(&enrolled_person)));
    assert_eq!(change(e, "status"), set("ACTIVE"));
    let e = only(&entries, "MEMBERSHIP_SUSPENDED");
    assert_entry(e, "MEMBERSHIP", &lb_id, "UNIT_OFFICER", "HN-LB-GT-01", "MEMBERSHIP");
    assert_eq!(e["subjectId"], membership);
    assert_eq!(change(e, "status"), was("ACTIVE", "SUSPENDED"));
    assert_eq!(change(e, "reason"), set("Không sinh hoạt"));
    let e = only(&entries, "MEMBERSHIP_REINSTATED");
    assert_eq!(e["subjectId"], membership);
    assert_eq!(change(e, "status"), was("SUSPENDED", "ACTIVE"));
    assert_eq!(change(e, "reason"), set("Đã quay lại"));
    let figures = all_of(&entries, "POPULATION_SET");
    for e in &figures {
        assert_entry(e, "MEMBERSHIP", &lb_id, "UNIT_OFFICER", "HN-LB", "POPULATION_FIGURE");
    }
    assert_eq!(bare_uuid(figures[0]), bare_uuid(figures[1]), "one figure, set twice");
    assert_eq!(change(figures[0], "year"), set(&y.to_string()));
    assert_eq!(change(figures[0], "adultWomen"), set("1000"));
    assert_eq!(fields(figures[1]), ["adultWomen"], "the year did not change");
    assert_eq!(change(figures[1], "adultWomen"), was("1000", "1200"));
}

/// An import writes one entry per branch it wrote to, all under one import id, with how many
/// members were imported and how many invited there; a dry run writes none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_writes_one_entry_per_branch_under_one_import_id() {
    let app = spawn().await;
    let lb = app.token(LB_OFFICER).await;
    let lb_id = app.person_id(LB_OFFICER).await;
    // Known to the service without a membership: she is invited.
    let known = person(&app, S, 623).await;
    let csv = format!(
        "name,phone,branch\n\
         Nguyễn Thị An,{},HN-LB-BD-01\n\
         Trần Thị Bình,{},HN-LB-BD-01\n\
         Lê Thị Chi,{},HN-LB-GT-01\n\
         Phạm Thị Dung,{},HN-LB-GT-01\n",
        S.phone(620),
        S.phone(621),
        S.phone(622),
        known.phone,
    );
    let import = "mutation($csv: String, $dry: Boolean) { importMembers(csv: $csv, dryRun: $dry) { imported invited } }";
    let before = stored(&app).await;
    app.gql(import, json!({ "csv": csv, "dry": true }), Some(&lb)).await.ok();
    assert_eq!(stored(&app).await, before, "a dry run writes nothing");
    let report = app.gql(import, json!({ "csv": csv, "dry": false }), Some(&lb)).await.ok();
    assert_eq!(report["importMembers"], json!({ "imported": 3, "invited": 1 }));

    let entries = area(&app, "IMPORTS").await;
    assert_eq!(actions(&entries), ["MEMBERS_IMPORTED", "MEMBERS_IMPORTED"]);
    let by_unit = |code: &str| {
        entries.iter().find(|e| e["unit"]["code"] == code).unwrap_or_else(|| panic!("no entry for {code}"))
    };
    let (bd, gt) = (by_unit("HN-LB-BD-01"), by_unit("HN-LB-GT-01"));
    assert_entry(bd, "IMPORTS", &lb_id, "UNIT_OFFICER", "HN-LB-BD-01", "IMPORT");
    assert_entry(gt, "IMPORTS", &lb_id, "UNIT_OFFICER", "HN-LB-GT-01", "IMPORT");
    assert_eq!(bare_uuid(bd), bare_uuid(gt), "one import, one id");
    assert_eq!((change(bd, "imported"), change(bd, "invited")), (set("2"), set("0")));
    assert_eq!((change(gt, "imported"), change(gt, "invited")), (set("1"), set("1")));
}

/// Creating, editing (only the fields that changed), publishing and cancelling a training are
/// recorded, and so is a check-in by hand, with its method.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn training_actions_record_the_fields_they_changed() {
    let app = spawn().await;
    let lb = app.token(LB_OFFICER).await;
    let lb_id = app.person_id(LB_OFFICER).await;
    let mut input = json!({
        "title": "Lớp tập huấn kỹ năng",
        "description": "Mang theo giấy tờ tùy thân.",
        "category": "VOCATIONAL",
        "startsAt": from_now(Duration::days(3)),
        "endsAt": from_now(Duration::days(3) + Duration::hours(3)),
        "place": "Nhà văn hoá phường Bồ Đề",
        "capacity": null,
    });
    let created = app
        .gql(
            "mutation($u: ID!, $i: TrainingInput!) { createTraining(unitId: $u, input: $i) { id } }",
            json!({ "u": app.unit_id("HN-LB").await, "i": input }),
            Some(&lb),
        )
        .await
        .ok();
    let training = s(&created["createTraining"]["id"]);
    input["title"] = json!("Lớp tập huấn kỹ năng số");
    input["capacity"] = json!(30);
    app.gql(
        "mutation($id: ID!, $i: TrainingInput!) { updateTraining(id: $id, input: $i) { id } }",
        json!({ "id": training, "i": input }),
        Some(&lb),
    )
    .await
    .ok();
    app.gql(
        "mutation($id: ID!) { publishTraining(id: $id) { status } }",
        json!({ "id": training }),
        Some(&lb),
    )
    .await
    .ok();
    app.gql(
        "mutation($id: ID!, $r: String!) { cancelTraining(id: $id, reason: $r) { status } }",
        json!({ "id": training, "r": "Mưa bão" }),
        Some(&lb),
    )
    .await
    .ok();

    // A training starting in half an hour: check-in is open.
    let soon = json!({
        "title": "Lớp sơ cứu",
        "category": "VOCATIONAL",
        "startsAt": from_now(Duration::minutes(30)),
        "endsAt": from_now(Duration::minutes(150)),
        "place": "Nhà văn hoá phường Bồ Đề",
    });
    let soon = published_training(&app, &lb, "HN-LB", soon).await;
    let m = member(&app, &lb, S, 630, "HN-LB-BD-01").await;
    let registered = app
        .gql(
            "mutation($id: ID!) { registerForTraining(trainingId: $id) { id status } }",
            json!({ "id": soon }),
            Some(&m.token),
        )
        .await
        .ok();
    assert_eq!(registered["registerForTraining"]["status"], "CONFIRMED");
    let registration = s(&registered["registerForTraining"]["id"]);
    let checked = app
        .gql(
            "mutation($r: ID!) { checkInManually(registrationId: $r) { alreadyCheckedIn } }",
            json!({ "r": registration }),
            Some(&lb),
        )
        .await
        .ok();
    assert_eq!(checked["checkInManually"]["alreadyCheckedIn"], false);

    let entries = area(&app, "TRAININGS").await;
    assert_eq!(
        actions(&entries),
        [
            "TRAINING_CREATED",
            "TRAINING_UPDATED",
            "TRAINING_PUBLISHED",
            "TRAINING_CANCELLED",
            "TRAINING_CREATED",
            "TRAINING_PUBLISHED",
            "CHECKED_IN",
        ]
    );
    for e in &entries {
        assert_eq!(
            (&e["actor"]["id"], &e["actorRole"], &e["unit"]["code"]),
            (&json!(lb_id), &json!("UNIT_OFFICER"), &json!("HN-LB"))
        );
    }
    let created = all_of(&entries, "TRAINING_CREATED");
    let e = created[0];
    assert_entry(e, "TRAININGS", &lb_id, "UNIT_OFFICER", "HN-LB", "TRAINING");
    assert_eq!(e["subjectId"], training);
    assert_eq!(change(e, "title"), set("Lớp tập huấn kỹ năng"));
    assert_eq!(change(e, "place"), set("Nhà văn hoá phường Bồ Đề"));
    assert_eq!(change(e, "status"), set("DRAFT"));
    assert!(e["changes"].as_array().unwrap().iter().all(|c| c["before"].is_null()), "{e:#}");
    assert_eq!(created[1]["subjectId"], soon);
    let e = only(&entries, "TRAINING_UPDATED");
    assert_eq!(e["subjectId"], training);
    assert_eq!(fields(e), ["capacity", "title"], "only what changed");
    assert_eq!(change(e, "title"), was("Lớp tập huấn kỹ năng", "Lớp tập huấn kỹ năng số"));
    assert_eq!(change(e, "capacity"), set("30"));
    let e = all_of(&entries, "TRAINING_PUBLISHED")[0];
    assert_eq!(e["subjectId"], training);
    assert_eq!(change(e, "status"), was("DRAFT", "PUBLISHED"));
    let e = only(&entries, "TRAINING_CANCELLED");
    assert_eq!(e["subjectId"], training);
    assert_eq!(change(e, "status"), was("PUBLISHED", "CANCELLED"));
    assert_eq!(change(e, "cancelReason"), set("Mưa bão"));
    let e = only(&entries, "CHECKED_IN");
    assert_entry(e, "TRAININGS", &lb_id, "UNIT_OFFICER", "HN-LB", "REGISTRATION");
    assert_eq!(e["subjectId"], registration);
    assert_eq!(change(e, "status"), was("CONFIRMED", "ATTENDED"));
    assert_eq!(change(e, "method"), set("MANUAL"));
}

/// Creating, editing, launching and ending a campaign are recorded, and so are a pledge's
/// certification and return by its reviewer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_and_pledge_review_actions_are_recorded() {
    let app = spawn().await;
    let lb = app.token(LB_OFFICER).await;
    let lb_id = app.person_id(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let leader_id = app.person_id(BD1_LEADER).await;
    let y = this_year();
    let mut input = json!({
        "kind": "CAMPAIGN",
        "title": "Gia đình 5 không 3 sạch",
        "summary": "Xây dựng gia đình 5 không 3 sạch.",
        "body": "## Nội dung",
        "bodyFormat": "MARKDOWN",
        "termStart": format!("{}-01-01", y - 1),
        "termEnd": format!("{}-12-31", y + 1),
        "criteria": ["Không đói nghèo", "Sạch nhà"],
    });
    let created = app
        .gql(
            "mutation($u: ID!, $i: CampaignInput!) { createCampaign(unitId: $u, input: $i) { id } }",
            json!({ "u": app.unit_id("HN-LB").await, "i": input }),
            Some(&lb),
        )
        .await
        .ok();
    let campaign = s(&created["createCampaign"]["id"]);
    input["title"] = json!("Gia đình 5 không 3 sạch năm nay");
    input["summary"] = json!("Mỗi hộ một cam kết.");
    app.gql(
        "mutation($id: ID!, $i: CampaignInput!) { updateCampaign(id: $id, input: $i) { id } }",
        json!({ "id": campaign, "i": input }),
        Some(&lb),
    )
    .await
    .ok();
    let launched = app
        .gql(
            "mutation($id: ID!) { launchCampaign(id: $id, notifyMembers: false) { status criteria { id } } }",
            json!({ "id": campaign }),
            Some(&lb),
        )
        .await
        .ok();
    let criteria: Vec<String> =
        launched["launchCampaign"]["criteria"].as_array().unwrap().iter().map(|c| s(&c["id"])).collect();
    let m = member(&app, &lb, S, 640, "HN-LB-BD-01").await;
    let pledge = |input: Value| {
        let (app, token, campaign) = (&app, &m.token, &campaign);
        async move {
            let q = "mutation($c: ID!, $i: PledgeInput!) { submitPledge(campaignId: $c, input: $i) { id } }";
            s(&app.gql(q, json!({ "c": campaign, "i": input }), Some(token)).await.ok()["submitPledge"]["id"])
        }
    };
    let own = pledge(json!({ "kind": "PERSONAL", "year": y })).await;
    let home =
        pledge(json!({ "kind": "HOUSEHOLD", "year": y, "householdLabel": "Nhà bà Lan", "householdSize": 4 }))
            .await;
    app.gql(
        "mutation($id: ID!, $c: [ID!]!) { certifyPledge(id: $id, checks: $c) { status } }",
        json!({ "id": own, "c": criteria }),
        Some(&leader),
    )
    .await
    .ok();
    app.gql(
        "mutation($id: ID!, $m: String!) { returnPledge(id: $id, checks: [], comment: $m) { status } }",
        json!({ "id": home, "m": "Thiếu xác nhận của tổ" }),
        Some(&leader),
    )
    .await
    .ok();
    app.gql("mutation($id: ID!) { endCampaign(id: $id) { status } }", json!({ "id": campaign }), Some(&lb))
        .await
        .ok();

    let entries = area(&app, "CAMPAIGNS").await;
    assert_eq!(
        actions(&entries),
        [
            "CAMPAIGN_CREATED",
            "CAMPAIGN_UPDATED",
            "CAMPAIGN_LAUNCHED",
            "PLEDGE_CERTIFIED",
            "PLEDGE_RETURNED",
            "CAMPAIGN_ENDED",
        ]
    );
    let e = only(&entries, "CAMPAIGN_CREATED");
    assert_entry(e, "CAMPAIGNS", &lb_id, "UNIT_OFFICER", "HN-LB", "CAMPAIGN");
    assert_eq!(e["subjectId"], campaign);
    assert_eq!(change(e, "title"), set("Gia đình 5 không 3 sạch"));
    assert_eq!(change(e, "criteria"), set("1. Không đói nghèo\n2. Sạch nhà"));
    assert_eq!(change(e, "status"), set("DRAFT"));
    let e = only(&entries, "CAMPAIGN_UPDATED");
    assert_entry(e, "CAMPAIGNS", &lb_id, "UNIT_OFFICER", "HN-LB", "CAMPAIGN");
    assert_eq!(fields(e), ["summary", "title"], "only what changed");
    assert_eq!(change(e, "title"), was("Gia đình 5 không 3 sạch", "Gia đình 5 không 3 sạch năm nay"));
    let e = only(&entries, "CAMPAIGN_LAUNCHED");
    assert_eq!(e["subjectId"], campaign);
    assert_eq!(change(e, "status"), was("DRAFT", "ACTIVE"));
    assert_eq!(change(e, "notifyMembers"), set("false"));
    let e = only(&entries, "PLEDGE_CERTIFIED");
    assert_entry(e, "CAMPAIGNS", &leader_id, "BRANCH_LEADER", "HN-LB-BD-01", "PLEDGE");
    assert_eq!(e["subjectId"], own);
    assert_eq!(change(e, "status"), was("SUBMITTED", "CERTIFIED"));
    let (before, after) = change(e, "checks");
    assert_eq!(before, Value::Null);
    assert!(criteria.iter().all(|k| s(&after).contains(k.as_str())), "{after} lists {criteria:?}");
    let e = only(&entries, "PLEDGE_RETURNED");
    assert_entry(e, "CAMPAIGNS", &leader_id, "BRANCH_LEADER", "HN-LB-BD-01", "PLEDGE");
    assert_eq!(e["subjectId"], home);
    assert_eq!(change(e, "status"), was("SUBMITTED", "RETURNED"));
    assert_eq!(change(e, "reviewComment"), set("Thiếu xác nhận của tổ"));
    let e = only(&entries, "CAMPAIGN_ENDED");
    assert_entry(e, "CAMPAIGNS", &lb_id, "UNIT_OFFICER", "HN-LB", "CAMPAIGN");
    assert_eq!(change(e, "status"), was("ACTIVE", "ENDED"));
}

/// Defining an indicator, setting targets (one entry per target row, a second setting shows
/// the value before and after) and reporting values are recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indicators_targets_and_reported_values_show_values_before_and_after() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let city_id = app.person_id(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let lb_id = app.person_id(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let leader_id = app.person_id(BD1_LEADER).await;
    let y = this_year();
    // The computed indicator of new members.
    let new_members = Uuid::from_u128(1);
    let set_target = |value: f64, shares: Value| {
        let (app, city) = (&app, &city);
        async move {
            let input = json!({ "indicatorId": global_id("Indicator", new_members), "unitId": app.unit_id("HN").await,
                                "period": { "year": y }, "value": value, "shares": shares });
            app.gql(
                "mutation($i: SetTargetInput!) { setTarget(input: $i) { target { value } } }",
                json!({ "i": input }),
                Some(city),
            )
            .await
            .ok();
        }
    };
    set_target(1000.0, json!([{ "unitId": app.unit_id("HN-LB").await, "value": 300.0 }])).await;
    set_target(1200.0, json!([])).await;
    let created = app
        .gql(
            "mutation($u: ID!, $i: CreateIndicatorInput!) { createIndicator(unitId: $u, input: $i) { id } }",
            json!({ "u": app.unit_id("HN-LB").await,
                    "i": { "name": "Số tổ phụ nữ tự quản", "unitOfMeasure": "tổ", "aggregation": "SUM" } }),
            Some(&lb),
        )
        .await
        .ok();
    let indicator = s(&created["createIndicator"]["id"]);
    for (value, note) in [(3.0, Some("Quý I")), (5.0, None)] {
        let input = json!({ "indicatorId": indicator, "unitId": app.unit_id("HN-LB-BD-01").await,
                            "period": { "year": y }, "value": value, "note": note });
        app.gql(
            "mutation($i: ReportIndicatorValueInput!) { reportIndicatorValue(input: $i) { value } }",
            json!({ "i": input }),
            Some(&leader),
        )
        .await
        .ok();
    }

    let entries = area(&app, "TARGETS").await;
    assert_eq!(
        actions(&entries),
        ["TARGET_SET", "TARGET_SET", "TARGET_SET", "INDICATOR_CREATED", "VALUE_REPORTED", "VALUE_REPORTED"]
    );
    let targets = all_of(&entries, "TARGET_SET");
    let at = |code: &str| targets.iter().filter(|e| e["unit"]["code"] == code).copied().collect::<Vec<_>>();
    let (city_target, share) = (at("HN"), at("HN-LB"));
    assert_eq!((city_target.len(), share.len()), (2, 1), "{targets:#?}");
    for e in &targets {
        assert_eq!(
            (&e["actor"]["id"], &e["actorRole"], &e["subjectKind"]),
            (&json!(city_id), &json!("UNIT_ADMIN"), &json!("TARGET"))
        );
    }
    assert_eq!(bare_uuid(city_target[0]), bare_uuid(city_target[1]), "one target, set twice");
    assert_ne!(bare_uuid(city_target[0]), bare_uuid(share[0]));
    assert_eq!(change(city_target[0], "indicatorId"), set(&new_members.to_string()));
    assert_eq!(change(city_target[0], "period"), set(&format!("{y}-{y}")));
    assert_eq!(change(city_target[0], "value"), set("1000"));
    assert_eq!(change(city_target[0], "assignedByParent"), set("false"));
    assert_eq!(fields(city_target[1]), ["value"], "only the value changed");
    assert_eq!(change(city_target[1], "value"), was("1000", "1200"));
    assert_eq!(change(share[0], "value"), set("300"));
    assert_eq!(change(share[0], "assignedByParent"), set("true"));

    let e = only(&entries, "INDICATOR_CREATED");
    assert_entry(e, "TARGETS", &lb_id, "UNIT_OFFICER", "HN-LB", "INDICATOR");
    assert_eq!(e["subjectId"], indicator);
    assert_eq!(change(e, "code"), set("SO_TO_PHU_NU_TU_QUAN"));
    assert_eq!(change(e, "aggregation"), set("SUM"));
    let values = all_of(&entries, "VALUE_REPORTED");
    for e in &values {
        assert_entry(e, "TARGETS", &leader_id, "BRANCH_LEADER", "HN-LB-BD-01", "REPORTED_VALUE");
    }
    assert_ne!(bare_uuid(values[0]), bare_uuid(values[1]), "each report is a value of its own");
    assert_eq!(change(values[0], "indicatorId"), set(&raw_id(&indicator)));
    assert_eq!(change(values[0], "value"), set("3"));
    assert_eq!(change(values[0], "note"), set("Quý I"));
    assert_eq!(change(values[1], "value"), was("3", "5"));
    assert_eq!(change(values[1], "note"), (json!("Quý I"), Value::Null));
}

/// Publishing, editing (only the fields that changed), taking down and putting back a post
/// are recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn news_actions_are_recorded() {
    let app = spawn().await;
    let lb = app.token(LB_OFFICER).await;
    let lb_id = app.person_id(LB_OFFICER).await;
    let input = |title: &str| json!({ "title": title, "body": "Nội dung bài viết.", "coverImageUrl": null });
    let created = app
        .gql(
            "mutation($u: ID!, $i: PostInput!) { createPost(unitId: $u, input: $i) { id } }",
            json!({ "u": app.unit_id("HN-LB").await, "i": input("Hội nghị tổng kết") }),
            Some(&lb),
        )
        .await
        .ok();
    let post = s(&created["createPost"]["id"]);
    app.gql(
        "mutation($id: ID!, $i: PostInput!) { updatePost(id: $id, input: $i) { id } }",
        json!({ "id": post, "i": input("Hội nghị tổng kết năm") }),
        Some(&lb),
    )
    .await
    .ok();
    for mutation in ["unpublishPost", "republishPost"] {
        app.gql(
            &format!("mutation($id: ID!) {{ {mutation}(id: $id) {{ id }} }}"),
            json!({ "id": post }),
            Some(&lb),
        )
        .await
        .ok();
    }

    let entries = area(&app, "NEWS").await;
    assert_eq!(actions(&entries), ["POST_CREATED", "POST_UPDATED", "POST_UNPUBLISHED", "POST_REPUBLISHED"]);
    for e in &entries {
        assert_entry(e, "NEWS", &lb_id, "UNIT_OFFICER", "HN-LB", "POST");
        assert_eq!(e["subjectId"], post);
    }
    let e = only(&entries, "POST_CREATED");
    assert_eq!(change(e, "title"), set("Hội nghị tổng kết"));
    assert_eq!(change(e, "body"), set("Nội dung bài viết."));
    assert_eq!(change(e, "status"), set("PUBLISHED"));
    let e = only(&entries, "POST_UPDATED");
    assert_eq!(fields(e), ["title"], "only what changed");
    assert_eq!(change(e, "title"), was("Hội nghị tổng kết", "Hội nghị tổng kết năm"));
    assert_eq!(change(only(&entries, "POST_UNPUBLISHED"), "status"), was("PUBLISHED", "UNPUBLISHED"));
    assert_eq!(change(only(&entries, "POST_REPUBLISHED"), "status"), was("UNPUBLISHED", "PUBLISHED"));
}

/// Registering a client, adding and revoking its secrets (by hint), adding and removing a
/// trusted document, a webhook's whole life (by origin) and revoking the client are recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integration_actions_are_recorded() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let city_id = app.person_id(CITY_ADMIN).await;
    let client = crate::integrations::register(&app, &city, "HN", &["NEWS_READ"]).await;
    let added = app
        .gql(
            "mutation($c: ID!) { addIntegrationClientSecret(clientId: $c) { clientSecret secret { id } } }",
            json!({ "c": client.id }),
            Some(&city),
        )
        .await
        .ok();
    let second_secret = s(&added["addIntegrationClientSecret"]["clientSecret"]);
    let second_id = s(&added["addIntegrationClientSecret"]["secret"]["id"]);
    app.gql(
        "mutation($s: ID!) { revokeIntegrationClientSecret(secretId: $s) { active } }",
        json!({ "s": client.secret_id }),
        Some(&city),
    )
    .await
    .ok();
    let document = "query Units { orgUnits(first: 2) { edges { node { code } } } }";
    let doc = app
        .gql(
            "mutation($c: ID!, $d: String!, $n: String) { addTrustedDocument(clientId: $c, document: $d, operationName: $n) { id } }",
            json!({ "c": client.id, "d": document, "n": "Units" }),
            Some(&city),
        )
        .await
        .ok();
    let doc = s(&doc["addTrustedDocument"]["id"]);
    app.gql(
        "mutation($id: ID!) { removeTrustedDocument(id: $id) { id } }",
        json!({ "id": doc }),
        Some(&city),
    )
    .await
    .ok();
    let created = app
        .gql(
            "mutation($i: CreateWebhookSubscriptionInput!) { createWebhookSubscription(input: $i) { subscription { id } } }",
            json!({ "i": { "clientId": client.id, "url": "http://127.0.0.1:9/hooks/phunu?token=abc123secret",
                           "eventTypes": ["POST_PUBLISHED"] } }),
            Some(&city),
        )
        .await
        .ok();
    let hook = s(&created["createWebhookSubscription"]["subscription"]["id"]);
    for mutation in ["disableWebhookSubscription", "enableWebhookSubscription", "deleteWebhookSubscription"] {
        app.gql(
            &format!("mutation($id: ID!) {{ {mutation}(id: $id) {{ id }} }}"),
            json!({ "id": hook }),
            Some(&city),
        )
        .await
        .ok();
    }
    app.gql(
        "mutation($c: ID!) { revokeIntegrationClient(clientId: $c) { revokedAt } }",
        json!({ "c": client.id }),
        Some(&city),
    )
    .await
    .ok();

    let entries = area(&app, "INTEGRATIONS").await;
    let mut done = actions(&entries);
    // Registering writes both of its entries at one instant: their order is not told.
    done[..2].sort();
    assert_eq!(
        done,
        [
            "CLIENT_REGISTERED",
            "CLIENT_SECRET_ADDED",
            "CLIENT_SECRET_ADDED",
            "CLIENT_SECRET_REVOKED",
            "TRUSTED_DOCUMENT_ADDED",
            "TRUSTED_DOCUMENT_REMOVED",
            "WEBHOOK_CREATED",
            "WEBHOOK_DISABLED",
            "WEBHOOK_ENABLED",
            "WEBHOOK_DELETED",
            "CLIENT_REVOKED",
        ]
    );
    for e in &entries {
        assert_eq!(
            (&e["actor"]["id"], &e["actorRole"], &e["unit"]["code"]),
            (&json!(city_id), &json!("UNIT_ADMIN"), &json!("HN"))
        );
    }
    let hint = |secret: &str| secret[secret.len() - 4..].to_owned();
    let e = only(&entries, "CLIENT_REGISTERED");
    assert_entry(e, "INTEGRATIONS", &city_id, "UNIT_ADMIN", "HN", "INTEGRATION_CLIENT");
    assert_eq!(e["subjectId"], client.id);
    assert_eq!(change(e, "name"), set("Sở LĐTBXH – bảng số liệu"));
    let secrets = all_of(&entries, "CLIENT_SECRET_ADDED");
    let first =
        secrets.iter().find(|e| e["subjectId"] == client.secret_id).expect("the first secret's entry");
    assert_entry(first, "INTEGRATIONS", &city_id, "UNIT_ADMIN", "HN", "INTEGRATION_SECRET");
    assert_eq!(change(first, "hint"), set(&hint(&client.secret)));
    let second = secrets.iter().find(|e| e["subjectId"] == second_id).expect("the second secret's entry");
    assert_eq!(change(second, "hint"), set(&hint(&second_secret)));
    let e = only(&entries, "CLIENT_SECRET_REVOKED");
    assert_entry(e, "INTEGRATIONS", &city_id, "UNIT_ADMIN", "HN", "INTEGRATION_SECRET");
    assert_eq!(e["subjectId"], client.secret_id);
    assert_eq!(change(e, "hint"), set(&hint(&client.secret)));
    assert!(change(e, "revokedAt").1.is_string());
    for action in ["TRUSTED_DOCUMENT_ADDED", "TRUSTED_DOCUMENT_REMOVED"] {
        let e = only(&entries, action);
        assert_entry(e, "INTEGRATIONS", &city_id, "UNIT_ADMIN", "HN", "TRUSTED_DOCUMENT");
        assert_eq!(e["subjectId"], doc);
        assert_eq!(change(e, "sha256"), set(&service::integrations::documents::hash(document)));
        assert_eq!(change(e, "operationName"), set("Units"));
    }
    let e = only(&entries, "WEBHOOK_CREATED");
    assert_entry(e, "INTEGRATIONS", &city_id, "UNIT_ADMIN", "HN", "WEBHOOK_SUBSCRIPTION");
    assert_eq!(e["subjectId"], hook);
    assert_eq!(fields(e), ["eventTypes", "origin"]);
    assert_eq!(change(e, "origin"), set("http://127.0.0.1:9"));
    assert_eq!(change(only(&entries, "WEBHOOK_DISABLED"), "status"), was("ACTIVE", "DISABLED"));
    assert_eq!(change(only(&entries, "WEBHOOK_ENABLED"), "status"), was("DISABLED", "ACTIVE"));
    let e = only(&entries, "WEBHOOK_DELETED");
    assert_eq!(e["subjectId"], hook);
    let e = only(&entries, "CLIENT_REVOKED");
    assert_entry(e, "INTEGRATIONS", &city_id, "UNIT_ADMIN", "HN", "INTEGRATION_CLIENT");
    assert_eq!(e["subjectId"], client.id);
    assert_eq!(change(e, "secretsRevoked"), set("1"), "one secret was still live");
}

// ---- nothing but what happened ----

/// A refused action (FORBIDDEN, NOT_FOUND, BAD_USER_INPUT), a decision already taken
/// (CONFLICT) and an action refused halfway through its transaction write no entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_or_failed_action_writes_nothing() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let case = app.token(BD_CASE_OFFICER).await;
    let stranger = app.token(MEMBER).await;
    let first = person(&app, S, 650).await;
    let decided = request(&app, &first.token, "HN-LB-BD-01").await;
    app.gql(APPROVE, json!({ "id": decided }), Some(&leader)).await.ok();
    // A target the city gave the district: the district may not rewrite it.
    let input = |code: String, value: f64, shares: Value| {
        json!({ "i": { "indicatorId": global_id("Indicator", Uuid::from_u128(1)), "unitId": code,
                       "period": { "year": this_year() }, "value": value, "shares": shares } })
    };
    let set = "mutation($i: SetTargetInput!) { setTarget(input: $i) { target { value } } }";
    let shares = json!([{ "unitId": app.unit_id("HN-LB").await, "value": 300.0 }]);
    app.gql(set, input(app.unit_id("HN").await, 1000.0, shares), Some(&city)).await.ok();
    let second = person(&app, S, 651).await;
    let pending = request(&app, &second.token, "HN-LB-BD-01").await;
    let before = rows(&app).await;
    assert_eq!(before.len(), 3);

    app.gql(APPROVE, json!({ "id": decided }), Some(&leader)).await.expect_code("CONFLICT");
    app.gql(REJECT, json!({ "id": decided, "r": "Nhầm" }), Some(&lb)).await.expect_code("CONFLICT");
    app.gql(APPROVE, json!({ "id": pending }), Some(&case)).await.expect_code("FORBIDDEN");
    app.gql(APPROVE, json!({ "id": pending }), Some(&stranger)).await.expect_code("NOT_FOUND");
    app.gql(REJECT, json!({ "id": pending, "r": "  " }), Some(&lb)).await.expect_code("BAD_USER_INPUT");
    rename(&app, &lb, "HN-LB", "Quận Long Biên Mới").await.expect_code("FORBIDDEN");
    rename(&app, &city, "HN-LB", "").await.expect_code("BAD_USER_INPUT");
    // Refused inside its transaction, after the upsert ran.
    app.gql(set, input(app.unit_id("HN-LB").await, 400.0, json!([])), Some(&lb))
        .await
        .expect_code("FORBIDDEN");
    assert_eq!(rows(&app).await, before, "a refusal wrote to the trail");

    // What does succeed writes exactly its one entry.
    app.gql(APPROVE, json!({ "id": pending }), Some(&leader)).await.ok();
    assert_eq!(stored(&app).await, 4);
}

/// Eight simultaneous approvals of one request: one wins, and the trail holds exactly one
/// approval, by the winner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_approvals_write_exactly_one_entry() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let lb = app.token(LB_OFFICER).await;
    let applicant = person(&app, S, 655).await;
    let id = request(&app, &applicant.token, "HN-LB-BD-01").await;

    let deciders = [leader.as_str(), lb.as_str()];
    let results =
        join_all((0..8).map(|i| app.gql(APPROVE, json!({ "id": id }), Some(deciders[i % 2])))).await;
    let won: Vec<&Gql> = results.iter().filter(|r| !r.has_errors()).collect();
    let conflicts = results.iter().filter(|r| r.code() == Some("CONFLICT")).count();
    assert_eq!((won.len(), conflicts), (1, 7), "{:?}", results.iter().map(|r| &r.body).collect::<Vec<_>>());
    let winner = won[0].body["data"]["approveMembershipRequest"]["decidedBy"]["id"].clone();

    let entries = area(&app, "MEMBERSHIP").await;
    let approvals: Vec<&Value> = entries.iter().filter(|e| e["subjectId"] == id).collect();
    assert_eq!(approvals.len(), 1, "{entries:#?}");
    assert_eq!(approvals[0]["action"], "REQUEST_APPROVED");
    assert_eq!(approvals[0]["actor"]["id"], winner);
    assert_eq!(change(approvals[0], "status"), was("PENDING", "APPROVED"));
    assert_eq!(stored(&app).await, 1);
}

// ---- reading the trail ----

/// The trail narrows to one actor, one area, a time range (`since` inclusive, `until`
/// exclusive) and any combination; `until` not after `since`, or an id of another kind, is
/// refused with the field named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trail_is_filtered_by_actor_area_and_time() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let lb_id = app.person_id(LB_OFFICER).await;

    let ward = officer(&app, S, 660, "HN-LB-BD", "UNIT_ADMIN").await;
    rename(&app, &city, "HN-LB-GT-01", "Chi hội Gia Thụy Một").await.ok();
    let t1 = instant().await;
    rename(&app, &ward.token, "HN-LB-BD-01", "Chi hội Bồ Đề Một").await.ok();
    app.gql(
        "mutation($u: ID!, $i: PostInput!) { createPost(unitId: $u, input: $i) { id } }",
        json!({ "u": app.unit_id("HN-LB-BD").await, "i": { "title": "Tin phường", "body": "Nội dung." } }),
        Some(&ward.token),
    )
    .await
    .ok();
    enrol(&app, &lb, S, 661, "HN-LB-GT-01").await;
    let t2 = instant().await;
    rename(&app, &city, "HN-LB-BD-02", "Chi hội Bồ Đề Hai").await.ok();
    enrol(&app, &lb, S, 662, "HN-LB-BD-01").await;

    let listed = |extra: Value| {
        let (app, city) = (&app, &city);
        async move {
            trail(app, city, "HN", extra)
                .await
                .iter()
                .map(|e| format!("{} {}", s(&e["action"]), s(&e["unit"]["code"])))
                .collect::<Vec<_>>()
        }
    };
    // Newest first, with the label of each.
    let (granted, gt_renamed, bd1_renamed, posted, gt_enrolled, bd2_renamed, bd_enrolled) = (
        "ROLE_ASSIGNED HN-LB-BD",
        "UNIT_RENAMED HN-LB-GT-01",
        "UNIT_RENAMED HN-LB-BD-01",
        "POST_CREATED HN-LB-BD",
        "MEMBER_ENROLLED HN-LB-GT-01",
        "UNIT_RENAMED HN-LB-BD-02",
        "MEMBER_ENROLLED HN-LB-BD-01",
    );
    assert_eq!(
        listed(json!({})).await,
        [bd_enrolled, bd2_renamed, gt_enrolled, posted, bd1_renamed, gt_renamed, granted]
    );
    assert_eq!(listed(json!({ "actor": ward.person_id })).await, [posted, bd1_renamed]);
    assert_eq!(listed(json!({ "actor": lb_id })).await, [bd_enrolled, gt_enrolled]);
    assert_eq!(listed(json!({ "area": "STRUCTURE" })).await, [bd2_renamed, bd1_renamed, gt_renamed]);
    assert_eq!(listed(json!({ "area": "ROLES" })).await, [granted]);
    assert_eq!(listed(json!({ "area": "TRAININGS" })).await, Vec::<String>::new());
    let (t1, t2) = (stamp(t1), stamp(t2));
    assert_eq!(listed(json!({ "until": t1 })).await, [gt_renamed, granted]);
    assert_eq!(listed(json!({ "since": t1, "until": t2 })).await, [gt_enrolled, posted, bd1_renamed]);
    assert_eq!(listed(json!({ "since": t2 })).await, [bd_enrolled, bd2_renamed]);
    assert_eq!(listed(json!({ "since": t1, "area": "STRUCTURE" })).await, [bd2_renamed, bd1_renamed]);
    assert_eq!(listed(json!({ "actor": ward.person_id, "area": "NEWS" })).await, [posted]);
    assert_eq!(listed(json!({ "actor": lb_id, "since": t2 })).await, [bd_enrolled]);

    // `since` is inclusive and `until` exclusive: an entry's own instant.
    let all = trail(&app, &city, "HN", json!({})).await;
    let posted_at = s(&all[3]["at"]);
    let at_post = trail(&app, &city, "HN", json!({ "since": posted_at, "until": t2 })).await;
    assert_eq!(
        at_post.iter().map(|e| s(&e["action"])).collect::<Vec<_>>(),
        ["MEMBER_ENROLLED", "POST_CREATED"]
    );
    let before_post = trail(&app, &city, "HN", json!({ "since": t1, "until": posted_at })).await;
    assert_eq!(before_post.iter().map(|e| s(&e["action"])).collect::<Vec<_>>(), ["UNIT_RENAMED"]);

    for (since, until) in [(&t2, &t1), (&t1, &t1)] {
        let g = trail_of(&app, Some(&city), "HN", json!({ "since": since, "until": until }))
            .await
            .expect_code("BAD_USER_INPUT");
        assert_eq!(g.field(), Some("until"), "{}", g.body);
    }
    let g = trail_of(&app, Some(&city), "HN", json!({ "actor": app.unit_id("HN").await }))
        .await
        .expect_code("BAD_USER_INPUT");
    assert_eq!(g.field(), Some("actorId"), "{}", g.body);
}

/// An admin reads the trail of her unit's subtree and nothing beside it: a ward's admin sees
/// her ward and its branches, not the neighbouring ward; the city's admin sees both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_reads_her_subtree_only() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let ward = officer(&app, S, 665, "HN-LB-BD", "UNIT_ADMIN").await;
    rename(&app, &city, "HN-LB-GT-01", "Chi hội Gia Thụy Một").await.ok();
    rename(&app, &city, "HN-LB-BD-01", "Chi hội Bồ Đề Một").await.ok();
    enrol(&app, &lb, S, 666, "HN-LB-GT-02").await;
    enrol(&app, &lb, S, 667, "HN-LB-BD-02").await;
    rename(&app, &ward.token, "HN-LB-BD-03", "Chi hội Bồ Đề Ba").await.ok();
    rename(&app, &lb, "HN-LB-GT", "Phường Khác").await.expect_code("FORBIDDEN");

    let units = |token: String, code: &'static str| {
        let app = &app;
        async move {
            let mut out: Vec<String> =
                trail(app, &token, code, json!({})).await.iter().map(|e| s(&e["unit"]["code"])).collect();
            out.sort();
            out
        }
    };
    assert_eq!(
        units(ward.token.clone(), "HN-LB-BD").await,
        ["HN-LB-BD", "HN-LB-BD-01", "HN-LB-BD-02", "HN-LB-BD-03"]
    );
    assert_eq!(units(ward.token.clone(), "HN-LB-BD-01").await, ["HN-LB-BD-01"]);
    trail_of(&app, Some(&ward.token), "HN-LB-GT", json!({})).await.expect_code("NOT_FOUND");
    trail_of(&app, Some(&ward.token), "HN-LB-GT-01", json!({})).await.expect_code("NOT_FOUND");
    assert_eq!(units(city.clone(), "HN-LB-GT").await, ["HN-LB-GT-01", "HN-LB-GT-02"]);
    assert_eq!(
        units(city.clone(), "HN").await,
        ["HN-LB-BD", "HN-LB-BD-01", "HN-LB-BD-02", "HN-LB-BD-03", "HN-LB-GT-01", "HN-LB-GT-02"]
    );
    assert_eq!(units(city.clone(), "HN-HK").await, Vec::<String>::new());
}

/// Pages of two walk every entry exactly once, newest first, ending where the whole list
/// ends; a cursor of another list, or none at all, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_walk_every_entry_once_newest_first() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let renamed = [
        "HN-LB-BD-01",
        "HN-LB-BD-02",
        "HN-LB-BD-03",
        "HN-LB-BD-04",
        "HN-LB-GT-01",
        "HN-LB-GT-02",
        "HN-LB-GT-03",
        "HN-LB-GT-04",
        "HN-LB-BD",
    ];
    for (i, code) in renamed.iter().enumerate() {
        rename(&app, &city, code, &format!("Đơn vị Kiểm Tra {}", word(i as u32))).await.ok();
    }

    let (mut walked, mut after, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let data = trail_of(&app, Some(&city), "HN", json!({ "first": 2, "after": after })).await.ok();
        let conn = &data["auditTrail"];
        let page = nodes(conn);
        assert!(page.len() <= 2);
        walked.extend(page);
        pages += 1;
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        assert!(pages < 20, "endless pages");
        after = Some(s(&conn["pageInfo"]["endCursor"]));
    }
    assert_eq!(pages, 5);
    let codes: Vec<String> = walked.iter().map(|e| s(&e["unit"]["code"])).collect();
    let newest_first: Vec<String> = renamed.iter().rev().map(|c| c.to_string()).collect();
    assert_eq!(codes, newest_first);
    let ids: Vec<String> = walked.iter().map(|e| s(&e["id"])).collect();
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ids.len(), "an entry came twice");
    let whole: Vec<String> = trail(&app, &city, "HN", json!({})).await.iter().map(|e| s(&e["id"])).collect();
    assert_eq!(ids, whole);
    let times: Vec<DateTime<Utc>> = walked.iter().map(|e| time(&e["at"])).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    // Cursors of another list, or garbage, name `after`.
    let units = app.gql("{ orgUnits(first: 1) { pageInfo { endCursor } } }", json!({}), None).await.ok();
    let foreign = s(&units["orgUnits"]["pageInfo"]["endCursor"]);
    for cursor in [foreign.as_str(), "not-a-cursor"] {
        let g = trail_of(&app, Some(&city), "HN", json!({ "first": 2, "after": cursor }))
            .await
            .expect_code("BAD_USER_INPUT");
        assert_eq!(g.field(), Some("after"), "{}", g.body);
    }
}

/// Who may read: an admin at or above the unit, or a system administrator. Other officers
/// over the unit are refused (FORBIDDEN), anyone else is not told it exists (NOT_FOUND), and
/// nobody signed out reads anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_over_the_unit_and_system_administrators_read_the_trail() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let ward = officer(&app, S, 670, "HN-LB-BD", "UNIT_ADMIN").await;
    rename(&app, &city, "HN-LB-BD-01", "Chi hội Bồ Đề Một").await.ok();

    let refused = |token: Option<String>, code: &'static str, expected: &'static str| {
        let app = &app;
        async move {
            let g = trail_of(app, token.as_deref(), code, json!({})).await.expect_code(expected);
            assert!(g.data()["auditTrail"].is_null(), "{}", g.body);
        }
    };
    let lb = app.token(LB_OFFICER).await;
    refused(Some(lb.clone()), "HN-LB", "FORBIDDEN").await;
    refused(Some(lb.clone()), "HN-LB-BD-01", "FORBIDDEN").await;
    refused(Some(lb), "HN-HK", "NOT_FOUND").await;
    refused(Some(app.token(BD1_LEADER).await), "HN-LB-BD-01", "FORBIDDEN").await;
    refused(Some(app.token(BD_CASE_OFFICER).await), "HN-LB-BD", "FORBIDDEN").await;
    refused(Some(app.token(MEMBER).await), "HN-LB", "NOT_FOUND").await;
    refused(Some(ward.token.clone()), "HN-LB", "NOT_FOUND").await;
    refused(None, "HN-LB", "UNAUTHENTICATED").await;
    let unknown = global_id("OrgUnit", Uuid::now_v7());
    let g = app.gql(TRAIL, json!({ "u": unknown }), Some(&city)).await.expect_code("NOT_FOUND");
    assert!(g.data()["auditTrail"].is_null());

    let renames = |entries: Vec<Value>| {
        entries
            .iter()
            .filter(|e| e["action"] == "UNIT_RENAMED")
            .map(|e| s(&e["unit"]["code"]))
            .collect::<Vec<_>>()
    };
    assert_eq!(renames(trail(&app, &ward.token, "HN-LB-BD", json!({})).await), ["HN-LB-BD-01"]);
    assert_eq!(renames(trail(&app, &city, "HN-LB", json!({})).await), ["HN-LB-BD-01"]);
    let sysadmin = app.token(SYSADMIN).await;
    let everything = trail(&app, &sysadmin, "HN", json!({})).await;
    assert_eq!(actions(&everything), ["ROLE_ASSIGNED", "UNIT_RENAMED"]);
}

// ---- the record itself ----

/// The database refuses to change or remove an entry, whoever asks: an UPDATE and a DELETE
/// fail and every row stays as it was; new entries are still appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_refuses_to_change_or_remove_an_entry() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    officer(&app, S, 680, "HN-LB-BD", "UNIT_OFFICER").await;
    rename(&app, &city, "HN-LB-BD-01", "Chi hội Bồ Đề Một").await.ok();
    let before = rows(&app).await;
    assert_eq!(before.len(), 2);
    let db = &app.state.db;

    for sql in [
        "UPDATE audit_event SET action = 'X'",
        "UPDATE audit_event SET changes = '[]' WHERE action = 'UNIT_RENAMED'",
        "DELETE FROM audit_event",
        "DELETE FROM audit_event WHERE action = 'ROLE_ASSIGNED'",
    ] {
        assert!(db.execute_unprepared(sql).await.is_err(), "the database ran {sql}");
    }
    // PostgreSQL's TRUNCATE skips row triggers: a statement trigger refuses it, for the
    // violence access log too. (SQLite has no TRUNCATE.)
    if backend() == "postgres" {
        for sql in ["TRUNCATE audit_event", "TRUNCATE violence_access_log CASCADE"] {
            assert!(db.execute_unprepared(sql).await.is_err(), "the database ran {sql}");
        }
    }
    let one = before[0].id;
    assert!(audit_event::Entity::delete_by_id(one).exec(db).await.is_err());
    assert!(
        audit_event::Entity::update_many()
            .col_expr(audit_event::Column::Changes, Expr::value("[]"))
            .exec(db)
            .await
            .is_err()
    );
    assert_eq!(rows(&app).await, before);

    rename(&app, &city, "HN-LB-BD-02", "Chi hội Bồ Đề Hai").await.ok();
    let after = rows(&app).await;
    assert_eq!(after.len(), 3);
    assert_eq!(after[..2], before[..]);
}

/// No entry holds a secret, a webhook URL's path or query, or a phone number: after a client
/// is registered (and given a second secret), a webhook is created on a URL with a path and a
/// token in its query, and members are enrolled, invited and imported by phone, neither the
/// stored rows nor the trail as read contain any of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_url_path_or_phone_number_reaches_the_trail() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let client = crate::integrations::register(&app, &city, "HN", &["NEWS_READ"]).await;
    let added = app
        .gql(
            "mutation($c: ID!) { addIntegrationClientSecret(clientId: $c) { clientSecret } }",
            json!({ "c": client.id }),
            Some(&city),
        )
        .await
        .ok();
    let second_secret = s(&added["addIntegrationClientSecret"]["clientSecret"]);
    let url = "http://127.0.0.1:9/hooks/phunu-audit?token=abc123secret";
    let created = app
        .gql(
            "mutation($i: CreateWebhookSubscriptionInput!) { createWebhookSubscription(input: $i) { secret } }",
            json!({ "i": { "clientId": client.id, "url": url, "eventTypes": ["POST_PUBLISHED"] } }),
            Some(&city),
        )
        .await
        .ok();
    let signing = s(&created["createWebhookSubscription"]["secret"]);
    enrol(&app, &lb, S, 690, "HN-LB-BD-01").await;
    person(&app, S, 691).await;
    let invited =
        crate::fixtures::try_enrol(&app, &lb, "Lê Thị Mời", &S.phone(691), None, "HN-LB-BD-02").await.ok();
    assert_eq!(invited["enrolMember"]["status"], "INVITED");
    let csv = format!("name,phone,branch\nPhạm Thị Nhập,{},HN-LB-BD-03\n", S.phone(692));
    app.gql(
        "mutation($csv: String) { importMembers(csv: $csv) { imported } }",
        json!({ "csv": csv }),
        Some(&lb),
    )
    .await
    .ok();

    let stored_text = rows(&app).await.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join("\n");
    let read_text =
        trail(&app, &city, "HN", json!({})).await.iter().map(Value::to_string).collect::<Vec<_>>().join("\n");
    // The rows are those of the actions above: the webhook's origin and a secret's hint are.
    assert!(stored_text.contains("http://127.0.0.1:9"), "{stored_text}");
    assert!(stored_text.contains(&client.secret[client.secret.len() - 4..]));
    for action in
        ["MEMBER_ENROLLED", "MEMBER_INVITED", "MEMBERS_IMPORTED", "WEBHOOK_CREATED", "CLIENT_SECRET_ADDED"]
    {
        assert!(read_text.contains(action), "no {action} in {read_text}");
    }
    let whsec_key = signing.strip_prefix("whsec_").expect("whsec_ prefix").to_owned();
    let mut never = vec![client.secret.clone(), second_secret, signing.clone(), whsec_key];
    never.extend(["/hooks", "phunu-audit", "token=", "abc123secret"].map(String::from));
    for n in [690, 691, 692] {
        let typed = S.phone(n);
        never.extend([S.stored_phone(n), typed[1..].to_owned(), typed]);
    }
    for secret in &never {
        assert!(!stored_text.contains(secret.as_str()), "{secret} is stored in the trail");
        assert!(!read_text.contains(secret.as_str()), "{secret} is read from the trail");
    }
}

/// A page of the trail issues the same small number of statements whether it holds five
/// entries or twenty of many actors and units (actors and units are loaded in batches).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trail_page_issues_a_bounded_number_of_statements() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let sysadmin = app.token(SYSADMIN).await;
    let wards = ["HN-LB-BD", "HN-LB-GT", "HN-HK-HB"];
    let mut admins = Vec::new();
    for (n, ward) in (695..).zip(wards) {
        admins.push(officer(&app, S, n, ward, "UNIT_ADMIN").await.token);
    }
    rename(&app, &city, "HN-LB", "Quận Long Biên Mới").await.ok();
    rename(&app, &city, "HN-HK", "Quận Hoàn Kiếm Mới").await.ok();

    let measure = |expected: usize| {
        let (app, city) = (&app, &city);
        async move {
            let mut fewest = u64::MAX;
            for _ in 0..5 {
                let before = app.statements();
                let data = trail_of(app, Some(city), "HN", json!({ "first": 20 })).await.ok();
                let used = app.statements() - before;
                let page = nodes(&data["auditTrail"]);
                assert_eq!(page.len(), expected);
                assert!(page.iter().all(|e| e["actor"]["id"].is_string() && e["unit"]["code"].is_string()));
                fewest = fewest.min(used);
            }
            fewest
        }
    };
    let small = measure(5).await;

    // Twenty-five more, by five actors over twenty-five units.
    for (admin, ward) in admins.iter().zip(wards) {
        for n in 1..=4 {
            rename(&app, admin, &format!("{ward}-0{n}"), &format!("Chi hội Số {}", word(n))).await.ok();
        }
        rename(&app, admin, ward, &format!("Phường Kiểm Tra {ward}")).await.ok();
    }
    let others = [
        "HN-BD",
        "HN-DD",
        "HN-CG",
        "HN-TTR",
        "HN-BD-DB",
        "HN-BD-KM",
        "HN-DD-VM",
        "HN-CG-DV",
        "HN-TTR-VD",
        "HN-LB-NL",
    ];
    for (i, code) in (0u32..).zip(others) {
        rename(&app, &sysadmin, code, &format!("Đơn vị Kiểm Tra {}", word(i))).await.ok();
    }
    assert_eq!(stored(&app).await, 30);
    let large = measure(20).await;
    let page = nodes(&trail_of(&app, Some(&city), "HN", json!({ "first": 20 })).await.ok()["auditTrail"]);
    let mut actors: Vec<String> = page.iter().map(|e| s(&e["actor"]["id"])).collect();
    actors.sort();
    actors.dedup();
    assert!(actors.len() >= 3, "{actors:?}");
    assert_eq!(small, large, "statements grow with the entries of a page");
    assert!(large <= 10, "{large} statements for one page");
}
