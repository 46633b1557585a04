//! Members' stories: a short text with up to four photos (`media` rows whose parent is the
//! story), posted to her branch, optionally about a campaign (evidence of a pledge, of "ứng xử
//! đẹp"). `status` is where moderation puts it; `published_at` orders the branch's stories.

use sea_orm_migration::prelude::*;

use crate::util::{fk, raw, string, string_null, ts, ts_null, uuid, uuid_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Story {
    Table,
    Id,
    UnitId,
    AuthorId,
    CampaignId,
    Body,
    Status,
    ModerationNote,
    FlagCount,
    PublishedAt,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Story as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(uuid_pk(S::Id))
                    .col(uuid(S::UnitId))
                    .col(uuid(S::AuthorId))
                    .col(uuid_null(S::CampaignId))
                    .col(ColumnDef::new(S::Body).text().not_null())
                    .col(string(S::Status, 16))
                    .col(string_null(S::ModerationNote, 500))
                    .col(ColumnDef::new(S::FlagCount).integer().not_null().default(0))
                    .col(ts_null(S::PublishedAt))
                    .col(ts(S::CreatedAt))
                    .col(ts(S::UpdatedAt))
                    .foreign_key(&mut fk("fk_story_unit", S::Table, S::UnitId, Alias::new("org_unit")))
                    .foreign_key(&mut fk("fk_story_author", S::Table, S::AuthorId, Alias::new("person")))
                    .to_owned(),
            )
            .await?;
        // A branch's published stories, newest first (keyset on published_at, id).
        raw(manager, "CREATE INDEX ix_story_unit_feed ON story (unit_id, status, published_at, id)").await?;
        raw(manager, "CREATE INDEX ix_story_author ON story (author_id, created_at)").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Story::Table).to_owned()).await
    }
}
