//! An invitation to join a branch, sent by an officer to a person the service already knows;
//! she accepts or declines it. One row per person and branch (renewed when sent again).

use crate::ids::{PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "membership_invitation")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: PersonId,
    pub branch_id: UnitId,
    pub invited_by: PersonId,
    /// `PENDING`, `ACCEPTED`, `DECLINED` or `CANCELLED` (a pending one past `expires_at` is
    /// expired).
    pub status: InvitationStatus,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub responded_at: Option<DateTimeUtc>,
}

crate::stored_enum! {
    /// Status of an invitation. `EXPIRED` is never stored: an open invitation past its expiry
    /// reads as expired (see `service::membership::invitation_status`).
    pub enum InvitationStatus {
        Pending = "PENDING",
        Accepted = "ACCEPTED",
        Declined = "DECLINED",
        /// Another invitation was accepted, or she became a member otherwise.
        Cancelled = "CANCELLED",
        /// Not answered in time.
        Expired = "EXPIRED",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
