//! One call of an integration client: what it ran, what it cost, how it ended. Append-only.

use crate::ids::ClientId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integration_call")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: ClientId,
    pub at: DateTimeUtc,
    /// The operation name, the trusted document's id, or `POST /oauth/token`; `(anonymous)`
    /// for an unnamed operation.
    pub operation: String,
    /// The points it cost (the actual cost; the requested one when refused for want of points).
    pub cost: i64,
    /// `OK`, or the code of its first error (`FORBIDDEN`, `RATE_LIMITED`…).
    pub outcome: String,
    /// The HTTP status answered.
    pub status: i32,
    pub duration_ms: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
