//! What the connection pool must keep true about a connection handed back to it, whatever it
//! skips on the way (a round trip on release is the costliest part of a short statement): a
//! dropped transaction's locks go at once, and a reply stream dropped half-read does not leak
//! into the next statement run on that connection.

use std::time::Duration;

use futures_util::StreamExt;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, StreamTrait, TransactionTrait};

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
