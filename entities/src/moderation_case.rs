//! An item in the moderators' queue: a comment or story, why it is there, and what was decided.
//! An appeal is a case of its own (`appeal_of` the decision appealed), placed one level up.

pub use crate::comment::TargetKind;
use crate::ids::{PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "moderation_case")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `COMMENT` or `STORY`.
    pub content_kind: TargetKind,
    pub content_id: Uuid,
    pub author_id: PersonId,
    /// Whose moderators decide it: the item's unit, or the unit above for an appeal.
    pub unit_id: UnitId,
    pub cause: ModerationCause,
    pub status: CaseStatus,
    pub decision: Option<ModerationDecision>,
    pub sanction: Option<Sanction>,
    pub mute_days: Option<i32>,
    /// The moderator's reason: the author sees it.
    pub reason: Option<String>,
    /// The author's statement (appeals).
    pub statement: Option<String>,
    pub appeal_of: Option<Uuid>,
    pub opened_at: DateTimeUtc,
    pub decided_by: Option<PersonId>,
    pub decided_at: Option<DateTimeUtc>,
}

crate::stored_enum! {
    /// Why an item is in the queue.
    pub enum ModerationCause {
        /// Members flagged it.
        Flags = "FLAGS",
        /// The automatic check found a phone number, an ID number or an address.
        PersonalData = "PERSONAL_DATA",
        /// The automatic check found a word of the offensive-word list.
        OffensiveWords = "OFFENSIVE_WORDS",
        /// Its branch has members' stories checked before they are published.
        Premoderation = "PREMODERATION",
        /// Its author appeals a decision.
        Appeal = "APPEAL",
    }
}

crate::stored_enum! {
    /// Whether a case waits for a moderator.
    pub enum CaseStatus {
        Open = "OPEN",
        Decided = "DECIDED",
    }
}

crate::stored_enum! {
    /// What became of the item.
    pub enum ModerationDecision {
        /// Published (again), its flags cleared; on an appeal: the decision appealed is undone.
        Approved = "APPROVED",
        /// Hidden from everyone but its author, who sees the reason.
        Hidden = "HIDDEN",
        /// Deleted: out of every list; its author sees the reason.
        Deleted = "DELETED",
        /// Its author deleted it before a moderator decided.
        Withdrawn = "WITHDRAWN",
    }
}

crate::stored_enum! {
    /// What a decision did to the author, beside the item.
    pub enum Sanction {
        /// A formal warning, sent to her.
        Warned = "WARNED",
        /// She may not write for `mute_days` days.
        Muted = "MUTED",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
