//! A member's story: a short text with photos, posted to her branch, maybe about a campaign.

pub use crate::comment::ContentStatus;
use crate::ids::{CampaignId, PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "story")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Her branch: its members and the officers above it read the story.
    pub unit_id: UnitId,
    pub author_id: PersonId,
    pub campaign_id: Option<CampaignId>,
    pub body: String,
    pub status: ContentStatus,
    /// Why a moderator held, hid or removed it: the author sees it.
    pub moderation_note: Option<String>,
    pub flag_count: i32,
    /// When it was published (`None` while held).
    pub published_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
