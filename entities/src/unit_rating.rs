//! A unit's emulation rating (xếp loại thi đua) for a year: its self-assessment and proposal,
//! then the rating the level above confirmed. One per unit and year.

use crate::ids::{PersonId, UnitId};
use crate::org_unit::UnitKind;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "unit_rating")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub unit_id: UnitId,
    /// The unit's kind (what the share indicators count by).
    pub unit_kind: UnitKind,
    /// The unit whose criteria it is assessed against: the unit's parent when it was begun
    /// (kept when the unit later moves or its parent is merged).
    pub criteria_unit_id: UnitId,
    pub year: i32,
    pub status: RatingStatus,
    /// The rating the unit proposes for itself (required to submit).
    pub proposed: Option<RatingLevel>,
    /// The unit's account of its year.
    pub self_assessment: Option<String>,
    /// The rating confirmed by the level above.
    pub rating: Option<RatingLevel>,
    /// Why the confirmed rating differs from the proposal.
    pub change_reason: Option<String>,
    /// Why the level above sent the last submission back.
    pub return_reason: Option<String>,
    pub created_by: PersonId,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub submitted_by: Option<PersonId>,
    pub submitted_at: Option<DateTimeUtc>,
    pub confirmed_by: Option<PersonId>,
    pub confirmed_at: Option<DateTimeUtc>,
}

crate::stored_enum! {
    /// Where a rating stands.
    pub enum RatingStatus {
        /// Being written by the unit (again, when sent back).
        Draft = "DRAFT",
        /// Waiting for the level above.
        Submitted = "SUBMITTED",
        /// Decided by the level above: final.
        Confirmed = "CONFIRMED",
    }
}

crate::stored_enum! {
    /// The four ratings, best first.
    pub enum RatingLevel {
        /// Hoàn thành xuất sắc nhiệm vụ (xuất sắc).
        Excellent = "EXCELLENT",
        /// Hoàn thành tốt nhiệm vụ (khá, vững mạnh).
        Good = "GOOD",
        /// Hoàn thành nhiệm vụ (trung bình).
        Fair = "FAIR",
        /// Không hoàn thành nhiệm vụ (yếu).
        Weak = "WEAK",
    }
}

impl RatingLevel {
    /// Good or better: what the share indicators count.
    pub fn good_or_better(self) -> bool {
        matches!(self, RatingLevel::Excellent | RatingLevel::Good)
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
