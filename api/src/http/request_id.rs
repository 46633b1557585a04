//! Gives every request an id (the caller's `X-Request-Id` when it is sane, else a new UUID),
//! runs the request inside a tracing span carrying it, returns it in `X-Request-Id`, logs
//! one line per request, and counts the answer by route and status (`phunu_http_responses_total`). Only the path is logged, never the query string: a GET request's
//! variables could hold personal data.

use std::time::Instant;

use actix_web::{
    Error,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
};
use tracing::Instrument;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The route a path belongs to, for the metrics (a bounded set, whatever the path).
fn route_of(path: &str) -> &'static str {
    match path {
        "/graphql" => "graphql",
        "/graphql/ws" => "ws",
        "/oauth/token" => "oauth",
        "/healthz" | "/readyz" => "probe",
        "/metrics" => "metrics",
        p if p.starts_with("/exports/") => "exports",
        p if p.starts_with("/graphiql/") => "graphiql",
        _ => "other",
    }
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let route = route_of(req.path());
    // `otel.*` name the span in exported traces (see `telemetry`).
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{} {route}", req.method()),
        otel.kind = "server",
        request_id = %id,
        method = %req.method(),
        path = %req.path(),
        http.response.status_code = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    service::metrics::metrics().http_responses.with_label_values(&[route, res.status().as_str()]).inc();
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    span.record("http.response.status_code", res.status().as_u16());
    span.in_scope(|| {
        tracing::info!(
            status = res.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request finished"
        );
    });
    Ok(res)
}
