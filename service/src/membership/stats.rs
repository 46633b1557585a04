//! Member statistics for a unit's whole subtree, and per direct child: active members now, new
//! members and leavers in a period, and the attraction rate (active members over the women aged
//! 18+ living in the area, where an officer entered that figure).
//!
//! Answered from `unit_member_count` and `unit_member_day`, which hold every unit's figures for
//! everything it contains: a unit and its children read a few rows per day by primary key,
//! never a count over a million memberships or a sum over thousands of branches.

use crate::Call;
use crate::audit::{self, SubjectKind};
use entities::ids::UnitId;
use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, Utc};
use entities::{org_unit, population_figure};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait, Value,
};
use uuid::Uuid;

use crate::{
    authz::{self, Capability},
    db::{self, stmt},
    error::{ApiError, InputProblem},
    org::get_unit,
};

/// The figures of one unit (its whole subtree) for a period.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitStats {
    pub unit: org_unit::Model,
    pub active_members: i64,
    pub new_members: i64,
    pub leavers: i64,
    /// Women aged 18+ in the area for the year the period ends in, if entered.
    pub adult_women: Option<i64>,
}

impl UnitStats {
    /// Active members over adult women, when the figure is known.
    pub fn attraction_rate(&self) -> Option<f64> {
        self.adult_women.filter(|w| *w > 0).map(|w| self.active_members as f64 / w as f64)
    }
}

/// A unit's figures and those of each direct child.
pub struct StatsReport {
    pub total: UnitStats,
    pub children: Vec<UnitStats>,
}

#[derive(FromQueryResult)]
struct Sum {
    unit_id: UnitId,
    a: i64,
    b: i64,
}

/// Statistics of `unit_id` over the days `from..=to` (Hanoi days), for an officer over it.
pub async fn member_statistics(
    call: Call<'_>,
    unit_id: UnitId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<StatsReport, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, unit_id).await?;
    authz::require(db, viewer, Capability::ViewUnit, unit_id).await?;
    if to < from {
        return Err(ApiError::bad_input("to", InputProblem::OutOfRange));
    }
    let children = org_unit::Entity::find()
        .filter(org_unit::Column::ParentId.eq(unit_id))
        .filter(org_unit::Column::Status.eq(org_unit::UnitStatus::Active.as_str()))
        .order_by_asc(org_unit::Column::NameSearch)
        .all(db)
        .await?;
    let ids: Vec<UnitId> = std::iter::once(unit_id).chain(children.iter().map(|c| c.id)).collect();
    let backend = db.get_database_backend();
    let id_values = || ids.iter().map(|&i| Value::from(i)).collect::<Vec<_>>();

    let active = Sum::find_by_statement(stmt(
        backend,
        &format!(
            "SELECT unit_id, active AS a, CAST(0 AS BIGINT) AS b FROM unit_member_count WHERE unit_id IN ({})",
            db::repeat_list("?", ids.len())
        ),
        id_values(),
    ))
    .all(db)
    .await?;
    let mut period_values = id_values();
    period_values.push(from.into());
    period_values.push(to.into());
    let period = Sum::find_by_statement(stmt(
        backend,
        &format!(
            "SELECT unit_id, CAST(COALESCE(SUM(joined), 0) AS BIGINT) AS a, \
             CAST(COALESCE(SUM(\"left\"), 0) AS BIGINT) AS b \
             FROM unit_member_day WHERE unit_id IN ({}) AND day >= ? AND day <= ? GROUP BY unit_id",
            db::repeat_list("?", ids.len())
        ),
        period_values,
    ))
    .all(db)
    .await?;
    let figures: HashMap<UnitId, i64> = population_figure::Entity::find()
        .filter(population_figure::Column::UnitId.is_in(ids.iter().copied()))
        .filter(population_figure::Column::Year.eq(to.year()))
        .all(db)
        .await?
        .into_iter()
        .map(|f| (f.unit_id, f.adult_women))
        .collect();

    let active: HashMap<UnitId, i64> = active.into_iter().map(|s| (s.unit_id, s.a)).collect();
    let period: HashMap<UnitId, (i64, i64)> = period.into_iter().map(|s| (s.unit_id, (s.a, s.b))).collect();
    let stats = |unit: org_unit::Model| {
        let (new_members, leavers) = period.get(&unit.id).copied().unwrap_or((0, 0));
        UnitStats {
            active_members: active.get(&unit.id).copied().unwrap_or(0),
            new_members,
            leavers,
            adult_women: figures.get(&unit.id).copied(),
            unit,
        }
    };
    Ok(StatsReport { total: stats(unit), children: children.into_iter().map(stats).collect() })
}

/// Records the number of women aged 18+ in a unit's area for a year (latest entry wins); a
/// unit officer or admin over the unit.
pub async fn set_population_figure(
    call: Call<'_>,
    unit_id: UnitId,
    year: i32,
    adult_women: i64,
) -> Result<(), ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    get_unit(db, unit_id).await?;
    let acting = authz::require(db, viewer, Capability::SetPopulation, unit_id).await?;
    let this_year = Utc::now().year();
    if !(2000..=this_year + 5).contains(&year) {
        return Err(ApiError::bad_input("year", InputProblem::OutOfRange));
    }
    if !(1..=20_000_000).contains(&adult_women) {
        return Err(ApiError::bad_input("adult_women", InputProblem::OutOfRange));
    }
    let txn = db.begin().await?;
    // Read under a row lock, so the "before" the trail keeps is the figure this one replaced.
    async fn figure(
        txn: &impl ConnectionTrait,
        unit_id: UnitId,
        year: i32,
    ) -> Result<Option<population_figure::Model>, sea_orm::DbErr> {
        let mut q = population_figure::Entity::find()
            .filter(population_figure::Column::UnitId.eq(unit_id))
            .filter(population_figure::Column::Year.eq(year));
        if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
            q = q.lock_exclusive();
        }
        q.one(txn).await
    }
    let before = figure(&txn, unit_id, year).await?;
    db::execute(
        &txn,
        "INSERT INTO population_figure (id, unit_id, year, adult_women, entered_by, entered_at) \
         VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (unit_id, year) DO UPDATE SET adult_women = excluded.adult_women, \
         entered_by = excluded.entered_by, entered_at = excluded.entered_at",
        [
            Uuid::now_v7().into(),
            unit_id.into(),
            year.into(),
            adult_women.into(),
            viewer.person_id.into(),
            Utc::now().into(),
        ],
    )
    .await?;
    let after =
        figure(&txn, unit_id, year).await?.ok_or_else(|| ApiError::internal("population figure vanished"))?;
    let entry =
        audit::Entry::new(audit::Action::PopulationSet, unit_id, SubjectKind::PopulationFigure, after.id)
            .change("year", before.as_ref().map(|f| f.year), year)
            .change("adultWomen", before.map(|f| f.adult_women), adult_women);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    Ok(())
}
