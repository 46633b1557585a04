//! A document an integration client may run by its hash (a trusted, or persisted, document):
//! registered by an admin, its text kept as given and its SHA-256 (hex) the id it is sent by.

use crate::ids::{ClientId, PersonId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "trusted_document")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: ClientId,
    /// SHA-256 of `document`, lowercase hex.
    pub sha256: String,
    pub document: String,
    pub operation_name: Option<String>,
    pub created_by: PersonId,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
