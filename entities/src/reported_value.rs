//! A value an officer reported for her unit, a reported indicator and a period. Never updated
//! but to mark it superseded: the row without `superseded_at` is the current value, the others
//! are its history.

use crate::ids::{PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "reported_value")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub indicator_id: Uuid,
    pub unit_id: UnitId,
    pub from_year: i32,
    pub to_year: i32,
    pub value: f64,
    pub note: Option<String>,
    pub reported_by: PersonId,
    pub reported_at: DateTimeUtc,
    pub superseded_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
