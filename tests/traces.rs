//! Traces over OTLP reach a collector with one span per request, per GraphQL operation, per
//! root field (service call) and per SQL statement, the request id on the request's span, and
//! no argument value anywhere. A test binary of its own: the trace pipeline is process-wide.

#[path = "api/helpers.rs"]
mod helpers;

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};
use helpers::*;
use serde_json::{Value, json};

/// A collector that keeps every OTLP/JSON body it is sent.
async fn collector() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let keep = web::Data::new(received.clone());
    let server = HttpServer::new(move || {
        App::new().app_data(keep.clone()).route(
            "/v1/traces",
            web::post().to(|body: web::Bytes, keep: web::Data<Arc<Mutex<Vec<Value>>>>| async move {
                let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                keep.lock().unwrap().push(value);
                HttpResponse::Ok().content_type("application/json").body("{}")
            }),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("http://127.0.0.1:{port}/v1/traces"), received)
}

/// Every span the collector got: (trace id, span id, parent span id, name, attributes).
fn spans(bodies: &[Value]) -> Vec<(String, String, String, String, Value)> {
    let mut out = Vec::new();
    for body in bodies {
        for resource in body["resourceSpans"].as_array().into_iter().flatten() {
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    let text = |k: &str| span[k].as_str().unwrap_or("").to_owned();
                    out.push((
                        text("traceId"),
                        text("spanId"),
                        text("parentSpanId"),
                        text("name"),
                        span["attributes"].clone(),
                    ));
                }
            }
        }
    }
    out
}

fn attribute<'a>(attributes: &'a Value, key: &str) -> Option<&'a Value> {
    attributes.as_array()?.iter().find(|a| a["key"] == key).map(|a| &a["value"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_a_trace_without_a_secret_in_it() {
    let (endpoint, received) = collector().await;
    let vars =
        [("APP_OTLP_ENDPOINT", endpoint.as_str()), ("APP_OTLP_PROTOCOL", "http/json"), ("APP_LOG", "warn")];
    let settings = service::config::Settings::from_vars(
        &vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    )
    .unwrap();
    // Installed before the app's own logging set-up, which then leaves it be.
    let telemetry = api::telemetry::init(&settings);
    assert!(telemetry.tracing());
    let app = spawn_app_with(&vars).await;

    // A violence report: its text is what must never reach the collector.
    const CANARY: &str = "CANARY-trace-7f3a9c";
    let unit = app.unit_id("HN-LB-BD").await;
    let input = json!({
        "unitId": unit, "affected": "SELF", "ageGroup": "ADULT", "kinds": ["PHYSICAL"],
        "immediateDanger": false, "childrenInvolved": false, "description": CANARY,
        "mayContact": false, "mayShareWithAuthorities": false,
        "sensitiveDataConsent": true, "idempotencyKey": "trace-test-key-1",
    });
    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("x-request-id", "trace-test-request-1")
        .json(&json!({
            "query": "mutation Report($i: ViolenceReportInput!) { submitViolenceReport(input: $i) { referenceCode } }",
            "operationName": "Report",
            "variables": { "i": input },
        }))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    // The request's span ends once its answer is written, which may be just after the client
    // has read it: flush until it is there (or give up after five seconds).
    let has_request_span = |bodies: &[Value]| {
        spans(bodies).iter().any(|s| {
            attribute(&s.4, "request_id").and_then(|v| v["stringValue"].as_str())
                == Some("trace-test-request-1")
        })
    };
    for _ in 0..100 {
        telemetry.flush();
        if has_request_span(&received.lock().unwrap()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let bodies = received.lock().unwrap().clone();
    let all = serde_json::to_string(&bodies).unwrap();
    assert!(!all.contains(CANARY), "a report's text reached the traces");
    assert!(!all.contains("trace-test-key-1"), "an argument reached the traces");
    let spans = spans(&bodies);
    let request = spans
        .iter()
        .find(|s| {
            attribute(&s.4, "request_id").and_then(|v| v["stringValue"].as_str())
                == Some("trace-test-request-1")
        })
        .unwrap_or_else(|| panic!("no span with the request id: {all}"));
    assert_eq!(request.3, "POST graphql");
    let trace: Vec<_> = spans.iter().filter(|s| s.0 == request.0).collect();
    let named = |name: &str| trace.iter().find(|s| s.3 == name).copied();
    let operation = named("mutation Report").unwrap_or_else(|| panic!("no operation span: {trace:?}"));
    assert_eq!(operation.2, request.1, "the operation runs under the request");
    let field = named("submitViolenceReport").unwrap_or_else(|| panic!("no root field span: {trace:?}"));
    assert_eq!(field.2, operation.1, "the service call runs under the operation");
    let insert = named("INSERT violence_report").unwrap_or_else(|| panic!("no statement span: {trace:?}"));
    assert_eq!(
        attribute(&insert.4, "db.operation.name").and_then(|v| v["stringValue"].as_str()),
        Some("INSERT")
    );
    let statements = trace.iter().filter(|s| attribute(&s.4, "db.system.name").is_some()).count();
    assert!(statements >= 3, "{statements} statement spans");
    telemetry.shutdown();
}
