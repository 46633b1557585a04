//! `publicStatistics`: what partners (`statistics:read`) read of a unit and its children for a
//! completed month, small counts suppressed, and their progress towards targets (`targets`; see
//! `service::integrations::statistics`).

pub mod targets;

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use entities::ids::UnitId;

use crate::graphql::{ContextExt, campaigns::targets::PeriodInput, org::OrgUnit};
use service::{
    domain::GlobalId,
    integrations::statistics::{self as svc, Measure, PublicFigures},
};

/// A count that may be suppressed: `value` is null and `suppressed` true when it is between 1
/// and k−1, or when, with the other figures shown, it would let such a count be worked out.
#[derive(SimpleObject)]
pub struct SuppressibleCount {
    value: Option<u64>,
    suppressed: bool,
}

impl From<Option<u64>> for SuppressibleCount {
    fn from(value: Option<u64>) -> Self {
        Self { suppressed: value.is_none(), value }
    }
}

/// A unit's public figures (each covering its whole subtree).
pub struct PublicUnitFigures(PublicFigures);

#[Object]
impl PublicUnitFigures {
    async fn unit(&self) -> OrgUnit {
        OrgUnit(self.0.unit.clone())
    }

    /// Active members now: 0, or rounded down to a multiple of k (suppressed from 1 to k−1).
    async fn active_members(&self) -> SuppressibleCount {
        self.0.active_members.into()
    }

    /// Members who joined in the month.
    async fn new_members(&self) -> SuppressibleCount {
        self.0.month[Measure::NewMembers as usize].into()
    }

    /// Members who left in the month.
    async fn leavers(&self) -> SuppressibleCount {
        self.0.month[Measure::Leavers as usize].into()
    }

    /// Trainings held (published or completed) that started in the month.
    async fn trainings_held(&self) -> SuppressibleCount {
        self.0.month[Measure::TrainingsHeld as usize].into()
    }

    /// Check-ins at trainings in the month.
    async fn attendances(&self) -> SuppressibleCount {
        self.0.month[Measure::Attendances as usize].into()
    }
}

/// A unit's public figures and its direct children's, for one month.
pub struct PublicStatistics(svc::PublicStatistics);

#[Object]
impl PublicStatistics {
    /// The month, `YYYY-MM`.
    async fn month(&self) -> String {
        format!("{:04}-{:02}", self.0.year, self.0.month)
    }

    /// k: counts from 1 to k−1 are never shown.
    async fn suppression_threshold(&self) -> u32 {
        self.0.threshold
    }

    async fn total(&self) -> PublicUnitFigures {
        PublicUnitFigures(self.0.total.clone())
    }

    /// The direct children, by name.
    async fn children(&self) -> Vec<PublicUnitFigures> {
        self.0.children.iter().cloned().map(PublicUnitFigures).collect()
    }

    /// Progress of the unit and its direct children towards their targets for `period` (not
    /// tied to `month`): every indicator usable at the unit with a target at the unit or a child
    /// for exactly that period, computed ones first. Targets are shown as set; actuals that
    /// count people are coarse like `activeMembers`.
    async fn target_progress(
        &self,
        ctx: &Context<'_>,
        period: PeriodInput,
    ) -> Result<Vec<targets::PublicTargetProgress>> {
        let period = period.parse("period")?;
        let unit = self.0.total.unit.id;
        Ok(svc::targets::public_target_progress(ctx.call()?, unit, period)
            .await?
            .into_iter()
            .map(targets::PublicTargetProgress)
            .collect())
    }
}

#[derive(Default)]
pub struct PublicStatisticsQuery;

#[Object]
impl PublicStatisticsQuery {
    /// The public figures of a unit and its children for a completed month (`YYYY-MM`): for an
    /// integration client with `statistics:read` (within its subtree), or an officer over the
    /// unit. Small counts are suppressed; a figure is shown or hidden the same in every answer.
    async fn public_statistics(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        month: String,
    ) -> Result<PublicStatistics> {
        let unit = GlobalId::decode_id::<UnitId>(&unit_id, "unitId")?;
        Ok(PublicStatistics(svc::public_statistics(ctx.call()?, unit, &month).await?))
    }
}
