//! Case handling as Primero does it: a report can be transferred to another unit's case
//! officers, and a unit can require a supervisor's approval before its case officers close a
//! report.
//!
//! `violence_report.handling_unit_id` is the unit whose case officers hold the case (their reach
//! must cover it); `unit_id` stays where it happens (statistics count it there). It starts as
//! the place, so existing reports are backfilled with their `unit_id`. A pending transfer names
//! the receiving unit, who asked and when; a pending closure who asked, when and with which
//! close reason. `org_unit.case_closure_approval` turns the approval on for a unit's subtree.

use sea_orm_migration::prelude::*;

use crate::util::{raw, string_null, ts_null, uuid_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ViolenceReport {
    Table,
    HandlingUnitId,
    TransferToUnitId,
    TransferRequestedBy,
    TransferRequestedAt,
    ClosureRequestedBy,
    ClosureRequestedAt,
    ClosureRequestedReason,
}

#[derive(DeriveIden)]
enum OrgUnit {
    Table,
    CaseClosureApproval,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ViolenceReport as R;
        // One column per statement: SQLite adds one at a time.
        for col in [
            uuid_null(R::HandlingUnitId),
            uuid_null(R::TransferToUnitId),
            uuid_null(R::TransferRequestedBy),
            ts_null(R::TransferRequestedAt),
            uuid_null(R::ClosureRequestedBy),
            ts_null(R::ClosureRequestedAt),
            string_null(R::ClosureRequestedReason, 24),
        ] {
            manager.alter_table(Table::alter().table(R::Table).add_column(col).to_owned()).await?;
        }
        raw(manager, "UPDATE violence_report SET handling_unit_id = unit_id").await?;
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            raw(manager, "ALTER TABLE violence_report ALTER COLUMN handling_unit_id SET NOT NULL").await?;
        }
        // The case officers' queue walks the reports their units handle, urgent first.
        raw(
            manager,
            "CREATE INDEX ix_violence_report_handling ON violence_report \
             (handling_unit_id, urgent DESC, submitted_at, id)",
        )
        .await?;
        // What a receiving unit's officers are asked to take.
        raw(
            manager,
            "CREATE INDEX ix_violence_report_transfer ON violence_report (transfer_to_unit_id) \
             WHERE transfer_to_unit_id IS NOT NULL",
        )
        .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(OrgUnit::Table)
                    .add_column(
                        ColumnDef::new(OrgUnit::CaseClosureApproval).boolean().not_null().default(false),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ViolenceReport as R;
        raw(manager, "DROP INDEX IF EXISTS ix_violence_report_transfer").await?;
        raw(manager, "DROP INDEX IF EXISTS ix_violence_report_handling").await?;
        for col in [
            R::HandlingUnitId,
            R::TransferToUnitId,
            R::TransferRequestedBy,
            R::TransferRequestedAt,
            R::ClosureRequestedBy,
            R::ClosureRequestedAt,
            R::ClosureRequestedReason,
        ] {
            manager.alter_table(Table::alter().table(R::Table).drop_column(col).to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter().table(OrgUnit::Table).drop_column(OrgUnit::CaseClosureApproval).to_owned(),
            )
            .await
    }
}
