//! `publicStatistics { targetProgress(period:) }`: progress towards targets as partners see it —
//! targets as set, counted actuals coarse (see `service::integrations::statistics::targets`).

use async_graphql::{Object, SimpleObject};

use crate::graphql::{campaigns::targets::Indicator, org::OrgUnit};
use service::integrations::statistics::targets::{PublicIndicatorProgress, PublicProgressRow};

/// An amount that may be suppressed: `value` is null and `suppressed` true when it counts
/// people and is between 1 and k−1.
#[derive(SimpleObject)]
pub struct SuppressibleAmount {
    value: Option<f64>,
    suppressed: bool,
}

/// One unit's figures for an indicator, as partners see them.
pub struct PublicTargetRow(PublicProgressRow);

/// One unit's figures for an indicator, as partners see them: the target as set, the actual
/// over its whole subtree (coarse when it counts people).
#[Object]
impl PublicTargetRow {
    async fn unit(&self) -> OrgUnit {
        OrgUnit(self.0.unit.clone())
    }

    /// The unit's target for the indicator and period, as set; null without one.
    async fn target(&self) -> Option<f64> {
        self.0.target
    }

    /// Over the unit's whole subtree. A count (a computed indicator, or a reported one that is
    /// summed) is shown like `activeMembers`: 0, or rounded down to a multiple of k, suppressed
    /// from 1 to k−1. An averaged reported indicator is shown as reported.
    async fn actual(&self) -> SuppressibleAmount {
        SuppressibleAmount { value: self.0.actual, suppressed: self.0.actual.is_none() }
    }

    /// `actual ÷ target` of the actual as shown (0.75 means 75%); null when the actual is
    /// suppressed, without a target or with a target of 0.
    async fn attainment(&self) -> Option<f64> {
        self.0.attainment()
    }

    /// For a reported indicator, how many units of the subtree have a current value; for a
    /// share of units rated good or better, how many ratings of the subtree were confirmed;
    /// null for the other computed indicators.
    async fn reporting_units(&self) -> Option<i64> {
        self.0.reporting_units
    }
}

/// Progress of a unit and its direct children towards their targets for one indicator, as
/// partners see it.
pub struct PublicTargetProgress(pub PublicIndicatorProgress);

/// Progress of a unit and its direct children towards their targets for one indicator, as
/// partners see it.
#[Object]
impl PublicTargetProgress {
    async fn indicator(&self) -> Indicator {
        Indicator(self.0.indicator.clone())
    }

    /// The unit itself.
    async fn total(&self) -> PublicTargetRow {
        PublicTargetRow(self.0.total.clone())
    }

    /// Every direct child, by name.
    async fn children(&self) -> Vec<PublicTargetRow> {
        self.0.children.iter().cloned().map(PublicTargetRow).collect()
    }
}
