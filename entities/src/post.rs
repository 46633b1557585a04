//! A news post published by a unit to its subtree, optionally about a campaign. A member's
//! feed shows the published posts of her branch and every ancestor.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "post")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub unit_id: Uuid,
    pub campaign_id: Option<Uuid>,
    pub title: String,
    pub body: String,
    pub cover_image_url: Option<String>,
    /// `PUBLISHED` or `UNPUBLISHED`.
    pub status: String,
    pub published_at: DateTimeUtc,
    pub unpublished_at: Option<DateTimeUtc>,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
