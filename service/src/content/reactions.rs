//! Reactions: one per person and target (a post, a campaign, a story, a comment), of a fixed set;
//! reacting again with another kind replaces it, `unreact` takes it back. The target's counter
//! of each kind changes in the same transaction, by the writer whose change took effect (two
//! taps at once count once).

use std::collections::HashMap;

use chrono::Utc;
use entities::{
    ids::PersonId,
    reaction::{self, ReactionKind},
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait, sea_query::Expr};
use uuid::Uuid;

use super::{Target, bump, see};
use crate::{Call, db::stmt, error::ApiError};

/// A target's reaction counts (every kind, in order) and the caller's own reaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub counts: Vec<(ReactionKind, i64)>,
    pub mine: Option<ReactionKind>,
}

/// Sets the caller's reaction to `target`.
pub async fn react(call: Call<'_>, target: Target, kind: ReactionKind) -> Result<Summary, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    // Only what is live takes reactions: not a post taken down, an ended campaign, a deleted
    // comment's placeholder.
    if !see(call, target).await?.open {
        return Err(ApiError::Conflict(crate::error::ConflictKind::WrongStatus));
    }
    let person = viewer.person_id;
    let txn = state.db.begin().await?;
    let sql = "INSERT INTO reaction (target_id, person_id, target_kind, kind, created_at) \
               VALUES (?, ?, ?, ?, ?) ON CONFLICT (target_id, person_id) DO NOTHING";
    let values = [
        target.id.into(),
        person.into(),
        target.kind.as_str().into(),
        kind.as_str().into(),
        Utc::now().into(),
    ];
    let inserted = txn.execute_raw(stmt(txn.get_database_backend(), sql, values)).await?.rows_affected() == 1;
    if inserted {
        bump(&txn, target.id, kind.as_str(), 1).await?;
    } else {
        let before = crate::db::lock_by_id::<reaction::Entity>(&txn, (target.id, person)).await?;
        if let Some(before) = before
            && before.kind != kind
        {
            reaction::Entity::update_many()
                .col_expr(reaction::Column::Kind, Expr::value(kind))
                .filter(reaction::Column::TargetId.eq(target.id))
                .filter(reaction::Column::PersonId.eq(person))
                .exec(&txn)
                .await?;
            bump(&txn, target.id, before.kind.as_str(), -1).await?;
            bump(&txn, target.id, kind.as_str(), 1).await?;
        }
    }
    txn.commit().await?;
    summary(&state.db, target.id, person).await
}

/// Takes the caller's reaction back (nothing happens without one).
pub async fn unreact(call: Call<'_>, target: Target) -> Result<Summary, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    see(call, target).await?;
    let person = viewer.person_id;
    let txn = state.db.begin().await?;
    let before = crate::db::lock_by_id::<reaction::Entity>(&txn, (target.id, person)).await?;
    if let Some(before) = before {
        let res = reaction::Entity::delete_many()
            .filter(reaction::Column::TargetId.eq(target.id))
            .filter(reaction::Column::PersonId.eq(person))
            .exec(&txn)
            .await?;
        if res.rows_affected == 1 {
            bump(&txn, target.id, before.kind.as_str(), -1).await?;
        }
    }
    txn.commit().await?;
    summary(&state.db, target.id, person).await
}

async fn summary(conn: &impl ConnectionTrait, target: Uuid, person: PersonId) -> Result<Summary, ApiError> {
    let counters = super::counters_of(conn, &[target]).await?;
    let mine = mine_of(conn, &[target], person).await?.remove(&target);
    Ok(Summary { counts: counts(&counters, target), mine })
}

/// The counts of every kind of a target, in the kinds' order, from [`super::counters_of`].
pub fn counts(counters: &HashMap<(Uuid, String), i64>, target: Uuid) -> Vec<(ReactionKind, i64)> {
    ReactionKind::ALL
        .iter()
        .map(|&k| (k, counters.get(&(target, k.as_str().to_owned())).copied().unwrap_or(0).max(0)))
        .collect()
}

/// `person`'s reactions to targets, in one statement.
pub async fn mine_of(
    conn: &impl ConnectionTrait,
    targets: &[Uuid],
    person: PersonId,
) -> Result<HashMap<Uuid, ReactionKind>, ApiError> {
    if targets.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = reaction::Entity::find()
        .filter(reaction::Column::TargetId.is_in(targets.iter().copied()))
        .filter(reaction::Column::PersonId.eq(person))
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|r| (r.target_id, r.kind)).collect())
}
