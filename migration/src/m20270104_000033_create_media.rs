//! Uploaded photos (`media`). The bytes are in the media store; a row says whose it is, its
//! size, whether its thumbnail exists yet, and what it is attached to.

use sea_orm_migration::prelude::*;

use crate::util::{fk, index, raw, string_null, ts, ts_null, uuid, uuid_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Media {
    Table,
    Id,
    OwnerId,
    Width,
    Height,
    Size,
    ThumbnailAt,
    ParentKind,
    ParentId,
    Position,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Media as M;
        manager
            .create_table(
                Table::create()
                    .table(M::Table)
                    .col(uuid_pk(M::Id))
                    .col(uuid(M::OwnerId))
                    .col(ColumnDef::new(M::Width).integer().not_null())
                    .col(ColumnDef::new(M::Height).integer().not_null())
                    .col(ColumnDef::new(M::Size).big_integer().not_null())
                    .col(ts_null(M::ThumbnailAt))
                    .col(string_null(M::ParentKind, 16))
                    .col(uuid_null(M::ParentId))
                    .col(ColumnDef::new(M::Position).integer().not_null().default(0))
                    .col(ts(M::CreatedAt))
                    .foreign_key(&mut fk("fk_media_owner", M::Table, M::OwnerId, Alias::new("person")))
                    .to_owned(),
            )
            .await?;
        // A record's photos, in order.
        index(manager, "ix_media_parent", M::Table, &[M::ParentId, M::Position]).await?;
        // The worker's two questions: thumbnails to make, unattached uploads to sweep.
        raw(manager, "CREATE INDEX ix_media_thumbnail_due ON media (created_at) WHERE thumbnail_at IS NULL")
            .await?;
        raw(manager, "CREATE INDEX ix_media_unattached ON media (created_at) WHERE parent_id IS NULL").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Media::Table).to_owned()).await
    }
}
