//! The HTTP surface: `/graphql` (POST, and GET for queries), `/graphql/ws`, `/graphiql/…`
//! (GraphiQL's files, in development), `/exports/…`
//! (the console's CSV and XLSX downloads), `/media/…` (photos, by signed URL), `/oauth/token`
//! (partners' client-credentials grant), `/metrics` (Prometheus, behind a token), `/healthz`,
//! `/readyz`, and the request-id/logging middleware.

pub mod compression;
pub mod exports;
pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod idempotency;
pub mod media;
pub mod metrics;
pub mod oauth;
pub mod request_id;
pub mod ws;

use actix_web::{HttpRequest, http::header, web};

use service::{RequestMeta, config::Settings, error::Lang};

/// Cross-origin access for the configured origins only (none by default). Credentials travel
/// in the `Authorization` header, never in cookies.
pub fn cors(origins: &[String]) -> actix_cors::Cors {
    origins
        .iter()
        .fold(actix_cors::Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods(["GET", "POST"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static(idempotency::HEADER),
        ])
        .expose_headers([
            header::HeaderName::from_static(idempotency::REPLAYED_HEADER),
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("ratelimit-limit"),
            header::HeaderName::from_static("ratelimit-remaining"),
            header::HeaderName::from_static("ratelimit-reset"),
            header::RETRY_AFTER,
        ])
        .max_age(3600)
}

/// Routes of the service.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/graphql").route(web::post().to(graphql::post)).route(web::get().to(graphql::get)),
    )
    .route("/graphql/ws", web::get().to(ws::handshake))
    .route("/graphiql/{file}", web::get().to(graphiql::file))
    .route("/exports/{file}", web::get().to(exports::export))
    .route("/media/{id}/{variant}", web::get().to(media::photo))
    .route("/oauth/token", web::post().to(oauth::token))
    .route("/metrics", web::get().to(metrics::metrics))
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz));
}

/// The request's language and client facts.
pub fn request_meta(req: &HttpRequest, settings: &Settings) -> (Lang, RequestMeta) {
    let headers = req.headers();
    let lang = Lang::from_accept_language(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    // The proxy appends the address it saw, so only the last entry is trustworthy: anything
    // before it came from the client.
    let forwarded = settings
        .trust_forwarded_for
        .then(|| headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()))
        .flatten()
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| ip.to_string());
    let client_addr = forwarded
        .or_else(|| req.peer_addr().map(|a| a.ip().to_string()))
        .unwrap_or_else(|| "unknown".to_owned());
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    (lang, RequestMeta { client_addr, user_agent, lang })
}
