//! A campaign (cuộc vận động), emulation movement (phong trào thi đua) or programme run by a
//! unit for its subtree over a term. Members see the active ones of their branch and every
//! ancestor; its criteria are in `campaign_criterion`.

use crate::ids::{CampaignId, PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: CampaignId,
    /// The owning unit; the campaign is for its subtree.
    pub unit_id: UnitId,
    /// `EMULATION_MOVEMENT`, `CAMPAIGN` or `PROGRAMME`.
    pub kind: CampaignKind,
    pub title: String,
    /// The folded title, for accent-insensitive search.
    pub title_search: String,
    pub summary: String,
    pub body: String,
    /// `PLAIN` or `MARKDOWN`.
    pub body_format: BodyFormat,
    pub cover_image_url: Option<String>,
    pub term_start: Date,
    pub term_end: Date,
    /// `DRAFT`, `ACTIVE` or `ENDED`.
    pub status: CampaignStatus,
    pub created_by: PersonId,
    pub launched_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    /// The "newest first" key: creation, then launch.
    pub listed_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

crate::stored_enum! {
    /// What sort of campaign it is.
    pub enum CampaignKind {
        /// Phong trào thi đua.
        EmulationMovement = "EMULATION_MOVEMENT",
        /// Cuộc vận động.
        Campaign = "CAMPAIGN",
        Programme = "PROGRAMME",
    }
}

crate::stored_enum! {
    /// Draft → active (launched) → ended.
    pub enum CampaignStatus {
        Draft = "DRAFT",
        Active = "ACTIVE",
        Ended = "ENDED",
    }
}

crate::stored_enum! {
    /// How the body is written; stored as given, the client renders it.
    pub enum BodyFormat {
        Plain = "PLAIN",
        Markdown = "MARKDOWN",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
