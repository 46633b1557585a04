//! Campaigns (emulation movements, campaigns, programmes) with their ordered criteria, and the
//! pledges members make to them.
//!
//! One pledge per person, campaign, year and kind (personal or household), and one pledge per
//! household (branch + folded label), campaign and year: unique indexes, so two concurrent
//! submissions cannot both land.

use sea_orm_migration::prelude::*;

use crate::util::{fk, index, string, string_null, ts, ts_null, uuid, uuid_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Campaign {
    Table,
    Id,
    UnitId,
    Kind,
    Title,
    TitleSearch,
    Summary,
    Body,
    BodyFormat,
    CoverImageUrl,
    TermStart,
    TermEnd,
    Status,
    CreatedBy,
    LaunchedAt,
    EndedAt,
    ListedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CampaignCriterion {
    Table,
    Id,
    CampaignId,
    Position,
    Text,
}

#[derive(DeriveIden, Clone, Copy)]
enum Pledge {
    Table,
    Id,
    CampaignId,
    PersonId,
    BranchId,
    Kind,
    HouseholdLabel,
    HouseholdKey,
    HouseholdSize,
    Year,
    Status,
    Note,
    Checks,
    ReviewComment,
    ReviewedBy,
    ReviewedAt,
    SubmittedAt,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Campaign as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(uuid_pk(C::Id))
                    .col(uuid(C::UnitId))
                    .col(string(C::Kind, 24))
                    .col(string(C::Title, 200))
                    .col(string(C::TitleSearch, 200))
                    .col(string(C::Summary, 1000))
                    .col(ColumnDef::new(C::Body).text().not_null())
                    .col(string(C::BodyFormat, 16))
                    .col(string_null(C::CoverImageUrl, 500))
                    .col(ColumnDef::new(C::TermStart).date().not_null())
                    .col(ColumnDef::new(C::TermEnd).date().not_null())
                    .col(string(C::Status, 16))
                    .col(uuid(C::CreatedBy))
                    .col(ts_null(C::LaunchedAt))
                    .col(ts_null(C::EndedAt))
                    .col(ts(C::ListedAt))
                    .col(ts(C::CreatedAt))
                    .col(ts(C::UpdatedAt))
                    .foreign_key(&mut fk("fk_campaign_unit", C::Table, C::UnitId, Alias::new("org_unit")))
                    .foreign_key(&mut fk("fk_campaign_creator", C::Table, C::CreatedBy, Alias::new("person")))
                    .to_owned(),
            )
            .await?;
        // A member's list: the active campaigns of a few units (her branch and its ancestors),
        // newest first, read per unit in order.
        index(manager, "ix_campaign_unit_listed", C::Table, &[C::UnitId, C::Status, C::ListedAt, C::Id])
            .await?;
        index(manager, "ix_campaign_listed", C::Table, &[C::ListedAt, C::Id]).await?;

        use CampaignCriterion as K;
        manager
            .create_table(
                Table::create()
                    .table(K::Table)
                    .col(uuid_pk(K::Id))
                    .col(uuid(K::CampaignId))
                    .col(ColumnDef::new(K::Position).integer().not_null())
                    .col(string(K::Text, 300))
                    .foreign_key(&mut fk("fk_campaign_criterion_campaign", K::Table, K::CampaignId, C::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_campaign_criterion_position")
                    .table(K::Table)
                    .col(K::CampaignId)
                    .col(K::Position)
                    .unique()
                    .to_owned(),
            )
            .await?;

        use Pledge as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(uuid_pk(P::Id))
                    .col(uuid(P::CampaignId))
                    .col(uuid(P::PersonId))
                    .col(uuid(P::BranchId))
                    .col(string(P::Kind, 16))
                    .col(string_null(P::HouseholdLabel, 200))
                    .col(string_null(P::HouseholdKey, 200))
                    .col(ColumnDef::new(P::HouseholdSize).integer().null())
                    .col(ColumnDef::new(P::Year).integer().not_null())
                    .col(string(P::Status, 16))
                    .col(string_null(P::Note, 1000))
                    .col(ColumnDef::new(P::Checks).text().null())
                    .col(string_null(P::ReviewComment, 1000))
                    .col(uuid_null(P::ReviewedBy))
                    .col(ts_null(P::ReviewedAt))
                    .col(ts(P::SubmittedAt))
                    .col(ts(P::CreatedAt))
                    .col(ts(P::UpdatedAt))
                    .foreign_key(&mut fk("fk_pledge_campaign", P::Table, P::CampaignId, C::Table))
                    .foreign_key(&mut fk("fk_pledge_person", P::Table, P::PersonId, Alias::new("person")))
                    .foreign_key(&mut fk("fk_pledge_branch", P::Table, P::BranchId, Alias::new("org_unit")))
                    .to_owned(),
            )
            .await?;
        // One personal and one household pledge per person, campaign and year.
        manager
            .create_index(
                Index::create()
                    .name("ux_pledge_person")
                    .table(P::Table)
                    .col(P::CampaignId)
                    .col(P::Year)
                    .col(P::PersonId)
                    .col(P::Kind)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // One pledge per household (its branch and folded label); personal pledges have no key
        // (NULLs are distinct in a unique index on both backends).
        manager
            .create_index(
                Index::create()
                    .name("ux_pledge_household")
                    .table(P::Table)
                    .col(P::CampaignId)
                    .col(P::Year)
                    .col(P::BranchId)
                    .col(P::HouseholdKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The review queue (oldest first, by branch through the reach) and a member's pledges.
        index(manager, "ix_pledge_queue", P::Table, &[P::Status, P::BranchId, P::SubmittedAt, P::Id]).await?;
        index(manager, "ix_pledge_person", P::Table, &[P::PersonId, P::CampaignId, P::Year]).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Pledge::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(CampaignCriterion::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Campaign::Table).to_owned()).await
    }
}
