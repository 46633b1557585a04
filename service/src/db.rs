//! Database connection, migrations and a helper for the few hand-written SQL statements.
//!
//! SQLite runs with a single connection: writes serialise there anyway, and one connection
//! makes "read, then write in the same transaction" race-free without `BEGIN IMMEDIATE`.
//! Code holding a transaction must use that transaction, never the pool, or it would wait on
//! itself (the acquire timeout turns such a bug into an error instead of a hang).
//!
//! Invariant: a connection goes back to the pool only outside any transaction. When a COMMIT
//! fails (SQLite with a full disk rolls the transaction back itself) the driver still counts the
//! transaction as open, its ROLLBACK then fails too, and every later `BEGIN` would become a mere
//! savepoint of a transaction that never commits — acknowledged writes lost, other connections
//! locked out. The pool closes such a connection instead (our patched sqlx, see
//! `vendor/README.md`; on SQLite after [`release_sqlite`] has waited for a dropped
//! transaction's ROLLBACK), and opens a fresh one. SQLite commits with `synchronous=FULL`,
//! so what answered success is on disk.

use std::{fmt::Write, sync::Arc, time::Duration};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement, Value,
    sqlx::{
        self, Connection,
        pool::PoolConnectionMetadata,
        sqlite::{SqliteJournalMode, SqliteSynchronous},
    },
};

use crate::{config::Settings, state::DbStats};

/// How long a request waits for SQLite's single connection.
const SQLITE_QUEUE: Duration = Duration::from_secs(30);

/// Statements slower than this are logged (without their parameters).
const SLOW_STATEMENT: Duration = Duration::from_millis(250);

/// Migrates the database on a connection of its own, closed afterwards: a migration may run
/// longer than the statement timeout the request pool has.
pub async fn migrate(settings: &Settings) -> Result<(), DbErr> {
    use migration::MigratorTrait;
    let url = &settings.database_url;
    if url.starts_with("sqlite:") {
        ensure_sqlite_dir(url)
            .map_err(|e| DbErr::Custom(format!("cannot create the database directory: {e}")))?;
    }
    let mut opts = ConnectOptions::new(url.clone());
    opts.max_connections(1).min_connections(1).sqlx_logging(false).acquire_timeout(Duration::from_secs(30));
    let db = Database::connect(opts).await?;
    let migrated = migration::Migrator::up(&db, None).await;
    db.close().await.ok();
    migrated
}

/// How many connections a pool opens at most, and how many it keeps open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSize {
    pub max: u32,
    pub min: u32,
}

impl PoolSize {
    /// The instance's shared pool: on PostgreSQL the background work's
    /// (`APP_DATABASE_BACKGROUND_CONNECTIONS`, one kept open) when each HTTP worker has a pool
    /// of its own, otherwise the whole `APP_DATABASE_MAX_CONNECTIONS`.
    pub fn shared(settings: &Settings, worker_pools: bool) -> Self {
        if worker_pools {
            let max = settings.database_background_connections.max(1);
            Self { max, min: 1 }
        } else {
            let max = settings.database_max_connections;
            Self { max, min: settings.database_min_connections.min(max) }
        }
    }

    /// One HTTP worker's pool: its share of `APP_DATABASE_MAX_CONNECTIONS` and
    /// `APP_DATABASE_MIN_CONNECTIONS`, rounded up, at least two (a request may read through a
    /// loader while another of its fields holds a connection).
    pub fn per_worker(settings: &Settings) -> Self {
        let workers = u32::try_from(settings.workers.max(1)).unwrap_or(u32::MAX);
        let max = settings.database_max_connections.div_ceil(workers).max(2);
        let min = settings.database_min_connections.div_ceil(workers).min(max);
        Self { max, min }
    }
}

/// Whether each HTTP worker gets a pool of its own (see [`connect_worker`]): on PostgreSQL.
/// SQLite has one connection for the whole process.
pub fn worker_pools(settings: &Settings) -> bool {
    !settings.database_url.starts_with("sqlite:")
}

