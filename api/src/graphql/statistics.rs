//! GraphQL surface of statistics: member statistics per unit subtree (and per direct child), and
//! the population figures behind the attraction rate.

use async_graphql::{Context, ID, InputObject, Object, Result};
use entities::ids::UnitId;

use super::{ContextExt, org::OrgUnit, scalars::Date};
use service::{
    domain::GlobalId,
    membership::{self as svc, UnitStats},
};

/// Member figures of a unit's whole subtree for a period.
pub struct MemberStatistics(UnitStats);

#[Object]
impl MemberStatistics {
    async fn unit(&self) -> OrgUnit {
        OrgUnit(self.0.unit.clone())
    }

    /// Active members now.
    async fn active_members(&self) -> i64 {
        self.0.active_members
    }

    /// Members who joined during the period (transfers inside the union are not counted).
    async fn new_members(&self) -> i64 {
        self.0.new_members
    }

    /// Members who left during the period.
    async fn leavers(&self) -> i64 {
        self.0.leavers
    }

    /// Women aged 18+ living in the unit's area, for the year the period ends in, if entered.
    async fn adult_women(&self) -> Option<i64> {
        self.0.adult_women
    }

    /// Active members ÷ women aged 18+ (null without the figure).
    async fn attraction_rate(&self) -> Option<f64> {
        self.0.attraction_rate()
    }
}

/// A unit's figures and those of each of its direct children.
pub struct MemberStatisticsReport(svc::StatsReport);

#[Object]
impl MemberStatisticsReport {
    async fn total(&self) -> MemberStatistics {
        MemberStatistics(self.0.total.clone())
    }

    /// One entry per direct child, by name.
    async fn children(&self) -> Vec<MemberStatistics> {
        self.0.children.iter().cloned().map(MemberStatistics).collect()
    }
}

#[derive(InputObject)]
pub struct SetPopulationFigureInput {
    pub unit_id: ID,
    pub year: i32,
    /// Women aged 18+ living in the unit's area that year.
    pub adult_women: i64,
}

#[derive(Default)]
pub struct StatisticsQuery;

#[Object]
impl StatisticsQuery {
    /// Member statistics of a unit in reach (any officer role over it) for the days `from` to
    /// `to` inclusive (Asia/Ho_Chi_Minh).
    async fn member_statistics(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        from: Date,
        to: Date,
    ) -> Result<MemberStatisticsReport> {
        ctx.auth()?.require()?;
        let unit = GlobalId::decode_id::<UnitId>(&unit_id, "unitId")?;
        Ok(MemberStatisticsReport(svc::member_statistics(ctx.call()?, unit, from.0, to.0).await?))
    }
}

#[derive(Default)]
pub struct StatisticsMutation;

#[Object]
impl StatisticsMutation {
    /// Enters the number of women aged 18+ in a unit's area for a year (a unit officer or admin
    /// over the unit); the latest entry wins.
    async fn set_population_figure(
        &self,
        ctx: &Context<'_>,
        input: SetPopulationFigureInput,
    ) -> Result<bool> {
        ctx.auth()?.require()?;
        let unit = GlobalId::decode_id::<UnitId>(&input.unit_id, "unitId")?;
        svc::set_population_figure(ctx.call()?, unit, input.year, input.adult_women).await?;
        Ok(true)
    }
}
