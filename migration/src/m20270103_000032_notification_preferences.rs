//! Notification preferences: per person and topic, how much she wants to hear — everything
//! (inbox and push), the inbox only, or nothing. No row is the default: everything.

use sea_orm_migration::prelude::*;

use crate::util::{fk, string, uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum NotificationPreference {
    Table,
    PersonId,
    Topic,
    Level,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use NotificationPreference as P;
        // Keyed by person first: `enqueue` reads the recipients' rows of one topic.
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(uuid(P::PersonId))
                    .col(string(P::Topic, 32))
                    .col(string(P::Level, 16))
                    .primary_key(Index::create().col(P::PersonId).col(P::Topic))
                    .foreign_key(&mut fk(
                        "fk_notification_preference_person",
                        P::Table,
                        P::PersonId,
                        Alias::new("person"),
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(NotificationPreference::Table).to_owned()).await
    }
}
