//! What a target counts. Computed indicators (fixed ids, `code` set) are counted by the system;
//! reported ones are defined by an officer for her unit's subtree and filled in by officers.

use crate::ids::{PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "indicator")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `NEW_MEMBERS`, `PEOPLE_TRAINED`, `HOUSEHOLDS_CERTIFIED`, `BASES_RATED_GOOD` or
    /// `BRANCHES_RATED_GOOD` for the computed ones.
    pub code: Option<String>,
    /// `COMPUTED` or `REPORTED`.
    pub kind: IndicatorKind,
    pub name: String,
    pub unit_of_measure: String,
    /// How a subtree's reported values combine: `SUM` or `AVERAGE`.
    pub aggregation: Aggregation,
    /// The unit whose subtree may use a reported indicator; `None` for computed ones.
    pub unit_id: Option<UnitId>,
    pub created_by: Option<PersonId>,
    pub created_at: DateTimeUtc,
}

crate::stored_enum! {
    /// Whether the system counts an indicator or officers report it.
    pub enum IndicatorKind {
        Computed = "COMPUTED",
        Reported = "REPORTED",
    }
}

crate::stored_enum! {
    /// How the reported values of a subtree combine.
    pub enum Aggregation {
        /// The sum of the values of the units that reported.
        Sum = "SUM",
        /// The mean of the values of the units that reported.
        Average = "AVERAGE",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
