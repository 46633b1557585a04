//! Integration clients (partner systems): who registered each and for which subtree and scopes,
//! their secrets (at most two live at once, so a partner rotates without downtime; only a
//! SHA-256 of each is kept), and the record of every change made to them (who, when, what).

use sea_orm_migration::prelude::*;

use crate::util::{fk, index, string, ts, ts_null, uuid, uuid_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum IntegrationClient {
    Table,
    Id,
    Name,
    Contact,
    UnitId,
    Scopes,
    ExpiresAt,
    CreatedBy,
    CreatedAt,
    RevokedAt,
    RevokedBy,
    LastUsedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum IntegrationSecret {
    Table,
    Id,
    ClientId,
    SecretHash,
    Hint,
    CreatedBy,
    CreatedAt,
    RevokedAt,
    RevokedBy,
    LastUsedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum IntegrationChange {
    Table,
    Id,
    ClientId,
    ActorId,
    Action,
    SecretId,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use IntegrationClient as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(uuid_pk(C::Id))
                    .col(string(C::Name, 120))
                    .col(string(C::Contact, 200))
                    .col(uuid(C::UnitId))
                    .col(string(C::Scopes, 200))
                    .col(ts_null(C::ExpiresAt))
                    .col(uuid(C::CreatedBy))
                    .col(ts(C::CreatedAt))
                    .col(ts_null(C::RevokedAt))
                    .col(uuid_null(C::RevokedBy))
                    .col(ts_null(C::LastUsedAt))
                    .foreign_key(&mut fk(
                        "fk_integration_client_unit",
                        C::Table,
                        C::UnitId,
                        Alias::new("org_unit"),
                    ))
                    .foreign_key(&mut fk(
                        "fk_integration_client_creator",
                        C::Table,
                        C::CreatedBy,
                        Alias::new("person"),
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_integration_client_created", C::Table, &[C::CreatedAt]).await?;

        use IntegrationSecret as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(uuid_pk(S::Id))
                    .col(uuid(S::ClientId))
                    .col(string(S::SecretHash, 64).unique_key().to_owned())
                    .col(string(S::Hint, 16))
                    .col(uuid(S::CreatedBy))
                    .col(ts(S::CreatedAt))
                    .col(ts_null(S::RevokedAt))
                    .col(uuid_null(S::RevokedBy))
                    .col(ts_null(S::LastUsedAt))
                    .foreign_key(&mut fk("fk_integration_secret_client", S::Table, S::ClientId, C::Table))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_integration_secret_client", S::Table, &[S::ClientId, S::CreatedAt]).await?;

        use IntegrationChange as H;
        manager
            .create_table(
                Table::create()
                    .table(H::Table)
                    .col(uuid_pk(H::Id))
                    .col(uuid(H::ClientId))
                    .col(uuid(H::ActorId))
                    .col(string(H::Action, 32))
                    .col(uuid_null(H::SecretId))
                    .col(ts(H::At))
                    .foreign_key(&mut fk("fk_integration_change_client", H::Table, H::ClientId, C::Table))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_integration_change_client", H::Table, &[H::ClientId, H::At]).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IntegrationChange::Table.into_iden(),
            IntegrationSecret::Table.into_iden(),
            IntegrationClient::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
