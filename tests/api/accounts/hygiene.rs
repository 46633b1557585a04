//! Production refuses to start while demo accounts with the public demo password exist.

use serde_json::json;

use crate::helpers::*;

const PRODUCTION: [(&str, &str); 4] = [
    ("APP_ENV", "production"),
    ("APP_SEED_DEMO_DATA", "false"),
    ("APP_SMS_PROVIDER", "http"),
    ("APP_SMS_GATEWAY_URL", "http://127.0.0.1:9/unused"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_refuses_a_database_with_demo_accounts_until_they_are_removed() {
    // A development start loaded the demo data; the same database is then started in production.
    let app = spawn_app().await;
    match app.try_peer_with(&PRODUCTION).await {
        Err(api::startup::StartupError::DemoAccounts(phones)) => {
            for demo in [SYSADMIN, CITY_ADMIN, BD_CASE_OFFICER, MEMBER] {
                assert!(phones.contains(demo), "{phones}");
            }
            let message = api::startup::StartupError::DemoAccounts(phones).to_string();
            assert!(message.contains("api remove-demo-accounts"), "the notice says how: {message}");
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("production started with the demo accounts in its database"),
    }
    // A demo account whose password was changed no longer has the public one: it is not held
    // against the database, nor removed.
    let token = app.token(MEMBER).await;
    let change = "mutation($i: ChangePasswordInput!) { changePassword(input: $i) }";
    app.gql(
        change,
        json!({ "i": { "currentPassword": DEMO_PASSWORD, "newPassword": "rieng-cua-toi-9" } }),
        Some(&token),
    )
    .await
    .ok();

    let removed = service::seed::remove_demo_accounts(&app.state).await.unwrap();
    assert_eq!(removed.len(), service::seed::DEMO_ACCOUNTS.len() - 1);
    assert!(!removed.contains(&MEMBER));
    assert!(service::seed::remove_demo_accounts(&app.state).await.unwrap().is_empty(), "idempotent");
    let production = app.try_peer_with(&PRODUCTION).await.expect("production starts once they are gone");
    let login = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }";
    production
        .gql(login, json!({ "i": { "phone": CITY_ADMIN, "password": DEMO_PASSWORD } }), None)
        .await
        .expect_code("UNAUTHENTICATED");
    production
        .gql(login, json!({ "i": { "phone": MEMBER, "password": "rieng-cua-toi-9" } }), None)
        .await
        .ok();
}
