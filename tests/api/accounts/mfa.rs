//! Two-step verification for officers: TOTP enrolment with recovery codes, sign-in with a code
//! (driven by the server's clock), the requirement for the roles that see sensitive data, and
//! the step-up before the most sensitive actions.

use chrono::Duration;
use data_encoding::BASE32_NOPAD;
use serde_json::{Value, json};
use service::identity::mfa::{step_of, totp};

use crate::fixtures::{PASSWORD, Series};
use crate::helpers::*;

const START: &str = "mutation { startTotpEnrolment { secret otpauthUri } }";
const CONFIRM: &str =
    "mutation($c: String!) { confirmTotpEnrolment(code: $c) { recoveryCodes accessToken } }";
const LOGIN: &str = "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }";
const STEP_UP: &str = "mutation($i: StepUpInput!) { stepUp(input: $i) { until accessToken } }";
const QUEUE: &str = "{ violenceReports(first: 5) { totalCount } }";

fn phone(n: u32) -> String {
    Series::ACCOUNTS.phone(600 + n)
}

/// The code of `secret` now on the app's clock, `steps` steps away.
fn code(app: &TestApp, secret: &[u8], steps: i64) -> String {
    totp(secret, step_of(app.state.clock.now()) + steps)
}

/// Enrols the account behind `token`: (the secret, the recovery codes, the session's new token).
async fn enrol(app: &TestApp, token: &str) -> (Vec<u8>, Vec<String>, String) {
    let started = app.gql(START, json!({}), Some(token)).await.ok();
    let encoded = started["startTotpEnrolment"]["secret"].as_str().unwrap().to_owned();
    let uri = started["startTotpEnrolment"]["otpauthUri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/") && uri.contains(&format!("secret={encoded}")), "{uri}");
    assert!(uri.contains("period=30") && uri.contains("digits=6"), "{uri}");
    let secret = BASE32_NOPAD.decode(encoded.as_bytes()).unwrap();
    assert_eq!(secret.len(), 20);
    let done = app.gql(CONFIRM, json!({ "c": code(app, &secret, 0) }), Some(token)).await.ok();
    let codes = done["confirmTotpEnrolment"]["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes, done["confirmTotpEnrolment"]["accessToken"].as_str().unwrap().to_owned())
}

async fn login(app: &TestApp, phone: &str, otp: Option<&str>) -> Gql {
    app.gql(LOGIN, json!({ "i": { "phone": phone, "password": PASSWORD, "otp": otp } }), None).await
}

