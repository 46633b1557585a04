//! Domestic-violence concerns: the reports, their timeline, and the append-only access log.
//!
//! Everything a reporter or an officer writes in words — the description, the address, the safe
//! contact, notes, messages, reasons, referral outcomes — is stored sealed (`blob`, see
//! `api::crypto`); only what the queue sorts and filters on is in the clear (place, status,
//! urgency, the kinds ticked, times). The access log refuses UPDATE and DELETE at the database,
//! so not even a bug in the API can rewrite who read what.

use sea_orm_migration::prelude::*;

use crate::util::{append_only, fk, index, raw, string, string_null, ts, ts_null, uuid, uuid_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ViolenceReport {
    Table,
    Id,
    ReferenceCode,
    UnitId,
    RoutedUnitId,
    ReporterId,
    PinHash,
    PinFailures,
    PinLockedAt,
    Affected,
    AgeGroup,
    Kinds,
    ImmediateDanger,
    ChildrenInvolved,
    Urgent,
    Description,
    Address,
    Contact,
    MayContact,
    MayShare,
    Status,
    CloseReason,
    AssignedTo,
    Version,
    EscalationLevel,
    EscalateAt,
    IdempotencyKey,
    InputDigest,
    SubmittedAt,
    AcknowledgedAt,
    ClosedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ViolenceReportEvent {
    Table,
    Id,
    ReportId,
    Kind,
    Public,
    ActorId,
    ActorRole,
    FromStatus,
    ToStatus,
    CloseReason,
    Body,
    Agency,
    ReferredOn,
    UnitId,
    AssigneeId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ViolenceAccessLog {
    Table,
    Id,
    ReportId,
    PersonId,
    Role,
    Action,
    At,
}

fn blob(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).blob().not_null().to_owned()
}

fn blob_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).blob().null().to_owned()
}

fn flag(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).boolean().not_null().to_owned()
}

fn int(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).integer().not_null().default(0).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ViolenceReport as R;
        let unit = || Alias::new("org_unit");
        let person = || Alias::new("person");
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(uuid_pk(R::Id))
                    .col(string(R::ReferenceCode, 16).unique_key().to_owned())
                    .col(uuid(R::UnitId))
                    .col(uuid(R::RoutedUnitId))
                    .col(uuid_null(R::ReporterId))
                    .col(string_null(R::PinHash, 200))
                    .col(int(R::PinFailures))
                    .col(ts_null(R::PinLockedAt))
                    .col(string(R::Affected, 16))
                    .col(string(R::AgeGroup, 16))
                    .col(string(R::Kinds, 80))
                    .col(flag(R::ImmediateDanger))
                    .col(flag(R::ChildrenInvolved))
                    .col(flag(R::Urgent))
                    .col(blob(R::Description))
                    .col(blob_null(R::Address))
                    .col(blob_null(R::Contact))
                    .col(flag(R::MayContact))
                    .col(flag(R::MayShare))
                    .col(string(R::Status, 16))
                    .col(string_null(R::CloseReason, 16))
                    .col(uuid_null(R::AssignedTo))
                    .col(int(R::Version))
                    .col(int(R::EscalationLevel))
                    .col(ts_null(R::EscalateAt))
                    .col(string(R::IdempotencyKey, 64).unique_key().to_owned())
                    .col(string(R::InputDigest, 64))
                    .col(ts(R::SubmittedAt))
                    .col(ts_null(R::AcknowledgedAt))
                    .col(ts_null(R::ClosedAt))
                    .col(ts(R::UpdatedAt))
                    .foreign_key(&mut fk("fk_violence_report_unit", R::Table, R::UnitId, unit()))
                    .foreign_key(&mut fk("fk_violence_report_routed", R::Table, R::RoutedUnitId, unit()))
                    .foreign_key(&mut fk("fk_violence_report_reporter", R::Table, R::ReporterId, person()))
                    .foreign_key(&mut fk("fk_violence_report_assignee", R::Table, R::AssignedTo, person()))
                    .to_owned(),
            )
            .await?;
        // The queue, urgent first, then oldest: in that order for the whole city, and per unit for
        // a reach (whose few hundred matches are then sorted).
        raw(
            manager,
            "CREATE INDEX ix_violence_report_urgent ON violence_report (urgent DESC, submitted_at, id)",
        )
        .await?;
        raw(
            manager,
            "CREATE INDEX ix_violence_report_queue ON violence_report (unit_id, urgent DESC, submitted_at, id)",
        )
        .await?;
        // The escalation job: unacknowledged reports by deadline.
        index(manager, "ix_violence_report_escalate", R::Table, &[R::EscalateAt]).await?;
        index(manager, "ix_violence_report_reporter", R::Table, &[R::ReporterId, R::SubmittedAt]).await?;
        index(manager, "ix_violence_report_assignee", R::Table, &[R::AssignedTo]).await?;

        use ViolenceReportEvent as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(uuid_pk(E::Id))
                    .col(uuid(E::ReportId))
                    .col(string(E::Kind, 24))
                    .col(flag(E::Public))
                    .col(uuid_null(E::ActorId))
                    .col(string(E::ActorRole, 16))
                    .col(string_null(E::FromStatus, 16))
                    .col(string_null(E::ToStatus, 16))
                    .col(string_null(E::CloseReason, 16))
                    .col(blob_null(E::Body))
                    .col(string_null(E::Agency, 24))
                    .col(ColumnDef::new(E::ReferredOn).date().null())
                    .col(uuid_null(E::UnitId))
                    .col(uuid_null(E::AssigneeId))
                    .col(ts(E::CreatedAt))
                    .foreign_key(&mut fk("fk_violence_event_report", E::Table, E::ReportId, R::Table))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_violence_event_report", E::Table, &[E::ReportId, E::CreatedAt, E::Id]).await?;

        use ViolenceAccessLog as L;
        manager
            .create_table(
                Table::create()
                    .table(L::Table)
                    .col(uuid_pk(L::Id))
                    .col(uuid(L::ReportId))
                    .col(uuid_null(L::PersonId))
                    .col(string(L::Role, 16))
                    .col(string(L::Action, 24))
                    .col(ts(L::At))
                    .foreign_key(&mut fk("fk_violence_access_report", L::Table, L::ReportId, R::Table))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_violence_access_report", L::Table, &[L::ReportId, L::At, L::Id]).await?;

        // Append-only, enforced by the database itself.
        append_only(manager, "violence_access_log").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ViolenceAccessLog::Table).to_owned()).await?;
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            raw(manager, "DROP FUNCTION IF EXISTS violence_access_log_append_only()").await?;
        }
        manager.drop_table(Table::drop().table(ViolenceReportEvent::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ViolenceReport::Table).to_owned()).await
    }
}
