//! Public statistics: the figures a partner (`statistics:read`) reads of a unit and of each of
//! its direct children, for one completed calendar month, with small counts suppressed.
//!
//! - Per month: new members, leavers, trainings held (published or completed, by the month
//!   their start falls in) and check-ins at trainings — each unit's figure covering its whole
//!   subtree. Only whole, completed months: overlapping periods could be subtracted from each
//!   other, and a month still running changes from one day to the next.
//! - Every figure of the month is suppressed by one audit of the **whole tree** per figure
//!   ([`crate::suppression::audit`]): a unit's figure is shown or hidden the same in every
//!   answer and to every partner, so no combination of answers works a small count out.
//! - Active members now are shown coarsely: none is 0, from 1 to k−1 nothing, else rounded down
//!   to a multiple of k (a live count read on two days would give the day's joins by
//!   subtraction).
//!
//! The month's figures and their audit are computed once (five statements over the whole
//! tree) and kept for [`CACHE_FOR`]; an answer then reads only the unit, its children and their
//! active counts.
//!
//! Progress towards targets, the third kind of aggregate `statistics:read` opens, is in
//! [`targets`].

pub mod targets;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::{Datelike, NaiveDate};
use entities::{ids::UnitId, org_unit};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
};

use super::Scope;
use crate::{
    Call,
    authz::{self, Capability},
    db::stmt,
    domain::{hanoi_day, hanoi_day_start},
    error::{ApiError, InputProblem},
    org::get_unit,
    suppression::{Figure, Suppression, audit},
};

/// How long a month's audited figures are kept before they are computed again (a late import
/// into a past month shows within this).
pub const CACHE_FOR: Duration = Duration::from_secs(300);

/// The figures of a month, in the order of [`MonthFigures::totals`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    NewMembers,
    Leavers,
    TrainingsHeld,
    Attendances,
}

impl Measure {
    pub const ALL: [Measure; 4] =
        [Measure::NewMembers, Measure::Leavers, Measure::TrainingsHeld, Measure::Attendances];
}

/// A month's figures for every unit of the tree, audited.
pub struct MonthFigures {
    totals: HashMap<UnitId, [u64; 4]>,
    hidden: [HashSet<UnitId>; 4],
}

impl MonthFigures {
    /// A unit's figure as a partner may see it: `None` when suppressed.
    pub fn shown(&self, unit: UnitId, measure: Measure) -> Option<u64> {
        let i = measure as usize;
        let value = self.totals.get(&unit).map_or(0, |t| t[i]);
        (!self.hidden[i].contains(&unit)).then_some(value)
    }
}

/// A month's audited figures and when they were computed, by (year, month).
type Kept = HashMap<(i32, u32), (Instant, Arc<MonthFigures>)>;

/// The audited figures of recent months, per instance.
#[derive(Default)]
pub struct MonthCache(Mutex<Kept>);

/// One row of the answer: a unit and its figures as shown (`None`: suppressed).
#[derive(Clone, Debug)]
pub struct PublicFigures {
    pub unit: org_unit::Model,
    /// Active members now, coarse (see the module docs).
    pub active_members: Option<u64>,
    pub month: [Option<u64>; 4],
}

/// The answer: the unit, its direct children, the month and the threshold.
pub struct PublicStatistics {
    pub year: i32,
    pub month: u32,
    pub threshold: u32,
    pub total: PublicFigures,
    pub children: Vec<PublicFigures>,
}

