//! `POST /oauth/token`, RFC 6749 §4.4 and §5: both ways of authenticating, scope narrowing,
//! the §5.2 errors, throttled wrong secrets, and tokens of their own type.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::{Client, client_token, post_token, post_token_via, register};
use crate::helpers::{SYSADMIN, backend, captured_logs, isolated_database, s, spawn_app, spawn_app_with};

const GRANT: &str = "grant_type=client_credentials";

fn claims(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut part =
        || serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
    (part(), part())
}

#[tokio::test]
async fn a_client_gets_a_token_with_basic_or_body_credentials_and_may_narrow_its_scope() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let client = register(&app, &admin, "HN-LB", &["UNITS_READ", "NEWS_READ", "STATISTICS_READ"]).await;

    let basic = post_token(&app, GRANT, Some((&client.client_id, &client.secret))).await;
    assert_eq!(basic.status, 200, "{}", basic.body);
    assert_eq!(basic.body["token_type"], json!("Bearer"));
    assert_eq!(basic.body["expires_in"], json!(3600));
    assert_eq!(basic.body["scope"], json!("units:read news:read statistics:read"));
    assert_eq!(basic.headers["cache-control"], "no-store");
    assert_eq!(basic.headers["pragma"], "no-cache");
    let (header, body) = claims(&basic.token());
    assert_eq!(header["typ"], json!("at+jwt"));
    assert_eq!(body["client_id"], json!(client.client_id));
    assert_eq!(body["sub"], json!(client.client_id));
    assert_eq!(body["scope"], json!("units:read news:read statistics:read"));

    let body =
        format!("{GRANT}&client_id={}&client_secret={}&scope=news%3Aread", client.client_id, client.secret);
    let narrowed = post_token(&app, &body, None).await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.body);
    assert_eq!(narrowed.body["scope"], json!("news:read"));
    let (_, body) = claims(&narrowed.token());
    assert_eq!(body["scope"], json!("news:read"));

    // A scope it does not hold, or one that does not exist.
    for scope in ["trainings%3Aread", "members%3Aread", "units%3Aread+violence%3Aread"] {
        let refused =
            post_token(&app, &format!("{GRANT}&scope={scope}"), Some((&client.client_id, &client.secret)))
                .await;
        assert_eq!((refused.status, refused.error()), (400, "invalid_scope"), "{scope}");
    }
    // The secret never reaches a log.
    assert!(!captured_logs().contains(&client.secret));
}

#[tokio::test]
async fn malformed_requests_get_the_errors_of_rfc_6749_section_5_2() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let client = register(&app, &admin, "HN", &["UNITS_READ"]).await;
    let creds = Some((client.client_id.as_str(), client.secret.as_str()));

    type Case<'a> = (String, Option<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("grant_type=password".into(), creds, 400, "unsupported_grant_type"),
        ("grant_type=authorization_code&code=x".into(), creds, 400, "unsupported_grant_type"),
        ("scope=units%3Aread".into(), creds, 400, "invalid_request"),
        (format!("{GRANT}&{GRANT}"), creds, 400, "invalid_request"),
        // Both ways of authenticating at once.
        (
            format!("{GRANT}&client_id={}&client_secret={}", client.client_id, client.secret),
            creds,
            400,
            "invalid_request",
        ),
        // No credentials, a wrong secret, an unknown client, a malformed id.
        (GRANT.into(), None, 401, "invalid_client"),
        (GRANT.into(), Some((&client.client_id, "pns_wrong")), 401, "invalid_client"),
        (GRANT.into(), Some(("0193a000-0000-7000-8000-000000000000", &client.secret)), 401, "invalid_client"),
        (GRANT.into(), Some(("not-a-client", &client.secret)), 401, "invalid_client"),
        (format!("{GRANT}&client_id={}", client.client_id), None, 401, "invalid_client"),
    ];
    for (form, basic, status, error) in cases {
        let got = post_token(&app, &form, basic).await;
        assert_eq!((got.status, got.error()), (status, error), "{form}: {}", got.body);
        assert!(got.body["error_description"].is_string());
        if status == 401 {
            assert!(got.headers["www-authenticate"].to_str().unwrap().starts_with("Basic"));
        }
    }
    // Not a form.
    let json = app
        .client
        .post(app.url("/oauth/token"))
        .header("content-type", "application/json")
        .body("{\"grant_type\":\"client_credentials\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status().as_u16(), 400);
    assert_eq!(json.json::<Value>().await.unwrap()["error"], json!("invalid_request"));
    // Only POST.
    assert_eq!(app.client.get(app.url("/oauth/token")).send().await.unwrap().status().as_u16(), 404);
}