fn access(res: Gql) -> String {
    res.ok()["login"]["accessToken"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_totp_on_signing_in_needs_a_fresh_code_each_time() {
    let app = spawn_app_with(&[("APP_LOGIN_MAX_FAILURES_PER_PHONE", "50")]).await;
    let (token, _, _) = app.register(&phone(1), "Hà Thị Hai Lớp", PASSWORD).await;
    // A wrong first code does not turn it on.
    let started = app.gql(START, json!({}), Some(&token)).await.ok();
    let secret =
        BASE32_NOPAD.decode(started["startTotpEnrolment"]["secret"].as_str().unwrap().as_bytes()).unwrap();
    let wrong = format!("{:06}", (code(&app, &secret, 0).parse::<u32>().unwrap() + 1) % 1_000_000);
    app.gql(CONFIRM, json!({ "c": wrong }), Some(&token)).await.expect_reason("BAD_USER_INPUT", "WRONG_CODE");
    assert_eq!(
        app.gql("{ me { totpEnabled } }", json!({}), Some(&token)).await.ok()["me"]["totpEnabled"],
        false
    );
    let (secret, recovery, _) = enrol(&app, &token).await;
    assert_eq!(recovery.len(), 10);
    assert!(recovery.iter().all(|c| c.len() == 9 && c.as_bytes()[4] == b'-'), "{recovery:?}");
    assert_eq!(
        app.gql("{ me { totpEnabled } }", json!({}), Some(&token)).await.ok()["me"]["totpEnabled"],
        true
    );

    // The password alone is not enough.
    login(&app, &phone(1), None).await.expect_reason("UNAUTHENTICATED", "OTP_REQUIRED");
    // The step's code was spent by the enrolment: it does not work twice.
    login(&app, &phone(1), Some(&code(&app, &secret, 0))).await.expect_reason("BAD_USER_INPUT", "WRONG_CODE");
    // Half a minute later the next code works, once; a code two steps old never does.
    app.state.clock.advance(Duration::seconds(30));
    let fresh = code(&app, &secret, 0);
    login(&app, &phone(1), Some(&code(&app, &secret, -2)))
        .await
        .expect_reason("BAD_USER_INPUT", "WRONG_CODE");
    let signed = access(login(&app, &phone(1), Some(&fresh)).await);
    app.gql("{ me { id } }", json!({}), Some(&signed)).await.ok();
    login(&app, &phone(1), Some(&fresh)).await.expect_reason("BAD_USER_INPUT", "WRONG_CODE");
    // A clock a step ahead of hers is forgiven.
    app.state.clock.advance(Duration::seconds(30));
    access(login(&app, &phone(1), Some(&code(&app, &secret, 1))).await);

    // A recovery code works once, typed any way.
    let typed = recovery[0].replace('-', " ").to_lowercase();
    access(login(&app, &phone(1), Some(&typed)).await);
    login(&app, &phone(1), Some(&recovery[0])).await.expect_reason("BAD_USER_INPUT", "WRONG_CODE");
    access(login(&app, &phone(1), Some(&recovery[1])).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_codes_is_throttled_like_passwords() {
    let app = spawn_app().await;
    let (token, _, _) = app.register(&phone(10), "Hà Thị Đoán", PASSWORD).await;
    enrol(&app, &token).await;
    let mut limited = false;
    for i in 0..8 {
        let res = login(&app, &phone(10), Some(&format!("{:06}", 111_111 + i))).await;
        if res.code() == Some("RATE_LIMITED") {
            limited = true;
            break;
        }
        res.expect_reason("BAD_USER_INPUT", "WRONG_CODE");
    }
    assert!(limited, "wrong codes are counted like wrong passwords");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_whose_role_needs_it_can_only_enrol_until_she_has() {
    let app = spawn_app_with(&[("APP_MFA_REQUIRED_ROLES", "CASE_OFFICER,UNIT_ADMIN")]).await;
    let (pending, refresh) = app.login(BD_CASE_OFFICER, DEMO_PASSWORD).await;
    for q in [QUEUE, "{ myConsents { id } }", "{ mySessions { id } }"] {
        app.gql(q, json!({}), Some(&pending)).await.expect_reason("FORBIDDEN", "MFA_REQUIRED");
    }
    // She sees who she is, and a refresh does not lift the requirement.
    app.gql("{ me { fullName } }", json!({}), Some(&pending)).await.ok();
    let refreshed = app
        .gql(
            "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }",
            json!({ "t": refresh }),
            None,
        )
        .await
        .ok()["refreshSession"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql(QUEUE, json!({}), Some(&refreshed)).await.expect_reason("FORBIDDEN", "MFA_REQUIRED");

    let (secret, _, proved) = enrol(&app, &refreshed).await;
    app.gql(QUEUE, json!({}), Some(&proved)).await.ok();
    // From now on she signs in with a code, and her session has its rights at once.
    app.state.clock.advance(Duration::seconds(30));
    let input = json!({ "phone": BD_CASE_OFFICER, "password": DEMO_PASSWORD, "otp": code(&app, &secret, 0) });
    let signed = app.gql(LOGIN, json!({ "i": input }), None).await.ok()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql(QUEUE, json!({}), Some(&signed)).await.ok();
    // A member without such a role is not asked anything.
    let member = app.token(MEMBER).await;
    app.gql("{ orgUnits(first: 1) { totalCount } }", json!({}), Some(&member)).await.ok();
    // Nor is anyone in development, unless asked (the default app).
    let default = app.spawn_peer_with(&[("APP_MFA_REQUIRED_ROLES", "none")]).await;
    let lb = default.token(LB_CASE_OFFICER).await;
    default.gql(QUEUE, json!({}), Some(&lb)).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granting_roles_and_reading_who_read_a_report_need_a_recent_step_up() {
    let app = spawn_app_with(&[("APP_STEP_UP", "true"), ("APP_STEP_UP_TTL_SECS", "2")]).await;
    let city = app.token(CITY_ADMIN).await;
    let (target, _, _) = app.register(&phone(20), "Hà Thị Được Giao", PASSWORD).await;
    let _ = target;
    let assign = "mutation($i: AssignOfficerRoleInput!) { assignOfficerRole(input: $i) { id } }";
    let unit = app.unit_id("HN-LB").await;
    let input = json!({ "i": { "phone": phone(20), "unitId": unit, "role": "UNIT_OFFICER" } });
    app.gql(assign, input.clone(), Some(&city)).await.expect_reason("FORBIDDEN", "STEP_UP_REQUIRED");
    // Without an authenticator she steps up with a code to her own phone.
    let proof = app.verified_phone(CITY_ADMIN, "STEP_UP", Some(&city)).await;
    app.gql(STEP_UP, json!({ "i": { "verificationToken": proof } }), Some(&city)).await.ok();
    app.gql(assign, input.clone(), Some(&city)).await.ok();
    // It lasts a short while.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let other =
        json!({ "i": { "phone": phone(20), "unitId": app.unit_id("HN-HK").await, "role": "UNIT_OFFICER" } });
    app.gql(assign, other, Some(&city)).await.expect_reason("FORBIDDEN", "STEP_UP_REQUIRED");

    // The access log of a report: only its case officers are asked to step up; others learn
    // nothing.
    let reference = crate::fixtures::violence_report(&app, None, "HN-LB-BD-01", false, "Cần giúp đỡ.").await
        ["referenceCode"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = crate::violence::report_id(&app, &reference).await;
    let log =
        "query($id: ID!) { violenceReportAccessLog(reportId: $id, first: 10) { edges { node { action } } } }";
    let lb = app.token(LB_OFFICER).await;
    app.gql(log, json!({ "id": id }), Some(&lb)).await.expect_code("NOT_FOUND");
    let case = app.token(BD_CASE_OFFICER).await;
    app.gql(log, json!({ "id": id }), Some(&case)).await.expect_reason("FORBIDDEN", "STEP_UP_REQUIRED");
    // With an authenticator, a code of it.
    let (secret, _, proved) = enrol(&app, &case).await;
    app.state.clock.advance(Duration::seconds(30));
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    app.gql(log, json!({ "id": id }), Some(&proved)).await.expect_reason("FORBIDDEN", "STEP_UP_REQUIRED");
    app.gql(STEP_UP, json!({ "i": { "code": "000000" } }), Some(&proved))
        .await
        .expect_reason("BAD_USER_INPUT", "WRONG_CODE");
    let up = app.gql(STEP_UP, json!({ "i": { "code": code(&app, &secret, 0) } }), Some(&proved)).await.ok();
    let stepped: Value = up["stepUp"].clone();
    assert!(stepped["until"].is_string());
    let data = app.gql(log, json!({ "id": id }), Some(&proved)).await.ok();
    assert!(!data["violenceReportAccessLog"]["edges"].as_array().unwrap().is_empty());
    // Exactly one proof.
    app.gql(STEP_UP, json!({ "i": {} }), Some(&proved)).await.expect_reason("BAD_USER_INPUT", "EXACTLY_ONE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_by_sms_does_not_get_past_her_authenticator() {
    let app = spawn_app().await;
    let (token, _, _) = app.register(&phone(30), "Hà Thị Mất Sim", PASSWORD).await;
    let (secret, _, _) = enrol(&app, &token).await;
    // Whoever holds her SIM resets the password: the session it gives owes the second factor.
    let proof = app.verified_phone(&phone(30), "RESET_PASSWORD", None).await;
    let reset = "mutation($i: ResetPasswordInput!) { resetPassword(input: $i) { accessToken } }";
    let data = app
        .gql(reset, json!({ "i": { "verificationToken": proof, "newPassword": "sen-trang-2027" } }), None)
        .await
        .ok();
    let pending = data["resetPassword"]["accessToken"].as_str().unwrap().to_owned();
    app.gql("{ myConsents { id } }", json!({}), Some(&pending))
        .await
        .expect_reason("FORBIDDEN", "MFA_REQUIRED");
    // She has her authenticator: a step-up with it gives the session its rights.
    app.state.clock.advance(Duration::seconds(30));
    let up = app.gql(STEP_UP, json!({ "i": { "code": code(&app, &secret, 0) } }), Some(&pending)).await.ok();
    let full = up["stepUp"]["accessToken"].as_str().unwrap().to_owned();
    app.gql("{ myConsents { id } }", json!({}), Some(&full)).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_factor_is_replaced_only_from_a_session_that_stepped_up() {
    let app = spawn_app_with(&[("APP_STEP_UP_TTL_SECS", "1")]).await;
    let (token, _, _) = app.register(&phone(40), "Hà Thị Đổi Máy", PASSWORD).await;
    let (secret, _, proved) = enrol(&app, &token).await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    app.gql(START, json!({}), Some(&proved)).await.expect_reason("CONFLICT", "ALREADY_ENROLLED");
    app.state.clock.advance(Duration::seconds(30));
    app.gql(STEP_UP, json!({ "i": { "code": code(&app, &secret, 0) } }), Some(&proved)).await.ok();
    app.gql(START, json!({}), Some(&proved)).await.ok();
}
