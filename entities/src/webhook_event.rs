//! Something that happened in the tree that integration clients may subscribe to (a campaign
//! launched, a training published…), with the public payload every receiver gets. Its id is the
//! `webhook-id` receivers deduplicate on. Written in the transaction of the change it reports,
//! only when some subscription wants it.

use crate::ids::UnitId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_event")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The wire type, e.g. `campaign.launched`.
    pub event_type: String,
    /// The unit of what it is about.
    pub unit_id: UnitId,
    /// The JSON body posted (`type`, `timestamp`, `data`).
    pub payload: String,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
