//! The record of changes to integration clients: who did what, and when. Append-only.

use crate::ids::{ClientId, PersonId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integration_change")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: ClientId,
    pub actor_id: PersonId,
    pub action: ClientChange,
    /// The secret the change was about, if one.
    pub secret_id: Option<Uuid>,
    pub at: DateTimeUtc,
}

crate::stored_enum! {
    /// What was done to a client.
    pub enum ClientChange {
        Registered = "REGISTERED",
        SecretAdded = "SECRET_ADDED",
        SecretRevoked = "SECRET_REVOKED",
        Revoked = "REVOKED",
        DocumentAdded = "DOCUMENT_ADDED",
        DocumentRemoved = "DOCUMENT_REMOVED",
        WebhookAdded = "WEBHOOK_ADDED",
        WebhookDisabled = "WEBHOOK_DISABLED",
        WebhookEnabled = "WEBHOOK_ENABLED",
        WebhookRemoved = "WEBHOOK_REMOVED",
        WebhookReplayed = "WEBHOOK_REPLAYED",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