#[tokio::test]
async fn wrong_secrets_are_throttled_per_client_even_for_the_right_one_afterwards() {
    let app = spawn_app_with(&[("APP_CLIENT_MAX_FAILURES", "3")]).await;
    let admin = app.token(SYSADMIN).await;
    let client = register(&app, &admin, "HN", &["UNITS_READ"]).await;
    for _ in 0..3 {
        let got = post_token(&app, GRANT, Some((&client.client_id, "pns_guess"))).await;
        assert_eq!(got.error(), "invalid_client");
    }
    let limited = post_token(&app, GRANT, Some((&client.client_id, "pns_guess"))).await;
    assert_eq!(limited.status, 429);
    assert!(limited.headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > 0);
    // The right secret waits out the window too: guessing in parallel gains nothing.
    let right = post_token(&app, GRANT, Some((&client.client_id, &client.secret))).await;
    assert_eq!(right.status, 429);
}

#[tokio::test]
async fn an_expired_client_gets_no_token_and_a_token_never_outlives_its_client() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let unit = app.unit_id("HN").await;
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(600)).to_rfc3339();
    let data = app
        .gql(
            super::REGISTER,
            json!({ "i": { "name": "Tạm thời", "contact": "x", "unitId": unit, "scopes": ["UNITS_READ"], "expiresAt": soon } }),
            Some(&admin),
        )
        .await
        .ok();
    let r = &data["registerIntegrationClient"];
    let client = Client {
        id: s(&r["client"]["id"]),
        client_id: s(&r["client"]["clientId"]),
        secret: s(&r["clientSecret"]),
        secret_id: s(&r["secret"]["id"]),
    };
    let got = post_token(&app, GRANT, Some((&client.client_id, &client.secret))).await;
    let expires_in = got.body["expires_in"].as_u64().unwrap();
    assert!((590..=600).contains(&expires_in), "{expires_in}");
    app.state.clock.advance(chrono::Duration::seconds(601));
    let refused = post_token(&app, GRANT, Some((&client.client_id, &client.secret))).await;
    assert_eq!(refused.error(), "invalid_client");
}

#[tokio::test]
async fn a_person_token_is_never_a_client_token_nor_the_reverse() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let client = register(&app, &admin, "HN", &["UNITS_READ"]).await;
    let token = client_token(&app, &client).await;
    // The two kinds carry different claims and types (a token re-signed under the other
    // kind's key is refused: see the unit tests of `service::auth`).
    let (person_header, person_claims) = claims(&admin);
    let (client_header, client_claims) = claims(&token);
    assert_ne!(person_header["typ"], client_header["typ"]);
    assert!(person_claims.get("client_id").is_none() && client_claims.get("sid").is_none());
    // The client token is no person: `me` is forbidden to it.
    app.gql("{ me { id } }", json!({}), Some(&token)).await.expect_code("FORBIDDEN");
}

