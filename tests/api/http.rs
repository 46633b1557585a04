//! GraphQL over HTTP: methods, media types, status codes, limits, languages, request ids,
//! probes, production hardening, and argument checks shared by every list and id.

use reqwest::{Response, Url};
use serde_json::{Value, json};

use crate::helpers::*;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// `GET /graphql` with URL parameters and extra headers.
async fn get_graphql(app: &TestApp, params: &[(&str, &str)], headers: &[(&str, &str)]) -> Response {
    let url = Url::parse_with_params(&app.url("/graphql"), params).unwrap();
    let mut req = app.client.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// `POST /graphql` with a raw body and extra headers.
async fn post_raw(app: &TestApp, body: impl Into<reqwest::Body>, headers: &[(&str, &str)]) -> Response {
    let mut req = app.client.post(app.url("/graphql")).body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// `POST /graphql` of a JSON request with an `Accept` header.
async fn post_accepting(app: &TestApp, accept: &str, query: &str) -> Response {
    post_raw(
        app,
        json!({ "query": query }).to_string(),
        &[("content-type", "application/json"), ("accept", accept)],
    )
    .await
}

fn content_type(resp: &Response) -> String {
    resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

fn first_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// Status and JSON body.
async fn status_json(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

// ---------------------------------------------------------------------------------------------
// Methods

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_runs_a_query_from_url_parameters() {
    let app = spawn_app().await;
    let (status, body) = status_json(get_graphql(&app, &[("query", "{__typename}")], &[]).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["__typename"], "QueryRoot");
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_refuses_a_mutation_with_405_and_does_not_run_it() {
    let app = spawn_app().await;
    let access = app.token(MEMBER).await;
    let resp = get_graphql(
        &app,
        &[("query", "mutation { logout }")],
        &[("authorization", &format!("Bearer {access}"))],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(resp.headers().get("allow").unwrap(), "POST");
    // Had `logout` run, the token would be dead.
    app.gql("{ me { id } }", json!({}), Some(&access)).await.ok();
}

// ---------------------------------------------------------------------------------------------
// Malformed requests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_without_a_json_content_type_is_415() {
    let app = spawn_app().await;
    let body = json!({ "query": "{__typename}" }).to_string();
    for headers in [&[][..], &[("content-type", "text/plain")][..]] {
        let (status, json) = status_json(post_raw(&app, body.clone(), headers).await).await;
        assert_eq!(status, 415, "{headers:?}");
        assert_eq!(first_code(&json), Some("BAD_REQUEST"), "{json}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_bodies_are_400_bad_request() {
    let app = spawn_app().await;
    for body in [r#"{"query": "{__typename}""#, r#"[{"query": "{__typename}"}]"#, r#"{"query": 1}"#] {
        let (status, json) =
            status_json(post_raw(&app, body, &[("content-type", "application/json")]).await).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(first_code(&json), Some("BAD_REQUEST"), "{body}: {json}");
        assert!(json.get("data").is_none(), "{json}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_413() {
    let app = spawn_app_with(&[("APP_MAX_BODY_BYTES", "1024")]).await;
    let small = json!({ "query": "{__typename}" }).to_string();
    let resp = post_raw(&app, small, &[("content-type", "application/json")]).await;
    assert_eq!(resp.status().as_u16(), 200);
    let big = json!({ "query": format!("{{__typename}}{}", " ".repeat(2048)) }).to_string();
    let resp = post_raw(&app, big, &[("content-type", "application/json")]).await;
    assert_eq!(resp.status().as_u16(), 413);
}

// ---------------------------------------------------------------------------------------------
// Media types and status codes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_response_json_gets_400_without_data_for_a_syntax_error() {
    let app = spawn_app().await;
    let resp = post_accepting(&app, GRAPHQL_RESPONSE, "{ me {").await;
    assert!(content_type(&resp).starts_with(GRAPHQL_RESPONSE), "{}", content_type(&resp));
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 400);
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(first_code(&body), Some("GRAPHQL_PARSE_FAILED"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_response_json_gets_400_for_a_validation_error() {
    let app = spawn_app().await;
    let (status, body) = status_json(post_accepting(&app, GRAPHQL_RESPONSE, "{ noSuchField }").await).await;
    assert_eq!(status, 400);
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(first_code(&body), Some("GRAPHQL_VALIDATION_FAILED"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_response_json_gets_200_with_data_for_a_resolver_error() {
    let app = spawn_app().await;
    let (status, body) = status_json(post_accepting(&app, GRAPHQL_RESPONSE, "{ me { id } }").await).await;
    assert_eq!(status, 200);
    assert!(body.get("data").is_some(), "{body}");
    assert_eq!(first_code(&body), Some("UNAUTHENTICATED"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_json_gets_200_even_for_a_syntax_error() {
    let app = spawn_app().await;
    let resp = post_accepting(&app, "application/json", "{ me {").await;
    assert!(content_type(&resp).starts_with("application/json"), "{}", content_type(&resp));
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200);
    assert_eq!(first_code(&body), Some("GRAPHQL_PARSE_FAILED"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacceptable_media_type_is_406() {
    let app = spawn_app().await;
    let resp = post_accepting(&app, "text/csv", "{__typename}").await;
    assert_eq!(resp.status().as_u16(), 406);
}

// ---------------------------------------------------------------------------------------------
// Limits

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_deeper_than_the_limit_are_refused() {
    let app = spawn_app_with(&[("APP_QUERY_DEPTH_LIMIT", "5")]).await;
    app.gql("{ orgUnits { edges { node { name } } } }", json!({}), None).await.ok();
    app.gql(
        "{ orgUnits { edges { node { parent { parent { parent { parent { name } } } } } } } }",
        json!({}),
        None,
    )
    .await
    .expect_code("GRAPHQL_VALIDATION_FAILED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_costs_its_page_size_times_what_it_selects() {
    let app = spawn_app_with(&[("APP_QUERY_MAX_COST", "50")]).await;
    app.gql("{ orgUnits(first: 2) { edges { node { name } } } }", json!({}), None).await.ok();
    app.gql("{ orgUnits(first: 100) { edges { node { name } } } }", json!({}), None)
        .await
        .expect_reason("GRAPHQL_VALIDATION_FAILED", "MAX_COST_EXCEEDED");
}

// ---------------------------------------------------------------------------------------------
// Languages and request ids

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_language_changes_the_message_but_not_the_code_or_field() {
    let app = spawn_app().await;
    let body = json!({
        "query": "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
        "variables": { "i": { "phone": "12345", "fullName": "Nguyễn Thị Hoa", "password": "hoa-sen-2024", "verificationToken": "x", "privacyNoticeVersion": "2026-12" } },
    })
    .to_string();
    let (_, vi) =
        status_json(post_raw(&app, body.clone(), &[("content-type", "application/json")]).await).await;
    let (_, en) = status_json(
        post_raw(&app, body, &[("content-type", "application/json"), ("accept-language", "en")]).await,
    )
    .await;
    for res in [&vi, &en] {
        assert_eq!(first_code(res), Some("BAD_USER_INPUT"), "{res}");
        assert_eq!(res["errors"][0]["extensions"]["field"], "input.phone", "{res}");
    }
    let (vi_msg, en_msg) = (&vi["errors"][0]["message"], &en["errors"][0]["message"]);
    assert!(vi_msg.is_string() && en_msg.is_string());
    assert_ne!(vi_msg, en_msg);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let responses = [
        post_accepting(&app, "application/json", "{__typename}").await,
        post_raw(&app, "x", &[]).await,
        get_graphql(&app, &[("query", "{__typename}")], &[]).await,
        app.client.get(app.url("/healthz")).send().await.unwrap(),
        app.client.get(app.url("/no-such-path")).send().await.unwrap(),
    ];
    for resp in &responses {
        let id = resp.headers().get("x-request-id");
        assert!(id.is_some_and(|v| !v.is_empty()), "{} {}", resp.url(), resp.status());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sane_request_id_is_echoed_and_an_insane_one_replaced() {
    let app = spawn_app().await;
    let resp =
        app.client.get(app.url("/healthz")).header("x-request-id", "abc-123-DEF").send().await.unwrap();
    assert_eq!(resp.headers().get("x-request-id").unwrap(), "abc-123-DEF");
    let insane = "x".repeat(200);
    let resp = app.client.get(app.url("/healthz")).header("x-request-id", &insane).send().await.unwrap();
    let id = resp.headers().get("x-request-id").unwrap().to_str().unwrap();
    assert!(!id.is_empty() && id != insane);
}

// ---------------------------------------------------------------------------------------------
// Probes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_readyz_answer_ok() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (status, body) = status_json(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok", "{body}");
}

/// What SIGTERM starts: `/readyz` turns 503 `draining` while requests, those in flight and new
/// ones, are still answered; then the server stops and refuses connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_drains_then_closes_without_cutting_requests_off() {
    let app = spawn_app_with(&[("APP_SHUTDOWN_DRAIN_SECS", "1")]).await;
    let logins: Vec<_> = (1..=8)
        .map(|i| {
            let (client, url) = (app.client.clone(), app.url("/graphql"));
            tokio::spawn(async move {
                let query = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }";
                let input = json!({ "phone": format!("+8490000000{i}"), "password": DEMO_PASSWORD });
                let resp =
                    client.post(url).json(&json!({ "query": query, "variables": { "i": input } })).send();
                resp.await.expect("answered").json::<Value>().await.expect("a JSON answer")
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.request_stop();

    let mut draining = None;
    for _ in 0..100 {
        let (status, body) = status_json(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
        if status == 503 {
            draining = Some(body);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(draining.expect("readyz turns 503 while draining")["status"], "draining");
    let during = app.gql("{ __typename }", json!({}), None).await;
    assert_eq!(during.ok()["__typename"], "QueryRoot", "a new request during the drain is served");
    for login in logins {
        let body = login.await.unwrap();
        assert!(body["data"]["login"]["accessToken"].is_string(), "{body}");
    }

    let url = app.url("/healthz");
    tokio::time::timeout(std::time::Duration::from_secs(30), app.stopped())
        .await
        .expect("the server stops after the drain")
        .expect("and stops cleanly");
    // A new connection: one the test client kept from before the stop may fail otherwise (closed
    // under it) before it notices, which says nothing about the listener.
    let after = reqwest::Client::new().get(url).send().await.expect_err("the listener is closed");
    assert!(after.is_connect(), "{after}");
}

/// A second SIGTERM cuts the drain short (a drain of ten minutes would outlast the timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_stop_request_cuts_the_drain_short() {
    let app = spawn_app_with(&[("APP_SHUTDOWN_DRAIN_SECS", "600")]).await;
    app.request_stop();
    app.request_stop();
    tokio::time::timeout(std::time::Duration::from_secs(30), app.stopped())
        .await
        .expect("the server stops without waiting out the drain")
        .expect("and stops cleanly");
}

// ---------------------------------------------------------------------------------------------
// Production hardening

const INTROSPECTION: &str = "{ __schema { queryType { name } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_allows_introspection_and_serves_graphiql() {
    let app = spawn_app().await;
    let data = app.gql(INTROSPECTION, json!({}), None).await.ok();
    assert_eq!(data["__schema"]["queryType"]["name"], "QueryRoot");
    let resp = get_graphql(&app, &[], &[("accept", "text/html")]).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert!(content_type(&resp).starts_with("text/html"), "{}", content_type(&resp));
    assert!(resp.text().await.unwrap().to_lowercase().contains("graphiql"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_refuses_introspection() {
    let app = spawn_app_with(&[("APP_ENV", "production")]).await;
    let res = app.gql(INTROSPECTION, json!({}), None).await;
    assert!(res.body["data"]["__schema"].is_null(), "{}", res.body);
    assert!(res.has_errors(), "introspection must fail with an error, not a silent null: {}", res.body);
    // The app itself works: the refusal is about introspection.
    app.gql("{__typename}", json!({}), None).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_introspection_errors_suggest_no_field_names() {
    let app = spawn_app_with(&[("APP_ENV", "production")]).await;
    let res = app.gql("mutation { logn(input: {}) { accessToken } }", json!({}), None).await;
    assert_eq!(res.code(), Some("GRAPHQL_VALIDATION_FAILED"), "{}", res.body);
    let message = res.body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(!message.contains("login"), "a suggestion names a hidden field: {message}");
    // In development, with introspection on, suggestions help.
    let dev = spawn_app().await;
    let res = dev.gql("mutation { logn(input: {}) { accessToken } }", json!({}), None).await;
    assert!(res.body["errors"][0]["message"].as_str().unwrap_or_default().contains("login"), "{}", res.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_does_not_serve_graphiql() {
    let app = spawn_app_with(&[("APP_ENV", "production")]).await;
    let resp = get_graphql(&app, &[], &[("accept", "text/html")]).await;
    assert!(!content_type(&resp).starts_with("text/html"), "{}", content_type(&resp));
    assert!(!resp.text().await.unwrap().to_lowercase().contains("graphiql"));
}

// ---------------------------------------------------------------------------------------------
// Ids and paging arguments

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_with_a_malformed_id_names_the_id() {
    let app = spawn_app().await;
    for id in ["not-an-id!", "", "T3JnVW5pdDpub3QtYS11dWlk"] {
        let res = app.gql("query($id: ID!) { node(id: $id) { id } }", json!({ "id": id }), None).await;
        assert_eq!(res.code(), Some("BAD_USER_INPUT"), "{id}: {}", res.body);
        assert_eq!(res.field(), Some("id"), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_unit_with_an_id_of_another_type_is_bad_input() {
    let app = spawn_app().await;
    let (_, _, person_id) = app.register("0912345678", "Nguyễn Thị Hoa", "hoa-sen-2024").await;
    let query = "query($id: ID!) { orgUnit(id: $id) { name } }";
    let res = app.gql(query, json!({ "id": person_id }), None).await;
    assert_eq!(res.code(), Some("BAD_USER_INPUT"), "{}", res.body);
    assert_eq!(res.field(), Some("id"));
    // The same query with a unit id works.
    let unit = app.unit_id("HN").await;
    app.gql(query, json!({ "id": unit }), None).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_larger_than_100_names_first() {
    let app = spawn_app().await;
    app.gql("{ orgUnits(first: 100) { edges { cursor } } }", json!({}), None).await.ok();
    let res = app.gql("{ orgUnits(first: 101) { edges { cursor } } }", json!({}), None).await;
    assert_eq!(res.code(), Some("BAD_USER_INPUT"), "{}", res.body);
    assert_eq!(res.field(), Some("first"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_cursor_names_after() {
    let app = spawn_app().await;
    let data = app.gql("{ orgUnits(first: 1) { pageInfo { endCursor } } }", json!({}), None).await.ok();
    let real = data["orgUnits"]["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    let query = "query($a: String) { orgUnits(first: 1, after: $a) { edges { cursor } } }";
    app.gql(query, json!({ "a": real }), None).await.ok();
    for garbage in ["!!!not-base64", "bm90IGpzb24"] {
        let res = app.gql(query, json!({ "a": garbage }), None).await;
        assert_eq!(res.code(), Some("BAD_USER_INPUT"), "{garbage}: {}", res.body);
        assert_eq!(res.field(), Some("after"), "{garbage}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_introspection_is_a_validation_failure() {
    let app = spawn_app_with(&[("APP_ENV", "production")]).await;
    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": "{ __type(name: \"Query\") { name } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
    assert!(body.get("data").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_only_the_configured_origins() {
    let app = spawn_app_with(&[("APP_CORS_ORIGINS", "https://console.hoiphunu.vn")]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
    };
    let ok = preflight("https://console.hoiphunu.vn").await.unwrap();
    assert_eq!(ok.headers().get("access-control-allow-origin").unwrap(), "https://console.hoiphunu.vn");
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_errors_speak_the_callers_language() {
    let app = spawn_app().await;
    let send = |lang: &'static str| {
        app.client
            .post(app.url("/graphql"))
            .header("content-type", "text/plain")
            .header("accept-language", lang)
            .body("{}")
            .send()
    };
    let vi: Value = send("vi").await.unwrap().json().await.unwrap();
    let en: Value = send("en").await.unwrap().json().await.unwrap();
    assert_eq!(vi["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    assert_eq!(en["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    assert_ne!(vi["errors"][0]["message"], en["errors"][0]["message"]);
}
