//! An SMS to deliver: queued in the writer's transaction, drained by the SMS worker with retries
//! and backoff. The message (which may hold a one-time code) is stored sealed, and the number and
//! message are erased once the row is done (sent, given up, or past its expiry).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sms_outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The recipient (normalised E.164); `None` once done.
    pub phone: Option<String>,
    /// What the message is: a code's purpose, or a notice.
    pub kind: String,
    /// Sealed JSON `{text, code}` (see `service::sms`); `None` once done.
    pub payload: Option<Vec<u8>>,
    pub status: SmsStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// Not sent after this (a code that has expired is not worth sending).
    pub expires_at: DateTimeUtc,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
}

crate::stored_enum! {
    /// Where an SMS stands.
    pub enum SmsStatus {
        Pending = "PENDING",
        Sent = "SENT",
        /// Given up: refused by the gateway, out of attempts, or expired before it could go.
        Failed = "FAILED",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
