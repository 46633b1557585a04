//! A news post published by a unit to its subtree, optionally about a campaign. A member's
//! feed shows the published posts of her branch and every ancestor.

use crate::ids::{CampaignId, PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "post")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub unit_id: UnitId,
    pub campaign_id: Option<CampaignId>,
    pub title: String,
    pub body: String,
    pub cover_image_url: Option<String>,
    pub status: PostStatus,
    pub published_at: DateTimeUtc,
    pub unpublished_at: Option<DateTimeUtc>,
    pub created_by: PersonId,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

crate::stored_enum! {
    /// A post is published at once; it can be taken down and put back.
    pub enum PostStatus {
        Published = "PUBLISHED",
        Unpublished = "UNPUBLISHED",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
