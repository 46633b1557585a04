//! The member's folded name on the membership itself, so the directory pages by an index on
//! `membership` (name, id) instead of joining a million people before it can sort. Kept equal to
//! `person.name_search` when the membership is created (names are not edited afterwards).

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Membership {
    Table,
    NameSearch,
    Id,
}

const TRGM: &str = r#"
DO $$
DECLARE ns text;
BEGIN
  SELECT extnamespace::regnamespace::text INTO ns FROM pg_extension WHERE extname = 'pg_trgm';
  IF ns IS NOT NULL THEN
    EXECUTE format('CREATE INDEX IF NOT EXISTS ix_membership_name_trgm ON membership USING gin (name_search %I.gin_trgm_ops)', ns);
  END IF;
END $$;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Membership::Table)
                    .add_column(ColumnDef::new(Membership::NameSearch).string_len(120).not_null().default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE membership SET name_search = \
                 (SELECT p.name_search FROM person p WHERE p.id = membership.person_id)",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_membership_name")
                    .table(Membership::Table)
                    .col(Membership::NameSearch)
                    .col(Membership::Id)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager.get_connection().execute_unprepared(TRGM).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("ix_membership_name").table(Membership::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter().table(Membership::Table).drop_column(Membership::NameSearch).to_owned(),
            )
            .await
    }
}
