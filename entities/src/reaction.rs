//! A person's reaction to a post, campaign, story or comment: one per person and target.

pub use crate::comment::TargetKind;
use crate::ids::PersonId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reaction")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub target_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub person_id: PersonId,
    pub target_kind: TargetKind,
    pub kind: ReactionKind,
    pub created_at: DateTimeUtc,
}

crate::stored_enum! {
    /// The reactions on offer.
    pub enum ReactionKind {
        /// Thích.
        Like = "LIKE",
        /// Yêu thích.
        Love = "LOVE",
        /// Thương thương: care, support.
        Care = "CARE",
        /// Hoan nghênh: applause.
        Clap = "CLAP",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
