//! A forgotten password reset with a code, and a phone number changed with the password and a
//! code to the new number.

use serde_json::{Value, json};

use crate::fixtures::{PASSWORD, Series};
use crate::helpers::*;

const RESET: &str = "mutation($i: ResetPasswordInput!) { resetPassword(input: $i) { accessToken refreshToken person { id } } }";
const CHANGE_PHONE: &str =
    "mutation($i: ChangePhoneInput!) { changePhone(input: $i) { phone phoneVerified } }";
const ME: &str = "{ me { id phone phoneVerified } }";
const REFRESH: &str = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }";
const NEW_PASSWORD: &str = "sen-trang-2027";

fn phone(n: u32) -> String {
    Series::ACCOUNTS.phone(200 + n)
}

async fn kinds(app: &TestApp, token: &str) -> Vec<String> {
    let data = app
        .gql("{ notifications(first: 20) { edges { node { kind } } } }", json!({}), Some(token))
        .await
        .ok();
    data["notifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["kind"].as_str().unwrap().to_owned())
        .collect()
}

async fn reset(app: &TestApp, token: &str, password: &str) -> Gql {
    app.gql(RESET, json!({ "i": { "verificationToken": token, "newPassword": password } }), None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_with_a_code_and_every_session_ends() {
    let app = spawn_app().await;
    let (first, first_refresh, person) = app.register(&phone(1), "Lê Thị Quên", PASSWORD).await;
    let (second, second_refresh) = app.login(&phone(1), PASSWORD).await;
    let proof = app.verified_phone(&phone(1), "RESET_PASSWORD", None).await;

    // A weak password is refused by field, and the proof is not spent by it.
    let weak = reset(&app, &proof, "password").await.expect_reason("BAD_USER_INPUT", "WEAK_PASSWORD");
    assert_eq!(weak.field(), Some("input.newPassword"));
    let data = reset(&app, &proof, NEW_PASSWORD).await.ok();
    let fresh = data["resetPassword"]["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(data["resetPassword"]["person"]["id"], person.as_str());
    assert_eq!(app.gql(ME, json!({}), Some(&fresh)).await.ok()["me"]["phoneVerified"], true);

    // Every earlier session ended at once: access tokens and refresh tokens alike.
    for token in [&first, &second] {
        app.gql(ME, json!({}), Some(token)).await.expect_code("UNAUTHENTICATED");
    }
    for refresh in [&first_refresh, &second_refresh] {
        app.gql(REFRESH, json!({ "t": refresh }), None).await.expect_code("UNAUTHENTICATED");
    }
    let login = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }";
    app.gql(login, json!({ "i": { "phone": phone(1), "password": PASSWORD } }), None)
        .await
        .expect_code("UNAUTHENTICATED");
    app.login(&phone(1), NEW_PASSWORD).await;
    assert!(kinds(&app, &fresh).await.contains(&"PASSWORD_RESET".to_owned()), "she is told");
    // The proof worked once.
    reset(&app, &proof, "sen-trang-2028").await.expect_reason("BAD_USER_INPUT", "ALREADY_USED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_takes_only_a_reset_proof() {
    let app = spawn_app().await;
    app.register(&phone(10), "Lê Thị Mười", PASSWORD).await;
    let register_proof = app.verified_phone(&phone(11), "REGISTER", None).await;
    reset(&app, &register_proof, NEW_PASSWORD).await.expect_reason("BAD_USER_INPUT", "INVALID_FORMAT");
    reset(&app, "not-a-token", NEW_PASSWORD).await.expect_reason("BAD_USER_INPUT", "INVALID_FORMAT");
    app.login(&phone(10), PASSWORD).await;
}

async fn change(app: &TestApp, token: &str, password: &str, proof: &str) -> Gql {
    app.gql(CHANGE_PHONE, json!({ "i": { "password": password, "verificationToken": proof } }), Some(token))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_number_needs_the_password_and_a_code_to_it_and_the_old_number_is_told() {
    let app = spawn_app().await;
    let (token, _, _) = app.register(&phone(20), "Lê Thị Đổi", PASSWORD).await;
    let proof = app.verified_phone(&phone(21), "CHANGE_PHONE", Some(&token)).await;
    let wrong = change(&app, &token, "sai-mat-khau-1", &proof)
        .await
        .expect_reason("BAD_USER_INPUT", "WRONG_PASSWORD");
    assert_eq!(wrong.field(), Some("input.password"));
    let data = change(&app, &token, PASSWORD, &proof).await.ok();
    assert_eq!(
        data["changePhone"],
        json!({ "phone": Series::ACCOUNTS.stored_phone(221), "phoneVerified": true })
    );

    // The old number hears of it (no code in that message).
    let mut told: Vec<Sms> = Vec::new();
    for _ in 0..500 {
        told = app.sms.to(&phone(20)).into_iter().filter(|m| m.code.is_none()).collect();
        if !told.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(told.len(), 1, "one notice to the old number");
    assert!(told[0].text.contains("221"), "{}", told[0].text);
    assert!(kinds(&app, &token).await.contains(&"PHONE_CHANGED".to_owned()));

    // She signs in with the new number only.
    app.login(&phone(21), PASSWORD).await;
    let login = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }";
    app.gql(login, json!({ "i": { "phone": phone(20), "password": PASSWORD } }), None)
        .await
        .expect_code("UNAUTHENTICATED");
    // The proof was spent.
    change(&app, &token, PASSWORD, &proof).await.expect_reason("BAD_USER_INPUT", "ALREADY_USED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_held_by_another_record_is_not_taken_over() {
    let app = spawn_app().await;
    let (token, _, _) = app.register(&phone(30), "Lê Thị Ba Mươi", PASSWORD).await;
    app.register(&phone(31), "Lê Thị Có Số", PASSWORD).await;
    let proof = app.verified_phone(&phone(31), "CHANGE_PHONE", Some(&token)).await;
    change(&app, &token, PASSWORD, &proof).await.expect_reason("CONFLICT", "PHONE_TAKEN");
    let me: Value = app.gql(ME, json!({}), Some(&token)).await.ok();
    assert_eq!(me["me"]["phone"], Series::ACCOUNTS.stored_phone(230));
    // Someone else's proof of a new number is no use to her.
    let (other, _, _) = app.register(&phone(32), "Lê Thị Khác", PASSWORD).await;
    let theirs = app.verified_phone(&phone(33), "CHANGE_PHONE", Some(&other)).await;
    change(&app, &token, PASSWORD, &theirs).await.expect_reason("BAD_USER_INPUT", "INVALID_FORMAT");
}
