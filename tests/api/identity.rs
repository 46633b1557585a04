//! Accounts and sessions: registration, password storage, login and its throttling, refresh
//! rotation and reuse detection, logout, password change, and access-token validation.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use entities::{person, refresh_token};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

const PASSWORD: &str = "hoa-sen-2024";
const ME: &str = "{ me { id phone } }";
const REGISTER: &str = "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }";
const LOGIN: &str = "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }";
const CHANGE_PASSWORD: &str = "mutation($i: ChangePasswordInput!) { changePassword(input: $i) }";

/// Registers with the phone proved by a code.
async fn register_gql(app: &TestApp, phone: &str, name: &str, password: &str) -> Gql {
    app.register_with(phone, json!({ "fullName": name, "password": password })).await
}

/// Registers with a token that proves nothing (its fields are checked first).
async fn register_unverified(app: &TestApp, phone: &str, name: &str, password: &str) -> Gql {
    let input = json!({ "phone": phone, "fullName": name, "password": password, "verificationToken": "x", "privacyNoticeVersion": "2026-12" });
    app.gql(REGISTER, json!({ "i": input }), None).await
}

async fn login_gql(app: &TestApp, phone: &str, password: &str) -> Gql {
    app.gql(LOGIN, json!({ "i": { "phone": phone, "password": password } }), None).await
}

async fn refresh_gql(app: &TestApp, refresh: &str) -> Gql {
    app.gql(REFRESH, json!({ "t": refresh }), None).await
}

/// Refreshes and returns the new (access, refresh) pair.
async fn refresh_ok(app: &TestApp, refresh: &str) -> (String, String) {
    let data = refresh_gql(app, refresh).await.ok();
    let r = &data["refreshSession"];
    (r["accessToken"].as_str().unwrap().to_owned(), r["refreshToken"].as_str().unwrap().to_owned())
}

async fn me(app: &TestApp, token: &str) -> Gql {
    app.gql(ME, json!({}), Some(token)).await
}

async fn person_count(app: &TestApp) -> u64 {
    person::Entity::find().count(&app.state.db).await.unwrap()
}

async fn change_password(app: &TestApp, token: &str, current: &str, new: &str) -> Gql {
    app.gql(CHANGE_PASSWORD, json!({ "i": { "currentPassword": current, "newPassword": new } }), Some(token))
        .await
}

