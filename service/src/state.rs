//! The state shared by every request and worker: database, cache, events, token and report keys,
//! settings.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use sea_orm::DatabaseConnection;

use crate::{auth::TokenKeys, cache::Cache, config::Settings, crypto::Keyring, events::EventBus};

/// Shared by all workers; cheap to clone. An HTTP worker serves its requests with a copy whose
/// database pool and Redis connection are its own (see `api::startup`); everything else is
/// shared.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub cache: Cache,
    /// Every database pool of this instance, so that metrics see all the connections: the
    /// shared one first, then each HTTP worker's own (PostgreSQL).
    pub pools: Arc<std::sync::Mutex<Vec<DatabaseConnection>>>,
    pub events: EventBus,
    pub tokens: Arc<TokenKeys>,
    pub settings: Arc<Settings>,
    pub stats: Arc<DbStats>,
    /// The keys sealing what violence reports say.
    pub report_keys: Arc<Keyring>,
    /// Requests running now, per caller (see [`InFlight`]).
    pub in_flight: Arc<InFlight>,
    /// Notified after a commit that queued an SMS: wakes this instance's SMS worker at once.
    pub sms_queued: Arc<tokio::sync::Notify>,
    /// Notified after a commit that queued webhook deliveries: wakes this instance's worker.
    pub webhooks_queued: Arc<tokio::sync::Notify>,
    /// What time-based codes are checked against (tests move it).
    pub clock: Arc<crate::clock::Clock>,
    /// The GeoIP database (`APP_GEOIP_DB`), read once at start-up.
    pub geoip: Option<Arc<maxminddb::Reader<Vec<u8>>>>,
    /// Photos: the store, the limits, the processing bound.
    pub media: Arc<crate::media::Media>,
    /// The audited public statistics of recent months (see `integrations::statistics`).
    pub public_statistics: Arc<crate::integrations::statistics::MonthCache>,
}

/// How many HTTP requests each caller has running on this instance, so that one caller cannot
/// take every worker and database connection. A caller is a signed-in person, all her sessions
/// together (`APP_MAX_IN_FLIGHT_PER_CALLER`), or a client address for requests without one
/// (`APP_MAX_IN_FLIGHT_PER_ADDRESS`).
#[derive(Default)]
pub struct InFlight {
    running: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

/// A running request's place; given back when dropped (the request finished or was cut off).
pub struct InFlightSlot {
    owner: Arc<InFlight>,
    caller: String,
}

impl InFlight {
    /// Takes a place for `caller`, or `None` when she has `limit` requests running already.
    pub fn enter(self: &Arc<Self>, caller: String, limit: u32) -> Option<InFlightSlot> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let n = running.entry(caller.clone()).or_insert(0);
        if *n >= limit {
            return None;
        }
        *n += 1;
        Some(InFlightSlot { owner: self.clone(), caller })
    }
}

impl Drop for InFlightSlot {
    fn drop(&mut self) {
        let mut running = self.owner.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = running.get_mut(&self.caller) {
            *n -= 1;
            if *n == 0 {
                running.remove(&self.caller);
            }
        }
    }
}

/// Counters fed by the database's metric callback. The statement count lets tests prove that a
/// list page issues a bounded number of queries whatever its size; statements of background
/// tasks (run through [`background`]) are counted apart, so a worker's polling cannot blur it.
/// A hook may watch every statement too (the `api` crate's traces, see [`DbStats::watch`]).
#[derive(Default)]
pub struct DbStats {
    statements: AtomicU64,
    background_statements: AtomicU64,
    hook: std::sync::OnceLock<StatementHook>,
}

/// What a statement hook sees: the SQL text (placeholders, never the values bound to them),
/// how long it ran, and whether it failed. Called in the task that ran the statement.
pub type StatementHook = Box<dyn Fn(&str, std::time::Duration, bool) + Send + Sync>;

impl std::fmt::Debug for DbStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbStats").field("statements", &self.statements).finish_non_exhaustive()
    }
}

tokio::task_local! {
    static BACKGROUND: ();
}

/// Runs `fut` as background work: its statements are not counted in [`DbStats::statements`].
pub async fn background<F: std::future::Future>(fut: F) -> F::Output {
    BACKGROUND.scope((), fut).await
}

impl DbStats {
    /// Called for every statement, in the task that ran it.
    pub fn record_statement(&self) {
        if BACKGROUND.try_with(|_| ()).is_ok() {
            self.background_statements.fetch_add(1, Ordering::Relaxed);
        } else {
            self.statements.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Calls `hook` after every statement from now on (once per process: a second hook is
    /// ignored).
    pub fn watch(&self, hook: StatementHook) {
        let _ = self.hook.set(hook);
    }

    /// The statement hook, if one watches.
    pub fn hook(&self) -> Option<&StatementHook> {
        self.hook.get()
    }

    /// Statements executed since start-up, background tasks excluded.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Statements executed by background tasks since start-up.
    pub fn background_statements(&self) -> u64 {
        self.background_statements.load(Ordering::Relaxed)
    }
}
