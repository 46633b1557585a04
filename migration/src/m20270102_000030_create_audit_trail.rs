//! The audit trail of officer actions: one append-only row per action (who, in which role, when,
//! over which unit, on what, and the before/after of the fields it changed). The database refuses
//! UPDATE and DELETE on the table, as it does on the violence access log.
//!
//! No foreign keys: the trail outlives what it names (an erased account, a deleted webhook) and
//! is never joined for integrity, only read by unit subtree, actor, area and time.

use sea_orm_migration::prelude::*;

use crate::util::{index, raw, string, ts, uuid, uuid_null, uuid_pk};

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

        match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                raw(
                    manager,
                    "CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN RAISE EXCEPTION 'audit_event is append-only'; END $$",
                )
                .await?;
                raw(
                    manager,
                    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event \
                     FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
                )
                .await
            }
            _ => {
                for op in ["UPDATE", "DELETE"] {
                    raw(
                        manager,
                        &format!(
                            "CREATE TRIGGER audit_event_no_{op} BEFORE {op} ON audit_event \
                             BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
                        ),
                    )
                    .await?;
                }
                Ok(())
            }
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AuditEvent::Table).to_owned()).await?;
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            raw(manager, "DROP FUNCTION IF EXISTS audit_event_append_only()").await?;
        }
        Ok(())
    }
}
