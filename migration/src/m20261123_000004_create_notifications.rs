//! The notification inbox, device push tokens and the push outbox drained by the worker.

use sea_orm_migration::prelude::*;

use crate::util::{fk, index, raw, string, string_null, ts, ts_null, uuid, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Notification {
    Table,
    Id,
    PersonId,
    Kind,
    Params,
    Link,
    CreatedAt,
    ReadAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PushToken {
    Table,
    Id,
    PersonId,
    Token,
    Platform,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PushOutbox {
    Table,
    Id,
    NotificationId,
    PushTokenId,
    Title,
    Body,
    Status,
    Attempts,
    NextAttemptAt,
    LastError,
    CreatedAt,
    SentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Notification as N;
        manager
            .create_table(
                Table::create()
                    .table(N::Table)
                    .col(uuid_pk(N::Id))
                    .col(uuid(N::PersonId))
                    .col(string(N::Kind, 40))
                    .col(ColumnDef::new(N::Params).text().not_null())
                    .col(string_null(N::Link, 120))
                    .col(ts(N::CreatedAt))
                    .col(ts_null(N::ReadAt))
                    .foreign_key(&mut fk(
                        "fk_notification_person",
                        N::Table,
                        N::PersonId,
                        Alias::new("person"),
                    ))
                    .to_owned(),
            )
            .await?;
        // Ids are UUIDv7 (time-ordered): the inbox pages by (person, id).
        index(manager, "ix_notification_inbox", N::Table, &[N::PersonId, N::Id]).await?;
        raw(manager, "CREATE INDEX ix_notification_unread ON notification (person_id) WHERE read_at IS NULL")
            .await?;

        use PushToken as T;
        manager
            .create_table(
                Table::create()
                    .table(T::Table)
                    .col(uuid_pk(T::Id))
                    .col(uuid(T::PersonId))
                    .col(string(T::Token, 512).unique_key())
                    .col(string(T::Platform, 16))
                    .col(ts(T::CreatedAt))
                    .foreign_key(&mut fk("fk_push_token_person", T::Table, T::PersonId, Alias::new("person")))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_push_token_person", T::Table, &[T::PersonId]).await?;

        use PushOutbox as O;
        manager
            .create_table(
                Table::create()
                    .table(O::Table)
                    .col(uuid_pk(O::Id))
                    .col(uuid(O::NotificationId))
                    .col(uuid(O::PushTokenId))
                    .col(string(O::Title, 200))
                    .col(string(O::Body, 500))
                    .col(string(O::Status, 16))
                    .col(ColumnDef::new(O::Attempts).integer().not_null().default(0))
                    .col(ts(O::NextAttemptAt))
                    .col(string_null(O::LastError, 255))
                    .col(ts(O::CreatedAt))
                    .col(ts_null(O::SentAt))
                    .foreign_key(&mut fk(
                        "fk_push_outbox_notification",
                        O::Table,
                        O::NotificationId,
                        N::Table,
                    ))
                    .foreign_key(
                        &mut fk("fk_push_outbox_token", O::Table, O::PushTokenId, T::Table)
                            .on_delete(ForeignKeyAction::Cascade)
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_push_outbox_due", O::Table, &[O::Status, O::NextAttemptAt]).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["push_outbox", "push_token", "notification"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
