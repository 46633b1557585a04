//! People, sign-in sessions and their refresh tokens.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Person {
    Table,
    Id,
    Phone,
    FullName,
    NameSearch,
    PasswordHash,
    BirthDate,
    Email,
    IsSystemAdmin,
    RegisteredAt,
    PasswordChangedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AuthSession {
    Table,
    Id,
    PersonId,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
    RevokedReason,
    UserAgent,
}

#[derive(DeriveIden)]
enum RefreshToken {
    Table,
    Id,
    SessionId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Person::Table)
                    .col(ColumnDef::new(Person::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Person::Phone).string_len(16).not_null().unique_key())
                    .col(ColumnDef::new(Person::FullName).string_len(120).not_null())
                    .col(ColumnDef::new(Person::NameSearch).string_len(120).not_null())
                    .col(ColumnDef::new(Person::PasswordHash).string_len(255).null())
                    .col(ColumnDef::new(Person::BirthDate).date().null())
                    .col(ColumnDef::new(Person::Email).string_len(254).null())
                    .col(ColumnDef::new(Person::IsSystemAdmin).boolean().not_null().default(false))
                    .col(ColumnDef::new(Person::RegisteredAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Person::PasswordChangedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Person::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Person::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_person_name_search")
                    .table(Person::Table)
                    .col(Person::NameSearch)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuthSession::Table)
                    .col(ColumnDef::new(AuthSession::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(AuthSession::PersonId).uuid().not_null())
                    .col(ColumnDef::new(AuthSession::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(AuthSession::LastUsedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(AuthSession::RevokedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(AuthSession::RevokedReason).string_len(32).null())
                    .col(ColumnDef::new(AuthSession::UserAgent).string_len(255).null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_auth_session_person")
                            .from(AuthSession::Table, AuthSession::PersonId)
                            .to(Person::Table, Person::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_auth_session_person")
                    .table(AuthSession::Table)
                    .col(AuthSession::PersonId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_auth_session_revoked_at")
                    .table(AuthSession::Table)
                    .col(AuthSession::RevokedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshToken::Table)
                    .col(ColumnDef::new(RefreshToken::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(RefreshToken::SessionId).uuid().not_null())
                    .col(ColumnDef::new(RefreshToken::TokenHash).string_len(64).not_null().unique_key())
                    .col(ColumnDef::new(RefreshToken::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(RefreshToken::ExpiresAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(RefreshToken::UsedAt).timestamp_with_time_zone().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_token_session")
                            .from(RefreshToken::Table, RefreshToken::SessionId)
                            .to(AuthSession::Table, AuthSession::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_refresh_token_session")
                    .table(RefreshToken::Table)
                    .col(RefreshToken::SessionId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(RefreshToken::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(AuthSession::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Person::Table).to_owned()).await
    }
}
