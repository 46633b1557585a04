//! The HTTP surface: `/graphql` (POST, and GET for queries), `/graphql/ws`, `/healthz`,
//! `/readyz`, and the request-id/logging middleware.

pub mod graphql;
pub mod health;
pub mod request_id;
pub mod ws;

use actix_web::{HttpRequest, http::header, web};

use crate::{config::Settings, error::Lang, service::RequestMeta};

/// Routes of the service.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/graphql").route(web::post().to(graphql::post)).route(web::get().to(graphql::get)),
    )
    .route("/graphql/ws", web::get().to(ws::handshake))
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz));
}

/// The request's language and client facts.
pub fn request_meta(req: &HttpRequest, settings: &Settings) -> (Lang, RequestMeta) {
    let headers = req.headers();
    let lang = Lang::from_accept_language(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    let forwarded = settings
        .trust_forwarded_for
        .then(|| headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()))
        .flatten()
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    let client_addr = forwarded
        .or_else(|| req.peer_addr().map(|a| a.ip().to_string()))
        .unwrap_or_else(|| "unknown".to_owned());
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    (lang, RequestMeta { client_addr, user_agent, lang })
}
