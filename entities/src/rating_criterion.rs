//! What the units directly below `unit_id` are assessed against for their rating of a year.

use crate::ids::{PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rating_criterion")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The unit that set it: its children are rated against it.
    pub unit_id: UnitId,
    pub year: i32,
    /// Its place in the list (0 first).
    pub position: i32,
    pub title: String,
    pub description: Option<String>,
    /// The most points it gives.
    pub max_score: i32,
    pub created_by: PersonId,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
