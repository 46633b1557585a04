//! Officers' second factor: a TOTP secret per person (sealed, with the last time step used, so a
//! code works once), single-use recovery codes (only a keyed hash of each), and on each session
//! when it was last proved with the second factor (`mfa_at`) and when it last stepped up for a
//! sensitive action (`stepped_up_at`).

use sea_orm_migration::prelude::*;

use crate::util::{fk, index, string, ts, ts_null, uuid, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Person {
    Table,
    TotpSecret,
    TotpEnabledAt,
    TotpLastStep,
}

#[derive(DeriveIden)]
enum AuthSession {
    Table,
    MfaAt,
    SteppedUpAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RecoveryCode {
    Table,
    Id,
    PersonId,
    CodeHash,
    CreatedAt,
    UsedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for col in [
            ColumnDef::new(Person::TotpSecret).blob().null().to_owned(),
            ColumnDef::new(Person::TotpEnabledAt).timestamp_with_time_zone().null().to_owned(),
            ColumnDef::new(Person::TotpLastStep).big_integer().null().to_owned(),
        ] {
            manager.alter_table(Table::alter().table(Person::Table).add_column(col).to_owned()).await?;
        }
        for col in [
            ColumnDef::new(AuthSession::MfaAt).timestamp_with_time_zone().null().to_owned(),
            ColumnDef::new(AuthSession::SteppedUpAt).timestamp_with_time_zone().null().to_owned(),
        ] {
            manager.alter_table(Table::alter().table(AuthSession::Table).add_column(col).to_owned()).await?;
        }
        use RecoveryCode as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(uuid_pk(R::Id))
                    .col(uuid(R::PersonId))
                    .col(string(R::CodeHash, 64).unique_key().to_owned())
                    .col(ts(R::CreatedAt))
                    .col(ts_null(R::UsedAt))
                    .foreign_key(&mut fk(
                        "fk_recovery_code_person",
                        R::Table,
                        R::PersonId,
                        Alias::new("person"),
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_recovery_code_person", R::Table, &[R::PersonId]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(RecoveryCode::Table).to_owned()).await?;
        for col in [AuthSession::MfaAt, AuthSession::SteppedUpAt] {
            manager.alter_table(Table::alter().table(AuthSession::Table).drop_column(col).to_owned()).await?;
        }
        for col in [Person::TotpSecret, Person::TotpEnabledAt, Person::TotpLastStep] {
            manager.alter_table(Table::alter().table(Person::Table).drop_column(col).to_owned()).await?;
        }
        Ok(())
    }
}
