//! One-time phone codes: the record takeover they close, how codes are stored and sent, their
//! limits, the verification token, and the HTTP gateway adapter against a fake gateway.

use entities::{person, phone_code, sms_outbox};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::gateway::FakeGateway;
use crate::fixtures::{PASSWORD, Series};
use crate::helpers::*;

const REQUEST: &str = "mutation($p: String!, $u: PhoneCodePurpose!) { requestPhoneCode(phone: $p, purpose: $u) { expiresAt resendAfter } }";
const VERIFY: &str = "mutation($p: String!, $u: PhoneCodePurpose!, $c: String!) { verifyPhoneCode(phone: $p, purpose: $u, code: $c) { verificationToken expiresAt } }";
const REGISTER: &str =
    "mutation($i: RegisterInput!) { register(input: $i) { accessToken person { id phoneVerified } } }";

fn phone(n: u32) -> String {
    Series::ACCOUNTS.phone(n)
}

async fn request(app: &TestApp, phone: &str, purpose: &str, token: Option<&str>) -> Gql {
    app.gql(REQUEST, json!({ "p": phone, "u": purpose }), token).await
}

async fn verify(app: &TestApp, phone: &str, purpose: &str, code: &str, token: Option<&str>) -> Gql {
    app.gql(VERIFY, json!({ "p": phone, "u": purpose, "c": code }), token).await
}

async fn register(app: &TestApp, phone: &str, token: &str) -> Gql {
    let input = json!({ "phone": phone, "fullName": "Ngô Thị Riêng", "password": PASSWORD, "verificationToken": token, "privacyNoticeVersion": "2026-12" });
    app.gql(REGISTER, json!({ "i": input }), None).await
}

fn token_of(res: Gql) -> String {
    res.ok()["verifyPhoneCode"]["verificationToken"].as_str().unwrap().to_owned()
}

/// Another code than `code`.
fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

async fn outbox(app: &TestApp) -> Vec<sms_outbox::Model> {
    sms_outbox::Entity::find().all(&app.state.db).await.unwrap()
}

