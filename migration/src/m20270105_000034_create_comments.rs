//! Comments and reactions on what members can see (news posts, campaigns, and later stories),
//! and the counters kept with them.
//!
//! - `comment`: one level of threading (`parent_id` names a top-level comment); `status` is
//!   where moderation puts it (`PUBLISHED` unless held); `unit_id` is the unit whose moderators
//!   answer for it (the author's branch, else the target's unit).
//! - `reaction`: one per person and target, of a small fixed set; changing it replaces it.
//! - `engagement`: per target, the number of published comments and of each reaction, changed
//!   in the transaction of the write that changes it, so a page reads its counts without
//!   counting rows.

use sea_orm_migration::prelude::*;

use crate::util::{fk, raw, string, string_null, ts, ts_null, uuid, uuid_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Comment {
    Table,
    Id,
    TargetKind,
    TargetId,
    ParentId,
    AuthorId,
    UnitId,
    Body,
    Status,
    ModerationNote,
    FlagCount,
    ReplyCount,
    CreatedAt,
    EditedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Reaction {
    Table,
    TargetId,
    PersonId,
    TargetKind,
    Kind,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Engagement {
    Table,
    TargetId,
    Counter,
    Value,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Comment as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(uuid_pk(C::Id))
                    .col(string(C::TargetKind, 16))
                    .col(uuid(C::TargetId))
                    .col(uuid_null(C::ParentId))
                    .col(uuid(C::AuthorId))
                    .col(uuid(C::UnitId))
                    .col(ColumnDef::new(C::Body).text().not_null())
                    .col(string(C::Status, 16))
                    .col(string_null(C::ModerationNote, 500))
                    .col(ColumnDef::new(C::FlagCount).integer().not_null().default(0))
                    .col(ColumnDef::new(C::ReplyCount).integer().not_null().default(0))
                    .col(ts(C::CreatedAt))
                    .col(ts_null(C::EditedAt))
                    .foreign_key(&mut fk("fk_comment_author", C::Table, C::AuthorId, Alias::new("person")))
                    .foreign_key(&mut fk("fk_comment_unit", C::Table, C::UnitId, Alias::new("org_unit")))
                    .to_owned(),
            )
            .await?;
        // A target's top-level comments, oldest first, and a comment's replies: keyset pages.
        raw(manager, "CREATE INDEX ix_comment_thread ON comment (target_id, parent_id, created_at, id)")
            .await?;
        raw(
            manager,
            "CREATE INDEX ix_comment_replies ON comment (parent_id, created_at, id) WHERE parent_id IS NOT NULL",
        )
        .await?;
        raw(manager, "CREATE INDEX ix_comment_author ON comment (author_id, created_at)").await?;

        use Reaction as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(uuid(R::TargetId))
                    .col(uuid(R::PersonId))
                    .col(string(R::TargetKind, 16))
                    .col(string(R::Kind, 16))
                    .col(ts(R::CreatedAt))
                    .primary_key(Index::create().col(R::TargetId).col(R::PersonId))
                    .foreign_key(&mut fk("fk_reaction_person", R::Table, R::PersonId, Alias::new("person")))
                    .to_owned(),
            )
            .await?;

        use Engagement as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(uuid(E::TargetId))
                    .col(string(E::Counter, 16))
                    .col(ColumnDef::new(E::Value).big_integer().not_null().default(0))
                    .primary_key(Index::create().col(E::TargetId).col(E::Counter))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["engagement", "reaction", "comment"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