/// Connects the instance's shared pool ([`PoolSize::shared`]: background work, start-up, the
/// command line), creating the directory of an SQLite file when needed.
pub async fn connect(settings: &Settings, stats: Arc<DbStats>) -> Result<DatabaseConnection, DbErr> {
    let size = PoolSize::shared(settings, worker_pools(settings));
    open(settings, stats, size, false).await
}

/// A pool for one HTTP worker, opened lazily on the worker's own runtime (PostgreSQL only): a
/// connection's socket is then read by the thread that runs the worker's requests, not by the
/// thread that opened the shared pool (a wake-up of another thread per reply). Its connections
/// are opened in the background up to [`PoolSize::per_worker`]'s minimum; none is needed to
/// start, so an outage at start-up does not stop the worker.
pub async fn connect_worker(settings: &Settings, stats: Arc<DbStats>) -> Result<DatabaseConnection, DbErr> {
    open(settings, stats, PoolSize::per_worker(settings), true).await
}

async fn open(
    settings: &Settings,
    stats: Arc<DbStats>,
    size: PoolSize,
    lazy: bool,
) -> Result<DatabaseConnection, DbErr> {
    let url = &settings.database_url;
    let sqlite = url.starts_with("sqlite:");
    if sqlite {
        ensure_sqlite_dir(url)
            .map_err(|e| DbErr::Custom(format!("cannot create the database directory: {e}")))?;
    }
    let mut opts = ConnectOptions::new(url.clone());
    opts.connect_lazy(lazy);
    if !sqlite {
        // No request can hold the database for long (PostgreSQL cancels the statement; SQLite
        // has no such setting, and its one connection queues everyone anyway).
        opts.statement_timeout(settings.database_statement_timeout);
    }
    opts.max_connections(if sqlite { 1 } else { size.max })
        // Opened at start-up and kept: a new connection costs a handshake (TLS too, unless the
        // URL says `sslmode=disable`), which a request should not wait for.
        .min_connections(if sqlite { 1 } else { size.min })
        // PostgreSQL: an outage answers `UNAVAILABLE` after this instead of queueing requests
        // for long. SQLite's one connection is not lost to outages; requests queue behind the
        // writer holding it (an import, a fan-out batch), so they may wait longer.
        // (A new connection's handshake happens inside the acquire, so it has the same bound.)
        .acquire_timeout(if sqlite { SQLITE_QUEUE } else { settings.database_acquire_timeout })
        // Ping only a connection that sat idle long enough to have been dropped by the server or
        // the network; a busy one goes straight to work (a ping on every checkout would double
        // the round trips of every statement).
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                // FULL: a commit is synced to disk before it answers (NORMAL could lose the last
                // acknowledged writes to a power cut).
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
        })
        .map_sqlx_sqlite_pool_opts(|o| o.after_release(release_sqlite));
    let mut db = Database::connect(opts).await?;
    db.set_metric_callback(move |info| {
        stats.record_statement();
        let metrics = crate::metrics::metrics();
        metrics.statements.inc();
        metrics.statement_seconds.observe(info.elapsed.as_secs_f64());
        if info.failed {
            metrics.statement_errors.inc();
        }
        if let Some(hook) = stats.hook() {
            hook(&info.statement.sql, info.elapsed, info.failed);
        }
        if info.elapsed > SLOW_STATEMENT {
            tracing::warn!(elapsed_ms = info.elapsed.as_millis() as u64, sql = %info.statement.sql, "slow statement");
        }
    });
    Ok(db)
}

/// The pool's release check of an SQLite connection (see module docs): a dropped transaction
/// only queues its ROLLBACK for the connection's worker thread; the ping waits for it, so that
/// the pool's own check (a connection still inside a transaction is closed) sees the outcome.
/// PostgreSQL needs no hook: a dropped transaction's ROLLBACK is counted at once, and a
/// connection with nothing to flush goes straight back to the pool.
fn release_sqlite(
    conn: &mut sqlx::SqliteConnection,
    _: PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        tokio::time::timeout(Duration::from_secs(5), conn.ping())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)??;
        Ok(true)
    })
}

