//! How answers are served: compression negotiated by `Accept-Encoding` (and withheld where the
//! answer may carry secrets), GraphiQL from the binary under a content security policy, and
//! `/metrics` behind its token.

use std::io::Read;

use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::*;

/// A query whose answer is well over a kilobyte: every unit of the demo tree.
const UNITS: &str =
    "{ orgUnits(first: 100) { edges { node { id code name kind depth parent { code name } } } } }";

async fn post_with(app: &TestApp, body: Value, headers: &[(&str, &str)]) -> Response {
    // reqwest is built without its decompression features: what the server sends is what the
    // test reads.
    let mut req = app.client.post(app.url("/graphql")).json(&body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

fn encoding(resp: &Response) -> Option<String> {
    resp.headers().get("content-encoding").map(|v| v.to_str().unwrap().to_owned())
}

fn decode(coding: Option<&str>, bytes: &[u8]) -> Value {
    let mut plain = Vec::new();
    match coding {
        None => plain.extend_from_slice(bytes),
        Some("gzip") => {
            flate2::read::GzDecoder::new(bytes).read_to_end(&mut plain).unwrap();
        }
        Some("br") => {
            brotli::Decompressor::new(bytes, 4096).read_to_end(&mut plain).unwrap();
        }
        Some("zstd") => {
            zstd::stream::Decoder::new(bytes).unwrap().read_to_end(&mut plain).unwrap();
        }
        Some(other) => panic!("unexpected coding {other}"),
    }
    serde_json::from_slice(&plain).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_compressed_as_the_client_asks() {
    let app = spawn_app().await;
    let plain = post_with(&app, json!({ "query": UNITS }), &[]).await;
    assert_eq!(encoding(&plain), None, "compressed without being asked");
    let plain_bytes = plain.bytes().await.unwrap();
    assert!(plain_bytes.len() > 1024, "{} bytes: too small to show anything", plain_bytes.len());
    let expected: Value = serde_json::from_slice(&plain_bytes).unwrap();
    assert!(expected.get("errors").is_none(), "{expected}");

    for (accept, coding) in [
        ("gzip", Some("gzip")),
        ("gzip, deflate, br", Some("br")),
        ("gzip, deflate, br, zstd", Some("zstd")),
        ("br;q=0.2, gzip;q=0.8", Some("gzip")),
        ("identity", None),
        ("deflate", None),
        ("*;q=0", None),
    ] {
        let resp = post_with(&app, json!({ "query": UNITS }), &[("accept-encoding", accept)]).await;
        assert_eq!(resp.status().as_u16(), 200, "{accept}");
        assert_eq!(encoding(&resp).as_deref(), coding, "{accept}");
        let vary =
            resp.headers().get("vary").map(|v| v.to_str().unwrap().to_ascii_lowercase()).unwrap_or_default();
        assert!(vary.contains("accept-encoding"), "{accept}: Vary is {vary}");
        let bytes = resp.bytes().await.unwrap();
        if coding.is_some() {
            assert!(
                bytes.len() * 4 < plain_bytes.len(),
                "{accept}: {} of {} bytes",
                bytes.len(),
                plain_bytes.len()
            );
        }
        assert_eq!(decode(coding, &bytes), expected, "{accept}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_answers_go_uncompressed() {
    let app = spawn_app().await;
    let resp =
        post_with(&app, json!({ "query": "{ __typename }" }), &[("accept-encoding", "gzip, br")]).await;
    assert_eq!(encoding(&resp), None);
    assert_eq!(resp.json::<Value>().await.unwrap()["data"]["__typename"], "QueryRoot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_may_carry_secrets_are_never_compressed() {
    let app = spawn_app().await;
    let token = app.token(BD_CASE_OFFICER).await;
    let bearer = format!("Bearer {token}");
    let asked = [("accept-encoding", "gzip, br, zstd"), ("authorization", bearer.as_str())];

    // A mutation (tokens are minted by mutations), even with a large answer: a post whose body
    // is the caller's text.
    let admin = app.token(CITY_ADMIN).await;
    let post = "mutation($u: ID!, $i: PostInput!) { createPost(unitId: $u, input: $i) { id title body } }";
    let body_text = "Nội dung bài viết dài. ".repeat(100);
    let vars = json!({ "u": app.unit_id("HN").await, "i": { "title": "Tin dài", "body": body_text, "coverImageUrl": null } });
    let admin_bearer = format!("Bearer {admin}");
    let resp = post_with(
        &app,
        json!({ "query": post, "variables": vars }),
        &[("accept-encoding", "gzip, br, zstd"), ("authorization", admin_bearer.as_str())],
    )
    .await;
    assert_eq!(encoding(&resp), None, "a mutation's answer was compressed");
    let answer = resp.bytes().await.unwrap();
    assert!(
        answer.len() > 2048,
        "{} bytes: the answer must be large enough to be compressed otherwise",
        answer.len()
    );
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert!(answer.get("errors").is_none(), "{answer}");

    // A query selecting a violence report's fields (the case officer's queue).
    let queue = format!(
        "{{ violenceReports(first: 50) {{ edges {{ node {{ id status }} }} }} {} }}",
        &UNITS[1..UNITS.len() - 1]
    );
    let resp = post_with(&app, json!({ "query": queue }), &asked).await;
    let coding = encoding(&resp);
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(coding, None, "an answer about violence reports was compressed");

    // The same officer's ordinary query is.
    let resp = post_with(&app, json!({ "query": UNITS }), &asked).await;
    assert_eq!(encoding(&resp).as_deref(), Some("zstd"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_loads_from_the_server_alone() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/graphql")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let csp = resp.headers().get("content-security-policy").expect("a CSP").to_str().unwrap().to_owned();
    for directive in
        ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]
    {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("http"), "the CSP allows another origin: {csp}");
    let page = resp.text().await.unwrap();
    // Every script and stylesheet comes from this server, and is served.
    let mut loaded = 0;
    for attr in ["src=\"", "href=\""] {
        for (i, _) in page.match_indices(attr) {
            let rest = &page[i + attr.len()..];
            let url = &rest[..rest.find('"').unwrap()];
            assert!(url.starts_with('/'), "loaded from elsewhere: {url}");
            let asset = app.client.get(app.url(url)).send().await.unwrap();
            assert_eq!(asset.status().as_u16(), 200, "{url}");
            let kind = asset.headers()["content-type"].to_str().unwrap().to_owned();
            assert!(kind.starts_with("text/javascript") || kind.starts_with("text/css"), "{url}: {kind}");
            assert!(!asset.bytes().await.unwrap().is_empty(), "{url}");
            loaded += 1;
        }
    }
    assert_eq!(loaded, 6, "the page, GraphiQL and React: {page}");
    assert!(!page.contains("unpkg") && !page.contains("cdn"), "{page}");
    // Compressed on request, like any large answer.
    let big = app
        .client
        .get(app.url("/graphiql/graphiql.min.js"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(encoding(&big).as_deref(), Some("br"));
    assert!(big.bytes().await.unwrap().len() < 400_000);
    // Nothing else is served there.
    let missing = app.client.get(app.url("/graphiql/../Cargo.toml")).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_files_are_not_served_where_graphiql_is_off() {
    let app = spawn_app_with(&[("APP_GRAPHIQL", "false")]).await;
    let resp = app.client.get(app.url("/graphiql/graphiql.min.js")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}

const METRICS_TOKEN: &str = "metrics-scraper-token-0123456789abcdef";

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let mut req = app.client.get(app.url("/metrics"));
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// The value of the series `series` (name and labels as written), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_not_public() {
    let off = spawn_app().await;
    assert_eq!(scrape(&off, None).await.0, 404, "without a token configured there is no endpoint");
    let app = spawn_app_with(&[("APP_METRICS_TOKEN", METRICS_TOKEN)]).await;
    assert_eq!(scrape(&app, None).await.0, 401);
    assert_eq!(scrape(&app, Some("metrics-scraper-token-0123456789abcdeX")).await.0, 401);
    app.gql("query Probe { __typename }", json!({}), None).await.ok();
    let (status, text) = scrape(&app, Some(METRICS_TOKEN)).await;
    assert_eq!(status, 200);
    assert!(text.contains("# TYPE phunu_graphql_operations_total counter"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_expose_operations_errors_pool_queues_and_reports() {
    let app = spawn_app_with(&[("APP_METRICS_TOKEN", METRICS_TOKEN)]).await;
    let (_, before) = scrape(&app, Some(METRICS_TOKEN)).await;
    let ok = "phunu_graphql_operations_total{operation=\"MetricsProbe\",outcome=\"OK\",type=\"query\"}";
    let failed =
        "phunu_graphql_operations_total{operation=\"MetricsMe\",outcome=\"UNAUTHENTICATED\",type=\"query\"}";
    let unauthenticated = "phunu_graphql_errors_total{code=\"UNAUTHENTICATED\"}";
    app.gql("query MetricsProbe { __typename }", json!({}), None).await.ok();
    app.gql("query MetricsProbe { __typename }", json!({}), None).await.ok();
    app.gql("query MetricsMe { me { id } }", json!({}), None).await.expect_code("UNAUTHENTICATED");
    let (_, text) = scrape(&app, Some(METRICS_TOKEN)).await;
    // Counters are per process (the tests share one): compare with the scrape before.
    let grew = |series: &str, by: f64| {
        let was = value(&before, series).unwrap_or(0.0);
        let now = value(&text, series).unwrap_or_else(|| panic!("{series} missing:\n{text}"));
        assert!(now - was >= by, "{series}: {was} then {now}");
    };
    grew(ok, 2.0);
    grew(failed, 1.0);
    grew(unauthenticated, 1.0);
    assert!(text.contains("phunu_graphql_operation_duration_seconds_bucket{operation=\"MetricsProbe\",type=\"query\",le=\"0.001\"}"), "{text}");
    assert!(text.contains("phunu_http_responses_total{route=\"graphql\",status=\"200\"}"), "{text}");
    assert!(value(&text, "phunu_db_statements_total").unwrap() > 0.0);
    for series in [
        "phunu_db_pool_connections{state=\"idle\"}",
        "phunu_db_pool_connections{state=\"in_use\"}",
        "phunu_db_pool_max_connections",
        "phunu_db_pool_acquire_seconds",
        "phunu_queue_backlog{queue=\"push\"}",
        "phunu_queue_backlog{queue=\"fanout\"}",
        "phunu_queue_backlog{queue=\"sms\"}",
        "phunu_queue_backlog{queue=\"webhook\"}",
        "phunu_queue_oldest_age_seconds{queue=\"push\"}",
        "phunu_violence_reports_unacknowledged",
        "phunu_violence_reports_overdue",
        "phunu_violence_escalation_lag_seconds",
        "phunu_ws_connections",
        "phunu_ws_operations",
    ] {
        assert!(value(&text, series).is_some(), "{series} missing:\n{text}");
    }
    assert_eq!(value(&text, "phunu_metrics_database_up"), Some(1.0));
    assert!(text.contains("phunu_worker_rounds_total{outcome=\"ok\",worker="), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_report_shows_on_the_gauge() {
    let app =
        spawn_app_with(&[("APP_METRICS_TOKEN", METRICS_TOKEN), ("APP_REPORT_ESCALATION_POLL_MS", "3600000")])
            .await;
    let (_, text) = scrape(&app, Some(METRICS_TOKEN)).await;
    let before = value(&text, "phunu_violence_reports_overdue").unwrap();
    // An anonymous report whose deadline passed while no escalation worker ran (the worker
    // polls once an hour here; the deadline is moved back directly).
    let receipt = crate::fixtures::violence_report(&app, None, "HN-LB-BD", false, "Mô tả").await;
    let code = receipt["referenceCode"].as_str().unwrap().to_owned();
    use entities::violence_report as report;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    report::Entity::update_many()
        .col_expr(report::Column::EscalateAt, Expr::value(chrono::Utc::now() - chrono::Duration::hours(2)))
        .filter(report::Column::ReferenceCode.eq(code))
        .exec(&app.state.db)
        .await
        .unwrap();
    let (_, text) = scrape(&app, Some(METRICS_TOKEN)).await;
    assert!(value(&text, "phunu_violence_reports_overdue").unwrap() >= before + 1.0, "{text}");
    assert!(value(&text, "phunu_violence_escalation_lag_seconds").unwrap() > 3600.0, "{text}");
}
