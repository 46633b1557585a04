//! The officers' dashboards of a campaign (`Campaign.dashboard`) and of a training
//! (`Training.dashboard`); see `service::campaigns::dashboard` and
//! `service::trainings::training_dashboard`.

use async_graphql::{Object, SimpleObject};

use crate::graphql::{campaigns::targets::Period, org::OrgUnit};
use service::{
    campaigns::dashboard::{self as svc, FanoutProgress},
    trainings::TrainingDashboard as Figures,
};

/// A campaign's figures over a unit's subtree and its children's.
pub struct CampaignDashboard(pub svc::CampaignDashboard);

#[Object]
impl CampaignDashboard {
    /// The unit's own figures, over its whole subtree.
    async fn total(&self) -> CampaignUnitPledges {
        CampaignUnitPledges(self.0.total.clone())
    }

    /// Each direct child of the unit, by name, over its subtree.
    async fn children(&self) -> Vec<CampaignUnitPledges> {
        self.0.children.iter().cloned().map(CampaignUnitPledges).collect()
    }

    /// The campaign's term, as whole years.
    async fn period(&self) -> Period {
        self.0.period.into()
    }

    /// The unit's `HOUSEHOLDS_CERTIFIED` target for the campaign's term; null when none is set.
    async fn household_target(&self) -> Option<f64> {
        self.0.household_target
    }

    /// Certified households of the campaign over the target (0.75 = 75%); null without a
    /// target above 0.
    async fn household_attainment(&self) -> Option<f64> {
        self.0
            .household_target
            .filter(|t| *t > 0.0)
            .map(|t| self.0.total.counts.certified_households as f64 / t)
    }

    /// How far the launch notice has gone out; null when the campaign was launched without it.
    async fn fanout(&self) -> Option<CampaignFanout> {
        self.0.fanout.map(CampaignFanout::from)
    }
}

/// A unit's pledges to a campaign, over its subtree.
pub struct CampaignUnitPledges(svc::UnitPledges);

#[Object]
impl CampaignUnitPledges {
    async fn unit(&self) -> OrgUnit {
        OrgUnit(self.0.unit.clone())
    }

    async fn total(&self) -> i64 {
        self.0.counts.total()
    }

    /// Waiting for review.
    async fn submitted(&self) -> i64 {
        self.0.counts.submitted
    }

    async fn certified(&self) -> i64 {
        self.0.counts.certified
    }

    /// Back with their members for changes.
    async fn returned(&self) -> i64 {
        self.0.counts.returned
    }

    /// Certified pledges of households.
    async fn certified_households(&self) -> i64 {
        self.0.counts.certified_households
    }
}

/// The launch notice's progress.
#[derive(SimpleObject)]
pub struct CampaignFanout {
    /// Every member it goes to has been notified.
    done: bool,
    /// Members notified so far (those who turned campaign notices off are passed over).
    notified: i64,
    /// The members it goes to: while it runs, the active members of the campaign's subtree (an
    /// estimate: those who turned campaign notices off are not notified); once done, `notified`.
    total: i64,
}

impl From<FanoutProgress> for CampaignFanout {
    fn from(f: FanoutProgress) -> Self {
        Self { done: f.done, notified: f.notified, total: f.total }
    }
}

/// A training's figures, for its managers.
pub struct TrainingDashboard(pub Figures);

#[Object]
impl TrainingDashboard {
    /// Null: no limit.
    async fn capacity(&self) -> Option<i32> {
        self.0.capacity
    }

    /// Null: no limit.
    async fn seats_left(&self) -> Option<i32> {
        self.0.seats_left
    }

    /// Holding a seat, not checked in (yet).
    async fn confirmed(&self) -> i64 {
        self.0.confirmed
    }

    async fn waitlisted(&self) -> i64 {
        self.0.waitlisted
    }

    /// Checked in.
    async fn attended(&self) -> i64 {
        self.0.attended
    }

    /// Held a seat and did not come (once the training is completed).
    async fn no_show(&self) -> i64 {
        self.0.no_show
    }

    async fn cancelled(&self) -> i64 {
        self.0.cancelled
    }

    /// Those who came over those who held a seat (0.9 = 90%); null before anyone held one.
    async fn attendance_rate(&self) -> Option<f64> {
        self.0.attendance_rate()
    }
}