/// Whether the database takes writes now: the probe row is rewritten and committed (a read-only
/// file or directory, a full disk, a read-only PostgreSQL fail it where a read passes). Used at
/// start-up and by `/readyz`.
pub async fn check_writable(db: &DatabaseConnection) -> Result<(), DbErr> {
    let now = chrono::Utc::now();
    match execute(db, "UPDATE write_probe SET checked_at = ? WHERE id = 1", [now.into()]).await? {
        1 => Ok(()),
        _ => Err(DbErr::RecordNotUpdated),
    }
}

fn ensure_sqlite_dir(url: &str) -> std::io::Result<()> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or("");
    if path.is_empty() || path.starts_with(":memory:") {
        return Ok(());
    }
    match std::path::Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir),
        _ => Ok(()),
    }
}

/// Builds a statement from SQL written with `?` placeholders, numbering them (`$1`, `$2`…) for
/// PostgreSQL. The SQL must not contain `?` anywhere else.
pub fn stmt(backend: DbBackend, sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    let sql = match backend {
        DbBackend::Postgres => {
            let mut out = String::with_capacity(sql.len() + 16);
            let mut parts = sql.split('?');
            out.push_str(parts.next().unwrap_or_default());
            for (n, part) in parts.enumerate() {
                let _ = write!(out, "${}", n + 1);
                out.push_str(part);
            }
            out
        }
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Reads the row `id` of `E` under a row lock held until the transaction ends (`FOR UPDATE`
/// on PostgreSQL; SQLite's single connection serialises transactions anyway).
pub async fn lock_by_id<E>(
    txn: &impl ConnectionTrait,
    id: <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType,
) -> Result<Option<E::Model>, DbErr>
where
    E: sea_orm::EntityTrait,
{
    use sea_orm::QuerySelect;
    let mut query = E::find_by_id(id);
    if txn.get_database_backend() == DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(txn).await
}

/// Rows after the cursor `(value, last_id)` of a list ordered by `key, id` (keyset paging).
pub fn after_key<C: sea_orm::ColumnTrait>(
    key: C,
    value: impl Into<Value> + Clone,
    id: C,
    last_id: impl Into<Value>,
) -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(key.gt(value.clone()))
        .add(sea_orm::Condition::all().add(key.eq(value)).add(id.gt(last_id)))
}

/// The condition "after this row" of a list ordered by `(key, id)` descending (the newest first).
pub fn before_key<C: sea_orm::ColumnTrait>(
    key: C,
    value: impl Into<Value> + Clone,
    id: C,
    last_id: impl Into<Value>,
) -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(key.lt(value.clone()))
        .add(sea_orm::Condition::all().add(key.eq(value)).add(id.lt(last_id)))
}

/// Which end of a time-ordered list (a queue) comes first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeOrder {
    /// The oldest first: the order work is done in.
    #[default]
    OldestFirst,
    NewestFirst,
}

impl TimeOrder {
    /// Rows after the cursor `(value, last_id)` of a list ordered by `key, id` this way.
    pub fn after<C: sea_orm::ColumnTrait>(
        self,
        key: C,
        value: impl Into<Value> + Clone,
        id: C,
        last_id: impl Into<Value>,
    ) -> sea_orm::Condition {
        match self {
            TimeOrder::OldestFirst => after_key(key, value, id, last_id),
            TimeOrder::NewestFirst => before_key(key, value, id, last_id),
        }
    }

    /// The sort direction.
    pub fn direction(self) -> sea_orm::Order {
        match self {
            TimeOrder::OldestFirst => sea_orm::Order::Asc,
            TimeOrder::NewestFirst => sea_orm::Order::Desc,
        }
    }
}

