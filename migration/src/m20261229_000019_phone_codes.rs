//! Verified phone numbers: one-time SMS codes (`phone_code`, only a keyed hash of each code),
//! the SMS outbox (messages sealed until sent, then erased), and when a person last proved her
//! number (`person.phone_verified_at`).

use sea_orm_migration::prelude::*;

use crate::util::{index, string, string_null, ts, ts_null, uuid_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum PhoneCode {
    Table,
    Id,
    Phone,
    Purpose,
    PersonId,
    CodeHash,
    Attempts,
    CreatedAt,
    ExpiresAt,
    VerifiedAt,
    ConsumedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SmsOutbox {
    Table,
    Id,
    Phone,
    Kind,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    ExpiresAt,
    LastError,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum Person {
    Table,
    PhoneVerifiedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use PhoneCode as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(uuid_pk(C::Id))
                    .col(string(C::Phone, 16))
                    .col(string(C::Purpose, 16))
                    // No foreign key: a code outlives nothing, and deleting an account erases
                    // her codes by number and by id alike.
                    .col(uuid_null(C::PersonId))
                    .col(string(C::CodeHash, 64))
                    .col(ColumnDef::new(C::Attempts).integer().not_null().default(0))
                    .col(ts(C::CreatedAt))
                    .col(ts(C::ExpiresAt))
                    .col(ts_null(C::VerifiedAt))
                    .col(ts_null(C::ConsumedAt))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_phone_code_phone_purpose", C::Table, &[C::Phone, C::Purpose, C::CreatedAt])
            .await?;
        index(manager, "ix_phone_code_expires", C::Table, &[C::ExpiresAt]).await?;

        use SmsOutbox as O;
        manager
            .create_table(
                Table::create()
                    .table(O::Table)
                    .col(uuid_pk(O::Id))
                    .col(string_null(O::Phone, 16))
                    .col(string(O::Kind, 32))
                    .col(ColumnDef::new(O::Payload).blob().null())
                    .col(string(O::Status, 16))
                    .col(ColumnDef::new(O::Attempts).integer().not_null().default(0))
                    .col(ts(O::NextAttemptAt))
                    .col(ts(O::ExpiresAt))
                    .col(string_null(O::LastError, 255))
                    .col(ts(O::CreatedAt))
                    .col(ts_null(O::SentAt))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_sms_outbox_due", O::Table, &[O::Status, O::NextAttemptAt]).await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Person::Table)
                    .add_column(ColumnDef::new(Person::PhoneVerifiedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Person::Table).drop_column(Person::PhoneVerifiedAt).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(SmsOutbox::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(PhoneCode::Table).to_owned()).await
    }
}
