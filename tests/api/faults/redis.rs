//! Redis killed, restarted empty, or paused (a network outage that keeps its data): revoked
//! sessions stay revoked, valid ones stay valid, throttled actions fail fast and retryably,
//! subscriptions stay open and resume.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{PrivateRedis, Proxy, ms};
use crate::{helpers::*, ws};

const ME: &str = "{ me { phone } }";
const REFRESH: &str = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }";

async fn app_on(redis: &PrivateRedis) -> TestApp {
    spawn_app_with(&[("REDIS_URL", &redis.url()), ("APP_REDIS_TIMEOUT_MS", "300")]).await
}

/// Waits until the app trusts its cache again (the guard restored the flags).
async fn until_restored(app: &TestApp) -> u128 {
    let started = Instant::now();
    while !app.state.cache.trusted() {
        assert!(started.elapsed() < Duration::from_secs(10), "the revocation flags were not restored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ms(started)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_survives_redis_restarting_empty() {
    let mut redis = PrivateRedis::start().await;
    let app = app_on(&redis).await;
    let revoked = app.token(MEMBER).await;
    let valid = app.token(CITY_ADMIN).await;
    app.gql("mutation { logout }", json!({}), Some(&revoked)).await.ok();
    app.gql(ME, json!({}), Some(&revoked)).await.expect_code("UNAUTHENTICATED");

    redis.restart_empty().await;
    // The first request after the restart already knows better than "no flag, not revoked".
    app.gql(ME, json!({}), Some(&revoked)).await.expect_code("UNAUTHENTICATED");
    assert_eq!(app.gql(ME, json!({}), Some(&valid)).await.ok()["me"]["phone"], CITY_ADMIN);
    let restored_ms = until_restored(&app).await;
    app.gql(ME, json!({}), Some(&revoked)).await.expect_code("UNAUTHENTICATED");
    assert_eq!(app.gql(ME, json!({}), Some(&valid)).await.ok()["me"]["phone"], CITY_ADMIN);
    // Another instance that starts now sees the same.
    let peer = app.spawn_peer().await;
    peer.gql(ME, json!({}), Some(&revoked)).await.expect_code("UNAUTHENTICATED");
    eprintln!("redis restarted empty: flags restored {restored_ms} ms after the first request noticed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_during_a_redis_outage_revokes_the_session() {
    let mut redis = PrivateRedis::start().await;
    let app = app_on(&redis).await;
    let (access, refresh) = app.login(MEMBER, DEMO_PASSWORD).await;

    redis.kill();
    let started = Instant::now();
    app.gql("mutation { logout }", json!({}), Some(&access)).await.ok();
    let logout_ms = ms(started);
    app.gql(ME, json!({}), Some(&access)).await.expect_code("UNAUTHENTICATED");
    app.gql(REFRESH, json!({ "t": refresh }), None).await.expect_code("UNAUTHENTICATED");

    redis.restart_empty().await;
    until_restored(&app).await;
    app.gql(ME, json!({}), Some(&access)).await.expect_code("UNAUTHENTICATED");
    app.gql(REFRESH, json!({ "t": refresh }), None).await.expect_code("UNAUTHENTICATED");
    eprintln!("logout with redis down answered in {logout_ms} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_lost_in_an_outage_is_written_when_redis_answers_again() {
    // Paused, Redis keeps its data (and its restoration marker): only the flag is missing.
    let redis = PrivateRedis::start().await;
    let app = app_on(&redis).await;
    let peer = app.spawn_peer().await;
    let access = app.token(MEMBER).await;
    redis.pause(true);
    app.gql("mutation { logout }", json!({}), Some(&access)).await.ok();
    redis.pause(false);
    until_restored(&app).await;
    until_restored(&peer).await;
    app.gql(ME, json!({}), Some(&access)).await.expect_code("UNAUTHENTICATED");
    peer.gql(ME, json!({}), Some(&access)).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_one_instance_could_not_write_is_written_by_the_others() {
    // Instance C reaches Redis through a proxy the test cuts; A reaches it directly and never
    // sees an error, so it keeps trusting Redis.
    let redis = PrivateRedis::start().await;
    let proxy = Proxy::start(format!("127.0.0.1:{}", redis.port).parse().unwrap());
    let a = app_on(&redis).await;
    let c = a.spawn_peer_with(&[("REDIS_URL", &format!("redis://127.0.0.1:{}", proxy.port))]).await;
    let access = a.token(MEMBER).await;
    a.gql(ME, json!({}), Some(&access)).await.ok();

    proxy.cut();
    c.gql("mutation { logout }", json!({}), Some(&access)).await.ok();
    c.gql(ME, json!({}), Some(&access)).await.expect_code("UNAUTHENTICATED");
    let started = Instant::now();
    while a.gql(ME, json!({}), Some(&access)).await.code() != Some("UNAUTHENTICATED") {
        assert!(started.elapsed() < Duration::from_secs(5), "A still accepts the token C revoked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(a.state.cache.trusted(), "A never had a reason to distrust Redis");
    eprintln!("a flag C could not write was written by A's guard within {} ms", ms(started));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_is_fast_and_ends_no_valid_session() {
    let mut redis = PrivateRedis::start().await;
    let app = app_on(&redis).await;
    let valid = app.token(MEMBER).await;
    let mut socket = ws::subscribe_session_revoked(&app, &valid).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    redis.kill();
    let started = Instant::now();
    assert_eq!(app.gql(ME, json!({}), Some(&valid)).await.ok()["me"]["phone"], MEMBER);
    let me_ms = ms(started);
    // Throttled: fails closed, fast, and says when to retry.
    let started = Instant::now();
    let login = app
        .gql(
            "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
            json!({ "i": { "phone": CITY_ADMIN, "password": DEMO_PASSWORD } }),
            None,
        )
        .await;
    let login_ms = ms(started);
    assert_eq!((login.status, login.code()), (503, Some("UNAVAILABLE")), "{}", login.body);
    assert!(login.body["errors"][0]["extensions"]["retryAfter"].as_u64().is_some());
    assert!(login_ms < 2000, "throttled calls fail fast during the outage ({login_ms} ms)");
    assert!(me_ms < 2000, "a signed-in read stays fast during the outage ({me_ms} ms)");
    // The socket stays open through the outage: an operation on it is still served.
    ws::send(
        &mut socket,
        json!({ "id": "2", "type": "subscribe", "payload": { "query": "{ me { phone } }" } }),
    )
    .await;
    let answer = ws::next_event(&mut socket).await;
    assert_eq!(answer["payload"]["data"]["me"]["phone"], MEMBER, "{answer}");

    redis.restart_empty().await;
    let recovery = Instant::now();
    while app.gql(ME, json!({}), None).await.status != 200 || !app.state.cache.trusted() {
        assert!(recovery.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recovery_ms = ms(recovery);
    // Events resume on the same socket once the relay has resubscribed.
    let prefix = app.vars.get("APP_REDIS_PREFIX").cloned().unwrap_or_else(|| "phunu:".to_owned());
    let resubscribed = Instant::now();
    while redis.subscribers(&format!("{prefix}events")).await < 1 {
        assert!(resubscribed.elapsed() < Duration::from_secs(10), "the event relay did not resubscribe");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resubscribed_ms = ms(resubscribed);
    app.gql("mutation { logout }", json!({}), Some(&valid)).await.ok();
    let event = loop {
        // Skip the end of operation "2".
        let msg = ws::next_event(&mut socket).await;
        if msg["id"] == "1" {
            break msg;
        }
    };
    assert_eq!(event["payload"]["data"]["sessionRevoked"]["reason"], "LOGOUT", "{event}");
    eprintln!(
        "redis killed: signed-in read {me_ms} ms, throttled login UNAVAILABLE in {login_ms} ms; \
         recovered {recovery_ms} ms after restart, events resumed {resubscribed_ms} ms later"
    );
}
