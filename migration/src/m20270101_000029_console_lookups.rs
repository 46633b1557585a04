//! Lookups of the officer console.
//!
//! Word-based unit search: `org_unit.search_words` holds the words of a unit's folded name and
//! of its code, each preceded by a space (" chi hoi to dan pho so 1 bo de hn lb bd 01 "), so a
//! search matches when every word typed starts a word there, in any order. On PostgreSQL a
//! trigram index serves the `LIKE '% word%'` tests when `pg_trgm` is available.
//!
//! Indicators are addressed by stable codes: every reported indicator gets one, made from its
//! name as the service makes it (`SO_CAU_LAC_BO_MOI`, then `_2`… when taken), and codes are
//! unique.
//!
//! The member directory in join order walks `ix_membership_joined` (join time, id); member
//! numbers are unique, so their index serves that order already.

use sea_orm_migration::{
    prelude::*,
    sea_orm::{DbBackend, FromQueryResult, Statement, prelude::Uuid},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Membership {
    Table,
    Id,
    JoinedAt,
}

#[derive(DeriveIden)]
enum Indicator {
    Table,
    Id,
    Code,
}

#[derive(FromQueryResult)]
struct Unnamed {
    id: Uuid,
    name: String,
}

/// The service's code for a name: its folded words, upper-cased, joined by `_`, at most 36
/// characters, starting with a letter.
fn code_of(name: &str) -> String {
    let folded = deunicode::deunicode(name).to_ascii_uppercase();
    let mut base: String = folded
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    if !base.starts_with(|c: char| c.is_ascii_uppercase()) {
        base.insert_str(0, "I_");
    }
    base.truncate(36);
    base.trim_end_matches('_').to_owned()
}

/// Codes for the reported indicators that have none.
async fn code_indicators(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let taken: Vec<String> = db
        .query_all_raw(Statement::from_string(backend, "SELECT code FROM indicator WHERE code IS NOT NULL"))
        .await?
        .iter()
        .filter_map(|r| r.try_get_by_index::<String>(0).ok())
        .collect();
    let mut taken: std::collections::HashSet<String> = taken.into_iter().collect();
    let rows = Unnamed::find_by_statement(Statement::from_string(
        backend,
        "SELECT id, name FROM indicator WHERE code IS NULL ORDER BY id",
    ))
    .all(db)
    .await?;
    for row in rows {
        let base = code_of(&row.name);
        let code = (1..)
            .map(|n| if n == 1 { base.clone() } else { format!("{base}_{n}") })
            .find(|c| c.len() >= 2 && !taken.contains(c))
            .unwrap_or_default();
        taken.insert(code.clone());
        db.execute(
            &Query::update()
                .table(Indicator::Table)
                .value(Indicator::Code, code)
                .and_where(Expr::col(Indicator::Id).eq(row.id))
                .to_owned(),
        )
        .await?;
    }
    Ok(())
}

#[derive(DeriveIden)]
enum OrgUnit {
    Table,
    Id,
    SearchWords,
}

/// The search words of folded (lowercase ASCII) texts: every run of letters and digits,
/// each preceded by a space, with a space at the end. The same as the service's
/// `domain::unit_search_words` on text already folded.
fn words(parts: &[&str]) -> String {
    let mut out = String::from(" ");
    for part in parts {
        for word in
            part.to_ascii_lowercase().split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty())
        {
            out.push_str(word);
            out.push(' ');
        }
    }
    out
}

#[derive(FromQueryResult)]
struct Row {
    id: Uuid,
    name_search: String,
    code: String,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OrgUnit::Table)
                    .add_column(ColumnDef::new(OrgUnit::SearchWords).string_len(400).not_null().default(""))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let backend = db.get_database_backend();
        let rows = Row::find_by_statement(Statement::from_string(
            backend,
            "SELECT id, name_search, code FROM org_unit",
        ))
        .all(db)
        .await?;
        for row in rows {
            db.execute(
                &Query::update()
                    .table(OrgUnit::Table)
                    .value(OrgUnit::SearchWords, words(&[&row.name_search, &row.code]))
                    .and_where(Expr::col(OrgUnit::Id).eq(row.id))
                    .to_owned(),
            )
            .await?;
        }
        code_indicators(db).await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_indicator_code")
                    .table(Indicator::Table)
                    .col(Indicator::Code)
                    .unique()
                    .to_owned(),
            )
            .await?;
        crate::util::index(
            manager,
            "ix_membership_joined",
            Membership::Table,
            &[Membership::JoinedAt, Membership::Id],
        )
        .await?;
        if backend == DbBackend::Postgres {
            db.execute_unprepared(
                "DO $$ DECLARE ns text; BEGIN \
                   SELECT extnamespace::regnamespace::text INTO ns FROM pg_extension WHERE extname = 'pg_trgm'; \
                   IF ns IS NOT NULL THEN \
                     EXECUTE format('CREATE INDEX IF NOT EXISTS ix_org_unit_words_trgm ON org_unit USING gin (search_words %I.gin_trgm_ops)', ns); \
                   END IF; \
                 END $$",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("ix_membership_joined").table(Membership::Table).to_owned())
            .await?;
        manager
            .drop_index(Index::drop().name("ux_indicator_code").table(Indicator::Table).to_owned())
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP INDEX IF EXISTS ix_org_unit_words_trgm")
                .await?;
        }
        manager
            .alter_table(Table::alter().table(OrgUnit::Table).drop_column(OrgUnit::SearchWords).to_owned())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_of_names() {
        assert_eq!(code_of("Số câu lạc bộ mới"), "SO_CAU_LAC_BO_MOI");
        assert_eq!(code_of("3 sạch"), "I_3_SACH");
    }

    #[test]
    fn words_of_a_name_and_a_code() {
        assert_eq!(
            words(&["chi hoi to dan pho so 1 - bo de", "HN-LB-BD-01"]),
            " chi hoi to dan pho so 1 bo de hn lb bd 01 "
        );
    }
}
