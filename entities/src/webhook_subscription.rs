//! A webhook subscription: an integration client's target URL and the event types of its
//! subtree posted there, signed with a secret of its own. Made and managed by the admins who
//! manage the client.

use crate::ids::{ClientId, PersonId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_subscription")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: ClientId,
    pub url: String,
    /// Its event types, space-separated in a fixed order (`campaign.launched …`).
    pub event_types: String,
    /// The signing secret, sealed (bound to this row).
    pub secret: Vec<u8>,
    pub status: SubscriptionStatus,
    /// Failed attempts since the last delivered one.
    pub failures: i32,
    pub disabled_at: Option<DateTimeUtc>,
    pub disabled_reason: Option<DisabledReason>,
    pub last_success_at: Option<DateTimeUtc>,
    pub last_failure_at: Option<DateTimeUtc>,
    pub created_by: PersonId,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

crate::stored_enum! {
    /// Whether a subscription receives events.
    pub enum SubscriptionStatus {
        Active = "ACTIVE",
        Disabled = "DISABLED",
    }
}

crate::stored_enum! {
    /// Why a subscription was disabled.
    pub enum DisabledReason {
        /// Too many failed attempts in a row (`APP_WEBHOOK_DISABLE_AFTER_FAILURES`).
        Failing = "FAILING",
        /// The receiver answered 410 Gone: it asked for no more.
        Gone = "GONE",
        /// An admin disabled it.
        ByAdmin = "BY_ADMIN",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