#[tokio::test]
async fn wrong_secrets_from_one_address_are_throttled_whatever_the_client_ids() {
    let app = spawn_app_with(&[
        ("APP_TRUST_FORWARDED_FOR", "true"),
        ("APP_LOGIN_MAX_FAILURES_PER_ADDRESS", "4"),
        ("APP_CLIENT_MAX_FAILURES", "10"),
    ])
    .await;
    let admin = app.token(SYSADMIN).await;
    let (a, b, c) = (
        register(&app, &admin, "HN", &["UNITS_READ"]).await,
        register(&app, &admin, "HN", &["UNITS_READ"]).await,
        register(&app, &admin, "HN", &["UNITS_READ"]).await,
    );
    // Each id tried once (far below the per-client limit): two clients, an unknown id and a
    // malformed one. The proxy saw 203.0.113.5 every time; what came before it is the caller's.
    let guesses = [a.client_id.as_str(), b.client_id.as_str(), "0193a000-0000-7000-8000-0000000000aa", "x"];
    for (i, id) in guesses.into_iter().enumerate() {
        let chain = format!("198.51.100.{i}, 203.0.113.5");
        let got = post_token_via(&app, GRANT, Some((id, "pns_guess")), Some(&chain)).await;
        assert_eq!((got.status, got.error()), (401, "invalid_client"), "{id}");
    }
    // The fifth from that address, to yet another client id, waits; so does a right secret.
    let chain = "198.51.100.9, 203.0.113.5";
    let unknown = "0193a000-0000-7000-8000-0000000000bb";
    let limited = post_token_via(&app, GRANT, Some((unknown, "pns_guess")), Some(chain)).await;
    assert_eq!((limited.status, limited.error()), (429, "slow_down"), "{}", limited.body);
    assert!(limited.headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > 0);
    let right = post_token_via(&app, GRANT, Some((&c.client_id, &c.secret)), Some(chain)).await;
    assert_eq!((right.status, right.error()), (429, "slow_down"));
    assert!(right.headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > 0);
    // Another address is not held back, nor is the client.
    let elsewhere = post_token_via(&app, GRANT, Some((&c.client_id, &c.secret)), Some("203.0.113.6")).await;
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.body);

    // Without APP_TRUST_FORWARDED_FOR the header is ignored: changing it gains nothing.
    let app = spawn_app_with(&[("APP_LOGIN_MAX_FAILURES_PER_ADDRESS", "4")]).await;
    let admin = app.token(SYSADMIN).await;
    let d = register(&app, &admin, "HN", &["UNITS_READ"]).await;
    let statuses: Vec<u16> = {
        let mut out = Vec::new();
        for i in 0..5 {
            let id = format!("0193a000-0000-7000-8000-0000000000{i:02}");
            let chain = format!("198.51.100.{i}");
            out.push(post_token_via(&app, GRANT, Some((&id, "pns_guess")), Some(&chain)).await.status);
        }
        out
    };
    assert_eq!(statuses, [401, 401, 401, 401, 429]);
    let right = post_token_via(&app, GRANT, Some((&d.client_id, &d.secret)), Some("203.0.113.7")).await;
    assert_eq!((right.status, right.error()), (429, "slow_down"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_endpoint_answers_503_with_retry_after_while_the_database_is_down() {
    if backend() != "postgres" {
        eprintln!("the database outage needs TEST_DATABASE_URL=postgres://…; nothing checked on SQLite");
        return;
    }
    let direct = isolated_database().await;
    let (proxy, proxied) = crate::faults::Proxy::in_front_of(&direct);
    let app = spawn_app_with(&[
        ("DATABASE_URL", &proxied),
        ("APP_DATABASE_MAX_CONNECTIONS", "3"),
        ("APP_DATABASE_MIN_CONNECTIONS", "1"),
        ("APP_DATABASE_ACQUIRE_TIMEOUT_MS", "1500"),
        ("APP_CLIENT_MAX_FAILURES", "3"),
    ])
    .await;
    let admin = app.token(SYSADMIN).await;
    let client = register(&app, &admin, "HN", &["UNITS_READ"]).await;
    let creds = Some((client.client_id.as_str(), client.secret.as_str()));
    assert_eq!(post_token(&app, GRANT, creds).await.status, 200);

    proxy.cut();
    // The right secret and a wrong one alike: an outage, to retry, never a verdict on the secret
    // — and never counted as a wrong one: a client retrying through the outage, more often than
    // APP_CLIENT_MAX_FAILURES, is not held back once it ends.
    let wrong = Some((client.client_id.as_str(), "pns_guess"));
    for basic in [creds, wrong, creds, wrong, creds, creds] {
        let got = post_token(&app, GRANT, basic).await;
        assert_eq!((got.status, got.error()), (503, "temporarily_unavailable"), "{}", got.body);
        assert!(got.headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > 0);
        assert_eq!(got.headers["cache-control"], "no-store");
        assert!(got.body.get("access_token").is_none());
    }

    // Back: once the database takes a write again, the same credentials get a token at once.
    proxy.restore().await;
    let started = std::time::Instant::now();
    while app.client.get(app.url("/readyz")).send().await.unwrap().status().as_u16() != 200 {
        assert!(started.elapsed() < std::time::Duration::from_secs(15), "the database did not come back");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let got = post_token(&app, GRANT, creds).await;
    assert_eq!(got.status, 200, "{}", got.body);
}
