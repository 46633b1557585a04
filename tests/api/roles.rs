//! Officer roles: granted and revoked by a `UNIT_ADMIN` above (a strict ancestor for
//! `UNIT_ADMIN` itself), recorded with who and when, and listed for admins over the unit.

use entities::ids::PersonId;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{ROLE_FIELDS, try_grant};
use crate::helpers::*;

const PASSWORD: &str = "matkhau-2026x";

async fn assign(app: &TestApp, token: Option<&str>, input: Value) -> Gql {
    let q = format!(
        "mutation($i: AssignOfficerRoleInput!) {{ assignOfficerRole(input: $i) {{ {ROLE_FIELDS} }} }}"
    );
    app.gql(&q, json!({ "i": input }), token).await
}

/// Grants and returns the new role's id.
async fn granted(app: &TestApp, token: &str, phone: &str, code: &str, role: &str) -> String {
    let data = try_grant(app, token, phone, code, role).await.ok();
    data["assignOfficerRole"]["id"].as_str().expect("role id").to_owned()
}

async fn revoke(app: &TestApp, token: Option<&str>, id: &str) -> Gql {
    let q = format!("mutation($id: ID!) {{ revokeOfficerRole(id: $id) {{ {ROLE_FIELDS} }} }}");
    app.gql(&q, json!({ "id": id }), token).await
}

/// Registers a person; returns her token.
async fn person(app: &TestApp, phone: &str) -> String {
    app.register(phone, "Nguyễn Thị Mai", PASSWORD).await.0
}

/// A fresh `UNIT_ADMIN` at `code`, granted by the city admin; returns her token.
async fn admin_at(app: &TestApp, phone: &str, code: &str) -> String {
    let token = person(app, phone).await;
    granted(app, &app.token(CITY_ADMIN).await, phone, code, "UNIT_ADMIN").await;
    token
}

/// (role, unit code) of the viewer's active roles.
async fn my_roles(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let data = app.gql("{ me { roles { role unit { code } } } }", json!({}), Some(token)).await.ok();
    data["me"]["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| {
            (
                r["role"].as_str().expect("role").to_owned(),
                r["unit"]["code"].as_str().expect("code").to_owned(),
            )
        })
        .collect()
}

async fn officer_roles(app: &TestApp, token: &str, code: &str, extra: Value) -> Gql {
    let mut vars = json!({ "u": app.unit_id(code).await, "sub": true, "active": true });
    vars.as_object_mut().expect("vars").extend(extra.as_object().expect("extra").clone());
    app.gql(
        "query($u: ID!, $sub: Boolean!, $active: Boolean!) { officerRoles(unitId: $u, includeSubtree: $sub, activeOnly: $active, first: 100) { totalCount edges { node { role active unit { code } person { phone } } } } }",
        vars,
        Some(token),
    )
    .await
}

/// Number of role assignments in the whole tree, revoked included.
async fn role_total(app: &TestApp, token: &str) -> Value {
    officer_roles(app, token, "HN", json!({ "active": false })).await.ok()["officerRoles"]["totalCount"]
        .clone()
}

/// (role, unit code, phone) of each listed role, sorted.
fn listed(conn: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = conn["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            let n = &e["node"];
            let s = |v: &Value| v.as_str().expect("string").to_owned();
            (s(&n["role"]), s(&n["unit"]["code"]), s(&n["person"]["phone"]))
        })
        .collect();
    out.sort();
    out
}

fn row(role: &str, code: &str, phone: &str) -> (String, String, String) {
    (role.to_owned(), code.to_owned(), phone.to_owned())
}

/// The database id behind a global id (`base64url("Type:uuid")`).
fn db_id(global: &str) -> Uuid {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(global).expect("base64 id");
    let text = String::from_utf8(raw).expect("utf-8 id");
    Uuid::parse_str(text.split_once(':').expect("typed id").1).expect("uuid")
}

async fn person_db_id(app: &TestApp, phone: &str) -> PersonId {
    entities::person::Entity::find()
        .filter(entities::person::Column::Phone.eq(phone))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("person")
        .id
}

