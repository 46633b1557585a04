//! Closure table of the unit tree: one row per (ancestor, descendant) pair, including each unit
//! with itself at depth 0. Kept in step with `org_unit.parent_id` inside the same transaction.

use crate::ids::UnitId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "org_unit_closure")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ancestor_id: UnitId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub descendant_id: UnitId,
    pub depth: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
