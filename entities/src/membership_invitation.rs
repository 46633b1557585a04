//! An invitation to join a branch, sent by an officer to a person the service already knows;
//! she accepts or declines it. One row per person and branch (renewed when sent again).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "membership_invitation")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: Uuid,
    pub branch_id: Uuid,
    pub invited_by: Uuid,
    /// `PENDING`, `ACCEPTED`, `DECLINED` or `CANCELLED` (a pending one past `expires_at` is
    /// expired).
    pub status: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub responded_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
