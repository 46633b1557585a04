//! The loop shared by the background workers (push delivery, notification fan-out): every
//! poll interval, run rounds while the last one says there is more to do, let a stop request in
//! between two rounds, and log (never propagate) a round's error until the next poll. A round's
//! statements run as background work (`state::background`), apart from the request counts.

use std::{fmt::Display, future::Future, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter,
    QuerySelect, Select,
    sea_query::{Expr, LockBehavior, LockType},
};
use uuid::Uuid;

use tokio::{
    sync::{Notify, watch},
    task::JoinHandle,
};

use crate::state;

/// A running worker. Stopping it (or dropping it) ends the loop after the current round.
pub struct PollingWorker {
    name: &'static str,
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl PollingWorker {
    /// Spawns `round` on the current Tokio runtime, polled every `poll_interval`. A round
    /// answers whether more work is waiting now (a full batch), so the next one runs at once.
    pub fn spawn<F, Fut, E>(name: &'static str, poll_interval: Duration, round: F) -> Self
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<bool, E>> + Send,
        E: Display,
    {
        Self::spawn_nudged(name, poll_interval, Arc::new(Notify::new()), round)
    }

    /// Like [`spawn`](Self::spawn), and a round also runs as soon as `nudge` is notified (work
    /// queued on this instance: an SMS code should not wait for the next poll).
    pub fn spawn_nudged<F, Fut, E>(
        name: &'static str,
        poll_interval: Duration,
        nudge: Arc<Notify>,
        mut round: F,
    ) -> Self
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<bool, E>> + Send,
        E: Display,
    {
        let (stop, mut stopped) = watch::channel(false);
        let handle = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(poll_interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    biased;
                    // A stop request, or the owner dropped the handle.
                    _ = stopped.changed() => break,
                    _ = ticks.tick() => {}
                    () = nudge.notified() => {}
                }
                loop {
                    let outcome = state::background(round()).await;
                    crate::metrics::metrics().record_round(name, outcome.is_ok());
                    match outcome {
                        Ok(true) if !*stopped.borrow() => continue,
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(worker = name, error = %e, "database error; retrying at the next poll");
                            break;
                        }
                    }
                }
            }
            tracing::debug!(worker = name, "worker stopped");
        });
        Self { name, stop, handle }
    }

    /// Asks the worker to stop and waits (up to `grace`) for its current round to finish.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        let mut handle = self.handle;
        if tokio::time::timeout(grace, &mut handle).await.is_err() {
            tracing::warn!(worker = self.name, "worker did not stop in time; aborting it");
            handle.abort();
        }
    }
}

/// The claim of the outbox workers (push, SMS, webhooks): runs `due` (the rows whose attempt is
/// due, in order, limited to a batch) inside `txn` — on PostgreSQL with `FOR UPDATE SKIP
/// LOCKED`, so instances never claim the same rows; SQLite has one writer, so a plain select
/// cannot race there — and leases what it finds: each row's `next_attempt_at` moves `lease`
/// past `now`, so another instance retries it only if this one dies before recording an
/// outcome.
pub async fn lease_due<E>(
    txn: &DatabaseTransaction,
    mut due: Select<E>,
    (id, next_attempt_at): (E::Column, E::Column),
    id_of: impl Fn(&E::Model) -> Uuid,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
{
    if txn.get_database_backend() == DbBackend::Postgres {
        due = due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = due.all(txn).await?;
    if !rows.is_empty() {
        let lease = chrono::Duration::from_std(lease).unwrap_or_else(|_| chrono::Duration::minutes(5));
        E::update_many()
            .col_expr(next_attempt_at, Expr::value(now + lease))
            .filter(id.is_in(rows.iter().map(&id_of)))
            .exec(txn)
            .await?;
    }
    Ok(rows)
}
