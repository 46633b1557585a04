//! Registering, cancelling, and the waitlist. Every change of seats happens under the training
//! row's lock (see the module docs of `trainings`).

use crate::Call;
use entities::ids::{PersonId, TrainingId};
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entities::{training, training_registration as reg};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::{RegistrationStatus, TrainingStatus, in_audience, lock_training};
use crate::{
    db::{repeat_list, stmt},
    domain::{GlobalId, NodeKind},
    error::{ApiError, ConflictKind},
    notifications::{self, NewNotification, NotificationKind},
};

/// Registers the caller: confirmed while seats remain, else waitlisted. A second call returns
/// her registration as it is (a retry is harmless); after a cancellation she queues anew.
pub async fn register(call: Call<'_>, training_id: TrainingId) -> Result<reg::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let person = viewer.person_id;
    let txn = state.db.begin().await?;
    // Before the lock (same transaction, one connection): a retry gets her live registration
    // back, and the audience check (reads that do not depend on the seats) does not hold up
    // everyone queuing for the row.
    let unlocked = training::Entity::find_by_id(training_id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    if let Some(r) = registration_of(&txn, training_id, person).await?
        && r.status != RegistrationStatus::Cancelled
    {
        return Ok(r);
    }
    // A new registration (or one after a cancellation) needs her to be of the audience now.
    if !in_audience(&txn, viewer, &unlocked).await? {
        return Err(ApiError::NotFound);
    }
    let t = lock_training(&txn, training_id).await?;
    // Again under the lock: a simultaneous retry of hers may have registered meanwhile.
    let existing = registration_of(&txn, training_id, person).await?;
    if let Some(r) = &existing
        && r.status != RegistrationStatus::Cancelled
    {
        return Ok(r.clone());
    }
    let now = Utc::now();
    if let Some(refusal) = super::registration_refusal(&t, now) {
        return Err(ApiError::Conflict(refusal));
    }
    let seat = t.capacity.is_none_or(|c| t.confirmed_count < c);
    let status = if seat { RegistrationStatus::Confirmed } else { RegistrationStatus::Waitlisted };
    let fill = |row: &mut reg::ActiveModel| {
        row.status = Set(status);
        row.queue_no = Set(t.next_queue_no);
        row.registered_at = Set(now);
        row.confirmed_at = Set(seat.then_some(now));
        row.cancelled_at = Set(None);
        row.attended_at = Set(None);
        row.checked_in_by = Set(None);
        row.check_in_method = Set(None);
        row.updated_at = Set(now);
    };
    let saved = match existing {
        Some(r) => {
            let mut row: reg::ActiveModel = r.into();
            fill(&mut row);
            row.update(&txn).await?
        }
        None => {
            let mut row = reg::ActiveModel {
                id: Set(Uuid::now_v7()),
                training_id: Set(training_id),
                person_id: Set(person),
                ..Default::default()
            };
            fill(&mut row);
            row.insert(&txn).await?
        }
    };
    let (confirmed, waitlisted) = if seat { (1, 0) } else { (0, 1) };
    bump(&txn, &t, confirmed, waitlisted, 1).await?;
    txn.commit().await?;
    tracing::info!(event = "training_registered", training_id = %training_id, registration_id = %saved.id, status = status.as_str(), "registered");
    Ok(saved)
}

/// The person's registration for the training, whatever its status.
async fn registration_of(
    conn: &impl ConnectionTrait,
    training_id: TrainingId,
    person_id: PersonId,
) -> Result<Option<reg::Model>, ApiError> {
    Ok(reg::Entity::find()
        .filter(reg::Column::TrainingId.eq(training_id))
        .filter(reg::Column::PersonId.eq(person_id))
        .one(conn)
        .await?)
}

/// Adds to the training's seat counters and arrival number (the row is locked by the caller).
async fn bump(
    txn: &impl ConnectionTrait,
    t: &training::Model,
    confirmed: i32,
    waitlisted: i32,
    queue: i64,
) -> Result<(), ApiError> {
    training::Entity::update_many()
        .col_expr(
            training::Column::ConfirmedCount,
            Expr::col(training::Column::ConfirmedCount).add(confirmed),
        )
        .col_expr(training::Column::WaitlistCount, Expr::col(training::Column::WaitlistCount).add(waitlisted))
        .col_expr(training::Column::NextQueueNo, Expr::col(training::Column::NextQueueNo).add(queue))
        .filter(training::Column::Id.eq(t.id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Cancels the caller's registration; a freed seat goes to the first waitlisted person, who is
/// notified. Cancelling twice answers the cancelled registration again.
pub async fn cancel_registration(call: Call<'_>, training_id: TrainingId) -> Result<reg::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let txn = state.db.begin().await?;
    let t = lock_training(&txn, training_id).await?;
    let mine = reg::Entity::find()
        .filter(reg::Column::TrainingId.eq(training_id))
        .filter(reg::Column::PersonId.eq(viewer.person_id))
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound)?;
    if mine.status == RegistrationStatus::Cancelled {
        return Ok(mine);
    }
    if !matches!(mine.status, RegistrationStatus::Confirmed | RegistrationStatus::Waitlisted) {
        // Attended or no-show: history, not a seat.
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    let freed = mine.status == RegistrationStatus::Confirmed;
    let now = Utc::now();
    let mut row: reg::ActiveModel = mine.into();
    row.status = Set(RegistrationStatus::Cancelled);
    row.cancelled_at = Set(Some(now));
    row.updated_at = Set(now);
    let cancelled = row.update(&txn).await?;
    bump(&txn, &t, if freed { -1 } else { 0 }, if freed { 0 } else { -1 }, 0).await?;
    let t = training::Entity::find_by_id(training_id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    let (_, notes) = fill_free_seats(&txn, t).await?;
    txn.commit().await?;
    notifications::announce(state, &notes).await;
    tracing::info!(event = "training_registration_cancelled", training_id = %training_id, registration_id = %cancelled.id, promoted = notes.len(), "registration cancelled");
    Ok(cancelled)
}

/// Promotes waitlisted people, first arrived first, into the seats a published training has
/// free; queues their notifications. The training row must be locked by the caller.
pub(crate) async fn fill_free_seats(
    txn: &impl ConnectionTrait,
    t: training::Model,
) -> Result<(training::Model, Vec<entities::notification::Model>), ApiError> {
    if t.status != TrainingStatus::Published || t.waitlist_count == 0 {
        return Ok((t, Vec::new()));
    }
    let free = match t.capacity {
        Some(c) => u64::try_from(c - t.confirmed_count).unwrap_or(0),
        None => u64::try_from(t.waitlist_count).unwrap_or(0),
    };
    if free == 0 {
        return Ok((t, Vec::new()));
    }
    let promoted = reg::Entity::find()
        .filter(reg::Column::TrainingId.eq(t.id))
        .filter(reg::Column::Status.eq(RegistrationStatus::Waitlisted.as_str()))
        .order_by_asc(reg::Column::QueueNo)
        .limit(free)
        .all(txn)
        .await?;
    if promoted.is_empty() {
        return Ok((t, Vec::new()));
    }
    let now = Utc::now();
    reg::Entity::update_many()
        .col_expr(reg::Column::Status, Expr::value(RegistrationStatus::Confirmed.as_str()))
        .col_expr(reg::Column::ConfirmedAt, Expr::value(now))
        .col_expr(reg::Column::UpdatedAt, Expr::value(now))
        .filter(reg::Column::Id.is_in(promoted.iter().map(|r| r.id)))
        .exec(txn)
        .await?;
    let n = promoted.len() as i32;
    bump(txn, &t, n, -n, 0).await?;
    let link = GlobalId::new(NodeKind::Training, t.id).encode();
    let items = promoted
        .iter()
        .map(|r| NewNotification {
            person_id: r.person_id,
            kind: NotificationKind::TrainingSeatConfirmed,
            params: serde_json::json!({ "training": t.title }),
            link: Some(link.clone()),
            duty: false,
        })
        .collect();
    let notes = notifications::enqueue(txn, items).await?;
    let t = training::Entity::find_by_id(t.id).one(txn).await?.ok_or(ApiError::NotFound)?;
    Ok((t, notes))
}

/// The people a cancelled training is announced to: those with a seat, waiting, or already
/// checked in.
pub(crate) async fn registrants_to_tell(
    txn: &impl ConnectionTrait,
    training_id: TrainingId,
) -> Result<Vec<PersonId>, ApiError> {
    // Those already checked in (a training cancelled once under way) are told too.
    let told = [RegistrationStatus::Confirmed, RegistrationStatus::Waitlisted, RegistrationStatus::Attended];
    Ok(reg::Entity::find()
        .select_only()
        .column(reg::Column::PersonId)
        .filter(reg::Column::TrainingId.eq(training_id))
        .filter(reg::Column::Status.is_in(told.map(RegistrationStatus::as_str)))
        .into_tuple()
        .all(txn)
        .await?)
}

/// Confirmed registrations nobody checked in become `NO_SHOW`.
pub(crate) async fn mark_no_shows(
    txn: &impl ConnectionTrait,
    training_id: TrainingId,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    reg::Entity::update_many()
        .col_expr(reg::Column::Status, Expr::value(RegistrationStatus::NoShow.as_str()))
        .col_expr(reg::Column::UpdatedAt, Expr::value(now))
        .filter(reg::Column::TrainingId.eq(training_id))
        .filter(reg::Column::Status.eq(RegistrationStatus::Confirmed.as_str()))
        .exec(txn)
        .await?;
    Ok(())
}

/// The caller's registrations for these trainings (for a page of trainings: one query).
pub async fn registrations_of(
    conn: &impl ConnectionTrait,
    person_id: PersonId,
    training_ids: &[TrainingId],
) -> Result<HashMap<TrainingId, reg::Model>, ApiError> {
    if training_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = reg::Entity::find()
        .filter(reg::Column::PersonId.eq(person_id))
        .filter(reg::Column::TrainingId.is_in(training_ids.iter().copied()))
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|r| (r.training_id, r)).collect())
}

/// The caller's registrations, newest first (at most 100).
pub async fn my_registrations(call: Call<'_>) -> Result<Vec<reg::Model>, ApiError> {
    let (conn, viewer) = (&call.state.db, call.viewer()?);
    Ok(reg::Entity::find()
        .filter(reg::Column::PersonId.eq(viewer.person_id))
        .order_by_desc(reg::Column::RegisteredAt)
        .limit(100)
        .all(conn)
        .await?)
}

#[derive(FromQueryResult)]
struct Position {
    id: Uuid,
    position: i64,
}

/// 1-based waitlist positions of waitlisted registrations, in one query.
pub async fn waitlist_positions(
    conn: &impl ConnectionTrait,
    registration_ids: &[Uuid],
) -> Result<HashMap<Uuid, i64>, ApiError> {
    if registration_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT r.id AS id, COUNT(w.id) AS position FROM training_registration r \
         JOIN training_registration w ON w.training_id = r.training_id AND w.status = 'WAITLISTED' \
           AND w.queue_no <= r.queue_no \
         WHERE r.status = 'WAITLISTED' AND r.id IN ({}) GROUP BY r.id",
        repeat_list("?", registration_ids.len())
    );
    let rows = Position::find_by_statement(stmt(
        conn.get_database_backend(),
        &sql,
        registration_ids.iter().map(|&i| i.into()),
    ))
    .all(conn)
    .await?;
    Ok(rows.into_iter().map(|p| (p.id, p.position)).collect())
}
