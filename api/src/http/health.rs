//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

/// The process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The database (and Redis, when configured) answer; 503 otherwise, naming what failed.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.ping().await.is_ok();
    let cache = state.cache.ping().await.is_ok();
    let body = json!({
        "status": if db && cache { "ok" } else { "unavailable" },
        "database": if db { "ok" } else { "unreachable" },
        "cache": match (state.cache.is_redis(), cache) {
            (false, _) => "in-process",
            (true, true) => "ok",
            (true, false) => "unreachable",
        },
    });
    if db && cache { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}
