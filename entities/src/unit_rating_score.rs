//! The points a unit's rating claims for one criterion, with its evidence.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "unit_rating_score")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub rating_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub criterion_id: Uuid,
    /// 0 to the criterion's `max_score`.
    pub score: i32,
    /// What shows it (notes, where the documents are).
    pub evidence: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