/// A page of a list fetched with `LIMIT first + 1`: the first `first` rows, and whether more
/// follow.
pub fn split_page<T>(mut rows: Vec<T>, first: u64) -> (Vec<T>, bool) {
    let has_next = rows.len() as u64 > first;
    rows.truncate(first as usize);
    (rows, has_next)
}

/// Merges lists that are each already in `order` and cut to `limit` rows (one per unit, read
/// by an index in order) into one statement: `SELECT * FROM (part₁ UNION ALL part₂ …) ORDER BY
/// order LIMIT limit`. An `IN (…)` over several units cannot be read in order from an index, so
/// it would fetch and sort every match; this reads at most `limit` rows per part.
/// Placeholders are renumbered for PostgreSQL (the parts' SQL must hold no other `$`).
pub fn merge_ordered(backend: DbBackend, parts: Vec<Statement>, order: &str, limit: u64) -> Statement {
    let mut sql = String::from("SELECT * FROM (");
    let mut values: Vec<Value> = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            sql.push_str(" UNION ALL ");
        }
        let offset = values.len();
        let part_sql = match backend {
            DbBackend::Postgres => renumber(&part.sql, offset),
            _ => part.sql,
        };
        sql.push_str(&format!("SELECT * FROM ({part_sql}) p{i}"));
        values.extend(part.values.map(|v| v.0).unwrap_or_default());
    }
    let n = values.len() + 1;
    sql.push_str(&format!(") merged ORDER BY {order} LIMIT "));
    sql.push_str(&if backend == DbBackend::Postgres { format!("${n}") } else { "?".to_owned() });
    values.push(Value::from(limit as i64));
    Statement::from_sql_and_values(backend, sql, values)
}

/// What [`with_own_rows`] joins to each row of a page: the rows of `table` whose `parent`
/// column holds the page row's `id` and whose `filters` columns equal the values given (the
/// caller's own rows: her registration for each training, her pledges to each campaign).
pub struct OwnRows<'a> {
    pub table: &'a str,
    pub parent: &'a str,
    pub filters: Vec<(&'a str, Value)>,
    /// The joined table's columns, read back prefixed with [`OWN_PREFIX`].
    pub columns: Vec<&'a str>,
}

/// The prefix of the joined rows' columns in [`with_own_rows`]'s answer.
pub const OWN_PREFIX: &str = "own_";

/// `page` (a statement whose rows have an `id` column) with its rows' own rows joined in the
/// same statement: `SELECT p.*, o.c AS own_c… FROM (page) p LEFT JOIN table o ON o.parent =
/// p.id AND o.f = ?… ORDER BY order, own_id`. A page row with several own rows comes once
/// for each, in a row (see [`read_with_own_rows`]); one with none comes once, its own columns
/// null. A list screen that shows the caller's row on each item costs one statement, not two.
pub fn with_own_rows(backend: DbBackend, page: Statement, order: &str, own: &OwnRows<'_>) -> Statement {
    let mut values = page.values.map(|v| v.0).unwrap_or_default();
    let mut sql = String::from("SELECT * FROM (SELECT p.*");
    for column in &own.columns {
        sql.push_str(&format!(", o.{column} AS {OWN_PREFIX}{column}"));
    }
    sql.push_str(&format!(" FROM ({}) p LEFT JOIN {} o ON o.{} = p.id", page.sql, own.table, own.parent));
    for (column, value) in &own.filters {
        values.push(value.clone());
        match backend {
            DbBackend::Postgres => sql.push_str(&format!(" AND o.{column} = ${}", values.len())),
            _ => sql.push_str(&format!(" AND o.{column} = ?")),
        }
    }
    sql.push_str(&format!(") joined ORDER BY {order}, {OWN_PREFIX}id"));
    Statement::from_sql_and_values(backend, sql, values)
}

