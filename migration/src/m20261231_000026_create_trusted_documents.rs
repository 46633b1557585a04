//! Trusted documents: the operations an admin registers for an integration client (the text,
//! its SHA-256, an operation name), and whether the client may send nothing else.

use sea_orm_migration::prelude::*;

use crate::util::{fk, string, string_null, ts, uuid, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum TrustedDocument {
    Table,
    Id,
    ClientId,
    Sha256,
    Document,
    OperationName,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum IntegrationClient {
    Table,
    TrustedDocumentsOnly,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use TrustedDocument as D;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .col(uuid_pk(D::Id))
                    .col(uuid(D::ClientId))
                    .col(string(D::Sha256, 64))
                    .col(ColumnDef::new(D::Document).text().not_null())
                    .col(string_null(D::OperationName, 120))
                    .col(uuid(D::CreatedBy))
                    .col(ts(D::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_trusted_document_client",
                        D::Table,
                        D::ClientId,
                        Alias::new("integration_client"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_trusted_document_client_hash")
                    .table(D::Table)
                    .col(D::ClientId)
                    .col(D::Sha256)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(IntegrationClient::Table)
                    .add_column(
                        ColumnDef::new(IntegrationClient::TrustedDocumentsOnly)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(IntegrationClient::Table)
                    .drop_column(IntegrationClient::TrustedDocumentsOnly)
                    .to_owned(),
            )
            .await?;
        manager.drop_table(Table::drop().table(TrustedDocument::Table).to_owned()).await
    }
}
