//! Cost points and buckets: every response says what it cost and what is left; a query over
//! the maximum is refused before it runs; a caller who overspends waits (429), and instances
//! sharing Redis share the bucket.

use serde_json::{Value, json};

use crate::helpers::{SYSADMIN, backend, spawn_app, spawn_app_with};

const UNITS: &str = "{ orgUnits(first: 5) { edges { node { name } } } }";

async fn raw(
    app: &crate::helpers::TestApp,
    query: &str,
    token: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = app.client.post(app.url("/graphql")).json(&json!({ "query": query }));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap())
}

#[tokio::test]
async fn every_response_says_what_it_cost_and_what_is_left() {
    let app = spawn_app_with(&[
        ("APP_ANONYMOUS_BUCKET_CAPACITY", "1000"),
        ("APP_ANONYMOUS_BUCKET_RESTORE_PER_SEC", "1"),
    ])
    .await;
    let (status, headers, body) = raw(&app, UNITS, None).await;
    assert_eq!(status, 200, "{body}");
    let cost = &body["extensions"]["cost"];
    // Five edges, five nodes and the connection.
    assert_eq!(cost["requestedQueryCost"], json!(11));
    let actual = cost["actualQueryCost"].as_u64().unwrap();
    assert!((3..=11).contains(&actual), "{cost}");
    assert_eq!(cost["throttleStatus"]["maximumAvailable"], json!(1000));
    assert_eq!(cost["throttleStatus"]["restoreRate"], json!(1));
    let left = cost["throttleStatus"]["currentlyAvailable"].as_u64().unwrap();
    assert!((1000 - actual - 1..=1000 - actual).contains(&left), "{left} after {actual}");
    assert_eq!(headers["ratelimit-limit"], "1000");
    assert_eq!(headers["ratelimit-remaining"].to_str().unwrap(), left.to_string());
    assert!(headers["ratelimit-reset"].to_str().unwrap().parse::<u64>().unwrap() >= actual);
}

