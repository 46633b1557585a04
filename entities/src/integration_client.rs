//! An integration client: a partner system (a city department, a partner programme, a
//! dashboard) that reads public data and aggregates of one unit's subtree with its own
//! credentials. Its subtree and scopes are fixed at registration (a partner that needs more is
//! registered again), so a token issued to it can carry both.

use crate::ids::{ClientId, PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integration_client")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ClientId,
    pub name: String,
    /// Who to call about it (a person, an address): free text for the admins.
    pub contact: String,
    /// The root of the subtree it may read.
    pub unit_id: UnitId,
    /// Its scopes, space-separated in a fixed order (the OAuth `scope` form).
    pub scopes: String,
    /// After this it gets no new token (and its tokens end by then).
    pub expires_at: Option<DateTimeUtc>,
    pub created_by: PersonId,
    pub created_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_by: Option<PersonId>,
    /// When it last got a token.
    pub last_used_at: Option<DateTimeUtc>,
    /// Its own cost bucket: points it holds, and points restored a second (none: the default).
    pub bucket_capacity: Option<i32>,
    pub bucket_per_sec: Option<i32>,
    /// It may run only its trusted documents, never a text of its own.
    pub trusted_documents_only: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
