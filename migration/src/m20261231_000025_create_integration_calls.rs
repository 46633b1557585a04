//! The log of integration clients' calls: which client, what it ran (operation name or trusted
//! document id), what it cost, how it ended, when and how long it took.

use sea_orm_migration::prelude::*;

use crate::util::{index, string, ts, uuid, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum IntegrationCall {
    Table,
    Id,
    ClientId,
    At,
    Operation,
    Cost,
    Outcome,
    Status,
    DurationMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use IntegrationCall as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(uuid_pk(C::Id))
                    .col(uuid(C::ClientId))
                    .col(ts(C::At))
                    .col(string(C::Operation, 200))
                    .col(ColumnDef::new(C::Cost).big_integer().not_null())
                    .col(string(C::Outcome, 40))
                    .col(ColumnDef::new(C::Status).integer().not_null())
                    .col(ColumnDef::new(C::DurationMs).integer().not_null())
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_integration_call_client", C::Table, &[C::ClientId, C::At]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(IntegrationCall::Table).to_owned()).await
    }
}
