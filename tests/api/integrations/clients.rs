//! The client registry: who may register, a secret shown once and stored hashed, rotation with
//! two live secrets, revocation that ends tokens at once, and the record of every change.

use serde_json::json;

use super::{REGISTER, client_token, post_token, register};
use crate::helpers::{CITY_ADMIN, LB_OFFICER, MEMBER, SYSADMIN, every_row, s, spawn_app, spawn_app_with};

const ME: &str = "{ me { id } }";
const UNITS: &str = "{ posts(first: 1) { edges { node { id } } } }";

#[tokio::test]
async fn only_a_root_admin_or_a_system_administrator_registers_and_the_secret_is_stored_hashed() {
    let app = spawn_app().await;
    let input = |unit: String| json!({ "i": { "name": "Bảng số liệu", "contact": "a@b.vn", "unitId": unit, "scopes": ["UNITS_READ"] } });
    let lb = app.unit_id("HN-LB").await;
    // A unit officer, a member and an admin below the root may not.
    for phone in [LB_OFFICER, MEMBER] {
        let token = app.token(phone).await;
        let got = app.gql(REGISTER, input(lb.clone()), Some(&token)).await;
        assert!(matches!(got.code(), Some("FORBIDDEN" | "NOT_FOUND")), "{phone}: {:?}", got.body);
    }
    app.gql(REGISTER, input(lb.clone()), None).await.expect_code("UNAUTHENTICATED");

    let sysadmin = app.token(SYSADMIN).await;
    let by_sysadmin = register(&app, &sysadmin, "HN-LB", &["UNITS_READ", "STATISTICS_READ"]).await;
    let city = app.token(CITY_ADMIN).await;
    let by_city = register(&app, &city, "HN", &["NEWS_READ"]).await;
    assert!(by_sysadmin.secret.starts_with("pns_") && by_sysadmin.secret.len() > 40);
    assert_ne!(by_sysadmin.secret, by_city.secret);

    // The secret is nowhere in the database, only its hash.
    let rows = every_row(&app).await.join("\n");
    assert!(!rows.contains(&by_sysadmin.secret) && !rows.contains(&by_city.secret));

    // The list shows both, with their scopes and secrets' hints, never a secret's value.
    let list = app
        .gql(
            "{ integrationClients { edges { node { clientId name scopes unit { code } lastUsedAt \
               secrets { hint active } changes { action actor { id } } } } } }",
            json!({}),
            Some(&city),
        )
        .await
        .ok();
    let text = list.to_string();
    assert!(!text.contains(&by_city.secret));
    let nodes: Vec<_> =
        list["integrationClients"]["edges"].as_array().unwrap().iter().map(|e| &e["node"]).collect();
    assert_eq!(nodes.len(), 2);
    assert_eq!(s(&nodes[0]["clientId"]), by_city.client_id, "the newest first");
    assert_eq!(nodes[1]["scopes"], json!(["UNITS_READ", "STATISTICS_READ"]));
    assert_eq!(nodes[0]["secrets"][0]["hint"], json!(&by_city.secret[by_city.secret.len() - 4..]));
    assert_eq!(nodes[0]["lastUsedAt"], json!(null));
    let city_id = app.person_id(CITY_ADMIN).await;
    assert_eq!(
        nodes[0]["changes"],
        json!([
            { "action": "REGISTERED", "actor": { "id": city_id } },
            { "action": "SECRET_ADDED", "actor": { "id": city_id } },
        ])
    );
    // Others cannot list them.
    let officer = app.token(LB_OFFICER).await;
    let listed = app.gql("{ integrationClients { edges { node { id } } } }", json!({}), Some(&officer)).await;
    assert!(matches!(listed.code(), Some("FORBIDDEN" | "NOT_FOUND")));
}

#[tokio::test]
async fn bad_registrations_name_their_field_and_write_nothing() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let unit = app.unit_id("HN").await;
    let member_id = app.person_id(MEMBER).await;
    let cases = [
        (
            json!({ "name": " ", "contact": "x", "unitId": unit, "scopes": ["UNITS_READ"] }),
            "input.name",
            "REQUIRED",
        ),
        (
            json!({ "name": "x", "contact": "", "unitId": unit, "scopes": ["UNITS_READ"] }),
            "input.contact",
            "REQUIRED",
        ),
        (json!({ "name": "x", "contact": "y", "unitId": unit, "scopes": [] }), "input.scopes", "REQUIRED"),
        (
            json!({ "name": "x", "contact": "y", "unitId": member_id, "scopes": ["UNITS_READ"] }),
            "input.unitId",
            "INVALID_ID",
        ),
        (
            json!({ "name": "x", "contact": "y", "unitId": unit, "scopes": ["UNITS_READ"], "expiresAt": "2020-01-01T00:00:00Z" }),
            "input.expiresAt",
            "OUT_OF_RANGE",
        ),
        (
            json!({ "name": "x".repeat(121), "contact": "y", "unitId": unit, "scopes": ["UNITS_READ"] }),
            "input.name",
            "TOO_LONG",
        ),
    ];
    for (input, field, reason) in cases {
        let got = app
            .gql(REGISTER, json!({ "i": input }), Some(&admin))
            .await
            .expect_reason("BAD_USER_INPUT", reason);
        assert_eq!(got.field(), Some(field));
    }
    let listed =
        app.gql("{ integrationClients { edges { node { id } } } }", json!({}), Some(&admin)).await.ok();
    assert_eq!(listed["integrationClients"]["edges"], json!([]));
}