/// Waits until every outbox row is done (sent or given up).
async fn outbox_done(app: &TestApp) -> Vec<sms_outbox::Model> {
    for _ in 0..1000 {
        let rows = outbox(app).await;
        if rows.iter().all(|r| r.status != sms_outbox::SmsStatus::Pending) {
            return rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("SMS still pending");
}

fn gateway_settings(gateway: &FakeGateway) -> Vec<(&'static str, String)> {
    vec![
        ("TEST_SMS_VIA_GATEWAY", "1".into()),
        ("APP_SMS_PROVIDER", "http".into()),
        ("APP_SMS_GATEWAY_URL", gateway.url.clone()),
        ("APP_SMS_GATEWAY_KEY", "gw-key-123".into()),
        (
            "APP_SMS_GATEWAY_TEMPLATE",
            r#"{"Phone":"{{phone_local}}","Content":"{{text}}","data":{"otp":"{{code}}"},"RequestId":"{{id}}"}"#.into(),
        ),
        ("APP_SMS_POLL_INTERVAL_MS", "50".into()),
    ]
}

async fn spawn_with_gateway(gateway: &FakeGateway, extra: &[(&str, &str)]) -> TestApp {
    let settings = gateway_settings(gateway);
    let mut vars: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

// ---------------------------------------------------------------------------------------------
// The takeover

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_member_s_record_is_claimed_only_with_the_code_sent_to_her_number() {
    let gateway = FakeGateway::start().await;
    let app = spawn_with_gateway(&gateway, &[]).await;
    let leader = app.token(BD1_LEADER).await;
    let csv = format!(
        "Họ và tên;Số điện thoại;Ngày sinh;Mã chi hội\n Ngô Thị Riêng;{};08/03/1985;HN-LB-BD-01\n",
        phone(1)
    );
    let q = "mutation($csv: String) { importMembers(csv: $csv) { imported } }";
    assert_eq!(app.gql(q, json!({ "csv": csv }), Some(&leader)).await.ok()["importMembers"]["imported"], 1);
    let record = person::Entity::find()
        .filter(person::Column::Phone.eq(Series::ACCOUNTS.stored_phone(1)))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    // The branch sees a number nobody has proved yet.
    let directory = "query($f: MemberFilterInput!) { members(filter: $f) { edges { node { memberNumber phoneVerified } } } }";
    let listed = app.gql(directory, json!({ "f": { "phone": phone(1) } }), Some(&leader)).await.ok();
    let node = listed["members"]["edges"][0]["node"].clone();
    assert_eq!(node["phoneVerified"], false);

    // Whoever types her number without the code gets nothing.
    register(&app, &phone(1), "forged-token").await.expect_reason("BAD_USER_INPUT", "INVALID_FORMAT");
    request(&app, &phone(2), "REGISTER", None).await.ok();
    let code = gateway.wait_for(1).await[0].body["data"]["otp"].as_str().unwrap().to_owned();
    let elsewhere = token_of(verify(&app, &phone(2), "REGISTER", &code, None).await);
    let res = register(&app, &phone(1), &elsewhere).await.expect_reason("BAD_USER_INPUT", "NOT_YOUR_NUMBER");
    assert_eq!(res.field(), Some("input.verificationToken"));
    let untouched = person::Entity::find_by_id(record.id).one(&app.state.db).await.unwrap().unwrap();
    assert!(untouched.password_hash.is_none() && untouched.phone_verified_at.is_none(), "nothing claimed");

    // She asks for a code; the gateway gets it in the shape its template gives.
    request(&app, &phone(1), "CLAIM_RECORD", None).await.ok();
    let received = gateway.wait_for(2).await;
    let sent = received.iter().find(|r| r.body["Phone"] == phone(1)).expect("a request for her number");
    assert_eq!(sent.headers.get("authorization").map(String::as_str), Some("Bearer gw-key-123"));
    let code = sent.body["data"]["otp"].as_str().unwrap().to_owned();
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    assert!(sent.body["Content"].as_str().unwrap().contains(&code));
    assert!(!sent.body["RequestId"].as_str().unwrap().is_empty());

    let token = token_of(verify(&app, &phone(1), "CLAIM_RECORD", &code, None).await);
    let data = register(&app, &phone(1), &token).await.ok();
    assert_eq!(data["register"]["person"]["id"], global_id("Person", record.id));
    assert_eq!(data["register"]["person"]["phoneVerified"], true);
    let listed = app.gql(directory, json!({ "f": { "phone": phone(1) } }), Some(&leader)).await.ok();
    assert_eq!(listed["members"]["edges"][0]["node"]["phoneVerified"], true);
    assert_eq!(listed["members"]["edges"][0]["node"]["memberNumber"], node["memberNumber"]);
    // The code went out through the gateway, and never into a log.
    assert!(!captured_logs().contains(&format!("la {code}")));
    gateway.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Storage

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_are_stored_as_keyed_hashes_and_messages_are_erased_once_sent() {
    let app = spawn_app().await;
    request(&app, &phone(10), "REGISTER", None).await.ok();
    let code = app.sms.code_for(&phone(10)).await;
    let rows = phone_code::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    let hash = &rows[0].code_hash;
    assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()), "{hash}");
    assert!(!hash.contains(&code));
    let sent = outbox_done(&app).await;
    assert_eq!(sent.len(), 1);
    let row = &sent[0];
    assert_eq!((row.status, row.kind.as_str()), (sms_outbox::SmsStatus::Sent, "REGISTER"));
    assert!(row.phone.is_none() && row.payload.is_none(), "number and message erased once sent");
}

// ---------------------------------------------------------------------------------------------
// Checking

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_takes_five_guesses_even_sent_at_once() {
    let app = spawn_app().await;
    request(&app, &phone(20), "REGISTER", None).await.ok();
    let code = app.sms.code_for(&phone(20)).await;
    let guess = wrong(&code);
    let number = phone(20);
    let guesses = (0..20).map(|_| verify(&app, &number, "REGISTER", &guess, None));
    let answers = futures_util::future::join_all(guesses).await;
    let count = |reason: &str| answers.iter().filter(|r| r.reason() == Some(reason)).count();
    assert_eq!((count("WRONG_CODE"), count("TOO_MANY_ATTEMPTS")), (5, 15));
    // The right code comes too late.
    verify(&app, &phone(20), "REGISTER", &code, None)
        .await
        .expect_reason("BAD_USER_INPUT", "TOO_MANY_ATTEMPTS");
    let row = phone_code::Entity::find().one(&app.state.db).await.unwrap().unwrap();
    assert_eq!((row.attempts, row.verified_at), (5, None));
    // Malformed codes are refused before they cost an attempt.
    for bad in ["12345", "1234567", "12a456", ""] {
        verify(&app, &phone(20), "REGISTER", bad, None)
            .await
            .expect_reason("BAD_USER_INPUT", "INVALID_FORMAT");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_code_replaces_the_old_and_a_code_expires() {
    let app =
        spawn_app_with(&[("APP_PHONE_CODE_TTL_SECS", "1"), ("APP_PHONE_CODE_COOLDOWN_SECS", "0")]).await;
    request(&app, &phone(30), "REGISTER", None).await.ok();
    let first = app.sms.code_for(&phone(30)).await;
    request(&app, &phone(30), "REGISTER", None).await.ok();
    let second = app.sms.code_for(&phone(30)).await;
    if first != second {
        verify(&app, &phone(30), "REGISTER", &first, None)
            .await
            .expect_reason("BAD_USER_INPUT", "WRONG_CODE");
    }
    token_of(verify(&app, &phone(30), "REGISTER", &second, None).await);

    request(&app, &phone(31), "REGISTER", None).await.ok();
    let code = app.sms.code_for(&phone(31)).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    verify(&app, &phone(31), "REGISTER", &code, None).await.expect_reason("BAD_USER_INPUT", "EXPIRED");
    // A number that was never sent a code looks the same.
    verify(&app, &phone(32), "REGISTER", &code, None).await.expect_reason("BAD_USER_INPUT", "EXPIRED");
}

// ---------------------------------------------------------------------------------------------
// Limits

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_waits_a_cooldown_and_is_capped_per_number_per_day() {
    let app =
        spawn_app_with(&[("APP_TRUST_FORWARDED_FOR", "true"), ("APP_PHONE_CODE_MAX_PER_PHONE", "2")]).await;
    let from = |addr: &'static str, purpose: &'static str| {
        app.gql_from(addr, REQUEST, json!({ "p": phone(40), "u": purpose }))
    };
    from("203.0.113.1", "REGISTER").await.ok();
    let again = from("203.0.113.1", "REGISTER").await.expect_code("RATE_LIMITED");
    let wait = again.body["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // From elsewhere too: the cooldown is the number's.
    from("203.0.113.2", "REGISTER").await.expect_code("RATE_LIMITED");
    // Another purpose is not held back by it, but the number's daily cap is then reached.
    from("203.0.113.2", "CLAIM_RECORD").await.ok();
    from("203.0.113.3", "RESET_PASSWORD").await.expect_code("RATE_LIMITED");
    app.sms.code_for(&phone(40)).await;
    app.sms.code_for(&phone(40)).await;
    outbox_done(&app).await;
    assert_eq!(app.sms.to(&phone(40)).len(), 2, "only the accepted requests sent an SMS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_and_checking_are_capped_per_client_address() {
    let app = spawn_app_with(&[
        ("APP_TRUST_FORWARDED_FOR", "true"),
        ("APP_PHONE_CODE_MAX_PER_ADDRESS", "3"),
        ("APP_PHONE_CODE_CHECKS_PER_ADDRESS", "4"),
    ])
    .await;
    for n in 50..53 {
        app.gql_from("203.0.113.7", REQUEST, json!({ "p": phone(n), "u": "REGISTER" })).await.ok();
    }
    app.gql_from("203.0.113.7", REQUEST, json!({ "p": phone(53), "u": "REGISTER" }))
        .await
        .expect_code("RATE_LIMITED");
    app.gql_from("203.0.113.8", REQUEST, json!({ "p": phone(53), "u": "REGISTER" })).await.ok();
    // Guesses spread over numbers from one address.
    for n in 50..54 {
        let res = app
            .gql_from("203.0.113.7", VERIFY, json!({ "p": phone(n), "u": "REGISTER", "c": "000000" }))
            .await;
        assert_ne!(res.code(), Some("RATE_LIMITED"), "{}", res.body);
    }
    app.gql_from("203.0.113.7", VERIFY, json!({ "p": phone(50), "u": "REGISTER", "c": "000000" }))
        .await
        .expect_code("RATE_LIMITED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_code_goes_only_to_an_account_and_the_answer_does_not_say_which() {
    let app = spawn_app().await;
    app.register(&phone(60), "Ngô Thị Có", PASSWORD).await;
    let known = request(&app, &phone(60), "RESET_PASSWORD", None).await.ok();
    let unknown = request(&app, &phone(61), "RESET_PASSWORD", None).await.ok();
    let keys = |v: &Value| v["requestPhoneCode"].as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&known), keys(&unknown));
    app.sms.code_for(&phone(60)).await; // the reset's
    assert_eq!(app.sms.to(&phone(60)).len(), 2, "the registration's code and the reset's");
    assert!(app.sms.to(&phone(61)).is_empty(), "no SMS to a number without an account");
}

// ---------------------------------------------------------------------------------------------
// The verification token

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_is_spent_once_for_its_number_and_purpose() {
    let app = spawn_app().await;
    // Checking the right code again (the answer was lost) gives the same token.
    request(&app, &phone(70), "REGISTER", None).await.ok();
    let code = app.sms.code_for(&phone(70)).await;
    let token = token_of(verify(&app, &phone(70), "REGISTER", &code, None).await);
    assert_eq!(token_of(verify(&app, &phone(70), "REGISTER", &code, None).await), token);

    // Another number's registration cannot spend it, and trying does not use it up.
    register(&app, &phone(71), &token).await.expect_reason("BAD_USER_INPUT", "NOT_YOUR_NUMBER");
    register(&app, &phone(70), &token).await.ok();
    register(&app, &phone(70), &token).await.expect_reason("BAD_USER_INPUT", "ALREADY_USED");

    // A token for resetting a password does not register, nor does an edited one.
    let reset = app.verified_phone(&phone(70), "RESET_PASSWORD", None).await;
    let fresh = app.verified_phone(&phone(72), "REGISTER", None).await;
    register(&app, &phone(70), &reset).await.expect_reason("BAD_USER_INPUT", "INVALID_FORMAT");
    let mut edited = fresh.clone().into_bytes();
    edited[5] = if edited[5] == b'A' { b'B' } else { b'A' };
    register(&app, &phone(72), &String::from_utf8(edited).unwrap())
        .await
        .expect_reason("BAD_USER_INPUT", "INVALID_FORMAT");
    register(&app, &phone(72), &fresh).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_registrations_with_one_verification_create_one_account() {
    let app = spawn_app().await;
    let token = app.verified_phone(&phone(80), "REGISTER", None).await;
    let number = phone(80);
    let answers = futures_util::future::join_all((0..6).map(|_| register(&app, &number, &token))).await;
    let ok = answers.iter().filter(|r| !r.has_errors()).count();
    assert_eq!(ok, 1, "{:?}", answers.iter().map(|r| r.body.clone()).collect::<Vec<_>>());
    for refused in answers.iter().filter(|r| r.has_errors()) {
        assert!(matches!(refused.reason(), Some("ALREADY_USED")), "{}", refused.body);
    }
    let stored = person::Entity::find()
        .filter(person::Column::Phone.eq(Series::ACCOUNTS.stored_phone(80)))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_up_and_new_number_codes_belong_to_whoever_asked() {
    let app = spawn_app().await;
    request(&app, &phone(90), "STEP_UP", None).await.expect_code("UNAUTHENTICATED");
    let (her, _, _) = app.register(&phone(91), "Ngô Thị Hỏi", PASSWORD).await;
    let (other, _, _) = app.register(&phone(92), "Ngô Thị Khác", PASSWORD).await;
    request(&app, &phone(90), "STEP_UP", Some(&her)).await.expect_reason("BAD_USER_INPUT", "NOT_YOUR_NUMBER");
    request(&app, &phone(91), "CHANGE_PHONE", Some(&her))
        .await
        .expect_reason("BAD_USER_INPUT", "SAME_NUMBER");

    request(&app, &phone(93), "CHANGE_PHONE", Some(&her)).await.ok();
    let code = app.sms.code_for(&phone(93)).await;
    // Someone else holding the code cannot use it; she can.
    verify(&app, &phone(93), "CHANGE_PHONE", &code, Some(&other))
        .await
        .expect_reason("BAD_USER_INPUT", "EXPIRED");
    verify(&app, &phone(93), "CHANGE_PHONE", &code, None).await.expect_code("UNAUTHENTICATED");
    token_of(verify(&app, &phone(93), "CHANGE_PHONE", &code, Some(&her)).await);
}

// ---------------------------------------------------------------------------------------------
// The gateway adapter

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_adapter_retries_what_the_gateway_could_not_take() {
    let gateway = FakeGateway::start().await;
    let app =
        spawn_with_gateway(&gateway, &[("APP_SMS_BACKOFF_BASE_MS", "400"), ("APP_SMS_MAX_ATTEMPTS", "5")])
            .await;
    gateway.fail_next(&[503, 429]);
    request(&app, &phone(100), "REGISTER", None).await.ok();
    gateway.wait_for(1).await;
    // While it waits for its retry, the message is sealed: neither the code nor the text shows.
    let pending = outbox(&app).await.remove(0);
    let code = gateway.received()[0].body["data"]["otp"].as_str().unwrap().to_owned();
    let payload = pending.payload.expect("sealed until sent");
    assert!(!String::from_utf8_lossy(&payload).contains(&code));
    assert!(!String::from_utf8_lossy(&payload).contains("Phu nu"));
    let received = gateway.wait_for(3).await;
    assert!(received.iter().all(|r| r.body["data"]["otp"] == code.as_str()), "the same message each time");
    let done = outbox_done(&app).await.remove(0);
    assert_eq!((done.status, done.attempts), (sms_outbox::SmsStatus::Sent, 3));
    assert!(done.phone.is_none() && done.payload.is_none());
    // The code arrived in time to be used.
    token_of(verify(&app, &phone(100), "REGISTER", &code, None).await);

    // A refusal is not retried, and what is recorded names neither the number nor the message.
    gateway.fail_next(&[400]);
    request(&app, &phone(101), "REGISTER", None).await.ok();
    gateway.wait_for(4).await;
    let rows = outbox_done(&app).await;
    let refused = rows.iter().find(|r| r.status == sms_outbox::SmsStatus::Failed).expect("a refused SMS");
    assert_eq!((refused.attempts, refused.last_error.as_deref()), (1, Some("gateway status 400")));
    assert!(refused.phone.is_none() && refused.payload.is_none());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(gateway.received().len(), 4, "not retried");
    assert!(!captured_logs().contains(&format!("la {code}")));
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_answers_200_with_an_error_inside_is_not_taken_at_its_word() {
    let gateway = FakeGateway::start().await;
    let app = spawn_with_gateway(
        &gateway,
        &[
            ("APP_SMS_GATEWAY_SUCCESS", "/CodeResult=100"),
            ("APP_SMS_BACKOFF_BASE_MS", "20"),
            ("APP_SMS_MAX_ATTEMPTS", "2"),
        ],
    )
    .await;
    gateway.answer_with(json!({ "CodeResult": "99", "ErrorMessage": "balance" }));
    request(&app, &phone(110), "REGISTER", None).await.ok();
    gateway.wait_for(2).await;
    let rows = outbox_done(&app).await;
    assert_eq!(rows[0].status, sms_outbox::SmsStatus::Failed);
    assert_eq!(rows[0].last_error.as_deref(), Some("gateway did not confirm (/CodeResult)"));
    gateway.answer_with(json!({ "CodeResult": "100" }));
    request(&app, &phone(111), "REGISTER", None).await.ok();
    let rows = outbox_done(&app).await;
    assert!(rows.iter().any(|r| r.status == sms_outbox::SmsStatus::Sent));
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_development_sender_prints_the_code_in_the_server_log() {
    // Development without a gateway: the log sender.
    let app = spawn_app_with(&[("TEST_SMS_VIA_GATEWAY", "1")]).await;
    request(&app, &phone(120), "REGISTER", None).await.ok();
    outbox_done(&app).await;
    let to = Series::ACCOUNTS.stored_phone(120);
    let logs = captured_logs();
    let line = logs
        .lines()
        .find(|l| l.contains(&to) && l.contains("development log sender"))
        .expect("the SMS in the log");
    let text: Value = serde_json::from_str(line).unwrap();
    let text = text["fields"]["text"].as_str().unwrap();
    let code =
        text.split_whitespace().find(|w| w.len() == 7 && w.ends_with(',')).unwrap().trim_end_matches(',');
    token_of(verify(&app, &phone(120), "REGISTER", code, None).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_is_not_sent_after_it_expired() {
    let gateway = FakeGateway::start().await;
    let app = spawn_with_gateway(
        &gateway,
        &[
            ("APP_PHONE_CODE_TTL_SECS", "1"),
            ("APP_SMS_BACKOFF_BASE_MS", "100"),
            ("APP_SMS_MAX_ATTEMPTS", "1000"),
        ],
    )
    .await;
    gateway.fail_next(&[503; 1000]);
    request(&app, &phone(130), "REGISTER", None).await.ok();
    let rows = outbox_done(&app).await;
    assert_eq!(rows[0].status, sms_outbox::SmsStatus::Failed, "given up once the code expired");
    assert!(rows[0].phone.is_none() && rows[0].payload.is_none());
    let tried = gateway.received().len();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(gateway.received().len(), tried, "no attempt after it was given up");
    gateway.stop().await;
}
