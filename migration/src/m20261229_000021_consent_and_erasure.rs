//! Consent records (with the version of the text and the time, withdrawal kept), when an
//! account was deleted (`person.deleted_at`: the row stays, anonymous, so every membership,
//! registration and pledge keeps counting), and the one change the append-only access log of
//! violence reports now allows: erasing who a reporter's own entries name (her account's
//! deletion, or her withdrawn consent), nothing else.

use sea_orm_migration::prelude::*;

use crate::util::{fk, index, raw, string, ts, ts_null, uuid, uuid_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Consent {
    Table,
    Id,
    PersonId,
    Kind,
    Version,
    ReportId,
    GivenAt,
    WithdrawnAt,
}

#[derive(DeriveIden)]
enum Person {
    Table,
    DeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Consent as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(uuid_pk(C::Id))
                    .col(uuid(C::PersonId))
                    .col(string(C::Kind, 32))
                    .col(string(C::Version, 32))
                    .col(uuid_null(C::ReportId))
                    .col(ts(C::GivenAt))
                    .col(ts_null(C::WithdrawnAt))
                    .foreign_key(&mut fk("fk_consent_person", C::Table, C::PersonId, Alias::new("person")))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_consent_person", C::Table, &[C::PersonId, C::GivenAt]).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Person::Table)
                    .add_column(ColumnDef::new(Person::DeletedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;

        // The access log stays append-only, but for erasing who a reporter's entry names.
        const ERASURE: &str = "OLD.role = 'REPORTER' AND NEW.person_id IS NULL AND NEW.id = OLD.id \
             AND NEW.report_id = OLD.report_id AND NEW.role = OLD.role AND NEW.action = OLD.action \
             AND NEW.at = OLD.at";
        match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                raw(
                    manager,
                    &format!(
                        "CREATE OR REPLACE FUNCTION violence_access_log_append_only() RETURNS trigger \
                         LANGUAGE plpgsql AS $$ BEGIN \
                         IF TG_OP = 'UPDATE' AND {ERASURE} THEN RETURN NEW; END IF; \
                         RAISE EXCEPTION 'violence_access_log is append-only'; END $$"
                    ),
                )
                .await
            }
            _ => {
                raw(manager, "DROP TRIGGER violence_access_log_no_UPDATE").await?;
                raw(
                    manager,
                    &format!(
                        "CREATE TRIGGER violence_access_log_no_UPDATE BEFORE UPDATE ON violence_access_log \
                         WHEN NOT ({ERASURE}) \
                         BEGIN SELECT RAISE(ABORT, 'violence_access_log is append-only'); END"
                    ),
                )
                .await
            }
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Person::Table).drop_column(Person::DeletedAt).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(Consent::Table).to_owned()).await
    }
}