#[tokio::test]
async fn registering_and_adding_a_secret_need_a_stepped_up_session() {
    let app = spawn_app_with(&[("APP_STEP_UP", "true")]).await;
    let admin = app.token(SYSADMIN).await;
    let unit = app.unit_id("HN").await;
    app.gql(
        REGISTER,
        json!({ "i": { "name": "x", "contact": "y", "unitId": unit, "scopes": ["UNITS_READ"] } }),
        Some(&admin),
    )
    .await
    .expect_reason("FORBIDDEN", "STEP_UP_REQUIRED");
}

#[tokio::test]
async fn a_client_rotates_with_two_live_secrets_and_revocation_ends_tokens_at_once() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let client = register(&app, &admin, "HN-LB", &["NEWS_READ"]).await;
    let old_token = client_token(&app, &client).await;
    app.gql(UNITS, json!({}), Some(&old_token)).await.ok();

    const ADD: &str =
        "mutation($c: ID!) { addIntegrationClientSecret(clientId: $c) { clientSecret secret { id } } }";
    let added = app.gql(ADD, json!({ "c": client.id }), Some(&admin)).await.ok();
    let new_secret = s(&added["addIntegrationClientSecret"]["clientSecret"]);
    // Two live secrets at most.
    app.gql(ADD, json!({ "c": client.id }), Some(&admin)).await.expect_reason("CONFLICT", "TOO_MANY_SECRETS");
    // Both work while the partner moves to the new one.
    let new_token = post_token(&app, "grant_type=client_credentials", Some((&client.client_id, &new_secret)))
        .await
        .token();
    app.gql(UNITS, json!({}), Some(&old_token)).await.ok();
    app.gql(UNITS, json!({}), Some(&new_token)).await.ok();

    // The old one is revoked: its token stops at once, and it gets no new one.
    const REVOKE_SECRET: &str =
        "mutation($s: ID!) { revokeIntegrationClientSecret(secretId: $s) { active revokedAt } }";
    let revoked = app.gql(REVOKE_SECRET, json!({ "s": client.secret_id }), Some(&admin)).await.ok();
    assert_eq!(revoked["revokeIntegrationClientSecret"]["active"], json!(false));
    app.gql(UNITS, json!({}), Some(&old_token)).await.expect_code("UNAUTHENTICATED");
    let refused =
        post_token(&app, "grant_type=client_credentials", Some((&client.client_id, &client.secret))).await;
    assert_eq!((refused.status, refused.error()), (401, "invalid_client"));
    app.gql(UNITS, json!({}), Some(&new_token)).await.ok();
    app.gql(REVOKE_SECRET, json!({ "s": client.secret_id }), Some(&admin))
        .await
        .expect_reason("CONFLICT", "ALREADY_REVOKED");
    // Now a third can be added.
    app.gql(ADD, json!({ "c": client.id }), Some(&admin)).await.ok();

    // Revoking the client ends everything.
    const REVOKE: &str = "mutation($c: ID!) { revokeIntegrationClient(clientId: $c) { revokedAt secrets { active } changes { action } } }";
    let gone = app.gql(REVOKE, json!({ "c": client.id }), Some(&admin)).await.ok();
    let gone = &gone["revokeIntegrationClient"];
    assert!(gone["secrets"].as_array().unwrap().iter().all(|s| s["active"] == json!(false)));
    assert_eq!(
        gone["changes"].as_array().unwrap().iter().map(|c| s(&c["action"])).collect::<Vec<_>>(),
        ["REGISTERED", "SECRET_ADDED", "SECRET_ADDED", "SECRET_REVOKED", "SECRET_ADDED", "REVOKED"]
    );
    app.gql(UNITS, json!({}), Some(&new_token)).await.expect_code("UNAUTHENTICATED");
    let refused =
        post_token(&app, "grant_type=client_credentials", Some((&client.client_id, &new_secret))).await;
    assert_eq!(refused.error(), "invalid_client");
    app.gql(REVOKE, json!({ "c": client.id }), Some(&admin))
        .await
        .expect_reason("CONFLICT", "ALREADY_REVOKED");
}

#[tokio::test]
async fn the_list_shows_when_a_client_and_its_secrets_were_last_used() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let client = register(&app, &admin, "HN", &["NEWS_READ"]).await;
    client_token(&app, &client).await;
    let got = app
        .gql(
            "query($id: ID!) { integrationClient(id: $id) { lastUsedAt secrets { lastUsedAt } } }",
            json!({ "id": client.id }),
            Some(&admin),
        )
        .await
        .ok();
    assert!(got["integrationClient"]["lastUsedAt"].is_string());
    assert!(got["integrationClient"]["secrets"][0]["lastUsedAt"].is_string());
}

#[tokio::test]
async fn a_client_is_never_a_person() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let client = register(&app, &admin, "HN", &["UNITS_READ", "STATISTICS_READ"]).await;
    let token = client_token(&app, &client).await;
    app.gql(ME, json!({}), Some(&token)).await.expect_code("FORBIDDEN");
    app.gql("{ integrationClients { edges { node { id } } } }", json!({}), Some(&token))
        .await
        .expect_code("FORBIDDEN");
}
