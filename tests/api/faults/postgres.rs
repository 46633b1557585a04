//! PostgreSQL made unreachable (a proxy the test cuts): requests fail fast with a retryable
//! 503, `/readyz` says so within a second, the service recovers, and no acknowledged write is
//! lost.

use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use super::{Proxy, ms};
use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_answers_503_fast_and_recovers() {
    if backend() != "postgres" {
        eprintln!("the PostgreSQL outage needs TEST_DATABASE_URL=postgres://…; nothing checked on SQLite");
        return;
    }
    let direct = isolated_database().await;
    let (proxy, proxied) = Proxy::in_front_of(&direct);
    let app = spawn_app_with(&[
        ("DATABASE_URL", &proxied),
        ("APP_DATABASE_MAX_CONNECTIONS", "3"),
        ("APP_DATABASE_MIN_CONNECTIONS", "1"),
        ("APP_DATABASE_ACQUIRE_TIMEOUT_MS", "1500"),
        ("APP_REGISTER_MAX_PER_ADDRESS", "1000"),
    ])
    .await;
    // Each write is a new account: acknowledged means her row must be there afterwards.
    let write = |n: usize| {
        let app = &app;
        async move {
            let phone = format!("+8498700{n:04}");
            let fields = json!({ "fullName": "Nguyễn Thị Thu", "password": "sen-hong-2026" });
            let res = app.register_with(&phone, fields).await;
            (res.clone(), (!res.has_errors()).then_some(phone))
        }
    };
    let mut acknowledged = Vec::new();
    acknowledged.extend(write(0).await.1);

    proxy.cut();
    let mut slowest = 0;
    for n in 1..=6 {
        let started = Instant::now();
        let (res, ok) = write(n).await;
        slowest = slowest.max(ms(started));
        assert!(ok.is_none(), "a write succeeded with the database unreachable: {}", res.body);
        assert_eq!((res.status, res.code()), (503, Some("UNAVAILABLE")), "{}", res.body);
        assert!(res.body["errors"][0]["extensions"]["retryAfter"].as_u64().is_some(), "{}", res.body);
    }
    let started = Instant::now();
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap().status().as_u16();
    let ready_ms = ms(started);
    assert_eq!(ready, 503);
    assert!(ready_ms < 1500, "/readyz answers within a second ({ready_ms} ms)");
    assert!(slowest < 5000, "each request fails within the acquire timeout ({slowest} ms)");

    proxy.restore().await;
    let recovery = Instant::now();
    for attempt in 100.. {
        // A new account each attempt: a commit cut off mid-way may have happened after all.
        let (res, ok) = write(attempt).await;
        if let Some(phone) = ok {
            acknowledged.push(phone);
            break;
        }
        assert_eq!(res.code(), Some("UNAVAILABLE"), "{}", res.body);
        assert!(recovery.elapsed() < Duration::from_secs(15), "the service did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovery_ms = ms(recovery);
    for n in 201..=205 {
        acknowledged.extend(write(n).await.1);
    }
    assert_eq!(acknowledged.len(), 7, "every write after recovery succeeds");
    assert_eq!(app.client.get(app.url("/readyz")).send().await.unwrap().status().as_u16(), 200);

    let found = entities::person::Entity::find()
        .filter(entities::person::Column::Phone.is_in(acknowledged.iter().cloned()))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(found, acknowledged.len() as u64, "acknowledged accounts missing");
    eprintln!(
        "postgres unreachable: writes refused with 503 in at most {slowest} ms, /readyz 503 in \
         {ready_ms} ms; recovered {recovery_ms} ms after the proxy reopened; 0 of {} \
         acknowledged writes lost",
        acknowledged.len()
    );
}
