//! Emulation ratings (xếp loại thi đua) of units, per year.
//!
//! - `rating_criterion`: what the units directly below a unit are assessed against in a year,
//!   each with the most points it gives; set by that unit's officers.
//! - `unit_rating`: a unit's rating for a year, one per unit and year
//!   (`ux_unit_rating_unit_year`): its self-assessment and proposed rating (`DRAFT`, then
//!   `SUBMITTED`), then the rating the level above confirmed (`CONFIRMED`).
//! - `unit_rating_score`: the points a rating claims for one criterion, with its evidence.
//! - `unit_rating_editor`: who saved a rating (none of them may confirm it).
//! - Two computed indicators (ids 4 and 5): the share of bases and of branches rated good or
//!   better.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::Uuid;

use crate::util::{fk, index, raw, string, string_null, ts, ts_null, uuid, uuid_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum RatingCriterion {
    Table,
    Id,
    UnitId,
    Year,
    Position,
    Title,
    Description,
    MaxScore,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum UnitRating {
    Table,
    Id,
    UnitId,
    UnitKind,
    CriteriaUnitId,
    Year,
    Status,
    Proposed,
    SelfAssessment,
    Rating,
    ChangeReason,
    ReturnReason,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    SubmittedBy,
    SubmittedAt,
    ConfirmedBy,
    ConfirmedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum UnitRatingScore {
    Table,
    RatingId,
    CriterionId,
    Score,
    Evidence,
}

#[derive(DeriveIden, Clone, Copy)]
enum Indicator {
    Table,
    Id,
    Code,
    Kind,
    Name,
    UnitOfMeasure,
    Aggregation,
    CreatedAt,
}

/// The computed indicators this migration adds: id, code, name, unit of measure.
const SHARES: [(u128, &str, &str, &str); 2] = [
    (4, "BASES_RATED_GOOD", "Tỷ lệ cơ sở Hội xếp loại khá trở lên", "%"),
    (5, "BRANCHES_RATED_GOOD", "Tỷ lệ chi hội xếp loại khá trở lên", "%"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use RatingCriterion as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(uuid_pk(C::Id))
                    .col(uuid(C::UnitId))
                    .col(ColumnDef::new(C::Year).integer().not_null())
                    .col(ColumnDef::new(C::Position).integer().not_null())
                    .col(string(C::Title, 300))
                    .col(string_null(C::Description, 2000))
                    .col(ColumnDef::new(C::MaxScore).integer().not_null())
                    .col(uuid(C::CreatedBy))
                    .col(ts(C::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_rating_criterion_unit",
                        C::Table,
                        C::UnitId,
                        Alias::new("org_unit"),
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_rating_criterion_unit_year", C::Table, &[C::UnitId, C::Year, C::Position]).await?;

        use UnitRating as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(uuid_pk(R::Id))
                    .col(uuid(R::UnitId))
                    .col(string(R::UnitKind, 16))
                    .col(uuid(R::CriteriaUnitId))
                    .col(ColumnDef::new(R::Year).integer().not_null())
                    .col(string(R::Status, 16))
                    .col(string_null(R::Proposed, 16))
                    .col(string_null(R::SelfAssessment, 4000))
                    .col(string_null(R::Rating, 16))
                    .col(string_null(R::ChangeReason, 1000))
                    .col(string_null(R::ReturnReason, 1000))
                    .col(uuid(R::CreatedBy))
                    .col(ts(R::CreatedAt))
                    .col(ts(R::UpdatedAt))
                    .col(uuid_null(R::SubmittedBy))
                    .col(ts_null(R::SubmittedAt))
                    .col(uuid_null(R::ConfirmedBy))
                    .col(ts_null(R::ConfirmedAt))
                    .foreign_key(&mut fk("fk_unit_rating_unit", R::Table, R::UnitId, Alias::new("org_unit")))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_unit_rating_unit_year")
                    .table(R::Table)
                    .col(R::UnitId)
                    .col(R::Year)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The share indicators and the summaries read confirmed ratings of a year by kind.
        index(manager, "ix_unit_rating_year", R::Table, &[R::Year, R::UnitKind, R::Status]).await?;

        use UnitRatingScore as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(uuid(S::RatingId))
                    .col(uuid(S::CriterionId))
                    .col(ColumnDef::new(S::Score).integer().not_null())
                    .col(string_null(S::Evidence, 2000))
                    .primary_key(Index::create().col(S::RatingId).col(S::CriterionId))
                    .foreign_key(&mut fk("fk_unit_rating_score_rating", S::Table, S::RatingId, R::Table))
                    .foreign_key(&mut fk(
                        "fk_unit_rating_score_criterion",
                        S::Table,
                        S::CriterionId,
                        C::Table,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_unit_rating_score_criterion", S::Table, &[S::CriterionId]).await?;

        raw(
            manager,
            "CREATE TABLE unit_rating_editor (rating_id uuid NOT NULL REFERENCES unit_rating (id), \
             person_id uuid NOT NULL, PRIMARY KEY (rating_id, person_id))",
        )
        .await?;

        use Indicator as I;
        let mut insert = Query::insert()
            .into_table(I::Table)
            .columns([I::Id, I::Code, I::Kind, I::Name, I::UnitOfMeasure, I::Aggregation, I::CreatedAt])
            .to_owned();
        for (id, code, name, measure) in SHARES {
            insert.values_panic([
                Uuid::from_u128(id).into(),
                code.into(),
                "COMPUTED".into(),
                name.into(),
                measure.into(),
                // A share: the mean over the units rated of 100 (good or better) or 0.
                "AVERAGE".into(),
                Expr::cust("'2027-01-08T00:00:00+00:00'"),
            ]);
        }
        manager.exec_stmt(insert).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .exec_stmt(
                Query::delete()
                    .from_table(Indicator::Table)
                    .and_where(Expr::col(Indicator::Id).is_in(SHARES.map(|s| Uuid::from_u128(s.0))))
                    .to_owned(),
            )
            .await?;
        for table in ["unit_rating_editor", "unit_rating_score", "unit_rating", "rating_criterion"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