/// The public statistics of `unit` for a completed month `"YYYY-MM"`: for a client with
/// `statistics:read` within its subtree, or an officer over the unit (to see what partners see).
pub async fn public_statistics(
    call: Call<'_>,
    unit_id: UnitId,
    month: &str,
) -> Result<PublicStatistics, ApiError> {
    let state = call.state;
    let db = &state.db;
    match call.client(Scope::StatisticsRead)? {
        Some(client) => super::require_within(db, client, unit_id).await?,
        None => {
            authz::require(db, call.viewer()?, Capability::ViewUnit, unit_id).await?;
        }
    }
    let (year, number) = parse_month(month, hanoi_day(state.clock.now()))?;
    let unit = get_unit(db, unit_id).await?;
    let figures = month_figures(call, year, number).await?;
    let children = org_unit::Entity::find()
        .filter(org_unit::Column::ParentId.eq(unit_id))
        .filter(org_unit::Column::Status.eq(org_unit::UnitStatus::Active.as_str()))
        .order_by_asc(org_unit::Column::NameSearch)
        .all(db)
        .await?;
    let ids: Vec<UnitId> = std::iter::once(unit_id).chain(children.iter().map(|c| c.id)).collect();
    let active = active_now(db, &ids).await?;
    let rule = Suppression::new(state.settings.suppression_min_count);
    let row = |unit: org_unit::Model| PublicFigures {
        active_members: rule.live(active.get(&unit.id).copied().unwrap_or(0)),
        month: Measure::ALL.map(|m| figures.shown(unit.id, m)),
        unit,
    };
    Ok(PublicStatistics {
        year,
        month: number,
        threshold: state.settings.suppression_min_count,
        total: row(unit),
        children: children.into_iter().map(row).collect(),
    })
}

/// `"YYYY-MM"` of a month that ended before `today`'s month began.
fn parse_month(raw: &str, today: NaiveDate) -> Result<(i32, u32), ApiError> {
    let bad = || ApiError::bad_input("month", InputProblem::InvalidFormat);
    let (y, m) = raw.trim().split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let (year, month): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
    let current = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).ok_or_else(bad)?;
    if first >= current || year < 2000 {
        return Err(ApiError::bad_input("month", InputProblem::OutOfRange));
    }
    Ok((year, month))
}

/// Active members now of each unit (its subtree).
async fn active_now(db: &impl ConnectionTrait, ids: &[UnitId]) -> Result<HashMap<UnitId, u64>, ApiError> {
    #[derive(FromQueryResult)]
    struct Row {
        unit_id: UnitId,
        active: i64,
    }
    let rows = Row::find_by_statement(stmt(
        db.get_database_backend(),
        &format!(
            "SELECT unit_id, active FROM unit_member_count WHERE unit_id IN ({})",
            crate::db::repeat_list("?", ids.len())
        ),
        ids.iter().map(|&u| u.into()),
    ))
    .all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.unit_id, u64::try_from(r.active).unwrap_or(0))).collect())
}

/// The month's audited figures, from the cache or computed now.
async fn month_figures(call: Call<'_>, year: i32, month: u32) -> Result<Arc<MonthFigures>, ApiError> {
    let cache = &call.state.public_statistics;
    {
        let held = cache.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, figures)) = held.get(&(year, month))
            && at.elapsed() < CACHE_FOR
        {
            return Ok(figures.clone());
        }
    }
    let figures = Arc::new(compute(call, year, month).await?);
    let mut held = cache.0.lock().unwrap_or_else(|p| p.into_inner());
    held.retain(|_, (at, _)| at.elapsed() < CACHE_FOR);
    held.insert((year, month), (Instant::now(), figures.clone()));
    Ok(figures)
}

#[derive(FromQueryResult)]
struct Sum {
    unit_id: UnitId,
    a: i64,
    b: i64,
}