// ---------------------------------------------------------------------------------------------
// Registration

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_accepts_every_common_phone_form_and_stores_plus84() {
    let app = spawn_app().await;
    for (raw, normalised) in
        [("0912 345 678", "+84912345678"), ("+84987654321", "+84987654321"), ("84356789012", "+84356789012")]
    {
        let (access, _, _) = app.register(raw, "Nguyễn Thị Hoa", PASSWORD).await;
        let data = me(&app, &access).await.ok();
        assert_eq!(data["me"]["phone"], normalised, "registered as {raw}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_the_same_number_in_another_form_is_a_conflict() {
    // Each try asks for a code to the same number at once.
    let app = spawn_app_with(&[("APP_PHONE_CODE_COOLDOWN_SECS", "0")]).await;
    let (access, _, _) = app.register("0912 345 678", "Nguyễn Thị Hoa", PASSWORD).await;
    assert_eq!(me(&app, &access).await.ok()["me"]["phone"], "+84912345678");
    for other_form in ["+84912345678", "84912345678", "0912345678"] {
        register_gql(&app, other_form, "Trần Thị Lan", "khac-mat-khau-99").await.expect_code("CONFLICT");
    }
    let stored = person::Entity::find()
        .filter(person::Column::Phone.eq("+84912345678"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_refuses_bad_input_by_field_and_writes_nothing() {
    let app = spawn_app().await;
    let before = person_count(&app).await;
    let cases = [
        ("12345", "Nguyễn Thị Hoa", PASSWORD, "input.phone"),
        ("0212345678", "Nguyễn Thị Hoa", PASSWORD, "input.phone"),
        ("0912345678", "Nguyễn Thị Hoa", "short1", "input.password"),
        ("0912345678", "Nguyễn Thị Hoa", "onlyletters", "input.password"),
        ("0912345678", "Nguyễn Thị Hoa", "1234567890", "input.password"),
        ("0912345678", "A", PASSWORD, "input.fullName"),
        ("0912345678", "Hoa <script>", PASSWORD, "input.fullName"),
        // Every field right, and no proof of the number.
        ("0912345678", "Nguyễn Thị Hoa", PASSWORD, "input.verificationToken"),
    ];
    for (phone, name, password, field) in cases {
        let res = register_unverified(&app, phone, name, password).await;
        assert_eq!(res.code(), Some("BAD_USER_INPUT"), "{phone}/{name}/{password}: {}", res.body);
        assert_eq!(res.field(), Some(field), "{phone}/{name}/{password}: {}", res.body);
    }
    assert_eq!(person_count(&app).await, before);
}

// ---------------------------------------------------------------------------------------------
// Storage of secrets

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_are_stored_as_argon2id_with_owasp_parameters() {
    let app = spawn_app().await;
    app.register("0912345678", "Nguyễn Thị Hoa", PASSWORD).await;
    let stored = person::Entity::find()
        .filter(person::Column::Phone.eq("+84912345678"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let hash = stored.password_hash.unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_are_stored_only_as_a_sha256_hex_digest() {
    let app = spawn_app().await;
    let (_, first, _) = app.register("0912345678", "Nguyễn Thị Hoa", PASSWORD).await;
    let (_, second) = refresh_ok(&app, &first).await;
    let (_, third) = app.login("0912345678", PASSWORD).await;
    let rows = refresh_token::Entity::find().all(&app.state.db).await.unwrap();
    assert!(rows.len() >= 3);
    for row in &rows {
        let h = &row.token_hash;
        assert_eq!(h.len(), 64, "{h}");
        assert!(h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{h}");
        for token in [&first, &second, &third] {
            assert!(!h.contains(token.as_str()) && !token.contains(h.as_str()));
        }
    }
    for token in [&first, &second, &third] {
        let found = refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(token.as_str()))
            .count(&app.state.db)
            .await
            .unwrap();
        assert_eq!(found, 0);
    }
}

// ---------------------------------------------------------------------------------------------
// Login

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_a_wrong_password_is_unauthenticated() {
    let app = spawn_app().await;
    login_gql(&app, MEMBER, "wrong-password-1").await.expect_code("UNAUTHENTICATED");
    // The right password works, so the refusal was about the password.
    login_gql(&app, MEMBER, DEMO_PASSWORD).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_an_unknown_phone_is_unauthenticated() {
    let app = spawn_app().await;
    login_gql(&app, "0911111111", DEMO_PASSWORD).await.expect_code("UNAUTHENTICATED");
}

// ---------------------------------------------------------------------------------------------
// Refresh

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_session_rotates_both_tokens_and_the_new_access_token_works() {
    let app = spawn_app().await;
    let (access, refresh) = app.login(MEMBER, DEMO_PASSWORD).await;
    let (new_access, new_refresh) = refresh_ok(&app, &refresh).await;
    assert_ne!(new_access, access);
    assert_ne!(new_refresh, refresh);
    assert_eq!(me(&app, &new_access).await.ok()["me"]["phone"], MEMBER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_a_rotated_refresh_token_revokes_the_whole_family() {
    // Without the grace window a retry is a reuse too (accounts::sessions tests the window).
    let app = spawn_app_with(&[("APP_REFRESH_REUSE_GRACE_SECS", "0")]).await;
    let (_, r0) = app.login(MEMBER, DEMO_PASSWORD).await;
    let (other_access, _) = app.login(MEMBER, DEMO_PASSWORD).await;
    let (_, r1) = refresh_ok(&app, &r0).await;
    let (a2, r2) = refresh_ok(&app, &r1).await;
    me(&app, &a2).await.ok();

    refresh_gql(&app, &r1).await.expect_code("UNAUTHENTICATED");

    refresh_gql(&app, &r2).await.expect_code("UNAUTHENTICATED");
    me(&app, &a2).await.expect_code("UNAUTHENTICATED");
    // Only that family: another session of the same person is untouched.
    me(&app, &other_access).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_token_let_exactly_one_win() {
    let app = spawn_app_with(&[("APP_REFRESH_REUSE_GRACE_SECS", "0")]).await;
    let (_, refresh) = app.login(MEMBER, DEMO_PASSWORD).await;
    let attempts = (0..8).map(|_| refresh_gql(&app, &refresh));
    let results = futures_util::future::join_all(attempts).await;
    let winners = results.iter().filter(|r| !r.has_errors()).count();
    assert_eq!(winners, 1, "{results:#?}");
    for loser in results.iter().filter(|r| r.has_errors()) {
        assert_eq!(loser.code(), Some("UNAUTHENTICATED"), "{}", loser.body);
    }
}

// ---------------------------------------------------------------------------------------------
// Logout

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_kills_the_access_token_at_once_and_the_refresh_token() {
    let app = spawn_app().await;
    let (access, refresh) = app.login(MEMBER, DEMO_PASSWORD).await;
    me(&app, &access).await.ok();
    let data = app.gql("mutation { logout }", json!({}), Some(&access)).await.ok();
    assert_eq!(data["logout"], true);
    me(&app, &access).await.expect_code("UNAUTHENTICATED");
    refresh_gql(&app, &refresh).await.expect_code("UNAUTHENTICATED");
}

// ---------------------------------------------------------------------------------------------
// Password change

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_password_with_a_wrong_current_password_names_current_password() {
    let app = spawn_app().await;
    let access = app.token(MEMBER).await;
    let res = change_password(&app, &access, "not-the-password-1", "moi-mat-khau-77").await;
    assert_eq!(res.code(), Some("BAD_USER_INPUT"), "{}", res.body);
    assert_eq!(res.field(), Some("currentPassword"));
    // Nothing changed: the old password still logs in.
    login_gql(&app, MEMBER, DEMO_PASSWORD).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_password_to_a_weak_password_names_new_password() {
    let app = spawn_app().await;
    let access = app.token(MEMBER).await;
    for weak in ["short1", "onlyletters", "1234567890"] {
        let res = change_password(&app, &access, DEMO_PASSWORD, weak).await;
        assert_eq!(res.code(), Some("BAD_USER_INPUT"), "{weak}: {}", res.body);
        assert_eq!(res.field(), Some("newPassword"), "{weak}");
    }
    login_gql(&app, MEMBER, DEMO_PASSWORD).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_password_keeps_the_caller_signs_out_other_sessions_and_swaps_passwords() {
    let app = spawn_app().await;
    let (mine, my_refresh) = app.login(MEMBER, DEMO_PASSWORD).await;
    let (other, other_refresh) = app.login(MEMBER, DEMO_PASSWORD).await;
    let new_password = "moi-mat-khau-77";

    let data = change_password(&app, &mine, DEMO_PASSWORD, new_password).await.ok();
    assert_eq!(data["changePassword"], true);

    me(&app, &mine).await.ok();
    refresh_ok(&app, &my_refresh).await;
    me(&app, &other).await.expect_code("UNAUTHENTICATED");
    refresh_gql(&app, &other_refresh).await.expect_code("UNAUTHENTICATED");
    login_gql(&app, MEMBER, DEMO_PASSWORD).await.expect_code("UNAUTHENTICATED");
    login_gql(&app, MEMBER, new_password).await.ok();
}

// ---------------------------------------------------------------------------------------------
// Throttling

fn retry_after(res: &Gql) -> Option<u64> {
    res.body["errors"][0]["extensions"]["retryAfter"].as_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failures_for_a_phone_lock_it_even_for_the_right_password() {
    let app = spawn_app().await;
    for _ in 0..5 {
        login_gql(&app, MEMBER, "wrong-password-1").await.expect_code("UNAUTHENTICATED");
    }
    let res = login_gql(&app, MEMBER, DEMO_PASSWORD).await.expect_code("RATE_LIMITED");
    assert!(retry_after(&res).is_some_and(|s| s > 0), "{}", res.body);
    // The lock is per phone: another account from the same address still signs in.
    login_gql(&app, LB_OFFICER, DEMO_PASSWORD).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_spread_over_phones_lock_the_address() {
    let app = spawn_app_with(&[("APP_LOGIN_MAX_FAILURES_PER_ADDRESS", "3")]).await;
    for phone in [SYSADMIN, CITY_ADMIN, LB_OFFICER] {
        login_gql(&app, phone, "wrong-password-1").await.expect_code("UNAUTHENTICATED");
    }
    let res = login_gql(&app, MEMBER, DEMO_PASSWORD).await.expect_code("RATE_LIMITED");
    assert!(retry_after(&res).is_some_and(|s| s > 0), "{}", res.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_lifts_when_the_failure_window_ends() {
    let app = spawn_app_with(&[("APP_LOGIN_FAILURE_WINDOW_SECS", "2")]).await;
    for _ in 0..5 {
        login_gql(&app, MEMBER, "wrong-password-1").await.expect_code("UNAUTHENTICATED");
    }
    login_gql(&app, MEMBER, DEMO_PASSWORD).await.expect_code("RATE_LIMITED");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    login_gql(&app, MEMBER, DEMO_PASSWORD).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successful_login_clears_the_phone_failure_counter() {
    let app = spawn_app().await;
    for _ in 0..4 {
        login_gql(&app, MEMBER, "wrong-password-1").await.expect_code("UNAUTHENTICATED");
    }
    login_gql(&app, MEMBER, DEMO_PASSWORD).await.ok();
    for _ in 0..4 {
        login_gql(&app, MEMBER, "wrong-password-1").await.expect_code("UNAUTHENTICATED");
    }
    login_gql(&app, MEMBER, DEMO_PASSWORD).await.ok();
}

// ---------------------------------------------------------------------------------------------
// Access tokens

/// The claims of a real access token (its payload, unverified).
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Fresh claims for the session of a real token; `edit` changes them.
pub fn claims_like(token: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let real = claims_of(token);
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": TEST_ISSUER,
        "aud": TEST_AUDIENCE,
        "sub": real["sub"],
        "sid": real["sid"],
        "iat": now,
        "exp": now + 600,
        "jti": Uuid::new_v4(),
        "typ": "access",
    });
    edit(&mut claims);
    claims
}

pub fn sign(alg: Algorithm, secret: &str, claims: &Value) -> String {
    encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_forged_with_the_right_secret_and_claims_is_accepted() {
    // The control for the negative cases below: the forging itself is right.
    let app = spawn_app().await;
    let real = app.token(MEMBER).await;
    let forged = sign(Algorithm::HS256, TEST_JWT_SECRET, &claims_like(&real, |_| {}));
    assert_eq!(me(&app, &forged).await.ok()["me"]["phone"], MEMBER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_alg_none_token_is_refused() {
    let app = spawn_app().await;
    let real = app.token(MEMBER).await;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(claims_like(&real, |_| {}).to_string());
    let token = format!("{header}.{claims}.");
    me(&app, &token).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_signed_with_another_hmac_algorithm_are_refused() {
    let app = spawn_app().await;
    let real = app.token(MEMBER).await;
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let token = sign(alg, TEST_JWT_SECRET, &claims_like(&real, |_| {}));
        me(&app, &token).await.expect_code("UNAUTHENTICATED");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signed_with_another_secret_is_refused() {
    let app = spawn_app().await;
    let real = app.token(MEMBER).await;
    let token =
        sign(Algorithm::HS256, "another-secret-0123456789abcdef0123456789", &claims_like(&real, |_| {}));
    me(&app, &token).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_with_a_wrong_audience_issuer_expiry_or_type_are_refused() {
    let app = spawn_app().await;
    let real = app.token(MEMBER).await;
    let hour_ago = chrono::Utc::now().timestamp() - 3600;
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let edits: [(&str, Edit); 4] = [
        ("aud", Box::new(|c| c["aud"] = json!("someone-else-api"))),
        ("iss", Box::new(|c| c["iss"] = json!("someone-else"))),
        (
            "exp",
            Box::new(move |c| {
                c["iat"] = json!(hour_ago - 900);
                c["exp"] = json!(hour_ago);
            }),
        ),
        ("typ", Box::new(|c| c["typ"] = json!("refresh"))),
    ];
    for (what, edit) in edits {
        let token = sign(Algorithm::HS256, TEST_JWT_SECRET, &claims_like(&real, edit));
        let res = me(&app, &token).await;
        assert_eq!(res.code(), Some("UNAUTHENTICATED"), "wrong {what}: {}", res.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_issued_in_the_future_is_refused() {
    let app = spawn_app().await;
    let real = app.token(MEMBER).await;
    let in_a_minute = chrono::Utc::now().timestamp() + 60;
    let token = sign(
        Algorithm::HS256,
        TEST_JWT_SECRET,
        &claims_like(&real, |c| {
            c["iat"] = json!(in_a_minute);
            c["exp"] = json!(in_a_minute + 900);
        }),
    );
    me(&app, &token).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_is_not_a_bearer_token() {
    let app = spawn_app().await;
    let (_, refresh) = app.login(MEMBER, DEMO_PASSWORD).await;
    me(&app, &refresh).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_without_a_token_is_unauthenticated() {
    let app = spawn_app().await;
    app.gql(ME, json!({}), None).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_query_with_an_invalid_token_still_answers() {
    let app = spawn_app().await;
    let data = app
        .gql("{ orgUnits(first: 1) { edges { node { name } } } }", json!({}), Some("not-a-jwt"))
        .await
        .ok();
    assert_eq!(data["orgUnits"]["edges"].as_array().unwrap().len(), 1);
    assert!(data["orgUnits"]["edges"][0]["node"]["name"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_gets_one_password_check() {
    let app = spawn_app().await;
    let res = app
        .gql(
            "mutation($i: LoginInput!) { a: login(input: $i) { accessToken } b: login(input: $i) { accessToken } }",
            json!({ "i": { "phone": MEMBER, "password": DEMO_PASSWORD } }),
            None,
        )
        .await;
    let errors = res.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{}", res.body);
    assert_eq!(errors[0]["path"], json!(["b"]));
    assert_eq!(errors[0]["extensions"]["code"], "BAD_USER_INPUT");
}

// ---------------------------------------------------------------------------------------------
// Hardening

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_cannot_slip_past_the_limit() {
    let app = spawn_app().await;
    let guesses = (0..12).map(|i| {
        let app = &app;
        async move { login_gql(app, MEMBER, &format!("wrong-guess-{i}")).await }
    });
    let results = futures_util::future::join_all(guesses).await;
    let checked = results.iter().filter(|r| r.code() == Some("UNAUTHENTICATED")).count();
    let limited = results.iter().filter(|r| r.code() == Some("RATE_LIMITED")).count();
    assert!(checked <= 5, "{checked} passwords were checked");
    assert_eq!(checked + limited, 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_for_chain_counts_only_the_address_the_proxy_saw() {
    let app =
        spawn_app_with(&[("APP_TRUST_FORWARDED_FOR", "true"), ("APP_LOGIN_MAX_FAILURES_PER_ADDRESS", "3")])
            .await;
    let attempt = |i: u32| {
        let app = &app;
        async move {
            let body = json!({ "query": LOGIN, "variables": { "i": { "phone": format!("09120000{i:02}"), "password": "wrong-pass-1" } } });
            let resp = app
                .client
                .post(app.url("/graphql"))
                .header("x-forwarded-for", format!("203.0.113.{i}, 198.51.100.7"))
                .json(&body)
                .send()
                .await
                .unwrap();
            Gql { status: resp.status().as_u16(), body: resp.json().await.unwrap() }
        }
    };
    for i in 0..3 {
        attempt(i).await.expect_code("UNAUTHENTICATED");
    }
    // The spoofed first entry changes every time; the proxy's entry does not.
    attempt(3).await.expect_code("RATE_LIMITED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_password_guesses_are_throttled() {
    let app = spawn_app().await;
    let token = app.token(MEMBER).await;
    for i in 0..5 {
        change_password(&app, &token, &format!("wrong-current-{i}"), "new-pass-2026")
            .await
            .expect_code("BAD_USER_INPUT");
    }
    change_password(&app, &token, DEMO_PASSWORD, "new-pass-2026").await.expect_code("RATE_LIMITED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_refresh_token_does_not_refresh() {
    let app = spawn_app_with(&[("APP_REFRESH_TOKEN_TTL_SECS", "1")]).await;
    let (_, refresh) = app.login(MEMBER, DEMO_PASSWORD).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    refresh_gql(&app, &refresh).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_are_limited_per_address() {
    let app = spawn_app_with(&[("APP_REGISTER_MAX_PER_ADDRESS", "2")]).await;
    register_gql(&app, "0911000001", "Lý Thị Một", "sen-vang-2026").await.ok();
    register_gql(&app, "0911000002", "Lý Thị Hai", "sen-vang-2026").await.ok();
    register_gql(&app, "0911000003", "Lý Thị Ba", "sen-vang-2026").await.expect_code("RATE_LIMITED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_typed_in_decomposed_form_is_accepted_and_stored_composed() {
    let app = spawn_app().await;
    let decomposed = "Nguye\u{302}\u{303}n Thi\u{323} Hoa";
    let token =
        register_gql(&app, "0911000009", decomposed, "sen-vang-2026").await.ok()["register"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();
    let data = app.gql("{ me { fullName } }", json!({}), Some(&token)).await.ok();
    assert_eq!(data["me"]["fullName"], "Nguyễn Thị Hoa");
}

const UPDATE_PROFILE: &str =
    "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { gender birthDate email } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gender_is_optional_given_at_registration_and_editable() {
    let app = spawn_app().await;
    let data = app
        .register_with(
            "0912000111",
            json!({ "fullName": "Lò Thị Giới", "password": "sen-hong-2026", "gender": "FEMALE" }),
        )
        .await
        .ok();
    let token = data["register"]["accessToken"].as_str().unwrap().to_owned();
    let me = app.gql("{ me { gender } }", json!({}), Some(&token)).await.ok();
    assert_eq!(me["me"]["gender"], "FEMALE");
    let stored = || async {
        entities::person::Entity::find()
            .filter(entities::person::Column::Phone.eq("+84912000111"))
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(stored().await.gender.map(|g| g.as_str()), Some("FEMALE"));

    // A field left out stays; null clears; a value sets.
    let p = app.gql(UPDATE_PROFILE, json!({ "i": { "birthDate": "1990-04-30" } }), Some(&token)).await.ok();
    assert_eq!(p["updateProfile"]["gender"], "FEMALE");
    assert_eq!(p["updateProfile"]["birthDate"], "1990-04-30");
    let p = app.gql(UPDATE_PROFILE, json!({ "i": { "gender": null } }), Some(&token)).await.ok();
    assert!(p["updateProfile"]["gender"].is_null());
    assert_eq!(p["updateProfile"]["birthDate"], "1990-04-30");
    assert_eq!(stored().await.gender, None);
    let p = app.gql(UPDATE_PROFILE, json!({ "i": { "gender": "MALE" } }), Some(&token)).await.ok();
    assert_eq!(p["updateProfile"]["gender"], "MALE");
    assert_eq!(stored().await.gender.map(|g| g.as_str()), Some("MALE"));

    // Bad values are refused with their field, and change nothing.
    let bad = app
        .gql(UPDATE_PROFILE, json!({ "i": { "email": "not-an-email", "gender": "OTHER" } }), Some(&token))
        .await;
    assert_eq!((bad.code(), bad.field()), (Some("BAD_USER_INPUT"), Some("input.email")));
    let bad = app.gql(UPDATE_PROFILE, json!({ "i": { "birthDate": "2999-01-01" } }), Some(&token)).await;
    assert_eq!((bad.code(), bad.field()), (Some("BAD_USER_INPUT"), Some("input.birthDate")));
    assert_eq!(stored().await.gender.map(|g| g.as_str()), Some("MALE"));
    app.gql(UPDATE_PROFILE, json!({ "i": { "gender": "FEMALE" } }), None)
        .await
        .expect_code("UNAUTHENTICATED");
}

/// A login as if from client address `addr` (the app trusts `X-Forwarded-For`).
async fn login_from(app: &TestApp, addr: &str, phone: &str, password: &str, device: Option<&str>) -> Gql {
    let q = "mutation($i: LoginInput!) { login(input: $i) { accessToken deviceToken } }";
    app.gql_from(addr, q, json!({ "i": { "phone": phone, "password": password, "deviceToken": device } }))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_cannot_lock_a_woman_out_of_her_account() {
    let app = spawn_app_with(&[("APP_TRUST_FORWARDED_FOR", "true")]).await;
    // She signs in on her phone once: the app keeps the device token.
    let first = login_from(&app, "198.51.100.1", MEMBER, DEMO_PASSWORD, None).await.ok();
    let device = s(&first["login"]["deviceToken"]);
    let other = login_from(&app, "198.51.100.2", CITY_ADMIN, DEMO_PASSWORD, None).await.ok();
    let someone_elses = s(&other["login"]["deviceToken"]);

    // 25 wrong passwords for her number from 25 addresses.
    for n in 0..25 {
        let res = login_from(&app, &format!("203.0.113.{n}"), MEMBER, "sai-mat-khau-1", None).await;
        assert!(matches!(res.code(), Some("UNAUTHENTICATED" | "RATE_LIMITED")), "{}", res.body);
    }
    // From a new address without a known device, even the right password waits (distributed
    // guessing stays bounded)…
    login_from(&app, "192.0.2.10", MEMBER, DEMO_PASSWORD, None).await.expect_code("RATE_LIMITED");
    login_from(&app, "192.0.2.11", MEMBER, DEMO_PASSWORD, Some(&someone_elses))
        .await
        .expect_code("RATE_LIMITED");
    // …but from her own device, wherever it is, she signs in.
    let back = login_from(&app, "192.0.2.12", MEMBER, DEMO_PASSWORD, Some(&device)).await.ok();
    assert_eq!(s(&back["login"]["deviceToken"]), device);
    // A known device does not lift the limit per address: guessing from it is still throttled.
    for _ in 0..5 {
        login_from(&app, "192.0.2.13", MEMBER, "sai-mat-khau-2", Some(&device))
            .await
            .expect_code("UNAUTHENTICATED");
    }
    login_from(&app, "192.0.2.13", MEMBER, DEMO_PASSWORD, Some(&device)).await.expect_code("RATE_LIMITED");
}
