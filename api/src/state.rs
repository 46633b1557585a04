//! The state shared by every request: database, cache, token and report keys, settings, parsed
//! documents.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use sea_orm::DatabaseConnection;

use crate::{
    auth::TokenKeys, cache::Cache, config::Settings, crypto::Keyring, events::EventBus,
    graphql::documents::DocumentCache,
};

/// Shared by all workers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub cache: Cache,
    pub events: EventBus,
    pub tokens: Arc<TokenKeys>,
    pub settings: Arc<Settings>,
    pub stats: Arc<DbStats>,
    /// Parsed GraphQL documents, by their text.
    pub documents: Arc<DocumentCache>,
    /// The keys sealing what violence reports say.
    pub report_keys: Arc<Keyring>,
}

/// Counters fed by the database's metric callback. The statement count lets tests prove that a
/// list page issues a bounded number of queries whatever its size; statements of background
/// tasks (run through [`background`]) are counted apart, so a worker's polling cannot blur it.
#[derive(Default, Debug)]
pub struct DbStats {
    statements: AtomicU64,
    background_statements: AtomicU64,
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

    /// Statements executed since start-up, background tasks excluded.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Statements executed by background tasks since start-up.
    pub fn background_statements(&self) -> u64 {
        self.background_statements.load(Ordering::Relaxed)
    }
}
