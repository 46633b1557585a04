//! A person's flag on a comment or story: once per person and item.

pub use crate::comment::TargetKind;
use crate::ids::PersonId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "content_flag")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub content_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub person_id: PersonId,
    pub content_kind: TargetKind,
    pub reason: FlagReason,
    pub created_at: DateTimeUtc,
}

crate::stored_enum! {
    /// Why someone flags a comment or story.
    pub enum FlagReason {
        Spam = "SPAM",
        Offensive = "OFFENSIVE",
        /// It shows someone's phone, ID number or address.
        PersonalData = "PERSONAL_DATA",
        Harmful = "HARMFUL",
        Other = "OTHER",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