#[tokio::test]
async fn a_query_over_the_maximum_is_refused_before_it_runs_and_real_screens_fit() {
    let app = spawn_app().await;
    let nested = "{ orgUnits(first: 100) { edges { node { children(first: 100) { edges { node { children(first: 100) { edges { node { id } } } } } } } } } }";
    let before = app.statements();
    let (status, _, body) = raw(&app, nested, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["errors"][0]["extensions"]["code"], json!("GRAPHQL_VALIDATION_FAILED"));
    assert_eq!(body["errors"][0]["extensions"]["reason"], json!("MAX_COST_EXCEEDED"));
    assert!(body["errors"][0]["extensions"]["cost"]["requestedQueryCost"].as_u64().unwrap() > 1_000_000);
    assert!(body.get("data").is_none());
    assert_eq!(app.statements() - before, 0);
    // Twenty districts with twenty wards each: a console screen.
    let screen = "{ orgUnits(first: 20) { edges { node { name children(first: 20) { edges { node { name code } } } } } } }";
    let (_, _, body) = raw(&app, screen, None).await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn a_client_that_overspends_waits_and_instances_share_its_bucket() {
    let app = spawn_app().await;
    // Instances sharing Redis share the bucket; without Redis each holds its own.
    let shared = backend() == "postgres" && app.state.cache.is_redis();
    let peer = if shared { Some(app.spawn_peer().await) } else { None };
    let admin = app.token(SYSADMIN).await;
    let bucket = json!({ "bucket": { "capacity": 60, "perSec": 1 } });
    let client = super::register_with(&app, &admin, "HN", &["UNITS_READ"], bucket).await;
    let token = super::client_token(&app, &client).await;
    // 11 points each, whatever is returned: a page of five of the city's units (there are more).
    let mut spent = 0;
    let mut refused = None;
    for n in 0..12 {
        let on = match (&peer, n % 2) {
            (Some(p), 1) => p,
            _ => &app,
        };
        let (status, headers, body) = raw(on, UNITS, Some(&token)).await;
        if status == 429 {
            refused = Some((n, headers, body));
            break;
        }
        assert_eq!(status, 200, "{body}");
        spent += body["extensions"]["cost"]["actualQueryCost"].as_u64().unwrap();
    }
    let (n, headers, body) = refused.expect("the bucket ran dry");
    // 60 points, 11 a query (one or two restored meanwhile): the sixth or seventh is refused,
    // counted across both instances.
    assert!((5..=7).contains(&n), "refused at {n} after {spent} points");
    assert_eq!(body["errors"][0]["extensions"]["code"], json!("RATE_LIMITED"));
    let retry = body["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap();
    assert!(retry >= 1);
    assert_eq!(headers["retry-after"].to_str().unwrap(), retry.to_string());
    assert_eq!(headers["ratelimit-limit"], "60");
    assert!(body.get("data").is_none());
}

#[tokio::test]
async fn a_person_has_a_bucket_of_her_own() {
    let app =
        spawn_app_with(&[("APP_PERSON_BUCKET_CAPACITY", "30"), ("APP_PERSON_BUCKET_RESTORE_PER_SEC", "1")])
            .await;
    let token = app.token(crate::helpers::MEMBER).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(raw(&app, UNITS, Some(&token)).await.0);
    }
    assert_eq!(statuses[..2], [200, 200]);
    assert!(statuses.contains(&429), "{statuses:?}");
    // Without her token the address's bucket still serves.
    assert_eq!(raw(&app, UNITS, None).await.0, 200);
}

#[tokio::test]
async fn with_the_buckets_off_nobody_pays_but_the_maximum_still_holds() {
    let app = spawn_app_with(&[
        ("APP_QUOTA_BUCKETS", "false"),
        ("APP_PERSON_BUCKET_CAPACITY", "30"),
        ("APP_PERSON_BUCKET_RESTORE_PER_SEC", "1"),
        ("APP_QUERY_MAX_COST", "100"),
    ])
    .await;
    let token = app.token(crate::helpers::MEMBER).await;
    for _ in 0..6 {
        let (status, headers, body) = raw(&app, UNITS, Some(&token)).await;
        assert_eq!(status, 200, "{body}");
        assert!(headers.get("ratelimit-limit").is_none());
        assert!(body["extensions"]["cost"].get("throttleStatus").is_none(), "{body}");
        assert_eq!(body["extensions"]["cost"]["requestedQueryCost"], 11);
    }
    let big =
        "{ orgUnits(first: 20) { edges { node { children(first: 20) { edges { node { name } } } } } } }";
    let (_, _, body) = raw(&app, big, Some(&token)).await;
    assert_eq!(body["errors"][0]["extensions"]["reason"], "MAX_COST_EXCEEDED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_lets_queries_run_unmetered() {
    let mut redis = crate::faults::PrivateRedis::start().await;
    let app = spawn_app_with(&[("REDIS_URL", &redis.url()), ("APP_REDIS_TIMEOUT_MS", "300")]).await;
    let admin = app.token(SYSADMIN).await;
    // A bucket of 10 points: a query of 11 can never be paid for from it.
    let bucket = json!({ "bucket": { "capacity": 10, "perSec": 1 } });
    let client = super::register_with(&app, &admin, "HN", &["UNITS_READ"], bucket).await;
    let token = super::client_token(&app, &client).await;
    const TWO: &str = "{ orgUnits(first: 2) { edges { node { name } } } }";

    // Metered while Redis answers: a small query is paid for, one over the bucket refused.
    let (status, headers, body) = raw(&app, TWO, Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"], json!(10));
    assert_eq!(headers["ratelimit-limit"], "10");
    let (status, _, body) = raw(&app, UNITS, Some(&token)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], json!("RATE_LIMITED"));

    // Redis is gone: the same query runs, again and again, and says what it cost but not what
    // is left (nothing holds the bucket), in the body or the headers.
    redis.kill();
    for _ in 0..3 {
        let (status, headers, body) = raw(&app, UNITS, Some(&token)).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(body["data"]["orgUnits"]["edges"].as_array().unwrap().len(), 5, "{body}");
        let cost = &body["extensions"]["cost"];
        assert_eq!(cost["requestedQueryCost"], json!(11), "{body}");
        assert!(cost["actualQueryCost"].as_u64().is_some_and(|a| a <= 11), "{body}");
        assert!(cost.get("throttleStatus").is_none(), "{body}");
        for header in ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"] {
            assert!(headers.get(header).is_none(), "{header} without a bucket");
        }
    }
}
