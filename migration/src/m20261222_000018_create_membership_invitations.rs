//! Membership invitations: an officer enrolling a number the service already knows (an account
//! holder, or a record made earlier) does not make her a member; she gets an invitation in her
//! inbox and accepts or declines it. One row per person and branch, renewed when re-sent.

use sea_orm_migration::prelude::*;

use crate::util::{fk, index, string, ts, ts_null, uuid, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum MembershipInvitation {
    Table,
    Id,
    PersonId,
    BranchId,
    InvitedBy,
    Status,
    CreatedAt,
    ExpiresAt,
    RespondedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use MembershipInvitation as I;
        manager
            .create_table(
                Table::create()
                    .table(I::Table)
                    .col(uuid_pk(I::Id))
                    .col(uuid(I::PersonId))
                    .col(uuid(I::BranchId))
                    .col(uuid(I::InvitedBy))
                    .col(string(I::Status, 16))
                    .col(ts(I::CreatedAt))
                    .col(ts(I::ExpiresAt))
                    .col(ts_null(I::RespondedAt))
                    .foreign_key(&mut fk(
                        "fk_membership_invitation_person",
                        I::Table,
                        I::PersonId,
                        Alias::new("person"),
                    ))
                    .foreign_key(&mut fk(
                        "fk_membership_invitation_branch",
                        I::Table,
                        I::BranchId,
                        Alias::new("org_unit"),
                    ))
                    .foreign_key(&mut fk(
                        "fk_membership_invitation_inviter",
                        I::Table,
                        I::InvitedBy,
                        Alias::new("person"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_membership_invitation_person_branch")
                    .table(I::Table)
                    .col(I::PersonId)
                    .col(I::BranchId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_membership_invitation_person", I::Table, &[I::PersonId, I::CreatedAt]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(MembershipInvitation::Table).to_owned()).await
    }
}
