//! Trainings and their registrations.
//!
//! A training keeps its seat counters and the next arrival number on its own row: a registration
//! locks that row, so seats are counted and handed out one registration at a time (capacity is
//! never exceeded) and the waitlist is in arrival order. A person has one registration row per
//! training, reused when she registers again after cancelling.

use sea_orm_migration::prelude::*;

use crate::util::{fk, index, string, string_null, ts, ts_null, uuid, uuid_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Training {
    Table,
    Id,
    UnitId,
    Title,
    TitleSearch,
    Description,
    Category,
    StartsAt,
    EndsAt,
    Place,
    OnlineUrl,
    Capacity,
    RegistrationOpensAt,
    RegistrationClosesAt,
    Audience,
    Status,
    ConfirmedCount,
    WaitlistCount,
    NextQueueNo,
    CancelReason,
    CreatedBy,
    PublishedAt,
    CancelledAt,
    CompletedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum TrainingRegistration {
    Table,
    Id,
    TrainingId,
    PersonId,
    Status,
    QueueNo,
    RegisteredAt,
    ConfirmedAt,
    CancelledAt,
    AttendedAt,
    CheckedInBy,
    CheckInMethod,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Training as T;
        let count = |col: T| ColumnDef::new(col).integer().not_null().default(0).to_owned();
        manager
            .create_table(
                Table::create()
                    .table(T::Table)
                    .col(uuid_pk(T::Id))
                    .col(uuid(T::UnitId))
                    .col(string(T::Title, 200))
                    .col(string(T::TitleSearch, 200))
                    .col(ColumnDef::new(T::Description).text().not_null())
                    .col(string(T::Category, 32))
                    .col(ts(T::StartsAt))
                    .col(ts(T::EndsAt))
                    .col(string_null(T::Place, 300))
                    .col(string_null(T::OnlineUrl, 500))
                    .col(ColumnDef::new(T::Capacity).integer().null())
                    .col(ts_null(T::RegistrationOpensAt))
                    .col(ts_null(T::RegistrationClosesAt))
                    .col(string(T::Audience, 16))
                    .col(string(T::Status, 16))
                    .col(count(T::ConfirmedCount))
                    .col(count(T::WaitlistCount))
                    .col(ColumnDef::new(T::NextQueueNo).big_integer().not_null().default(1))
                    .col(string_null(T::CancelReason, 500))
                    .col(uuid(T::CreatedBy))
                    .col(ts_null(T::PublishedAt))
                    .col(ts_null(T::CancelledAt))
                    .col(ts_null(T::CompletedAt))
                    .col(ts(T::CreatedAt))
                    .col(ts(T::UpdatedAt))
                    .foreign_key(&mut fk("fk_training_unit", T::Table, T::UnitId, Alias::new("org_unit")))
                    .foreign_key(&mut fk("fk_training_creator", T::Table, T::CreatedBy, Alias::new("person")))
                    .to_owned(),
            )
            .await?;
        // A member's list: the trainings of a few units (her branch and its ancestors), soonest
        // first. Statistics: the trainings of a subtree in a period.
        index(manager, "ix_training_unit_start", T::Table, &[T::UnitId, T::StartsAt, T::Id]).await?;
        index(manager, "ix_training_status_start", T::Table, &[T::Status, T::StartsAt]).await?;

        use TrainingRegistration as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(uuid_pk(R::Id))
                    .col(uuid(R::TrainingId))
                    .col(uuid(R::PersonId))
                    .col(string(R::Status, 16))
                    .col(ColumnDef::new(R::QueueNo).big_integer().not_null())
                    .col(ts(R::RegisteredAt))
                    .col(ts_null(R::ConfirmedAt))
                    .col(ts_null(R::CancelledAt))
                    .col(ts_null(R::AttendedAt))
                    .col(uuid_null(R::CheckedInBy))
                    .col(string_null(R::CheckInMethod, 16))
                    .col(ts(R::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_training_registration_training",
                        R::Table,
                        R::TrainingId,
                        T::Table,
                    ))
                    .foreign_key(&mut fk(
                        "fk_training_registration_person",
                        R::Table,
                        R::PersonId,
                        Alias::new("person"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_training_registration_person")
                    .table(R::Table)
                    .col(R::TrainingId)
                    .col(R::PersonId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The roster and the waitlist in arrival order; promotion takes the first waitlisted.
        index(manager, "ix_training_registration_queue", R::Table, &[R::TrainingId, R::Status, R::QueueNo])
            .await?;
        index(manager, "ix_training_registration_mine", R::Table, &[R::PersonId, R::TrainingId]).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(TrainingRegistration::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Training::Table).to_owned()).await
    }
}
