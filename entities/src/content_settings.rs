//! A unit's moderation settings; a unit without a value takes the nearest one set above it.

use crate::ids::{PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "content_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub unit_id: UnitId,
    /// Distinct flags that hide a comment or story pending review.
    pub flag_threshold: Option<i32>,
    /// Whether members' stories wait for a moderator before anyone else sees them.
    pub story_premoderation: Option<bool>,
    pub updated_at: DateTimeUtc,
    pub updated_by: PersonId,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