/// Runs a [`with_own_rows`] statement: each page row once, in order, with its own rows.
pub async fn read_with_own_rows<M, O>(
    conn: &impl ConnectionTrait,
    statement: Statement,
) -> Result<Vec<(M, Vec<O>)>, DbErr>
where
    M: sea_orm::FromQueryResult,
    O: sea_orm::FromQueryResult,
{
    let mut out: Vec<(uuid::Uuid, M, Vec<O>)> = Vec::new();
    for row in conn.query_all_raw(statement).await? {
        let id: uuid::Uuid = row.try_get("", "id")?;
        if out.last().is_none_or(|(last, _, _)| *last != id) {
            out.push((id, M::from_query_result(&row, "")?, Vec::new()));
        }
        let own: Option<uuid::Uuid> = row.try_get(OWN_PREFIX, "id")?;
        if own.is_some()
            && let Some((_, _, owns)) = out.last_mut()
        {
            owns.push(O::from_query_result(&row, OWN_PREFIX)?);
        }
    }
    Ok(out.into_iter().map(|(_, page_row, owns)| (page_row, owns)).collect())
}

/// Adds `offset` to every `$n` placeholder of PostgreSQL SQL.
fn renumber(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut parts = sql.split('$');
    out.push_str(parts.next().unwrap_or_default());
    for part in parts {
        let digits = part.bytes().take_while(u8::is_ascii_digit).count();
        match part[..digits].parse::<usize>() {
            Ok(n) => _ = write!(out, "${}", n + offset),
            Err(_) => out.push('$'),
        }
        out.push_str(&part[digits..]);
    }
    out
}

/// `item` repeated `n` times, comma-separated: the `?` list of an `IN (…)` or the row tuples of
/// a multi-row `VALUES`, e.g. `repeat_list("(?, ?)", 2)` = `"(?, ?), (?, ?)"`.
pub fn repeat_list(item: &str, n: usize) -> String {
    vec![item; n].join(", ")
}

/// Runs [`stmt`] on any connection or transaction and returns the number of affected rows.
/// ` AND {column} NOT IN (?, …)` for `units` (nothing for none), and its values.
pub fn not_in(column: &str, units: &[entities::ids::UnitId]) -> (String, Vec<Value>) {
    if units.is_empty() {
        return (String::new(), Vec::new());
    }
    (
        format!(" AND {column} NOT IN ({})", repeat_list("?", units.len())),
        units.iter().map(|&u| u.into()).collect(),
    )
}

