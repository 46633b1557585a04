//! Targets (chỉ tiêu): indicators, the target of a unit for an indicator and a period, the
//! values officers report for reported indicators (history kept, one current value per unit,
//! indicator and period), and per-day counters of the computed indicators rolled up to every
//! unit (like `unit_member_day`), so that progress reads a few rows per unit and day.
//!
//! The three computed indicators are rows with fixed ids (new members, people trained,
//! households certified); officers add reported ones. A period is a span of whole years
//! (`from_year..=to_year`): one year, or a whole term.

use sea_orm_migration::{
    prelude::*,
    sea_orm::{DbBackend, prelude::Uuid},
};

use crate::util::{fk, index, raw, string, string_null, ts, ts_null, uuid, uuid_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Indicator {
    Table,
    Id,
    Code,
    Kind,
    Name,
    UnitOfMeasure,
    Aggregation,
    UnitId,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Target {
    Table,
    Id,
    IndicatorId,
    UnitId,
    FromYear,
    ToYear,
    Value,
    AssignedByParent,
    SetBy,
    SetAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ReportedValue {
    Table,
    Id,
    IndicatorId,
    UnitId,
    FromYear,
    ToYear,
    Value,
    Note,
    ReportedBy,
    ReportedAt,
    SupersededAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum UnitActivityDay {
    Table,
    UnitId,
    Metric,
    Day,
    Value,
}

/// The computed indicators: (fixed id, code, Vietnamese name, unit of measure).
const BUILT_IN: [(u128, &str, &str, &str); 3] = [
    (1, "NEW_MEMBERS", "Hội viên mới kết nạp", "hội viên"),
    (2, "PEOPLE_TRAINED", "Lượt người được tập huấn", "lượt người"),
    (3, "HOUSEHOLDS_CERTIFIED", "Hộ gia đình được công nhận", "hộ"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Indicator as I;
        manager
            .create_table(
                Table::create()
                    .table(I::Table)
                    .col(uuid_pk(I::Id))
                    .col(string_null(I::Code, 40))
                    .col(string(I::Kind, 16))
                    .col(string(I::Name, 200))
                    .col(string(I::UnitOfMeasure, 50))
                    .col(string(I::Aggregation, 16))
                    .col(uuid_null(I::UnitId))
                    .col(uuid_null(I::CreatedBy))
                    .col(ts(I::CreatedAt))
                    .foreign_key(&mut fk("fk_indicator_unit", I::Table, I::UnitId, Alias::new("org_unit")))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_indicator_unit", I::Table, &[I::UnitId]).await?;
        let mut insert = Query::insert()
            .into_table(I::Table)
            .columns([I::Id, I::Code, I::Kind, I::Name, I::UnitOfMeasure, I::Aggregation, I::CreatedAt])
            .to_owned();
        for (id, code, name, measure) in BUILT_IN {
            insert.values_panic([
                Uuid::from_u128(id).into(),
                code.into(),
                "COMPUTED".into(),
                name.into(),
                measure.into(),
                "SUM".into(),
                // A literal both backends read back as a UTC timestamp (SQLite keeps RFC 3339 text).
                Expr::cust("'2026-12-01T00:00:00+00:00'"),
            ]);
        }
        manager.exec_stmt(insert).await?;

        use Target as T;
        manager
            .create_table(
                Table::create()
                    .table(T::Table)
                    .col(uuid_pk(T::Id))
                    .col(uuid(T::IndicatorId))
                    .col(uuid(T::UnitId))
                    .col(ColumnDef::new(T::FromYear).integer().not_null())
                    .col(ColumnDef::new(T::ToYear).integer().not_null())
                    .col(ColumnDef::new(T::Value).double().not_null())
                    .col(ColumnDef::new(T::AssignedByParent).boolean().not_null().default(false))
                    .col(uuid(T::SetBy))
                    .col(ts(T::SetAt))
                    .foreign_key(&mut fk("fk_target_indicator", T::Table, T::IndicatorId, I::Table))
                    .foreign_key(&mut fk("fk_target_unit", T::Table, T::UnitId, Alias::new("org_unit")))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_target")
                    .table(T::Table)
                    .col(T::UnitId)
                    .col(T::FromYear)
                    .col(T::ToYear)
                    .col(T::IndicatorId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        use ReportedValue as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(uuid_pk(R::Id))
                    .col(uuid(R::IndicatorId))
                    .col(uuid(R::UnitId))
                    .col(ColumnDef::new(R::FromYear).integer().not_null())
                    .col(ColumnDef::new(R::ToYear).integer().not_null())
                    .col(ColumnDef::new(R::Value).double().not_null())
                    .col(string_null(R::Note, 500))
                    .col(uuid(R::ReportedBy))
                    .col(ts(R::ReportedAt))
                    .col(ts_null(R::SupersededAt))
                    .foreign_key(&mut fk("fk_reported_value_indicator", R::Table, R::IndicatorId, I::Table))
                    .foreign_key(&mut fk(
                        "fk_reported_value_unit",
                        R::Table,
                        R::UnitId,
                        Alias::new("org_unit"),
                    ))
                    .to_owned(),
            )
            .await?;
        // The current value of a unit for an indicator and period: at most one row.
        raw(
            manager,
            "CREATE UNIQUE INDEX ux_reported_value_current ON reported_value \
             (indicator_id, from_year, to_year, unit_id) WHERE superseded_at IS NULL",
        )
        .await?;
        // Progress sums the current values of every unit of a subtree (thousands for the city),
        // looking them up unit by unit: an index by unit holding the values answers each lookup
        // from a few adjacent index entries, never the table.
        raw(
            manager,
            "CREATE INDEX ix_reported_value_current_values ON reported_value \
             (unit_id, from_year, to_year, indicator_id, value) WHERE superseded_at IS NULL",
        )
        .await?;
        index(
            manager,
            "ix_reported_value_history",
            R::Table,
            &[R::UnitId, R::IndicatorId, R::FromYear, R::ToYear, R::ReportedAt],
        )
        .await?;

        use UnitActivityDay as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(ColumnDef::new(A::UnitId).uuid().not_null())
                    .col(string(A::Metric, 32))
                    .col(ColumnDef::new(A::Day).date().not_null())
                    .col(ColumnDef::new(A::Value).big_integer().not_null().default(0))
                    .primary_key(Index::create().col(A::UnitId).col(A::Metric).col(A::Day))
                    .to_owned(),
            )
            .await?;
        // Progress reads a period of daily counters for a unit and each of its children: rows
        // written over months between every other unit's, so on as many table pages. An index
        // holding the values answers those reads from the index alone (as for unit_member_day).
        index(manager, "ix_unit_activity_day_values", A::Table, &[A::UnitId, A::Metric, A::Day, A::Value])
            .await?;
        // Attendances recorded before this migration, on the Hanoi day of their check-in, for
        // the organising unit and every unit above it (trainings since cancelled excepted).
        let day = match manager.get_database_backend() {
            DbBackend::Postgres => "(r.attended_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date",
            _ => "date(r.attended_at, '+7 hours')",
        };
        raw(
            manager,
            &format!(
                "INSERT INTO unit_activity_day (unit_id, metric, day, value) \
                 SELECT c.ancestor_id, 'ATTENDED', {day}, COUNT(*) FROM training_registration r \
                 JOIN training t ON t.id = r.training_id \
                 JOIN org_unit_closure c ON c.descendant_id = t.unit_id \
                 WHERE r.attended_at IS NOT NULL AND t.status <> 'CANCELLED' \
                 GROUP BY c.ancestor_id, {day}"
            ),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(UnitActivityDay::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ReportedValue::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Target::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Indicator::Table).to_owned()).await
    }
}