// ---- assigning ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn city_admin_assigns_a_role_by_phone_in_any_format() {
    let app = spawn_app().await;
    let holder = person(&app, "0912345678").await;
    let city = app.token(CITY_ADMIN).await;
    let role =
        try_grant(&app, &city, "+84 912-345-678", "HN-DD", "UNIT_OFFICER").await.ok()["assignOfficerRole"]
            .clone();
    assert_eq!(role["role"], "UNIT_OFFICER");
    assert_eq!(role["unit"]["code"], "HN-DD");
    assert_eq!(role["person"]["phone"], "+84912345678");
    assert_eq!(role["grantedBy"]["id"], app.person_id(CITY_ADMIN).await);
    assert_eq!(role["active"], true);
    assert!(role["grantedAt"].is_string());
    assert_eq!(role["revokedAt"], Value::Null);
    assert_eq!(role["revokedBy"], Value::Null);

    assert_eq!(my_roles(&app, &holder).await, [("UNIT_OFFICER".to_owned(), "HN-DD".to_owned())]);
    let node = app
        .gql(
            "query($id: ID!) { node(id: $id) { __typename id ... on OfficerRole { role unit { code } } } }",
            json!({ "id": role["id"] }),
            Some(&holder),
        )
        .await
        .ok();
    assert_eq!(
        node["node"],
        json!({ "__typename": "OfficerRole", "id": role["id"], "role": "UNIT_OFFICER", "unit": { "code": "HN-DD" } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assign_takes_a_person_id_or_a_phone_but_not_neither_or_both() {
    let app = spawn_app().await;
    let (_, _, person_id) = app.register("0912345679", "Nguyễn Thị Lan", PASSWORD).await;
    let city = app.token(CITY_ADMIN).await;
    let unit = app.unit_id("HN-DD").await;
    let role =
        assign(&app, Some(&city), json!({ "personId": person_id, "unitId": unit, "role": "CASE_OFFICER" }))
            .await
            .ok()["assignOfficerRole"]
            .clone();
    assert_eq!(role["person"]["id"], person_id.as_str());
    assert_eq!(role["role"], "CASE_OFFICER");

    assign(&app, Some(&city), json!({ "unitId": unit, "role": "UNIT_OFFICER" }))
        .await
        .expect_code("BAD_USER_INPUT");
    assign(
        &app,
        Some(&city),
        json!({ "personId": person_id, "phone": "0912345679", "unitId": unit, "role": "UNIT_OFFICER" }),
    )
    .await
    .expect_code("BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_role_twice_at_the_same_unit_conflicts() {
    let app = spawn_app().await;
    person(&app, "0912345680").await;
    let city = app.token(CITY_ADMIN).await;
    try_grant(&app, &city, "0912345680", "HN-DD", "UNIT_OFFICER").await.ok();
    try_grant(&app, &city, "84912345680", "HN-DD", "UNIT_OFFICER").await.expect_code("CONFLICT");
    // Another role at the same unit, or the same role elsewhere, is fine.
    try_grant(&app, &city, "0912345680", "HN-DD", "CASE_OFFICER").await.ok();
    try_grant(&app, &city, "0912345680", "HN-DD-VM", "UNIT_OFFICER").await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unit_admin_grants_in_her_subtree_but_admins_only_strictly_below() {
    let app = spawn_app().await;
    let lb_admin = admin_at(&app, "0987100001", "HN-LB").await;
    person(&app, "0987100002").await;
    try_grant(&app, &lb_admin, "0987100002", "HN-LB-BD", "UNIT_OFFICER").await.ok();
    try_grant(&app, &lb_admin, "0987100002", "HN-LB", "UNIT_OFFICER").await.ok();
    let role = try_grant(&app, &lb_admin, "0987100002", "HN-LB-BD", "UNIT_ADMIN").await.ok();
    assert_eq!(role["assignOfficerRole"]["grantedBy"]["id"], app.person_id("+84987100001").await);
    try_grant(&app, &lb_admin, "0987100002", "HN-LB", "UNIT_ADMIN").await.expect_code("FORBIDDEN");
    try_grant(&app, &lb_admin, "0987100002", "HN-HK", "UNIT_OFFICER").await.expect_code("NOT_FOUND");
    try_grant(&app, &lb_admin, "0987100002", "HN-HK-HB", "UNIT_ADMIN").await.expect_code("NOT_FOUND");
    // Nobody sits above the city but a system administrator.
    let city = app.token(CITY_ADMIN).await;
    try_grant(&app, &city, "0987100002", "HN", "UNIT_ADMIN").await.expect_code("FORBIDDEN");
    try_grant(&app, &app.token(SYSADMIN).await, "0987100002", "HN", "UNIT_ADMIN").await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assign_needs_a_unit_admin_and_a_known_person() {
    let app = spawn_app().await;
    person(&app, "0987200001").await;
    let city = app.token(CITY_ADMIN).await;
    let before = role_total(&app, &city).await;

    try_grant(&app, &app.token(LB_OFFICER).await, "0987200001", "HN-LB", "UNIT_OFFICER")
        .await
        .expect_code("FORBIDDEN");
    try_grant(&app, &app.token(MEMBER).await, "0987200001", "HN-LB", "UNIT_OFFICER")
        .await
        .expect_code("NOT_FOUND");
    let input =
        json!({ "phone": "0987200001", "unitId": app.unit_id("HN-LB").await, "role": "UNIT_OFFICER" });
    assign(&app, None, input).await.expect_code("UNAUTHENTICATED");
    try_grant(&app, &city, "0399999999", "HN-LB", "UNIT_OFFICER").await.expect_code("NOT_FOUND");

    assert_eq!(role_total(&app, &city).await, before, "a refused grant wrote a role");
}

// ---- revoking ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_records_who_and_ends_the_role_and_its_reach() {
    let app = spawn_app().await;
    let holder = admin_at(&app, "0987300001", "HN-LB").await;
    let city = app.token(CITY_ADMIN).await;
    let id = app.gql("{ me { roles { id } } }", json!({}), Some(&holder)).await.ok()["me"]["roles"][0]["id"]
        .as_str()
        .expect("role id")
        .to_owned();
    let create = |name: &'static str| {
        let (app, holder) = (&app, holder.clone());
        async move {
            let input = json!({ "parentId": app.unit_id("HN-LB-BD").await, "kind": "BRANCH", "code": name, "name": "Chi hội Thử" });
            app.gql(
                "mutation($i: CreateOrgUnitInput!) { createOrgUnit(input: $i) { code } }",
                json!({ "i": input }),
                Some(&holder),
            )
            .await
        }
    };
    create("HN-LB-BD-91").await.ok();

    let revoked = revoke(&app, Some(&city), &id).await.ok()["revokeOfficerRole"].clone();
    assert_eq!(revoked["active"], false);
    assert!(revoked["revokedAt"].is_string());
    assert_eq!(revoked["revokedBy"]["id"], app.person_id(CITY_ADMIN).await);
    assert_eq!(revoked["grantedBy"]["id"], app.person_id(CITY_ADMIN).await);

    assert_eq!(my_roles(&app, &holder).await, Vec::<(String, String)>::new());
    create("HN-LB-BD-92").await.expect_code("NOT_FOUND");
    revoke(&app, Some(&city), &id).await.expect_code("CONFLICT");

    let again = granted(&app, &city, "0987300001", "HN-LB", "UNIT_ADMIN").await;
    assert_ne!(again, id);
    create("HN-LB-BD-93").await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_needs_reach_and_an_admin_strictly_above_for_admins() {
    let app = spawn_app().await;
    let lb_admin = admin_at(&app, "0987400001", "HN-LB").await;
    let city = app.token(CITY_ADMIN).await;
    person(&app, "0987400002").await;
    let hk_role = granted(&app, &city, "0987400002", "HN-HK", "UNIT_OFFICER").await;
    revoke(&app, Some(&lb_admin), &hk_role).await.expect_code("NOT_FOUND");

    let own =
        app.gql("{ me { roles { id } } }", json!({}), Some(&lb_admin)).await.ok()["me"]["roles"][0]["id"]
            .as_str()
            .expect("role id")
            .to_owned();
    revoke(&app, Some(&lb_admin), &own).await.expect_code("FORBIDDEN");
    revoke(&app, Some(&app.token(LB_OFFICER).await), &own).await.expect_code("FORBIDDEN");
    revoke(&app, None, &own).await.expect_code("UNAUTHENTICATED");
    assert_eq!(my_roles(&app, &lb_admin).await, [("UNIT_ADMIN".to_owned(), "HN-LB".to_owned())]);

    let below = granted(&app, &lb_admin, "0987400002", "HN-LB-BD", "UNIT_OFFICER").await;
    let revoked = revoke(&app, Some(&lb_admin), &below).await.ok()["revokeOfficerRole"].clone();
    assert_eq!(revoked["revokedBy"]["id"], app.person_id("+84987400001").await);
}

// ---- listing ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officer_roles_lists_the_subtree_for_admins_over_it() {
    let app = spawn_app().await;
    let lb_admin = admin_at(&app, "0987500001", "HN-LB").await;
    let city = app.token(CITY_ADMIN).await;
    person(&app, "0987500002").await;
    let gone = granted(&app, &city, "0987500002", "HN-LB-DG", "CASE_OFFICER").await;
    revoke(&app, Some(&city), &gone).await.ok();

    let active = vec![
        row("BRANCH_LEADER", "HN-LB-BD-01", BD1_LEADER),
        row("CASE_OFFICER", "HN-LB", LB_CASE_OFFICER),
        row("CASE_OFFICER", "HN-LB-BD", BD_CASE_OFFICER),
        row("UNIT_ADMIN", "HN-LB", "+84987500001"),
        row("UNIT_OFFICER", "HN-LB", LB_OFFICER),
        row("UNIT_OFFICER", "HN-LB-BD", BD_OFFICER),
    ];
    for token in [&lb_admin, &city] {
        let list = officer_roles(&app, token, "HN-LB", json!({})).await.ok()["officerRoles"].clone();
        assert_eq!(listed(&list), active);
        assert_eq!(list["totalCount"], 6);
    }

    let here =
        officer_roles(&app, &lb_admin, "HN-LB", json!({ "sub": false })).await.ok()["officerRoles"].clone();
    assert_eq!(
        listed(&here),
        [
            row("CASE_OFFICER", "HN-LB", LB_CASE_OFFICER),
            row("UNIT_ADMIN", "HN-LB", "+84987500001"),
            row("UNIT_OFFICER", "HN-LB", LB_OFFICER)
        ]
    );
    assert_eq!(here["totalCount"], 3);

    let all = officer_roles(&app, &lb_admin, "HN-LB", json!({ "active": false })).await.ok()["officerRoles"]
        .clone();
    assert_eq!(all["totalCount"], 7);
    let mut with_revoked = active.clone();
    with_revoked.push(row("CASE_OFFICER", "HN-LB-DG", "+84987500002"));
    with_revoked.sort();
    assert_eq!(listed(&all), with_revoked);

    officer_roles(&app, &app.token(MEMBER).await, "HN-LB", json!({})).await.expect_code("NOT_FOUND");
    officer_roles(&app, &app.token(LB_OFFICER).await, "HN-LB", json!({})).await.expect_code("FORBIDDEN");
    officer_roles(&app, &lb_admin, "HN-HK", json!({})).await.expect_code("NOT_FOUND");
}

// ---- node(id:) ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_shows_roles_and_people_only_to_those_allowed() {
    let app = spawn_app().await;
    let q = "query($id: ID!) { node(id: $id) { __typename id } }";
    let case_officer = app.token(BD_CASE_OFFICER).await;
    let data = app.gql("{ me { id roles { id } } }", json!({}), Some(&case_officer)).await.ok();
    let role_id = data["me"]["roles"][0]["id"].clone();
    let person_id = data["me"]["id"].clone();

    let member = app.token(MEMBER).await;
    app.gql(q, json!({ "id": role_id }), Some(&member)).await.expect_code("NOT_FOUND");
    app.gql(q, json!({ "id": person_id }), Some(&member)).await.expect_code("NOT_FOUND");
    let me = app.gql("{ me { id } }", json!({}), Some(&member)).await.ok()["me"]["id"].clone();
    let own = app.gql(q, json!({ "id": me }), Some(&member)).await.ok();
    assert_eq!(own["node"], json!({ "__typename": "Person", "id": me }));

    // The role is visible to an admin over its unit.
    let city = app.token(CITY_ADMIN).await;
    let seen = app.gql(q, json!({ "id": role_id }), Some(&city)).await.ok();
    assert_eq!(seen["node"], json!({ "__typename": "OfficerRole", "id": role_id }));
}

// ---- the record ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_and_revoke_are_recorded_with_who_and_when() {
    let app = spawn_app().await;
    person(&app, "0987600001").await;
    let city = app.token(CITY_ADMIN).await;
    let start = chrono::Utc::now() - chrono::Duration::seconds(1);
    let id = granted(&app, &city, "0987600001", "HN-CG", "UNIT_OFFICER").await;
    let row = entities::officer_role::Entity::find_by_id(db_id(&id))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("role row");
    let admin = person_db_id(&app, CITY_ADMIN).await;
    assert_eq!(row.granted_by, Some(admin));
    assert_eq!(row.person_id, person_db_id(&app, "+84987600001").await);
    assert!(row.granted_at >= start && row.granted_at <= chrono::Utc::now(), "granted_at {}", row.granted_at);
    assert_eq!((row.revoked_by, row.revoked_at), (None, None));

    let sys = app.token(SYSADMIN).await;
    revoke(&app, Some(&sys), &id).await.ok();
    let row = entities::officer_role::Entity::find_by_id(db_id(&id))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("role row kept");
    assert_eq!(row.revoked_by, Some(person_db_id(&app, SYSADMIN).await));
    assert!(row.revoked_at.is_some_and(|t| t >= row.granted_at));
    assert_eq!(row.granted_by, Some(admin));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_seen_through_roles_show_only_name_and_phone() {
    let app = spawn_app().await;
    let city = app.token(CITY_ADMIN).await;
    let (officer, _, _) = app
        .register_with(
            "0913000111",
            json!({ "fullName": "Đinh Thị Mới", "password": "sen-trang-2026",
                    "birthDate": "1990-05-17", "email": "moi@example.vn" }),
        )
        .await
        .ok()["register"]["accessToken"]
        .as_str()
        .map(|t| (t.to_owned(), (), ()))
        .unwrap();
    try_grant(&app, &city, "0913000111", "HN-DD", "UNIT_OFFICER").await.ok();

    // The granting admin is shown to the officer by name only: her phone is not even in the type.
    app.gql("{ me { roles { grantedBy { phone } } } }", json!({}), Some(&officer))
        .await
        .expect_code("GRAPHQL_VALIDATION_FAILED");
    let mine = app.gql("{ me { roles { grantedBy { fullName } } } }", json!({}), Some(&officer)).await.ok();
    assert_eq!(mine["me"]["roles"][0]["grantedBy"]["fullName"], "Nguyễn Thị Quản Trị");

    // The admin sees the officer's name and phone, but not her other details or roles.
    let dd = app.unit_id("HN-DD").await;
    let listed = app
        .gql(
            "query($u: ID!) { officerRoles(unitId: $u) { edges { node { person { phone birthDate email isSystemAdmin roles { id } } } } } }",
            json!({ "u": dd }),
            Some(&city),
        )
        .await
        .ok();
    let person = &listed["officerRoles"]["edges"][0]["node"]["person"];
    assert_eq!(person["phone"], "+84913000111");
    assert_eq!(person["birthDate"], Value::Null);
    assert_eq!(person["email"], Value::Null);
    assert_eq!(person["isSystemAdmin"], Value::Null);
    assert_eq!(person["roles"], json!([]));
    // She herself sees her roles.
    let me = app
        .gql("{ me { isSystemAdmin birthDate email roles { role } } }", json!({}), Some(&officer))
        .await
        .ok();
    assert_eq!(me["me"]["isSystemAdmin"], false);
    assert_eq!(me["me"]["birthDate"], "1990-05-17");
    assert_eq!(me["me"]["email"], "moi@example.vn");
    assert_eq!(me["me"]["roles"][0]["role"], "UNIT_OFFICER");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_grants_herself_a_role() {
    let app = spawn_app().await;
    let lb_admin = admin_at(&app, "0987500001", "HN-LB").await;
    // A unit admin making herself case officer would gain access to violence reports.
    try_grant(&app, &lb_admin, "0987500001", "HN-LB-BD", "CASE_OFFICER").await.expect_code("FORBIDDEN");
    try_grant(&app, &app.token(CITY_ADMIN).await, CITY_ADMIN, "HN-LB", "CASE_OFFICER")
        .await
        .expect_code("FORBIDDEN");
    assert_eq!(my_roles(&app, &lb_admin).await, [("UNIT_ADMIN".to_owned(), "HN-LB".to_owned())]);
}
