//! A notification fan-out to a subtree's members, done by the background worker in batches
//! (ordered by person id; `cursor` is the last person notified, advanced in the same
//! transaction as the batch's notifications, so nobody is notified twice).

use crate::ids::UnitId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fanout_job")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `CAMPAIGN_LAUNCHED`. Text on purpose, unlike the other enumerated columns: a job written
    /// by a newer version (a kind this one does not know) must be read and left for it, not
    /// fail the read.
    pub kind: String,
    /// What it is about (the campaign).
    pub subject_id: Uuid,
    /// Whose members are notified (its subtree).
    pub unit_id: UnitId,
    /// JSON parameters of the notification.
    pub params: String,
    pub cursor: Option<Uuid>,
    /// `PENDING` or `DONE`.
    pub status: String,
    pub notified: i64,
    pub next_run_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
