//! Active members per branch, kept in step with `membership` in the same transaction, so
//! subtree totals are a sum over branches rather than a count over a million rows.

use crate::ids::UnitId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "branch_member_count")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub branch_id: UnitId,
    pub active: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
