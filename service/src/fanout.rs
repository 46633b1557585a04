//! Notification fan-out to a unit's whole membership (a campaign launch), done in the
//! background: a request only [`schedule`]s a job in its own transaction; the worker notifies
//! the subtree's members in batches.
//!
//! Each round of the worker ([`spawn_worker`]) first looks for a due job with a plain read (an idle
//! poll takes no lock); when there is one, it runs one transaction that claims one due job —
//! on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so two instances never hold the same job; on
//! SQLite by writing first, which takes the database's write lock — reads the next batch of the
//! subtree's `ACTIVE` members after the job's cursor (in person id order), inserts their
//! notifications and pushes with a bounded number of statements, and moves the cursor and the
//! `notified` count in the same transaction. So a batch is committed with its cursor or not at
//! all: an instance that dies between batches loses nothing, and nobody is notified twice. A
//! short batch marks the job `DONE`. The notifications are announced after commit.

use entities::ids::{PersonId, UnitId};
use std::time::Duration;

use chrono::Utc;
use entities::fanout_job;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType},
};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    config::Settings,
    db,
    domain::{GlobalId, NodeKind},
    error::ApiError,
    notifications::{self, NewNotification, NotificationKind},
    state::AppState,
    worker::PollingWorker,
};

entities::stored_enum! {
    /// What a fan-out announces.
    pub enum FanoutKind {
        /// A campaign was launched (`NotificationKind::CampaignLaunched`).
        CampaignLaunched = "CAMPAIGN_LAUNCHED",
    }
}

impl FanoutKind {
    /// The notification each member receives.
    fn notification(self) -> NotificationKind {
        match self {
            FanoutKind::CampaignLaunched => NotificationKind::CampaignLaunched,
        }
    }

    /// The kind of object the job's subject is (the notifications link to it).
    fn subject(self) -> NodeKind {
        match self {
            FanoutKind::CampaignLaunched => NodeKind::Campaign,
        }
    }
}

pub const PENDING: &str = "PENDING";
pub const DONE: &str = "DONE";

/// How long a job of a kind this version does not know waits before it is looked at again
/// (written by a newer version during a rolling deploy: one of its instances will run it).
const UNKNOWN_KIND_DELAY: chrono::Duration = chrono::Duration::minutes(5);

