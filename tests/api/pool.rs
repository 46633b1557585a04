//! What the connection pool must keep true about a connection handed back to it, whatever it
//! skips on the way (a round trip on release is the costliest part of a short statement): a
//! dropped transaction's locks go at once, and a reply stream dropped half-read does not leak
//! into the next statement run on that connection.

use std::time::Duration;

use futures_util::StreamExt;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, StreamTrait, TransactionTrait};
use serde_json::json;

use crate::helpers::*;

fn sql(backend: DbBackend, text: &str) -> Statement {
    Statement::from_string(backend, text.to_owned())
}

/// A pool of the test's own, on the app's database and settings: the app's workers would
/// otherwise pick up the connection under test and run their own statements on it first.
async fn private_pool(app: &TestApp) -> DatabaseConnection {
    service::db::connect(&app.state.settings, Default::default()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_transaction_releases_its_locks_at_once() {
    let app =
        spawn_app_with(&[("APP_DATABASE_MIN_CONNECTIONS", "4"), ("APP_DATABASE_MAX_CONNECTIONS", "4")]).await;
    let db = &private_pool(&app).await;
    let backend = db.get_database_backend();
    for round in 0..5 {
        // A transaction that locks (PostgreSQL) or writes (both) the probe row, then is dropped
        // without a commit, as a cancelled request drops it.
        let txn = db.begin().await.unwrap();
        if backend == DbBackend::Postgres {
            txn.execute_raw(sql(backend, "SELECT id FROM write_probe WHERE id = 1 FOR UPDATE"))
                .await
                .unwrap();
        }
        txn.execute_raw(sql(
            backend,
            "UPDATE write_probe SET checked_at = '2001-01-01 00:00:00' WHERE id = 1",
        ))
        .await
        .unwrap();
        drop(txn);

        // Another connection takes the same lock at once: the ROLLBACK reached the server
        // without waiting for the dropped one's next use (it sits idle in the pool).
        let other = db.begin().await.unwrap();
        if backend == DbBackend::Postgres {
            other.execute_raw(sql(backend, "SET LOCAL lock_timeout = '2s'")).await.unwrap();
        }
        let locked = tokio::time::timeout(
            Duration::from_secs(10),
            other.execute_raw(sql(backend, "UPDATE write_probe SET checked_at = checked_at WHERE id = 1")),
        )
        .await;
        assert!(
            matches!(locked, Ok(Ok(_))),
            "round {round}: the dropped transaction still holds the row: {locked:?}"
        );
        other.commit().await.unwrap();
        let row = db
            .query_one_raw(sql(
                backend,
                "SELECT CAST(checked_at AS TEXT) AS at FROM write_probe WHERE id = 1",
            ))
            .await
            .unwrap()
            .unwrap();
        let at: String = row.try_get("", "at").unwrap();
        assert!(!at.starts_with("2001"), "round {round}: the dropped transaction's write was rolled back");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_stream_dropped_half_read_does_not_leak_into_the_next_statement() {
    let app =
        spawn_app_with(&[("APP_DATABASE_MIN_CONNECTIONS", "2"), ("APP_DATABASE_MAX_CONNECTIONS", "2")]).await;
    let db = &private_pool(&app).await;
    let backend = db.get_database_backend();
    let many = "WITH RECURSIVE n(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < 5000) \
                SELECT i FROM n";
    for round in 0..6 {
        {
            let mut rows = db.stream_raw(sql(backend, many)).await.unwrap();
            let first = rows.next().await.unwrap().unwrap();
            assert_eq!(first.try_get::<i64>("", "i").unwrap(), 1);
            // Dropped here with thousands of rows unread.
        }
        // Every connection of the pool (two) answers the next statements with their own rows.
        for k in 0..4_i64 {
            let expected = round * 10 + k;
            let row = db
                .query_one_raw(sql(
                    backend,
                    &format!("SELECT CAST({expected} AS BIGINT) AS v, 'mine' AS tag"),
                ))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.try_get::<i64>("", "v").unwrap(), expected, "round {round}, statement {k}");
            assert_eq!(row.try_get::<String>("", "tag").unwrap(), "mine");
        }
    }
}

/// On PostgreSQL each HTTP worker has a pool of its own (opened on its own runtime), apart from
/// the shared pool of background work: requests are served while background work holds every
/// shared connection, and the metrics count every pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_have_their_own_pools_apart_from_background_work() {
    if backend() != "postgres" {
        eprintln!("one pool per worker is a PostgreSQL set-up (SQLite has one connection); nothing checked");
        return;
    }
    let token = "metrics-scraper-token-0123456789abcdef";
    let app = spawn_app_with(&[
        ("APP_DATABASE_MAX_CONNECTIONS", "5"),
        ("APP_DATABASE_MIN_CONNECTIONS", "1"),
        ("APP_DATABASE_BACKGROUND_CONNECTIONS", "2"),
        ("APP_DATABASE_ACQUIRE_TIMEOUT_MS", "1000"),
        ("APP_METRICS_TOKEN", token),
    ])
    .await;
    let shared = app.state.db.get_postgres_connection_pool();
    assert_eq!(shared.options().get_max_connections(), 2, "APP_DATABASE_BACKGROUND_CONNECTIONS");
    // Background work holds every shared connection.
    let held = [shared.acquire().await.unwrap(), shared.acquire().await.unwrap()];
    let admin = app.token(SYSADMIN).await;
    for _ in 0..6 {
        let res =
            app.gql("{ orgUnits(first: 5) { edges { node { code } } } }", json!({}), Some(&admin)).await;
        assert_eq!(res.data()["orgUnits"]["edges"].as_array().unwrap().len(), 5, "{}", res.body);
    }
    drop(held);
    // Two workers, each with 3 of the 5 request connections (rounded up), and the shared 2.
    let started = std::time::Instant::now();
    let pools = loop {
        let pools = app.state.pools.lock().unwrap().clone();
        if pools.len() == 3 || started.elapsed() > Duration::from_secs(10) {
            break pools;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(pools.len(), 3, "the shared pool and one per worker");
    let maxima: Vec<u32> =
        pools.iter().map(|p| p.get_postgres_connection_pool().options().get_max_connections()).collect();
    assert_eq!(maxima, [2, 3, 3]);
    let scraped =
        app.client.get(app.url("/metrics")).bearer_auth(token).send().await.unwrap().text().await.unwrap();
    let max = scraped.lines().find_map(|l| l.strip_prefix("phunu_db_pool_max_connections ")).unwrap();
    assert_eq!(max.trim().parse::<f64>().unwrap(), 8.0, "{scraped}");
}
