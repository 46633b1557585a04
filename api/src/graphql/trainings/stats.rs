//! Training statistics of a unit's subtree (see `service::trainings::stats`).

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use entities::ids::UnitId;

use crate::graphql::{ContextExt, org::OrgUnit, scalars::Date};
use service::{
    domain::GlobalId,
    trainings::{self as svc, TrainingFigures},
};

use super::*;

/// Training figures of a unit's whole subtree for a period.
pub struct TrainingStatistics {
    unit: Option<entities::org_unit::Model>,
    figures: TrainingFigures,
}

#[Object]
impl TrainingStatistics {
    /// The unit (null in a per-category entry).
    async fn unit(&self) -> Option<OrgUnit> {
        self.unit.clone().map(OrgUnit)
    }

    /// Trainings held (published or completed) that started in the period.
    async fn trainings(&self) -> i64 {
        self.figures.trainings
    }

    /// Registrations of those trainings, cancelled ones excepted.
    async fn registrations(&self) -> i64 {
        self.figures.registrations
    }

    /// Check-ins.
    async fn attendances(&self) -> i64 {
        self.figures.attendances
    }

    /// Distinct people checked in at least once.
    async fn people_trained(&self) -> i64 {
        self.figures.people_trained
    }

    async fn women(&self) -> i64 {
        self.figures.women
    }

    async fn men(&self) -> i64 {
        self.figures.men
    }

    /// People trained whose profile gives no gender.
    async fn gender_unknown(&self) -> i64 {
        self.figures.gender_unknown
    }

    /// Women ÷ people trained whose gender is known (null when none is).
    async fn women_share(&self) -> Option<f64> {
        self.figures.women_share()
    }
}

/// A category's training figures.
#[derive(SimpleObject)]
pub struct TrainingCategoryStatistics {
    category: GqlCategory,
    figures: TrainingStatistics,
}

/// A unit's training figures, each direct child's, and the unit's by category.
pub struct TrainingStatisticsReport(svc::TrainingStats);

#[Object]
impl TrainingStatisticsReport {
    async fn total(&self) -> TrainingStatistics {
        TrainingStatistics { unit: Some(self.0.unit.clone()), figures: self.0.total.clone() }
    }

    /// One entry per direct child, by name.
    async fn children(&self) -> Vec<TrainingStatistics> {
        self.0
            .children
            .iter()
            .map(|(u, f)| TrainingStatistics { unit: Some(u.clone()), figures: f.clone() })
            .collect()
    }

    /// The unit's figures per category (every category, zeros included).
    async fn by_category(&self) -> Vec<TrainingCategoryStatistics> {
        self.0
            .by_category
            .iter()
            .map(|c| TrainingCategoryStatistics {
                category: c.category.into(),
                figures: TrainingStatistics { unit: None, figures: c.figures.clone() },
            })
            .collect()
    }
}

#[derive(Default)]
pub struct StatsQuery;

#[Object]
impl StatsQuery {
    /// Training statistics of a unit in reach (any officer role over it) for the days `from` to
    /// `to` inclusive (Asia/Ho_Chi_Minh), by the start of each training.
    async fn training_statistics(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        from: Date,
        to: Date,
    ) -> Result<TrainingStatisticsReport> {
        ctx.auth()?.require()?;
        let unit = GlobalId::decode_id::<UnitId>(&unit_id, "unitId")?;
        Ok(TrainingStatisticsReport(svc::training_statistics(ctx.call()?, unit, from.0, to.0).await?))
    }
}
