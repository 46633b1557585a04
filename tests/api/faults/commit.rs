//! A failed COMMIT on either backend leaves the connection usable: the transactions after it
//! really commit (seen from another connection), none becomes a savepoint of a dead one.

use sea_orm::{ConnectionTrait, Database, TransactionTrait};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failed_commit_the_next_commits_are_durable() {
    // One connection, so every transaction below runs on the one whose commit failed.
    let app =
        spawn_app_with(&[("APP_DATABASE_MAX_CONNECTIONS", "1"), ("APP_DATABASE_MIN_CONNECTIONS", "1")]).await;
    let db = &app.state.db;
    db.execute_unprepared("CREATE TABLE fault_parent (id INTEGER PRIMARY KEY)").await.unwrap();
    // A deferred foreign key is checked at COMMIT: the commit itself fails.
    db.execute_unprepared(
        "CREATE TABLE fault_child (id INTEGER PRIMARY KEY, parent INTEGER \
         REFERENCES fault_parent (id) DEFERRABLE INITIALLY DEFERRED)",
    )
    .await
    .unwrap();
    for i in 0..3 {
        let txn = db.begin().await.unwrap();
        txn.execute_unprepared(&format!("INSERT INTO fault_child (id, parent) VALUES ({i}, 999)"))
            .await
            .unwrap();
        assert!(txn.commit().await.is_err(), "the commit must fail on the deferred key");
    }
    for i in 0..5 {
        let txn = db.begin().await.unwrap();
        txn.execute_unprepared(&format!("INSERT INTO fault_parent (id) VALUES ({i})")).await.unwrap();
        txn.commit().await.expect("a later commit succeeds");
    }
    let reader = Database::connect(app.vars["DATABASE_URL"].as_str()).await.unwrap();
    let count = |sql: &'static str| {
        let reader = &reader;
        async move {
            let row = reader
                .query_one_raw(sea_orm::Statement::from_string(reader.get_database_backend(), sql))
                .await;
            row.unwrap().unwrap().try_get_by_index::<i64>(0).unwrap()
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM fault_parent").await, 5, "every acknowledged commit is durable");
    assert_eq!(count("SELECT COUNT(*) FROM fault_child").await, 0, "nothing of the failed commits");
}
