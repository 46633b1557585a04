//! Counters of a target (a post, campaign, story or comment): published comments and each
//! reaction, kept in the transaction of the write that changes them.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "engagement")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub target_id: Uuid,
    /// `COMMENTS`, or a reaction kind (`LIKE`, `LOVE`, `CARE`, `CLAP`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub counter: String,
    pub value: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
