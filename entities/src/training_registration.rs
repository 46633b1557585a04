//! A person's registration for a training: one row per person and training, reused when she
//! registers again after cancelling. `queue_no` is her arrival number (the waitlist's order).

use crate::ids::{PersonId, TrainingId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "training_registration")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub training_id: TrainingId,
    pub person_id: PersonId,
    /// `CONFIRMED`, `WAITLISTED`, `CANCELLED`, `ATTENDED` or `NO_SHOW`.
    pub status: RegistrationStatus,
    pub queue_no: i64,
    pub registered_at: DateTimeUtc,
    /// When she got a seat (at registration, or on promotion from the waitlist).
    pub confirmed_at: Option<DateTimeUtc>,
    pub cancelled_at: Option<DateTimeUtc>,
    pub attended_at: Option<DateTimeUtc>,
    pub checked_in_by: Option<PersonId>,
    /// `TOKEN` or `MANUAL`.
    pub check_in_method: Option<CheckInMethod>,
    pub updated_at: DateTimeUtc,
}

crate::stored_enum! {
    /// A registration's state. `CONFIRMED` and `WAITLISTED` are the live ones.
    pub enum RegistrationStatus {
        Confirmed = "CONFIRMED",
        Waitlisted = "WAITLISTED",
        Cancelled = "CANCELLED",
        Attended = "ATTENDED",
        NoShow = "NO_SHOW",
    }
}

crate::stored_enum! {
    /// How attendance was recorded.
    pub enum CheckInMethod {
        Token = "TOKEN",
        Manual = "MANUAL",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
