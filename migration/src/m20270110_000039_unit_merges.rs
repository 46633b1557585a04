//! Merging units: a unit merged into another stays, `MERGED`, below the unit it was merged into
//! (`merged_into_id`), so its code still resolves and its history (ratings, reported values,
//! awards, the audit trail) is still read, and counted, in that unit's subtree.

use sea_orm_migration::prelude::*;

use crate::util::{index, raw};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum OrgUnit {
    Table,
    Status,
    MergedIntoId,
    MergedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use OrgUnit as U;
        // One column per statement: SQLite adds one at a time.
        for col in [
            ColumnDef::new(U::Status).string_len(16).not_null().default("ACTIVE").to_owned(),
            ColumnDef::new(U::MergedIntoId).uuid().null().to_owned(),
            ColumnDef::new(U::MergedAt).timestamp_with_time_zone().null().to_owned(),
        ] {
            manager.alter_table(Table::alter().table(U::Table).add_column(col).to_owned()).await?;
        }
        index(manager, "ix_org_unit_merged_into", U::Table, &[U::MergedIntoId]).await?;
        // The children lists read the active children of a parent.
        raw(manager, "CREATE INDEX ix_org_unit_parent_active ON org_unit (parent_id, name_search) WHERE status = 'ACTIVE'")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        raw(manager, "DROP INDEX ix_org_unit_parent_active").await?;
        manager
            .drop_index(Index::drop().name("ix_org_unit_merged_into").table(OrgUnit::Table).to_owned())
            .await?;
        for col in [OrgUnit::MergedAt, OrgUnit::MergedIntoId, OrgUnit::Status] {
            manager.alter_table(Table::alter().table(OrgUnit::Table).drop_column(col).to_owned()).await?;
        }
        Ok(())
    }
}
