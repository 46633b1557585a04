//! PostgreSQL only: trigram indexes for accent-insensitive substring search (`LIKE '%…%'` on
//! the folded names), which a million members need. Where the `pg_trgm` extension cannot be
//! created (no privilege), the migration still succeeds and search falls back to scanning;
//! SQLite needs nothing.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
DO $$
DECLARE ns text;
BEGIN
  BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
  EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available: name search will not use an index';
  END;
  SELECT extnamespace::regnamespace::text INTO ns FROM pg_extension WHERE extname = 'pg_trgm';
  IF ns IS NOT NULL THEN
    EXECUTE format('CREATE INDEX IF NOT EXISTS ix_person_name_trgm ON person USING gin (name_search %I.gin_trgm_ops)', ns);
    EXECUTE format('CREATE INDEX IF NOT EXISTS ix_org_unit_name_trgm ON org_unit USING gin (name_search %I.gin_trgm_ops)', ns);
  END IF;
END $$;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager.get_connection().execute_unprepared(UP).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "DROP INDEX IF EXISTS ix_person_name_trgm; DROP INDEX IF EXISTS ix_org_unit_name_trgm;",
                )
                .await?;
        }
        Ok(())
    }
}
