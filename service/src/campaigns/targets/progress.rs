//! Progress towards targets: for a unit and each direct child, per indicator, the target, the
//! actual over the whole subtree and the attainment (actual ÷ target, a ratio: 0.75 = 75%).
//!
//! A fixed number of statements whatever the number of children or indicators: the unit, the
//! caller's roles, the children, the targets, the indicators, and one statement for every actual
//! — a `UNION ALL` with one part per source, each batched over all units with `IN (…)` and
//! `GROUP BY`. The computed parts read the counters every unit keeps for everything it contains
//! (`unit_member_day`, `unit_activity_day`, keyed by unit and day, with covering indexes), so the
//! city with 30 districts reads 31 units × the period's days index entries, never its million
//! members. The reported part looks up the current values of the units below each child (one
//! index probe per unit, `ix_reported_value_current_values`) and the unit's own. The shares of
//! units rated good or better read the confirmed ratings of the subtree's bases or branches
//! (the closure rows below each unit, one probe of `ux_unit_rating_unit_year` each): the mean
//! over them of 100 (good or better) or 0, with the number rated as `reporting_units`.

use crate::Call;
use entities::ids::UnitId;
use std::collections::{HashMap, HashSet};

use entities::{indicator, org_unit, target};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, Value,
};
use uuid::Uuid;

use super::{
    Aggregation, BASES_RATED_GOOD, BRANCHES_RATED_GOOD, HOUSEHOLDS_CERTIFIED, IndicatorKind, NEW_MEMBERS,
    PEOPLE_TRAINED, Period, usable_at,
};
use crate::{
    authz::{self, Capability},
    db::{repeat_list, stmt},
    error::{ApiError, InputProblem},
    {campaigns::activity::Metric, org::get_unit},
};

/// Most indicators one call may ask for by id.
pub const MAX_ASKED: usize = 100;

/// One unit's figures for an indicator.
#[derive(Clone, Debug, PartialEq)]
pub struct ProgressRow {
    pub unit: org_unit::Model,
    pub target: Option<f64>,
    /// Over the unit's whole subtree; 0 when nothing was counted or reported.
    pub actual: f64,
    /// For a reported indicator: how many units of the subtree reported a current value; for a
    /// share of units rated: how many ratings of the subtree were confirmed.
    pub reporting_units: Option<i64>,
}

impl ProgressRow {
    /// Actual ÷ target (0.75 = 75%); `None` without a target or with a target of 0.
    pub fn attainment(&self) -> Option<f64> {
        self.target.filter(|t| *t > 0.0).map(|t| self.actual / t)
    }
}

/// Progress for one indicator.
#[derive(Clone, Debug)]
pub struct IndicatorProgress {
    pub indicator: indicator::Model,
    pub total: ProgressRow,
    /// Every direct child, by name.
    pub children: Vec<ProgressRow>,
}

impl IndicatorProgress {
    /// The sum of the children's targets (0 when none has one).
    pub fn children_target_sum(&self) -> f64 {
        self.children.iter().filter_map(|c| c.target).sum()
    }

    /// The unit's target minus the children's; `None` without a unit target.
    pub fn unallocated(&self) -> Option<f64> {
        self.total.target.map(|t| t - self.children_target_sum())
    }
}

#[derive(FromQueryResult)]
struct Actual {
    unit_id: UnitId,
    indicator_id: Uuid,
    total: f64,
    reporting: i64,
}

/// Progress of `unit_id` for `period` (any officer role over the unit): every indicator with a
/// target at the unit or a direct child for exactly that period, and those in `asked` (which must
/// be usable at the unit, else `NOT_FOUND`); computed indicators first, then in the order they
/// were defined.
pub async fn target_progress(
    call: Call<'_>,
    unit_id: UnitId,
    period: Period,
    asked: &[Uuid],
) -> Result<Vec<IndicatorProgress>, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, unit_id).await?;
    authz::require(db, viewer, Capability::ViewUnit, unit_id).await?;
    if asked.len() > MAX_ASKED {
        return Err(ApiError::bad_input("indicator_ids", InputProblem::TooMany));
    }
    progress_of(db, unit, period, asked, Listed::WithTargets).await
}

/// Which indicators [`progress_of`] lists besides those asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Listed {
    /// Every one with a target at the unit or a direct child for the period, even one no longer
    /// usable at the unit (it moved: the targets stay with the unit).
    WithTargets,
    /// Of those, only the ones usable at the unit.
    UsableWithTargets,
}

