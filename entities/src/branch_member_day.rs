//! Members joined and left per branch and day (Asia/Ho_Chi_Minh), for period statistics.

use crate::ids::UnitId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "branch_member_day")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub branch_id: UnitId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    pub joined: i64,
    pub left: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
