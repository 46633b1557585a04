//! An integration client's own cost bucket (capacity and points restored a second); none: the
//! defaults (`APP_CLIENT_BUCKET_*`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IntegrationClient {
    Table,
    BucketCapacity,
    BucketPerSec,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for col in [IntegrationClient::BucketCapacity, IntegrationClient::BucketPerSec] {
            manager
                .alter_table(
                    Table::alter()
                        .table(IntegrationClient::Table)
                        .add_column(ColumnDef::new(col).integer().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [IntegrationClient::BucketCapacity, IntegrationClient::BucketPerSec] {
            manager
                .alter_table(Table::alter().table(IntegrationClient::Table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