/// Reads the month's figures of every unit and audits each.
async fn compute(call: Call<'_>, year: i32, month: u32) -> Result<MonthFigures, ApiError> {
    let db = &call.state.db;
    let backend = db.get_database_backend();
    let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or(ApiError::Internal)?;
    let next = first.checked_add_months(chrono::Months::new(1)).ok_or(ApiError::Internal)?;
    let last = next.pred_opt().ok_or(ApiError::Internal)?;
    let units: Vec<(UnitId, Option<UnitId>, i32)> = org_unit::Entity::find()
        .select_only()
        .column(org_unit::Column::Id)
        .column(org_unit::Column::ParentId)
        .column(org_unit::Column::Depth)
        .into_tuple()
        .all(db)
        .await?;
    let members = Sum::find_by_statement(stmt(
        backend,
        "SELECT unit_id, CAST(COALESCE(SUM(joined), 0) AS BIGINT) AS a, \
         CAST(COALESCE(SUM(\"left\"), 0) AS BIGINT) AS b \
         FROM unit_member_day WHERE day >= ? AND day <= ? GROUP BY unit_id",
        [first.into(), last.into()],
    ))
    .all(db)
    .await?;
    let attended = Sum::find_by_statement(stmt(
        backend,
        "SELECT unit_id, CAST(COALESCE(SUM(value), 0) AS BIGINT) AS a, CAST(0 AS BIGINT) AS b \
         FROM unit_activity_day WHERE metric = 'ATTENDED' AND day >= ? AND day <= ? GROUP BY unit_id",
        [first.into(), last.into()],
    ))
    .all(db)
    .await?;
    // Trainings are counted where they were organised; each unit's figure adds its subtree's.
    let held = Sum::find_by_statement(stmt(
        backend,
        "SELECT unit_id, CAST(COUNT(*) AS BIGINT) AS a, CAST(0 AS BIGINT) AS b FROM training \
         WHERE status IN ('PUBLISHED', 'COMPLETED') AND starts_at >= ? AND starts_at < ? GROUP BY unit_id",
        [hanoi_day_start(first).into(), hanoi_day_start(next).into()],
    ))
    .all(db)
    .await?;
    let count = |v: i64| u64::try_from(v).unwrap_or(0);
    let mut totals: HashMap<UnitId, [u64; 4]> = units.iter().map(|u| (u.0, [0; 4])).collect();
    for r in &members {
        if let Some(t) = totals.get_mut(&r.unit_id) {
            t[0] = count(r.a);
            t[1] = count(r.b);
        }
    }
    for r in &attended {
        if let Some(t) = totals.get_mut(&r.unit_id) {
            t[3] = count(r.a);
        }
    }
    // Deepest first, each unit's trainings are added to its parent's.
    let mut own_held: HashMap<UnitId, u64> = held.iter().map(|r| (r.unit_id, count(r.a))).collect();
    let mut by_depth: Vec<&(UnitId, Option<UnitId>, i32)> = units.iter().collect();
    by_depth.sort_by_key(|u| std::cmp::Reverse(u.2));
    for &(id, parent, _) in by_depth {
        let mine = own_held.get(&id).copied().unwrap_or(0);
        if let Some(t) = totals.get_mut(&id) {
            t[2] = mine;
        }
        if let Some(p) = parent {
            *own_held.entry(p).or_insert(0) += mine;
        }
    }
    let rule = Suppression::new(call.state.settings.suppression_min_count);
    let hidden = Measure::ALL.map(|m| {
        let figures: Vec<Figure<UnitId>> = units
            .iter()
            .map(|&(id, parent, _)| Figure { id, parent, total: totals[&id][m as usize] })
            .collect();
        audit(rule, &figures)
    });
    Ok(MonthFigures { totals, hidden })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_completed_month_is_asked_for() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        assert_eq!(parse_month("2026-11", today).unwrap(), (2026, 11));
        assert_eq!(parse_month("2025-01", today).unwrap(), (2025, 1));
        for (raw, reason) in [
            ("2026-12", InputProblem::OutOfRange),
            ("2027-01", InputProblem::OutOfRange),
            ("1999-12", InputProblem::OutOfRange),
            ("2026-13", InputProblem::InvalidFormat),
            ("2026-1", InputProblem::InvalidFormat),
            ("26-11", InputProblem::InvalidFormat),
            ("tháng 11", InputProblem::InvalidFormat),
        ] {
            assert!(
                matches!(parse_month(raw, today), Err(ApiError::BadInput { field: "month", problem }) if problem == reason),
                "{raw}"
            );
        }
    }
}