/// Queues a fan-out to the active members of `unit_id`'s subtree, inside the caller's
/// transaction (so it exists exactly when the change it announces does). `params` are the
/// notification's parameters.
pub async fn schedule(
    txn: &impl ConnectionTrait,
    kind: FanoutKind,
    subject_id: impl Into<Uuid>,
    unit_id: UnitId,
    params: serde_json::Value,
) -> Result<(), ApiError> {
    let now = Utc::now();
    entities::fanout_job::ActiveModel {
        id: Set(Uuid::now_v7()),
        kind: Set(kind.as_str().to_owned()),
        subject_id: Set(subject_id.into()),
        unit_id: Set(unit_id),
        params: Set(params.to_string()),
        cursor: Set(None),
        status: Set(PENDING.to_owned()),
        notified: Set(0),
        next_run_at: Set(now),
        created_at: Set(now),
        finished_at: Set(None),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Tuning of the worker, from the settings.
#[derive(Clone, Copy, Debug)]
pub struct FanoutConfig {
    pub poll_interval: Duration,
    pub batch_size: u64,
}

impl FanoutConfig {
    pub fn from_settings(s: &Settings) -> Self {
        Self { poll_interval: s.fanout_poll_interval, batch_size: std::cmp::max(s.fanout_batch_size, 1) }
    }
}

/// Spawns the fan-out worker on the current Tokio runtime: while jobs have work, batch follows
/// batch at once.
pub fn spawn_worker(state: AppState, config: FanoutConfig) -> PollingWorker {
    PollingWorker::spawn("fan-out", config.poll_interval, move || {
        let state = state.clone();
        async move { Ok::<_, ApiError>(run_round(&state, config.batch_size).await?.is_some()) }
    })
}

/// What one round did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Round {
    pub job_id: Uuid,
    /// People notified by this batch (members who turned the topic off are passed over).
    pub notified: usize,
    /// The job is finished.
    pub done: bool,
}

/// Claims one due job and notifies its next batch of at most `batch_size` members, in one
/// transaction. `None` when no job is due. (The worker calls it; tests may too.)
pub async fn run_round(state: &AppState, batch_size: u64) -> Result<Option<Round>, ApiError> {
    // An idle round is one indexed read outside any transaction, so polling takes no lock (on
    // SQLite even an instant's write lock makes another instance's read-then-write transactions
    // fail at once).
    if !any_due(&state.db).await? {
        return Ok(None);
    }
    let txn = state.db.begin().await?;
    let Some(job) = claim(&txn).await? else {
        txn.commit().await?;
        return Ok(None);
    };
    let Some(kind) = FanoutKind::parse(&job.kind) else {
        fanout_job::Entity::update_many()
            .col_expr(fanout_job::Column::NextRunAt, Expr::value(Utc::now() + UNKNOWN_KIND_DELAY))
            .filter(fanout_job::Column::Id.eq(job.id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        tracing::warn!(job_id = %job.id, kind = %job.kind, "fan-out job of an unknown kind left for a newer version");
        return Ok(Some(Round { job_id: job.id, notified: 0, done: false }));
    };

    let people = next_members(&txn, &job, batch_size).await?;
    let params: Value = serde_json::from_str(&job.params).unwrap_or(Value::Null);
    let link = GlobalId::new(kind.subject(), job.subject_id).encode();
    let items = people
        .iter()
        .map(|&person_id| NewNotification {
            person_id,
            kind: kind.notification(),
            params: params.clone(),
            link: Some(link.clone()),
            duty: false,
        })
        .collect();
    let rows = notifications::enqueue(&txn, items).await?;

    let done = (people.len() as u64) < batch_size;
    let mut advance = fanout_job::Entity::update_many()
        .col_expr(
            fanout_job::Column::Notified,
            Expr::col(fanout_job::Column::Notified).add(rows.len() as i64),
        )
        .filter(fanout_job::Column::Id.eq(job.id));
    if let Some(&last) = people.last() {
        advance = advance.col_expr(fanout_job::Column::Cursor, Expr::value(last));
    }
    if done {
        advance = advance
            .col_expr(fanout_job::Column::Status, Expr::value(DONE))
            .col_expr(fanout_job::Column::FinishedAt, Expr::value(Utc::now()));
    }
    advance.exec(&txn).await?;
    txn.commit().await?;

    notifications::announce(state, &rows).await;
    let total = job.notified + rows.len() as i64;
    if done {
        tracing::info!(event = "fanout_done", job_id = %job.id, subject_id = %job.subject_id, notified = total, "fan-out finished");
    } else {
        tracing::debug!(job_id = %job.id, notified = total, "fan-out batch committed");
    }
    Ok(Some(Round { job_id: job.id, notified: rows.len(), done }))
}

fn due() -> sea_orm::Select<fanout_job::Entity> {
    fanout_job::Entity::find()
        .filter(fanout_job::Column::Status.eq(PENDING))
        .filter(fanout_job::Column::NextRunAt.lte(Utc::now()))
}

/// Whether some job is due (another instance may hold it).
async fn any_due(db: &impl ConnectionTrait) -> Result<bool, ApiError> {
    let id: Option<Uuid> =
        due().select_only().column(fanout_job::Column::Id).limit(1).into_tuple().one(db).await?;
    Ok(id.is_some())
}

/// The oldest due job, held by this transaction until it ends.
async fn claim(txn: &impl ConnectionTrait) -> Result<Option<fanout_job::Model>, ApiError> {
    let backend = txn.get_database_backend();
    let mut due =
        due().order_by_asc(fanout_job::Column::NextRunAt).order_by_asc(fanout_job::Column::Id).limit(1);
    if backend == DbBackend::Postgres {
        due = due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    } else {
        // SQLite: a transaction that only read could not write after another instance (on the
        // same file) committed; writing first takes the write lock, so the job and its cursor
        // are read as of now and stay so until commit.
        db::execute(txn, "UPDATE fanout_job SET status = status WHERE 1 = 0", []).await?;
    }
    Ok(due.one(txn).await?)
}

#[derive(FromQueryResult)]
struct Member {
    person_id: PersonId,
}

/// The next `limit` active members of the job's subtree after its cursor, by person id.
async fn next_members(
    txn: &impl ConnectionTrait,
    job: &fanout_job::Model,
    limit: u64,
) -> Result<Vec<PersonId>, ApiError> {
    let mut values: Vec<sea_orm::Value> = vec![job.unit_id.into()];
    let after = match job.cursor {
        Some(cursor) => {
            values.push(cursor.into());
            " AND m.person_id > ?"
        }
        None => "",
    };
    values.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
    let sql = format!(
        "SELECT m.person_id AS person_id FROM membership m \
         JOIN org_unit_closure c ON c.descendant_id = m.branch_id \
         WHERE c.ancestor_id = ? AND m.status = 'ACTIVE'{after} ORDER BY m.person_id LIMIT ?"
    );
    let rows = Member::find_by_statement(db::stmt(txn.get_database_backend(), &sql, values)).all(txn).await?;
    Ok(rows.into_iter().map(|m| m.person_id).collect())
}