pub async fn execute(
    conn: &impl ConnectionTrait,
    sql: &str,
    values: impl IntoIterator<Item = Value>,
) -> Result<u64, DbErr> {
    let backend = conn.get_database_backend();
    Ok(conn.execute_raw(stmt(backend, sql, values)).await?.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Settings {
        let mut all: std::collections::HashMap<String, String> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        all.insert("DATABASE_URL".into(), "postgres://localhost/x".into());
        Settings::from_vars(&all).unwrap()
    }

    #[test]
    fn each_worker_takes_its_share_of_the_request_connections_and_at_least_two() {
        let s = settings(&[("APP_WORKERS", "4"), ("APP_DATABASE_MAX_CONNECTIONS", "10")]);
        // The minimum defaults to the maximum: 10 over 4 workers is 3 each, rounded up.
        assert_eq!(PoolSize::per_worker(&s), PoolSize { max: 3, min: 3 });
        let s = settings(&[
            ("APP_WORKERS", "8"),
            ("APP_DATABASE_MAX_CONNECTIONS", "4"),
            ("APP_DATABASE_MIN_CONNECTIONS", "4"),
        ]);
        assert_eq!(PoolSize::per_worker(&s), PoolSize { max: 2, min: 1 });
        let s = settings(&[("APP_WORKERS", "2"), ("APP_DATABASE_MIN_CONNECTIONS", "0")]);
        assert_eq!(PoolSize::per_worker(&s), PoolSize { max: 5, min: 0 });
    }

    #[test]
    fn the_shared_pool_serves_background_work_when_workers_have_pools() {
        let s =
            settings(&[("APP_DATABASE_MAX_CONNECTIONS", "12"), ("APP_DATABASE_BACKGROUND_CONNECTIONS", "4")]);
        assert!(worker_pools(&s));
        assert_eq!(PoolSize::shared(&s, true), PoolSize { max: 4, min: 1 });
        assert_eq!(PoolSize::shared(&s, false), PoolSize { max: 12, min: 12 });
        let mut lite = s.clone();
        lite.database_url = "sqlite::memory:".into();
        assert!(!worker_pools(&lite));
    }

    #[test]
    fn lists_repeat_their_item() {
        assert_eq!(repeat_list("?", 3), "?, ?, ?");
        assert_eq!(repeat_list("(?, ?)", 2), "(?, ?), (?, ?)");
        assert_eq!(repeat_list("?", 0), "");
    }

    #[test]
    fn merged_parts_keep_their_values_in_order() {
        let part = |sql: &str, v: i32| Statement::from_sql_and_values(DbBackend::Postgres, sql, [v.into()]);
        let merged = merge_ordered(
            DbBackend::Postgres,
            vec![
                part("SELECT a FROM t WHERE b = $1 LIMIT 3", 1),
                part("SELECT a FROM t WHERE b = $1 LIMIT 3", 2),
            ],
            "a",
            3,
        );
        assert_eq!(
            merged.sql,
            "SELECT * FROM (SELECT * FROM (SELECT a FROM t WHERE b = $1 LIMIT 3) p0 UNION ALL \
             SELECT * FROM (SELECT a FROM t WHERE b = $2 LIMIT 3) p1) merged ORDER BY a LIMIT $3"
        );
        assert_eq!(merged.values.map(|v| v.0.len()), Some(3));
        assert_eq!(renumber("x = $9 AND y = $10", 5), "x = $14 AND y = $15");
        assert_eq!(renumber("a $ b $1", 2), "a $ b $3");
    }

    #[test]
    fn own_rows_are_joined_after_the_page_values() {
        let own = OwnRows {
            table: "pledge",
            parent: "campaign_id",
            filters: vec![("person_id", 7.into()), ("year", 2026.into())],
            columns: vec!["id", "kind"],
        };
        let page = |backend, sql: &str| Statement::from_sql_and_values(backend, sql, [1.into(), 11.into()]);
        let pg = with_own_rows(
            DbBackend::Postgres,
            page(DbBackend::Postgres, "SELECT id, t FROM c WHERE u = $1 LIMIT $2"),
            "t DESC, id DESC",
            &own,
        );
        assert_eq!(
            pg.sql,
            "SELECT * FROM (SELECT p.*, o.id AS own_id, o.kind AS own_kind FROM (SELECT id, t FROM c WHERE u = $1 LIMIT $2) p \
             LEFT JOIN pledge o ON o.campaign_id = p.id AND o.person_id = $3 AND o.year = $4) joined \
             ORDER BY t DESC, id DESC, own_id"
        );
        assert_eq!(pg.values.map(|v| v.0), Some(vec![1.into(), 11.into(), 7.into(), 2026.into()]));
        let lite = with_own_rows(
            DbBackend::Sqlite,
            page(DbBackend::Sqlite, "SELECT id, t FROM c WHERE u = ? LIMIT ?"),
            "t",
            &own,
        );
        assert!(
            lite.sql.contains("o.person_id = ? AND o.year = ?) joined ORDER BY t, own_id"),
            "{}",
            lite.sql
        );
    }

    #[test]
    fn placeholders_are_numbered_for_postgres_only() {
        let pg = stmt(DbBackend::Postgres, "a = ? AND b = ?", [1.into(), 2.into()]);
        assert_eq!(pg.sql, "a = $1 AND b = $2");
        let lite = stmt(DbBackend::Sqlite, "a = ? AND b = ?", [1.into(), 2.into()]);
        assert_eq!(lite.sql, "a = ? AND b = ?");
    }
}
