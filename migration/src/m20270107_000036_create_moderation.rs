//! Moderation of members' comments and stories.
//!
//! - `content_flag`: a person's flag on a comment or story, once per person and item (the key).
//! - `content_settings`: a unit's moderation settings — how many distinct flags hide an item
//!   pending review, and whether its stories wait for a moderator — read from the nearest unit
//!   at or above that sets them.
//! - `moderation_case`: an item in the moderators' queue, opened by flags, an automatic check,
//!   pre-moderation or an appeal; at most one open case per item (`ux_moderation_case_open`) and
//!   one appeal per decision (`ux_moderation_case_appeal`).
//! - `member_mute`: until when a member may not write (one row per person, the latest mute).

use sea_orm_migration::prelude::*;

use crate::util::{fk, raw, string, string_null, ts, ts_null, uuid, uuid_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ContentFlag {
    Table,
    ContentId,
    PersonId,
    ContentKind,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ContentSettings {
    Table,
    UnitId,
    FlagThreshold,
    StoryPremoderation,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden, Clone, Copy)]
enum ModerationCase {
    Table,
    Id,
    ContentKind,
    ContentId,
    AuthorId,
    UnitId,
    Cause,
    Status,
    Decision,
    Sanction,
    MuteDays,
    Reason,
    Statement,
    AppealOf,
    OpenedAt,
    DecidedBy,
    DecidedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum MemberMute {
    Table,
    PersonId,
    Until,
    CaseId,
    MutedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ContentFlag as F;
        manager
            .create_table(
                Table::create()
                    .table(F::Table)
                    .col(uuid(F::ContentId))
                    .col(uuid(F::PersonId))
                    .col(string(F::ContentKind, 16))
                    .col(string(F::Reason, 16))
                    .col(ts(F::CreatedAt))
                    .primary_key(Index::create().col(F::ContentId).col(F::PersonId))
                    .foreign_key(&mut fk(
                        "fk_content_flag_person",
                        F::Table,
                        F::PersonId,
                        Alias::new("person"),
                    ))
                    .to_owned(),
            )
            .await?;

        use ContentSettings as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(uuid_pk(S::UnitId))
                    .col(ColumnDef::new(S::FlagThreshold).integer().null())
                    .col(ColumnDef::new(S::StoryPremoderation).boolean().null())
                    .col(ts(S::UpdatedAt))
                    .col(uuid(S::UpdatedBy))
                    .foreign_key(&mut fk(
                        "fk_content_settings_unit",
                        S::Table,
                        S::UnitId,
                        Alias::new("org_unit"),
                    ))
                    .to_owned(),
            )
            .await?;

        use ModerationCase as M;
        manager
            .create_table(
                Table::create()
                    .table(M::Table)
                    .col(uuid_pk(M::Id))
                    .col(string(M::ContentKind, 16))
                    .col(uuid(M::ContentId))
                    .col(uuid(M::AuthorId))
                    .col(uuid(M::UnitId))
                    .col(string(M::Cause, 16))
                    .col(string(M::Status, 16))
                    .col(string_null(M::Decision, 16))
                    .col(string_null(M::Sanction, 16))
                    .col(ColumnDef::new(M::MuteDays).integer().null())
                    .col(string_null(M::Reason, 500))
                    .col(string_null(M::Statement, 1000))
                    .col(uuid_null(M::AppealOf))
                    .col(ts(M::OpenedAt))
                    .col(uuid_null(M::DecidedBy))
                    .col(ts_null(M::DecidedAt))
                    .foreign_key(&mut fk(
                        "fk_moderation_case_unit",
                        M::Table,
                        M::UnitId,
                        Alias::new("org_unit"),
                    ))
                    .foreign_key(&mut fk(
                        "fk_moderation_case_author",
                        M::Table,
                        M::AuthorId,
                        Alias::new("person"),
                    ))
                    .to_owned(),
            )
            .await?;
        raw(
            manager,
            "CREATE UNIQUE INDEX ux_moderation_case_open ON moderation_case (content_id) WHERE status = 'OPEN'",
        )
        .await?;
        raw(
            manager,
            "CREATE UNIQUE INDEX ux_moderation_case_appeal ON moderation_case (appeal_of) \
             WHERE appeal_of IS NOT NULL",
        )
        .await?;
        // A unit's queue, oldest first (keyset on opened_at, id).
        raw(
            manager,
            "CREATE INDEX ix_moderation_case_queue ON moderation_case (unit_id, status, opened_at, id)",
        )
        .await?;
        raw(manager, "CREATE INDEX ix_moderation_case_content ON moderation_case (content_id, opened_at)")
            .await?;
        raw(manager, "CREATE INDEX ix_moderation_case_author ON moderation_case (author_id, opened_at)")
            .await?;

        use MemberMute as U;
        manager
            .create_table(
                Table::create()
                    .table(U::Table)
                    .col(uuid_pk(U::PersonId))
                    .col(ts(U::Until))
                    .col(uuid(U::CaseId))
                    .col(uuid(U::MutedBy))
                    .col(ts(U::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_member_mute_person",
                        U::Table,
                        U::PersonId,
                        Alias::new("person"),
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["member_mute", "moderation_case", "content_settings", "content_flag"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
