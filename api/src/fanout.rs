//! Notification fan-out to a unit's whole membership (a campaign launch), done in the
//! background: a request only [`schedule`]s a job in its own transaction; the worker notifies
//! the subtree's members in batches.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use uuid::Uuid;

use crate::{domain::stored_enum, error::ApiError};

stored_enum! {
    /// What a fan-out announces.
    pub enum FanoutKind {
        /// A campaign was launched (`NotificationKind::CampaignLaunched`).
        CampaignLaunched = "CAMPAIGN_LAUNCHED",
    }
}

/// Queues a fan-out to the active members of `unit_id`'s subtree, inside the caller's
/// transaction (so it exists exactly when the change it announces does). `params` are the
/// notification's parameters.
pub async fn schedule(
    txn: &impl ConnectionTrait,
    kind: FanoutKind,
    subject_id: Uuid,
    unit_id: Uuid,
    params: serde_json::Value,
) -> Result<(), ApiError> {
    let now = Utc::now();
    entities::fanout_job::ActiveModel {
        id: Set(Uuid::now_v7()),
        kind: Set(kind.as_str().to_owned()),
        subject_id: Set(subject_id),
        unit_id: Set(unit_id),
        params: Set(params.to_string()),
        cursor: Set(None),
        status: Set("PENDING".to_owned()),
        notified: Set(0),
        next_run_at: Set(now),
        created_at: Set(now),
        finished_at: Set(None),
    }
    .insert(txn)
    .await?;
    Ok(())
}
