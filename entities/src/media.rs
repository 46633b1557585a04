//! An uploaded photo: its owner, its size, where its thumbnail stands, and the record it
//! belongs to once attached (a story). The bytes live in the media store under keys made from
//! the id (`photos/<id>.jpg`, `photos/<id>-thumb.jpg`).

use crate::ids::PersonId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "media")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub owner_id: PersonId,
    pub width: i32,
    pub height: i32,
    /// Bytes of the stored photo.
    pub size: i64,
    /// When the thumbnail was made; `None`: still to be made (by the media worker).
    pub thumbnail_at: Option<DateTimeUtc>,
    /// What it is attached to (`STORY`); `None` until then. Unattached photos are deleted after
    /// a day.
    pub parent_kind: Option<String>,
    pub parent_id: Option<Uuid>,
    /// Its place among the parent's photos.
    pub position: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
