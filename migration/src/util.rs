//! Small builders shared by the migrations, so each table reads as a list of its columns.

use sea_orm_migration::prelude::*;

/// A UUID primary key.
pub fn uuid_pk(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).uuid().not_null().primary_key().to_owned()
}

/// A required UUID column.
pub fn uuid(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).uuid().not_null().to_owned()
}

/// An optional UUID column.
pub fn uuid_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).uuid().null().to_owned()
}

/// A required string of at most `len` characters.
pub fn string(col: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).not_null().to_owned()
}

/// An optional string of at most `len` characters.
pub fn string_null(col: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).null().to_owned()
}

/// A required timestamp with time zone.
pub fn ts(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().not_null().to_owned()
}

/// An optional timestamp with time zone.
pub fn ts_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().null().to_owned()
}

/// A foreign key `table.col → to_table.id`.
pub fn fk(
    name: &str,
    table: impl IntoIden,
    col: impl IntoIden,
    to_table: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create().name(name).from(table, col).to(to_table, Alias::new("id")).to_owned()
}

/// Creates a plain index on `cols` of `table`.
pub async fn index<T: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: &[T],
) -> Result<(), DbErr> {
    let mut idx = Index::create().name(name).table(table).to_owned();
    for col in cols {
        idx.col(*col);
    }
    manager.create_index(idx).await
}

/// Runs DDL that is written the same way for SQLite and PostgreSQL (partial indexes).
pub async fn raw(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    manager.get_connection().execute_unprepared(sql).await.map(|_| ())
}

/// Makes `table` append-only, enforced by the database: `UPDATE` and `DELETE` raise an error
/// (a trigger function `{table}_append_only` on PostgreSQL, triggers `{table}_no_UPDATE` and
/// `{table}_no_DELETE` on SQLite).
pub async fn append_only(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    match manager.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => {
            raw(
                manager,
                &format!(
                    "CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN RAISE EXCEPTION '{table} is append-only'; END $$"
                ),
            )
            .await?;
            raw(
                manager,
                &format!(
                    "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} \
                     FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
                ),
            )
            .await
        }
        _ => {
            for op in ["UPDATE", "DELETE"] {
                raw(
                    manager,
                    &format!(
                        "CREATE TRIGGER {table}_no_{op} BEFORE {op} ON {table} \
                         BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
                    ),
                )
                .await?;
            }
            Ok(())
        }
    }
}
