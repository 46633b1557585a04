//! Idempotency keys: the first result of a mutation sent with an `Idempotency-Key`, kept per
//! caller and key for a day so a retry gets it back instead of acting twice.

use sea_orm_migration::prelude::*;

use crate::util::{index, string, ts, uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum IdempotencyKey {
    Table,
    Caller,
    Key,
    Fingerprint,
    DigestKey,
    Owner,
    State,
    LeaseUntil,
    Response,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use IdempotencyKey as K;
        manager
            .create_table(
                Table::create()
                    .table(K::Table)
                    .col(string(K::Caller, 64))
                    .col(string(K::Key, 255))
                    .col(ColumnDef::new(K::Fingerprint).blob().not_null())
                    .col(ColumnDef::new(K::DigestKey).integer().not_null())
                    .col(uuid(K::Owner))
                    .col(string(K::State, 16))
                    .col(ts(K::LeaseUntil))
                    .col(ColumnDef::new(K::Response).blob().null())
                    .col(ts(K::CreatedAt))
                    .col(ts(K::ExpiresAt))
                    .primary_key(Index::create().col(K::Caller).col(K::Key))
                    .to_owned(),
            )
            .await?;
        // The sweep of expired keys.
        index(manager, "ix_idempotency_key_expires", K::Table, &[K::ExpiresAt]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(IdempotencyKey::Table).to_owned()).await
    }
}
