//! Per-day counters of the computed indicators (`ATTENDED`, `HOUSEHOLDS_CERTIFIED`) for every
//! unit, covering everything the unit contains; moved with a unit when the tree changes.

use crate::ids::UnitId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "unit_activity_day")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub unit_id: UnitId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub metric: Metric,
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    pub value: i64,
}

crate::stored_enum! {
    /// What a counter counts.
    pub enum Metric {
        /// Check-ins at trainings organised in the unit's subtree, by the Hanoi day of check-in.
        Attended = "ATTENDED",
        /// Household pledges of members of the unit's subtree certified, by Hanoi day.
        HouseholdsCertified = "HOUSEHOLDS_CERTIFIED",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
