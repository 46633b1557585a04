//! Liveness and readiness probes.
//!
//! `/readyz` answers within a second whatever is down: the database must take a write (the
//! probe row, see `db::check_writable`) — a read-only file, a full disk, or a database that does
//! not answer makes it 503 — and Redis, when configured, must answer PING. While the server
//! drains before a stop (see `startup::Application::run_until`) it answers 503 `draining`, so a
//! load balancer sends no more traffic, though every request is still served.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;

use service::{db, state::AppState};

use crate::startup::Draining;

/// How long each check of `/readyz` may take.
const CHECK_TIMEOUT: Duration = Duration::from_millis(800);

/// The process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The database takes writes and Redis (when configured) answers; 503 otherwise, naming what
/// failed, or when the server is draining.
pub async fn readyz(state: web::Data<AppState>, draining: web::Data<Draining>) -> HttpResponse {
    if draining.is_draining() {
        return HttpResponse::ServiceUnavailable().json(json!({ "status": "draining" }));
    }
    let (db, cache) = tokio::join!(
        tokio::time::timeout(CHECK_TIMEOUT, db::check_writable(&state.db)),
        tokio::time::timeout(CHECK_TIMEOUT, state.cache.ping()),
    );
    let db = matches!(db, Ok(Ok(())));
    let cache = matches!(cache, Ok(Ok(())));
    let body = json!({
        "status": if db && cache { "ok" } else { "unavailable" },
        "database": if db { "ok" } else { "unavailable" },
        "cache": match (state.cache.is_redis(), cache) {
            (false, _) => "in-process",
            (true, true) => "ok",
            (true, false) => "unreachable",
        },
    });
    if db && cache { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}
