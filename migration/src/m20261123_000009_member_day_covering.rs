//! The statistics read a year of daily rollups for a unit and each of its children: thousands
//! of rows that sit on as many table pages (a unit's days are written over months, between
//! every other unit's). An index holding the counters answers those reads from the index alone.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

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
            .create_index(
                Index::create()
                    .name("ix_unit_member_day_counts")
                    .table(UnitMemberDay::Table)
                    .col(UnitMemberDay::UnitId)
                    .col(UnitMemberDay::Day)
                    .col(UnitMemberDay::Joined)
                    .col(UnitMemberDay::Left)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop().name("ix_unit_member_day_counts").table(UnitMemberDay::Table).to_owned(),
            )
            .await
    }
}
