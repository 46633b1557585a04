//! Member counters rolled up to every unit (the unit itself and all it contains): the active
//! members of each unit and the joins/departures of each unit per day. Statistics of a unit and
//! its children then read a few hundred rows by primary key instead of summing every branch of
//! the subtree. Backfilled from the per-branch counters.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UnitMemberCount {
    Table,
    UnitId,
    Active,
}

#[derive(DeriveIden)]
enum UnitMemberDay {
    Table,
    UnitId,
    Day,
    Joined,
    Left,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UnitMemberCount::Table)
                    .col(ColumnDef::new(UnitMemberCount::UnitId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(UnitMemberCount::Active).big_integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UnitMemberDay::Table)
                    .col(ColumnDef::new(UnitMemberDay::UnitId).uuid().not_null())
                    .col(ColumnDef::new(UnitMemberDay::Day).date().not_null())
                    .col(ColumnDef::new(UnitMemberDay::Joined).big_integer().not_null().default(0))
                    .col(ColumnDef::new(UnitMemberDay::Left).big_integer().not_null().default(0))
                    .primary_key(Index::create().col(UnitMemberDay::UnitId).col(UnitMemberDay::Day))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO unit_member_count (unit_id, active) \
             SELECT c.ancestor_id, SUM(b.active) FROM org_unit_closure c \
             JOIN branch_member_count b ON b.branch_id = c.descendant_id GROUP BY c.ancestor_id",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO unit_member_day (unit_id, day, joined, \"left\") \
             SELECT c.ancestor_id, d.day, SUM(d.joined), SUM(d.\"left\") FROM org_unit_closure c \
             JOIN branch_member_day d ON d.branch_id = c.descendant_id GROUP BY c.ancestor_id, d.day",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(UnitMemberDay::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(UnitMemberCount::Table).to_owned()).await
    }
}
