//! A secret of an integration client. Only its SHA-256 is stored (it has 256 random bits, so a
//! fast hash leaves nothing to guess), with a hint of its last characters for the admins. A
//! client has at most two live secrets, so it can move to a new one without downtime.

use crate::ids::{ClientId, PersonId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integration_secret")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: ClientId,
    #[sea_orm(unique)]
    pub secret_hash: String,
    /// The secret's last four characters, to tell two secrets apart.
    pub hint: String,
    pub created_by: PersonId,
    pub created_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_by: Option<PersonId>,
    /// When a token was last issued against it.
    pub last_used_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
