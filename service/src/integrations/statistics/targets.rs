//! Target aggregates for partners (`statistics:read`): for a unit and each of its direct
//! children, every indicator usable at the unit with a target for the period, its target and
//! the actual over each unit's subtree, read by the officers' own
//! [`crate::campaigns::targets::target_progress`] machinery and then shown as partners may see
//! it.
//!
//! - **Targets** are plans, not people: shown as set.
//! - **Actuals that count** — the computed indicators (new members, people trained, households
//!   certified) and reported indicators summed over the subtree — are live figures (a year
//!   still running changes every day; a past one with a late report), so they are shown as
//!   [`Suppression::live`] shows active members: 0 as 0, from 1 to k−1 not at all, else
//!   rounded down to a multiple of k. Whatever the period: one rule, whether or not it ended.
//! - **New members and people trained are withheld** (`suppressed`, attainment null): their
//!   actual over a period is the sum of the very monthly figures `publicStatistics` shows
//!   (`newMembers`, `attendances`), each audited for its month alone, so a year's total — even
//!   rounded — would give a hidden month back by subtraction (Jan–Nov shown summing to 41,
//!   December hidden, a year of 45: December was 4). Partners add up the monthly figures
//!   themselves; households certified and summed reports have no monthly figure and stay coarse.
//! - **Averaged indicators** (`Aggregation::Average`) are shown as they are: a reported one is
//!   a rate or a score of a unit as a whole (e.g. "% of households with clean water"), the
//!   computed shares of units rated good or better are about units, and none counts people;
//!   rounding a rate to a multiple of k would only make it wrong. An indicator that counts
//!   people is defined with `SUM`, and then it is treated as a count.
//! - **Attainment** is computed from the actual as shown (null when the actual is hidden), so
//!   it never gives the hidden figure back.
//! - How many units of the subtree reported (`reportingUnits`) counts units, not people: shown.

use entities::{ids::UnitId, indicator, org_unit};

use crate::{
    Call,
    authz::{self, Capability},
    campaigns::targets::{self, Aggregation, IndicatorProgress, Listed, Period, ProgressRow},
    error::ApiError,
    integrations::Scope,
    org::get_unit,
    suppression::Suppression,
};

/// One unit's figures for an indicator, as a partner sees them.
#[derive(Clone, Debug, PartialEq)]
pub struct PublicProgressRow {
    pub unit: org_unit::Model,
    /// Null when the unit has no target for the indicator and period.
    pub target: Option<f64>,
    /// Over the unit's whole subtree; `None` when suppressed (see the module docs).
    pub actual: Option<f64>,
    /// For a reported indicator: how many units of the subtree reported a current value.
    pub reporting_units: Option<i64>,
}

impl PublicProgressRow {
    fn new(row: ProgressRow, indicator: &indicator::Model, rule: Suppression) -> Self {
        let averaged = indicator.aggregation == Aggregation::Average;
        let monthly = indicator.id == targets::NEW_MEMBERS || indicator.id == targets::PEOPLE_TRAINED;
        let actual = if monthly {
            None
        } else if averaged {
            Some(row.actual)
        } else {
            rule.live_amount(row.actual)
        };
        Self { unit: row.unit, target: row.target, actual, reporting_units: row.reporting_units }
    }

    /// Shown actual ÷ target (0.75 = 75%); `None` when the actual is hidden, without a target,
    /// or with a target of 0.
    pub fn attainment(&self) -> Option<f64> {
        let actual = self.actual?;
        self.target.filter(|t| *t > 0.0).map(|t| actual / t)
    }
}

/// Progress for one indicator, as a partner sees it.
#[derive(Clone, Debug)]
pub struct PublicIndicatorProgress {
    pub indicator: indicator::Model,
    pub total: PublicProgressRow,
    /// Every direct child, by name.
    pub children: Vec<PublicProgressRow>,
}

impl PublicIndicatorProgress {
    fn new(progress: IndicatorProgress, rule: Suppression) -> Self {
        let IndicatorProgress { indicator, total, children } = progress;
        Self {
            total: PublicProgressRow::new(total, &indicator, rule),
            children: children.into_iter().map(|c| PublicProgressRow::new(c, &indicator, rule)).collect(),
            indicator,
        }
    }
}

