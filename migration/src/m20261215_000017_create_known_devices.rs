//! Devices a person has signed in from: an opaque token per device (only its SHA-256 stored).
//! A login that presents one of her device tokens is not held back by the per-phone throttle
//! that strangers' failures fill, so nobody can lock a woman out of her own account.

use sea_orm_migration::prelude::*;

use crate::util::{fk, index, string, ts, uuid, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum KnownDevice {
    Table,
    Id,
    PersonId,
    TokenHash,
    CreatedAt,
    LastUsedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use KnownDevice as D;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .col(uuid_pk(D::Id))
                    .col(uuid(D::PersonId))
                    .col(string(D::TokenHash, 64).unique_key().to_owned())
                    .col(ts(D::CreatedAt))
                    .col(ts(D::LastUsedAt))
                    .foreign_key(&mut fk(
                        "fk_known_device_person",
                        D::Table,
                        D::PersonId,
                        Alias::new("person"),
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_known_device_person", D::Table, &[D::PersonId, D::LastUsedAt]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(KnownDevice::Table).to_owned()).await
    }
}
