//! Webhooks of integration clients: the subscriptions an admin makes for a client (a target
//! URL, the event types, a signing secret kept sealed), the events that happened in the tree,
//! and one delivery per event and subscription, drained by a worker with retries.

use sea_orm_migration::prelude::*;

use crate::util::{fk, index, string, string_null, ts, ts_null, uuid, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum WebhookSubscription {
    Table,
    Id,
    ClientId,
    Url,
    EventTypes,
    Secret,
    Status,
    Failures,
    DisabledAt,
    DisabledReason,
    LastSuccessAt,
    LastFailureAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookEvent {
    Table,
    Id,
    EventType,
    UnitId,
    Payload,
    OccurredAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookDelivery {
    Table,
    Id,
    SubscriptionId,
    EventId,
    Status,
    Attempts,
    NextAttemptAt,
    LastAttemptAt,
    LastStatus,
    LastError,
    DeliveredAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use WebhookDelivery as D;
        use WebhookEvent as E;
        use WebhookSubscription as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(uuid_pk(S::Id))
                    .col(uuid(S::ClientId))
                    .col(string(S::Url, 2048))
                    .col(string(S::EventTypes, 255))
                    .col(ColumnDef::new(S::Secret).blob().not_null())
                    .col(string(S::Status, 16))
                    .col(ColumnDef::new(S::Failures).integer().not_null().default(0))
                    .col(ts_null(S::DisabledAt))
                    .col(string_null(S::DisabledReason, 32))
                    .col(ts_null(S::LastSuccessAt))
                    .col(ts_null(S::LastFailureAt))
                    .col(uuid(S::CreatedBy))
                    .col(ts(S::CreatedAt))
                    .col(ts(S::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_webhook_subscription_client",
                        S::Table,
                        S::ClientId,
                        Alias::new("integration_client"),
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_webhook_subscription_client", S::Table, &[S::ClientId]).await?;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(uuid_pk(E::Id))
                    .col(string(E::EventType, 40))
                    .col(uuid(E::UnitId))
                    .col(ColumnDef::new(E::Payload).text().not_null())
                    .col(ts(E::OccurredAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .col(uuid_pk(D::Id))
                    .col(uuid(D::SubscriptionId))
                    .col(uuid(D::EventId))
                    .col(string(D::Status, 16))
                    .col(ColumnDef::new(D::Attempts).integer().not_null().default(0))
                    .col(ts(D::NextAttemptAt))
                    .col(ts_null(D::LastAttemptAt))
                    .col(ColumnDef::new(D::LastStatus).integer().null())
                    .col(string_null(D::LastError, 255))
                    .col(ts_null(D::DeliveredAt))
                    .col(ts(D::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_webhook_delivery_subscription",
                        D::Table,
                        D::SubscriptionId,
                        S::Table,
                    ))
                    .foreign_key(&mut fk("fk_webhook_delivery_event", D::Table, D::EventId, E::Table))
                    .to_owned(),
            )
            .await?;
        // The worker's claim: due rows of one status, oldest due first.
        index(manager, "ix_webhook_delivery_due", D::Table, &[D::Status, D::NextAttemptAt]).await?;
        // A subscription's deliveries, newest first (the admin's list).
        index(manager, "ix_webhook_delivery_subscription", D::Table, &[D::SubscriptionId, D::CreatedAt]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(WebhookDelivery::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(WebhookEvent::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(WebhookSubscription::Table).to_owned()).await
    }
}
