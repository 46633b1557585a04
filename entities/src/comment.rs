//! A comment on something members can see (a news post, a campaign, a story), or a reply to
//! one (one level: a reply's `parent_id` is a top-level comment).

use crate::ids::{PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "comment")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub target_kind: TargetKind,
    pub target_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub author_id: PersonId,
    /// Whose moderators answer for it: the author's branch, else the target's unit.
    pub unit_id: UnitId,
    pub body: String,
    pub status: ContentStatus,
    /// Why a moderator held, hid or removed it: the author sees it.
    pub moderation_note: Option<String>,
    /// Distinct people who flagged it.
    pub flag_count: i32,
    /// Published replies (top-level comments only).
    pub reply_count: i32,
    pub created_at: DateTimeUtc,
    pub edited_at: Option<DateTimeUtc>,
}

crate::stored_enum! {
    /// What members react to and comment on.
    pub enum TargetKind {
        Post = "POST",
        Campaign = "CAMPAIGN",
        Story = "STORY",
        Comment = "COMMENT",
    }
}

crate::stored_enum! {
    /// Where a member's comment or story stands.
    pub enum ContentStatus {
        /// Seen by everyone who sees what it is about.
        Published = "PUBLISHED",
        /// Waiting for a moderator (held by an automatic check, flagged, or pre-moderated):
        /// only its author sees it.
        Pending = "PENDING",
        /// Hidden by a moderator, with a note the author sees.
        Hidden = "HIDDEN",
        /// Deleted by its author or a moderator; its text is gone.
        Removed = "REMOVED",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
