//! Sessions as devices: the label and platform the app sends at sign-in and a coarse place, so a
//! person can list and end her sessions; and who used a refresh token (a digest of the client),
//! so a retry of that refresh within a few seconds from the same client gets the same new pair.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum AuthSession {
    Table,
    DeviceLabel,
    Platform,
    Place,
}

#[derive(DeriveIden)]
enum RefreshToken {
    Table,
    UsedBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for col in [
            ColumnDef::new(AuthSession::DeviceLabel).string_len(64).null().to_owned(),
            ColumnDef::new(AuthSession::Platform).string_len(16).null().to_owned(),
            ColumnDef::new(AuthSession::Place).string_len(64).null().to_owned(),
        ] {
            manager.alter_table(Table::alter().table(AuthSession::Table).add_column(col).to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshToken::Table)
                    .add_column(ColumnDef::new(RefreshToken::UsedBy).string_len(64).null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(RefreshToken::Table).drop_column(RefreshToken::UsedBy).to_owned(),
            )
            .await?;
        for col in [AuthSession::DeviceLabel, AuthSession::Platform, AuthSession::Place] {
            manager.alter_table(Table::alter().table(AuthSession::Table).drop_column(col).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveMigrationName)]
pub struct Migration;
