//! One row that `/readyz` (and start-up) rewrites to prove the database takes writes: a
//! read-only file or directory, a full disk or a read-only PostgreSQL fail it, where a read
//! would still pass.

use sea_orm_migration::prelude::*;

use crate::util::ts;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WriteProbe {
    Table,
    Id,
    CheckedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WriteProbe::Table)
                    .col(ColumnDef::new(WriteProbe::Id).integer().not_null().primary_key())
                    .col(ts(WriteProbe::CheckedAt))
                    .to_owned(),
            )
            .await?;
        let row = Query::insert()
            .into_table(WriteProbe::Table)
            .columns([WriteProbe::Id, WriteProbe::CheckedAt])
            .values_panic([1.into(), Expr::current_timestamp()])
            .to_owned();
        manager.exec_stmt(row).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(WriteProbe::Table).to_owned()).await
    }
}
