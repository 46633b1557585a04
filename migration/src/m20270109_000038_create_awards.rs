//! Commendations (khen thưởng): the kinds of award a level grants, and nominations of units and
//! people for them, approved (with a decision number and date) or declined by that level.
//!
//! - `award_kind`: an award a unit's officers decide (a district's Giấy khen; the city's Bằng
//!   khen; the central union's Bằng khen, recorded by the city), for collectives, individuals or
//!   both.
//! - `award_nomination`: a unit or a person proposed for an award of a kind for a year, with a
//!   citation. At most one live nomination (proposed or approved) per kind, year and nominee
//!   (`ux_award_nomination_unit`, `ux_award_nomination_person`).

use sea_orm_migration::prelude::*;

use crate::util::{fk, index, raw, string, string_null, ts, ts_null, uuid, uuid_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum AwardKind {
    Table,
    Id,
    UnitId,
    Name,
    Issuer,
    Recipients,
    Active,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AwardNomination {
    Table,
    Id,
    KindId,
    Year,
    NominatingUnitId,
    UnitId,
    PersonId,
    Citation,
    Status,
    DecisionNumber,
    DecisionDate,
    DeclineReason,
    NominatedBy,
    NominatedAt,
    DecidedBy,
    DecidedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AwardKind as K;
        manager
            .create_table(
                Table::create()
                    .table(K::Table)
                    .col(uuid_pk(K::Id))
                    .col(uuid(K::UnitId))
                    .col(string(K::Name, 300))
                    .col(string(K::Issuer, 300))
                    .col(string(K::Recipients, 16))
                    .col(ColumnDef::new(K::Active).boolean().not_null().default(true))
                    .col(uuid(K::CreatedBy))
                    .col(ts(K::CreatedAt))
                    .foreign_key(&mut fk("fk_award_kind_unit", K::Table, K::UnitId, Alias::new("org_unit")))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_award_kind_unit", K::Table, &[K::UnitId]).await?;

        use AwardNomination as N;
        manager
            .create_table(
                Table::create()
                    .table(N::Table)
                    .col(uuid_pk(N::Id))
                    .col(uuid(N::KindId))
                    .col(ColumnDef::new(N::Year).integer().not_null())
                    .col(uuid(N::NominatingUnitId))
                    .col(uuid_null(N::UnitId))
                    .col(uuid_null(N::PersonId))
                    .col(string(N::Citation, 2000))
                    .col(string(N::Status, 16))
                    .col(string_null(N::DecisionNumber, 50))
                    .col(ColumnDef::new(N::DecisionDate).date().null())
                    .col(string_null(N::DeclineReason, 1000))
                    .col(uuid(N::NominatedBy))
                    .col(ts(N::NominatedAt))
                    .col(uuid_null(N::DecidedBy))
                    .col(ts_null(N::DecidedAt))
                    .foreign_key(&mut fk("fk_award_nomination_kind", N::Table, N::KindId, K::Table))
                    .foreign_key(&mut fk(
                        "fk_award_nomination_nominating_unit",
                        N::Table,
                        N::NominatingUnitId,
                        Alias::new("org_unit"),
                    ))
                    .foreign_key(&mut fk(
                        "fk_award_nomination_unit",
                        N::Table,
                        N::UnitId,
                        Alias::new("org_unit"),
                    ))
                    .foreign_key(&mut fk(
                        "fk_award_nomination_person",
                        N::Table,
                        N::PersonId,
                        Alias::new("person"),
                    ))
                    .to_owned(),
            )
            .await?;
        raw(
            manager,
            "CREATE UNIQUE INDEX ux_award_nomination_unit ON award_nomination (kind_id, year, unit_id) \
             WHERE unit_id IS NOT NULL AND status <> 'DECLINED'",
        )
        .await?;
        raw(
            manager,
            "CREATE UNIQUE INDEX ux_award_nomination_person ON award_nomination (kind_id, year, person_id) \
             WHERE person_id IS NOT NULL AND status <> 'DECLINED'",
        )
        .await?;
        // A unit's page and a member's profile read their awards; the console lists what its
        // subtree proposed, oldest first.
        index(manager, "ix_award_nomination_unit", N::Table, &[N::UnitId, N::Status, N::Year]).await?;
        index(manager, "ix_award_nomination_person", N::Table, &[N::PersonId, N::Status, N::Year]).await?;
        index(manager, "ix_award_nomination_nominating", N::Table, &[N::NominatingUnitId, N::NominatedAt])
            .await?;
        index(manager, "ix_award_nomination_year", N::Table, &[N::Year, N::Status]).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["award_nomination", "award_kind"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