/// [`target_progress`] for a caller already allowed to read `unit`: four statements (the
/// children, the targets, the indicators, the actuals) whatever the children and indicators.
pub(crate) async fn progress_of(
    db: &impl ConnectionTrait,
    unit: org_unit::Model,
    period: Period,
    asked: &[Uuid],
    listed: Listed,
) -> Result<Vec<IndicatorProgress>, ApiError> {
    let unit_id = unit.id;
    let children = org_unit::Entity::find()
        .filter(org_unit::Column::ParentId.eq(unit_id))
        .order_by_asc(org_unit::Column::NameSearch)
        .order_by_asc(org_unit::Column::Id)
        .all(db)
        .await?;
    let units: Vec<UnitId> = std::iter::once(unit_id).chain(children.iter().map(|c| c.id)).collect();
    let targets = target::Entity::find()
        .filter(target::Column::UnitId.is_in(units.iter().copied()))
        .filter(target::Column::FromYear.eq(period.from_year))
        .filter(target::Column::ToYear.eq(period.to_year))
        .all(db)
        .await?;
    let with_targets: HashSet<Uuid> = targets.iter().map(|t| t.indicator_id).collect();
    let asked: HashSet<Uuid> = asked.iter().copied().collect();
    if with_targets.is_empty() && asked.is_empty() {
        return Ok(Vec::new());
    }
    // Those with a target are listed even if no longer usable at the unit (it moved) unless
    // `listed` says otherwise: the targets stay with the unit. Those asked for must be usable.
    let mut which = Condition::any().add(indicator::Column::Id.is_in(with_targets.iter().copied())).add(
        Condition::all().add(indicator::Column::Id.is_in(asked.iter().copied())).add(usable_at(unit_id)),
    );
    if listed == Listed::UsableWithTargets {
        which = Condition::all().add(which).add(usable_at(unit_id));
    }
    let indicators = indicator::Entity::find()
        .filter(which)
        .order_by_asc(indicator::Column::Kind)
        .order_by_asc(indicator::Column::CreatedAt)
        .order_by_asc(indicator::Column::Id)
        .all(db)
        .await?;
    if asked.iter().any(|id| !indicators.iter().any(|i| i.id == *id)) {
        return Err(ApiError::NotFound);
    }
    let actuals = actuals(db, &units, period, &indicators).await?;
    let targets: HashMap<(UnitId, Uuid), f64> =
        targets.into_iter().map(|t| ((t.unit_id, t.indicator_id), t.value)).collect();

    // A unit merged into another hangs below it as history: counted in the totals, not listed.
    let children: Vec<org_unit::Model> =
        children.into_iter().filter(|c| c.status == org_unit::UnitStatus::Active).collect();
    Ok(indicators
        .into_iter()
        .map(|ind| {
            let reported = ind.kind == IndicatorKind::Reported || rating_share(ind.id).is_some();
            let average = ind.aggregation == Aggregation::Average;
            let row = |u: &org_unit::Model| {
                let (sum, count) = actuals.get(&(u.id, ind.id)).copied().unwrap_or((0.0, 0));
                let actual = if average && count > 0 { sum / count as f64 } else { sum };
                ProgressRow {
                    target: targets.get(&(u.id, ind.id)).copied(),
                    actual,
                    reporting_units: reported.then_some(count),
                    unit: u.clone(),
                }
            };
            IndicatorProgress {
                total: row(&unit),
                children: children.iter().map(row).collect(),
                indicator: ind,
            }
        })
        .collect())
}

