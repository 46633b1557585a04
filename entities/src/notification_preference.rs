//! How much a person wants to hear about one topic. No row: everything.

use crate::ids::PersonId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_preference")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub person_id: PersonId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub topic: NotificationTopic,
    pub level: NotificationLevel,
}

crate::stored_enum! {
    /// What a group of notifications is about, as a person chooses what to hear. Account and
    /// membership notices (a request decided, a password reset) and the notices of an officer's
    /// duties have no topic: they always arrive.
    pub enum NotificationTopic {
        /// Campaigns launched in her units, and her pledges certified or returned.
        Campaigns = "CAMPAIGNS",
        /// Trainings she registered for: a cancellation, a seat confirmed from the waitlist.
        Trainings = "TRAININGS",
        /// Replies and reactions to what she wrote (news comments, stories).
        Comments = "COMMENTS",
        /// Decisions on her content (held, approved, hidden) and, for moderators, new items in
        /// their queue.
        Moderation = "MODERATION",
        /// Her own violence reports: an update, an officer's message (texts are always neutral;
        /// a woman who shares her phone may keep them in the inbox only).
        ViolenceReports = "VIOLENCE_REPORTS",
    }
}

crate::stored_enum! {
    /// How much of a topic reaches her.
    pub enum NotificationLevel {
        /// The inbox and a push to her devices (the default).
        All = "ALL",
        /// The inbox only, no push.
        Inbox = "INBOX",
        /// Nothing.
        Off = "OFF",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
