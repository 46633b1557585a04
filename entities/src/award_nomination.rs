//! A unit (collective) or a person (individual) proposed for an award of a kind for a year, and
//! what the awarding level decided.

use crate::ids::{PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "award_nomination")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind_id: Uuid,
    /// The year whose work it recognises.
    pub year: i32,
    /// The unit that proposed it.
    pub nominating_unit_id: UnitId,
    /// The unit nominated (a collective award), or
    pub unit_id: Option<UnitId>,
    /// the person nominated (an individual award).
    pub person_id: Option<PersonId>,
    /// Why (thành tích).
    pub citation: String,
    pub status: NominationStatus,
    /// The number of the decision granting it (số quyết định), once approved.
    pub decision_number: Option<String>,
    pub decision_date: Option<Date>,
    pub decline_reason: Option<String>,
    pub nominated_by: PersonId,
    pub nominated_at: DateTimeUtc,
    pub decided_by: Option<PersonId>,
    pub decided_at: Option<DateTimeUtc>,
}

crate::stored_enum! {
    /// Where a nomination stands.
    pub enum NominationStatus {
        /// Waiting for the awarding level.
        Proposed = "PROPOSED",
        /// Granted: an award.
        Approved = "APPROVED",
        Declined = "DECLINED",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
