//! One caller cannot starve everyone's database work: costly fields are bounded per request,
//! statements per time (PostgreSQL), requests per caller in flight.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_counted_searches_are_refused_before_any_statement() {
    let app = spawn_app().await;
    let officer = app.token(LB_OFFICER).await;
    let unit = app.unit_id("HN-LB").await;
    let aliases: String = (0..1000)
        .map(|i| {
            format!(
                "a{i}: members(filter: {{unitId: \"{unit}\", search: \"thị\"}}, first: 0) {{ totalCount }} "
            )
        })
        .collect();
    let before = app.statements();
    let started = Instant::now();
    let res = app.gql(&format!("{{ {aliases} }}"), json!({}), Some(&officer)).await;
    assert_eq!(res.code(), Some("GRAPHQL_VALIDATION_FAILED"), "{}", res.body);
    assert!(started.elapsed() < Duration::from_secs(2));
    // Only the caller's session check may have run; no count, no search.
    assert!(app.statements() - before <= 1, "{} statements", app.statements() - before);
    // Through a fragment used many times: the same.
    let spread: String = (0..20).map(|i| format!("u{i}: orgUnits(first: 1) {{ ...C }} ")).collect();
    let res = app
        .gql(&format!("{{ {spread} }} fragment C on OrgUnitConnection {{ totalCount }}"), json!({}), None)
        .await;
    assert_eq!(res.code(), Some("GRAPHQL_VALIDATION_FAILED"), "{}", res.body);
    // A console page with its count is fine.
    app.gql(
        "query($u: ID!) { members(filter: {unitId: $u, search: \"thị\"}, first: 20) { totalCount edges { node { id } } } }",
        json!({ "u": unit }),
        Some(&officer),
    )
    .await
    .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_over_the_time_limit_is_cancelled() {
    if backend() != "postgres" {
        eprintln!("statement_timeout is PostgreSQL's; nothing to check on SQLite");
        return;
    }
    use sea_orm::ConnectionTrait;
    let app = spawn_app_with(&[("APP_DATABASE_STATEMENT_TIMEOUT_MS", "300")]).await;
    let started = Instant::now();
    let err = app.state.db.execute_unprepared("SELECT pg_sleep(3)").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "cancelled after {:?}", started.elapsed());
    assert!(service::error::is_unavailable(&err), "{err}");
    // Migrations are exempt: the app started (and migrated) with the short limit.
    app.gql("{ me { id } }", json!({}), Some(&app.token(MEMBER).await)).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_caller_cannot_hold_every_worker() {
    let app = spawn_app_with(&[
        ("APP_MAX_IN_FLIGHT_PER_CALLER", "1"),
        ("APP_MAX_IN_FLIGHT_PER_ADDRESS", "1"),
        ("APP_TRUST_FORWARDED_FOR", "true"),
    ])
    .await;
    let login = |addr: &'static str| {
        let q = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }";
        app.gql_from(addr, q, json!({ "i": { "phone": MEMBER, "password": DEMO_PASSWORD } }))
    };
    // Ten logins at once from one address: one runs, the others are told to come back.
    let answers = futures_util::future::join_all((0..10).map(|_| login("203.0.113.50"))).await;
    let refused: Vec<&Gql> = answers.iter().filter(|a| a.status == 429).collect();
    assert!(!refused.is_empty(), "no request was refused");
    assert!(refused.iter().all(|a| a.code() == Some("RATE_LIMITED")));
    assert!(answers.iter().any(|a| !a.has_errors()), "one of them ran");
    // Another caller is served meanwhile, and the first one again afterwards.
    login("203.0.113.51").await.ok();
    login("203.0.113.50").await.ok();
    // A session is a caller of its own, bounded the same way.
    let token = app.token(CITY_ADMIN).await;
    let q = "{ members(first: 100) { edges { node { id } } } }";
    let mut refused = false;
    // Reads are quick: send batches until two of one batch overlap.
    for _ in 0..20 {
        let reads =
            futures_util::future::join_all((0..10).map(|_| app.gql(q, json!({}), Some(&token)))).await;
        assert!(
            reads.iter().all(|r| !r.has_errors() || (r.status == 429 && r.code() == Some("RATE_LIMITED")))
        );
        assert!(reads.iter().any(|r| !r.has_errors()));
        if reads.iter().any(|r| r.status == 429) {
            refused = true;
            break;
        }
    }
    assert!(refused, "no read of the session was refused");
}
