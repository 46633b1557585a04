//! A member's trainings page reads, for each of her few units, the published trainings in start
//! order: `(unit_id, status, starts_at, id)` gives them in that order, so each unit's part of
//! the page stops after a page's worth of rows instead of fetching and sorting all of them.

use sea_orm_migration::prelude::*;

use crate::util::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Training {
    Table,
    UnitId,
    Status,
    StartsAt,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Training as T;
        index(manager, "ix_training_unit_status_start", T::Table, &[T::UnitId, T::Status, T::StartsAt, T::Id])
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("ix_training_unit_status_start").table(Training::Table).to_owned())
            .await
    }
}
