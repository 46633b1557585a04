//! The target (chỉ tiêu) of a unit for an indicator over a period of whole years.

use crate::ids::{PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "target")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub indicator_id: Uuid,
    pub unit_id: UnitId,
    pub from_year: i32,
    pub to_year: i32,
    pub value: f64,
    /// Set by an officer above as the unit's share of the parent's target.
    pub assigned_by_parent: bool,
    pub set_by: PersonId,
    pub set_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
