//! News posts published by a unit to its subtree, and the fan-out jobs through which the
//! background worker notifies a subtree's members in batches (a campaign launch), so that no
//! request ever writes a notification per member.

use sea_orm_migration::prelude::*;

use crate::util::{fk, index, string, string_null, ts, ts_null, uuid, uuid_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Post {
    Table,
    Id,
    UnitId,
    CampaignId,
    Title,
    Body,
    CoverImageUrl,
    Status,
    PublishedAt,
    UnpublishedAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum FanoutJob {
    Table,
    Id,
    Kind,
    SubjectId,
    UnitId,
    Params,
    Cursor,
    Status,
    Notified,
    NextRunAt,
    CreatedAt,
    FinishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Post as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(uuid_pk(P::Id))
                    .col(uuid(P::UnitId))
                    .col(uuid_null(P::CampaignId))
                    .col(string(P::Title, 200))
                    .col(ColumnDef::new(P::Body).text().not_null())
                    .col(string_null(P::CoverImageUrl, 500))
                    .col(string(P::Status, 16))
                    .col(ts(P::PublishedAt))
                    .col(ts_null(P::UnpublishedAt))
                    .col(uuid(P::CreatedBy))
                    .col(ts(P::CreatedAt))
                    .col(ts(P::UpdatedAt))
                    .foreign_key(&mut fk("fk_post_unit", P::Table, P::UnitId, Alias::new("org_unit")))
                    .foreign_key(&mut fk("fk_post_campaign", P::Table, P::CampaignId, Alias::new("campaign")))
                    .foreign_key(&mut fk("fk_post_creator", P::Table, P::CreatedBy, Alias::new("person")))
                    .to_owned(),
            )
            .await?;
        // A feed reads the newest published posts of each of a few units, in order.
        index(manager, "ix_post_unit_feed", P::Table, &[P::UnitId, P::Status, P::PublishedAt, P::Id]).await?;
        index(manager, "ix_post_published", P::Table, &[P::PublishedAt, P::Id]).await?;
        index(manager, "ix_post_campaign", P::Table, &[P::CampaignId]).await?;

        use FanoutJob as F;
        manager
            .create_table(
                Table::create()
                    .table(F::Table)
                    .col(uuid_pk(F::Id))
                    .col(string(F::Kind, 32))
                    .col(uuid(F::SubjectId))
                    .col(uuid(F::UnitId))
                    .col(ColumnDef::new(F::Params).text().not_null())
                    .col(uuid_null(F::Cursor))
                    .col(string(F::Status, 16))
                    .col(ColumnDef::new(F::Notified).big_integer().not_null().default(0))
                    .col(ts(F::NextRunAt))
                    .col(ts(F::CreatedAt))
                    .col(ts_null(F::FinishedAt))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_fanout_job_due", F::Table, &[F::Status, F::NextRunAt]).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(FanoutJob::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Post::Table).to_owned()).await
    }
}
