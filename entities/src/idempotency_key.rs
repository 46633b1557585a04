//! The first result of a mutation sent with an `Idempotency-Key`, per caller and key: held
//! while it runs (`RUNNING`, leased to one request), then kept sealed (`DONE`) until it expires.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_key")]
pub struct Model {
    /// Whose key: `p:<person>`, `c:<client>`, or `a` for anonymous callers.
    #[sea_orm(primary_key, auto_increment = false)]
    pub caller: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Keyed digest (HMAC) of the request: its document, operation, variables and files.
    pub fingerprint: Vec<u8>,
    /// The id of the key the fingerprint was made with.
    pub digest_key: i32,
    /// The request holding the key while it runs.
    pub owner: Uuid,
    pub state: KeyState,
    /// Until when the owner holds a running key; past it another request may take it over.
    pub lease_until: DateTimeUtc,
    /// The response (sealed), once done.
    pub response: Option<Vec<u8>>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

crate::stored_enum! {
    /// Where a key stands.
    pub enum KeyState {
        /// A request with this key is running.
        Running = "RUNNING",
        /// Its response is kept.
        Done = "DONE",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
