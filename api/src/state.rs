//! The state shared by every request: database, cache, token keys, settings.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use sea_orm::DatabaseConnection;

use crate::{auth::TokenKeys, cache::Cache, config::Settings, events::EventBus};

/// Shared by all workers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub cache: Cache,
    pub events: EventBus,
    pub tokens: Arc<TokenKeys>,
    pub settings: Arc<Settings>,
    pub stats: Arc<DbStats>,
}

/// Counters fed by the database's metric callback. The statement count lets tests prove that a
/// list page issues a bounded number of queries whatever its size.
#[derive(Default, Debug)]
pub struct DbStats {
    statements: AtomicU64,
}

impl DbStats {
    pub fn record_statement(&self) {
        self.statements.fetch_add(1, Ordering::Relaxed);
    }

    /// Statements executed since start-up.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }
}
