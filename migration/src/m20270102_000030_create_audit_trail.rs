//! The audit trail of officer actions: one append-only row per action (who, in which role, when,
//! over which unit, on what, and the before/after of the fields it changed). The database refuses
//! UPDATE and DELETE on the table, as it does on the violence access log.
//!
//! No foreign keys: the trail outlives what it names (an erased account, a deleted webhook) and
//! is never joined for integrity, only read by unit subtree, actor, area and time.

use sea_orm_migration::prelude::*;

use crate::util::{append_only, index, raw, string, ts, uuid, uuid_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum AuditEvent {
    Table,
    Id,
    At,
    ActorId,
    ActorRole,
    Area,
    Action,
    UnitId,
    SubjectKind,
    SubjectId,
    Changes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AuditEvent as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(uuid_pk(A::Id))
                    .col(ts(A::At))
                    .col(uuid(A::ActorId))
                    .col(string(A::ActorRole, 24))
                    .col(string(A::Area, 16))
                    .col(string(A::Action, 40))
                    .col(uuid(A::UnitId))
                    .col(string(A::SubjectKind, 24))
                    .col(uuid_null(A::SubjectId))
                    .col(ColumnDef::new(A::Changes).text().not_null())
                    .to_owned(),
            )
            .await?;
        // Newest first over everything (a system administrator), over a unit's rows (joined to
        // the closure table for a subtree), and over one officer's actions.
        index(manager, "ix_audit_event_at", A::Table, &[A::At, A::Id]).await?;
        index(manager, "ix_audit_event_unit", A::Table, &[A::UnitId, A::At, A::Id]).await?;
        index(manager, "ix_audit_event_actor", A::Table, &[A::ActorId, A::At, A::Id]).await?;

        append_only(manager, "audit_event").await?;
        // TRUNCATE skips row triggers on PostgreSQL: refuse it with a statement trigger, here
        // and on the violence access log (SQLite has no TRUNCATE).
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            for table in ["audit_event", "violence_access_log"] {
                raw(
                    manager,
                    &format!(
                        "CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} \
                         FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()"
                    ),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AuditEvent::Table).to_owned()).await?;
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            raw(manager, "DROP TRIGGER IF EXISTS violence_access_log_no_truncate ON violence_access_log")
                .await?;
            raw(manager, "DROP FUNCTION IF EXISTS audit_event_append_only()").await?;
        }
        Ok(())
    }
}
