//! Word-prefix name search for the member directory at a million members.
//!
//! `membership_name_key` holds, for every membership, the part of its folded name that starts
//! at each word after the first ("nguyen thi lan" → "thi lan", "lan"); the first word needs no
//! row, as the name itself starts there. A search for "thi l" is then a range scan of a B-tree
//! instead of a trigram intersection that reads the posting list of every "thi".
//!
//! On PostgreSQL the name columns compare bytewise (`COLLATE "C"`), so a prefix is a contiguous
//! range of the index whatever the server's default collation; folded names are ASCII, so this
//! is also alphabetical. The directory index now carries the columns its filters read (branch,
//! status, join date), so an ordered walk of it never visits the table.

use sea_orm_migration::{
    prelude::*,
    sea_orm::{DbBackend, FromQueryResult, Statement, prelude::Uuid},
};

use crate::util::{string, uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Membership {
    Table,
    Id,
    NameSearch,
    BranchId,
    Status,
    JoinedAt,
}

#[derive(DeriveIden)]
enum MembershipNameKey {
    Table,
    NameKey,
    MembershipId,
}

/// The suffixes of a folded name that start at its second, third… word.
fn later_word_suffixes(folded: &str) -> impl Iterator<Item = &str> {
    folded.match_indices(' ').map(move |(i, _)| &folded[i + 1..]).filter(|s| !s.is_empty())
}

#[derive(FromQueryResult)]
struct Row {
    id: Uuid,
    name_search: String,
}

/// Keys of the memberships that exist already, a thousand memberships per statement.
async fn backfill(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let placeholder = |n: usize| if backend == DbBackend::Postgres { format!("${n}") } else { "?".into() };
    let mut after = Uuid::nil();
    loop {
        let rows = Row::find_by_statement(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT id, name_search FROM membership WHERE id > {} ORDER BY id LIMIT 1000",
                placeholder(1)
            ),
            [after.into()],
        ))
        .all(db)
        .await?;
        let Some(last) = rows.last() else { return Ok(()) };
        after = last.id;
        let mut insert = Query::insert()
            .into_table(MembershipNameKey::Table)
            .columns([MembershipNameKey::NameKey, MembershipNameKey::MembershipId])
            .to_owned();
        let mut any = false;
        for row in &rows {
            for key in later_word_suffixes(&row.name_search) {
                insert.values_panic([key.into(), row.id.into()]);
                any = true;
            }
        }
        if any {
            db.execute(&insert).await?;
        }
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let pg = manager.get_database_backend() == DbBackend::Postgres;
        let db = manager.get_connection();
        manager
            .drop_index(Index::drop().name("ix_membership_name").table(Membership::Table).to_owned())
            .await?;
        if pg {
            db.execute_unprepared(
                "ALTER TABLE membership ALTER COLUMN name_search TYPE varchar(120) COLLATE \"C\"",
            )
            .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_membership_name")
                    .table(Membership::Table)
                    .col(Membership::NameSearch)
                    .col(Membership::Id)
                    .col(Membership::BranchId)
                    .col(Membership::Status)
                    .col(Membership::JoinedAt)
                    .to_owned(),
            )
            .await?;
        let mut key = string(MembershipNameKey::NameKey, 120);
        if pg {
            key.extra("COLLATE \"C\"");
        }
        manager
            .create_table(
                Table::create()
                    .table(MembershipNameKey::Table)
                    .col(key)
                    .col(uuid(MembershipNameKey::MembershipId))
                    .primary_key(
                        Index::create().col(MembershipNameKey::NameKey).col(MembershipNameKey::MembershipId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_membership_name_key_membership")
                            .from(MembershipNameKey::Table, MembershipNameKey::MembershipId)
                            .to(Membership::Table, Membership::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_membership_name_key_membership")
                    .table(MembershipNameKey::Table)
                    .col(MembershipNameKey::MembershipId)
                    .to_owned(),
            )
            .await?;
        backfill(db).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(MembershipNameKey::Table).to_owned()).await?;
        manager
            .drop_index(Index::drop().name("ix_membership_name").table(Membership::Table).to_owned())
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE membership ALTER COLUMN name_search TYPE varchar(120) COLLATE \"default\"",
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_membership_name")
                    .table(Membership::Table)
                    .col(Membership::NameSearch)
                    .col(Membership::Id)
                    .to_owned(),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::later_word_suffixes;

    #[test]
    fn every_word_after_the_first_starts_a_key() {
        assert_eq!(later_word_suffixes("nguyen thi lan").collect::<Vec<_>>(), ["thi lan", "lan"]);
        assert_eq!(later_word_suffixes("lan").count(), 0);
    }
}