/// Progress towards the targets of `period` of `unit_id` and its direct children, as partners
/// see it: for a client with `statistics:read` within its subtree (`NOT_FOUND` outside), or an
/// officer over the unit (to see what partners see). Every indicator usable at the unit with a
/// target at the unit or a child for exactly that period; computed ones first.
pub async fn public_target_progress(
    call: Call<'_>,
    unit_id: UnitId,
    period: Period,
) -> Result<Vec<PublicIndicatorProgress>, ApiError> {
    let state = call.state;
    let db = &state.db;
    match call.client(Scope::StatisticsRead)? {
        Some(client) => crate::integrations::require_within(db, client, unit_id).await?,
        None => {
            authz::require(db, call.viewer()?, Capability::ViewUnit, unit_id).await?;
        }
    }
    let unit = get_unit(db, unit_id).await?;
    let progress = targets::progress_of(db, unit, period, &[], Listed::UsableWithTargets).await?;
    let rule = Suppression::new(state.settings.suppression_min_count);
    Ok(progress.into_iter().map(|p| PublicIndicatorProgress::new(p, rule)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaigns::targets::IndicatorKind;
    use chrono::Utc;
    use uuid::Uuid;

    fn unit() -> org_unit::Model {
        let now = Utc::now();
        org_unit::Model {
            id: UnitId::new(),
            parent_id: None,
            kind: entities::org_unit::UnitKind::City,
            code: "HN".into(),
            name: "Hà Nội".into(),
            name_search: "ha noi".into(),
            search_words: " ha noi hn ".into(),
            depth: 0,
            case_closure_approval: false,
            created_at: now,
            updated_at: now,
            status: entities::org_unit::UnitStatus::Active,
            merged_into_id: None,
            merged_at: None,
        }
    }

    fn indicator(kind: IndicatorKind, aggregation: Aggregation) -> indicator::Model {
        indicator::Model {
            id: Uuid::nil(),
            code: None,
            kind,
            name: "Chỉ tiêu".into(),
            unit_of_measure: "%".into(),
            aggregation,
            unit_id: None,
            created_by: None,
            created_at: Utc::now(),
        }
    }

    fn row(target: Option<f64>, actual: f64) -> ProgressRow {
        ProgressRow { unit: unit(), target, actual, reporting_units: None }
    }

    #[test]
    fn a_counted_actual_is_coarse_and_attainment_follows_what_is_shown() {
        let rule = Suppression::new(5);
        for kind in [IndicatorKind::Computed, IndicatorKind::Reported] {
            let counted = indicator(kind, Aggregation::Sum);
            let shown = PublicProgressRow::new(row(Some(40.0), 23.0), &counted, rule);
            assert_eq!((shown.actual, shown.attainment()), (Some(20.0), Some(0.5)));
            let small = PublicProgressRow::new(row(Some(10.0), 3.0), &counted, rule);
            assert_eq!((small.actual, small.attainment()), (None, None));
            let none = PublicProgressRow::new(row(Some(10.0), 0.0), &counted, rule);
            assert_eq!((none.actual, none.attainment()), (Some(0.0), Some(0.0)));
            let no_target = PublicProgressRow::new(row(None, 12.0), &counted, rule);
            assert_eq!((no_target.actual, no_target.attainment()), (Some(10.0), None));
        }
    }

    #[test]
    fn new_members_and_people_trained_are_withheld_since_their_months_are_shown() {
        let rule = Suppression::new(5);
        for id in [targets::NEW_MEMBERS, targets::PEOPLE_TRAINED] {
            let monthly = indicator::Model { id, ..indicator(IndicatorKind::Computed, Aggregation::Sum) };
            for actual in [0.0, 3.0, 45.0] {
                let shown = PublicProgressRow::new(row(Some(40.0), actual), &monthly, rule);
                assert_eq!((shown.target, shown.actual, shown.attainment()), (Some(40.0), None, None));
            }
        }
        let households = indicator::Model {
            id: targets::HOUSEHOLDS_CERTIFIED,
            ..indicator(IndicatorKind::Computed, Aggregation::Sum)
        };
        assert_eq!(PublicProgressRow::new(row(Some(40.0), 45.0), &households, rule).actual, Some(45.0));
    }

    #[test]
    fn an_averaged_actual_is_shown_as_it_is() {
        let averaged = indicator(IndicatorKind::Reported, Aggregation::Average);
        let shown = PublicProgressRow::new(row(Some(80.0), 3.5), &averaged, Suppression::new(5));
        assert_eq!((shown.actual, shown.attainment()), (Some(3.5), Some(3.5 / 80.0)));
        // The share of branches rated good or better: a percentage of units, not rounded.
        let share = indicator::Model {
            id: targets::BRANCHES_RATED_GOOD,
            ..indicator(IndicatorKind::Computed, Aggregation::Average)
        };
        let shown = PublicProgressRow::new(row(Some(90.0), 66.5), &share, Suppression::new(5));
        assert_eq!((shown.actual, shown.attainment()), (Some(66.5), Some(66.5 / 90.0)));
    }
}