/// (sum, units reporting) per (unit, indicator), in one statement: one part per computed
/// source, and two for the reported values (the unit's own, its children's subtrees). `units` is
/// the unit, then its children.
async fn actuals(
    conn: &impl ConnectionTrait,
    units: &[UnitId],
    period: Period,
    indicators: &[indicator::Model],
) -> Result<HashMap<(UnitId, Uuid), (f64, i64)>, ApiError> {
    let (from, to) = period.days()?;
    let in_units = repeat_list("?", units.len());
    let unit_values = || units.iter().map(|&u| Value::from(u));
    let mut parts: Vec<String> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let mut reported: Vec<Uuid> = Vec::new();
    for ind in indicators {
        let (table, column, metric) = match ind.id {
            NEW_MEMBERS => ("unit_member_day", "joined", None),
            PEOPLE_TRAINED => ("unit_activity_day", "value", Some(Metric::Attended)),
            HOUSEHOLDS_CERTIFIED => ("unit_activity_day", "value", Some(Metric::HouseholdsCertified)),
            id if let Some(kind) = rating_share(id) => {
                use entities::unit_rating::{RatingLevel, RatingStatus};
                values.push(ind.id.into());
                values.extend(
                    RatingLevel::ALL.iter().filter(|l| l.good_or_better()).map(|l| Value::from(l.as_str())),
                );
                values.extend(unit_values());
                values.push(kind.as_str().into());
                values.push(RatingStatus::Confirmed.as_str().into());
                values.push(period.from_year.into());
                values.push(period.to_year.into());
                parts.push(format!(
                    "SELECT c.ancestor_id AS unit_id, ? AS indicator_id, \
                     CAST(SUM(CASE WHEN r.rating IN (?, ?) THEN 100 ELSE 0 END) AS DOUBLE PRECISION) AS total, \
                     CAST(COUNT(*) AS BIGINT) AS reporting \
                     FROM unit_rating r JOIN org_unit_closure c ON c.descendant_id = r.unit_id \
                     WHERE c.ancestor_id IN ({in_units}) AND r.unit_kind = ? AND r.status = ? \
                     AND r.year >= ? AND r.year <= ? GROUP BY c.ancestor_id"
                ));
                continue;
            }
            _ if ind.kind == IndicatorKind::Reported => {
                reported.push(ind.id);
                continue;
            }
            _ => return Err(ApiError::internal(format_args!("computed indicator {} has no source", ind.id))),
        };
        // The indicator's id is a parameter, typed by the driver, so every part has the same columns.
        values.push(ind.id.into());
        values.extend(unit_values());
        let metric_filter = match metric {
            Some(m) => {
                values.push(m.as_str().into());
                "AND metric = ? "
            }
            None => "",
        };
        values.push(from.into());
        values.push(to.into());
        parts.push(format!(
            "SELECT unit_id, ? AS indicator_id, CAST(SUM({column}) AS DOUBLE PRECISION) AS total, \
             CAST(0 AS BIGINT) AS reporting FROM {table} \
             WHERE unit_id IN ({in_units}) {metric_filter}AND day >= ? AND day <= ? GROUP BY unit_id"
        ));
    }
    if !reported.is_empty() {
        // The current values of the units of each child's subtree, and the unit's own; the
        // unit's total is its own plus its children's (every unit below it is below exactly one
        // child), which reads half the closure rows of asking for its subtree directly.
        let (children, unit) = (&units[1..], units[0]);
        let period_values = |values: &mut Vec<Value>| {
            values.extend(reported.iter().map(|&i| Value::from(i)));
            values.push(period.from_year.into());
            values.push(period.to_year.into());
        };
        let current = format!(
            "r.indicator_id IN ({}) AND r.from_year = ? AND r.to_year = ? AND r.superseded_at IS NULL",
            repeat_list("?", reported.len())
        );
        values.push(unit.into());
        period_values(&mut values);
        parts.push(format!(
            "SELECT r.unit_id AS unit_id, r.indicator_id AS indicator_id, \
             CAST(SUM(r.value) AS DOUBLE PRECISION) AS total, CAST(COUNT(*) AS BIGINT) AS reporting \
             FROM reported_value r WHERE r.unit_id = ? AND {current} GROUP BY r.unit_id, r.indicator_id"
        ));
        if !children.is_empty() {
            values.extend(children.iter().map(|&u| Value::from(u)));
            period_values(&mut values);
            parts.push(format!(
                "SELECT c.ancestor_id AS unit_id, r.indicator_id AS indicator_id, \
                 CAST(SUM(r.value) AS DOUBLE PRECISION) AS total, CAST(COUNT(*) AS BIGINT) AS reporting \
                 FROM reported_value r JOIN org_unit_closure c ON c.descendant_id = r.unit_id \
                 WHERE c.ancestor_id IN ({}) AND {current} GROUP BY c.ancestor_id, r.indicator_id",
                repeat_list("?", children.len())
            ));
        }
    }
    if parts.is_empty() {
        return Ok(HashMap::new());
    }
    let rows =
        Actual::find_by_statement(stmt(conn.get_database_backend(), &parts.join(" UNION ALL "), values))
            .all(conn)
            .await?;
    let mut out: HashMap<(UnitId, Uuid), (f64, i64)> =
        rows.into_iter().map(|a| ((a.unit_id, a.indicator_id), (a.total, a.reporting))).collect();
    // A reported indicator's total: the unit's own value plus its children's subtrees.
    for &ind in &reported {
        let below: Vec<(f64, i64)> = units[1..].iter().filter_map(|&c| out.get(&(c, ind)).copied()).collect();
        let total = out.entry((units[0], ind)).or_insert((0.0, 0));
        for (sum, count) in below {
            total.0 += sum;
            total.1 += count;
        }
    }
    Ok(out)
}

/// The kind of unit a share-of-units-rated indicator counts.
fn rating_share(indicator: Uuid) -> Option<entities::org_unit::UnitKind> {
    use entities::org_unit::UnitKind;
    match indicator {
        BASES_RATED_GOOD => Some(UnitKind::Base),
        BRANCHES_RATED_GOOD => Some(UnitKind::Branch),
        _ => None,
    }
}
