//! A campaign's dashboard for the officers over a unit: its pledges by status (and the
//! certified households) in the unit's subtree and in each direct child's, the unit's
//! `HOUSEHOLDS_CERTIFIED` target for the campaign's term, and how far the launch notice has
//! gone out (notified of the members it goes to). A fixed number of statements whatever the
//! tree's size: one grouped count for the unit and all its children together.

use std::collections::HashMap;

use chrono::Datelike;
use entities::{
    campaign, fanout_job,
    ids::{CampaignId, UnitId},
    org_unit, target,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder};

use super::{
    campaign::get_campaign,
    pledges::{PledgeKind, PledgeStatus},
    targets::{HOUSEHOLDS_CERTIFIED, Period},
};
use crate::{
    Call,
    authz::{self, Capability},
    db,
    error::ApiError,
    fanout::{self, FanoutKind},
    org::get_unit,
};

/// Pledges of a subtree, by status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PledgeCounts {
    pub submitted: i64,
    pub certified: i64,
    pub returned: i64,
    /// Certified pledges of households (what `HOUSEHOLDS_CERTIFIED` counts).
    pub certified_households: i64,
}

impl PledgeCounts {
    pub fn total(&self) -> i64 {
        self.submitted + self.certified + self.returned
    }
}

/// One unit's row.
#[derive(Clone, Debug)]
pub struct UnitPledges {
    pub unit: org_unit::Model,
    pub counts: PledgeCounts,
}

/// How far a launch notice has gone out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FanoutProgress {
    pub done: bool,
    pub notified: i64,
    /// The members it goes to: the active members of the campaign's subtree now (once done,
    /// those it reached).
    pub total: i64,
}

#[derive(Clone, Debug)]
pub struct CampaignDashboard {
    pub campaign: campaign::Model,
    pub total: UnitPledges,
    /// Each direct child of the unit, by name.
    pub children: Vec<UnitPledges>,
    /// The campaign's term, as a period of whole years.
    pub period: Period,
    /// The unit's `HOUSEHOLDS_CERTIFIED` target for that period, if one is set.
    pub household_target: Option<f64>,
    /// `None` when the campaign was launched without notifying its members.
    pub fanout: Option<FanoutProgress>,
}

#[derive(FromQueryResult)]
struct CountRow {
    unit_id: UnitId,
    status: String,
    kind: String,
    n: i64,
}

#[derive(FromQueryResult)]
struct Active {
    active: i64,
}

/// The dashboard of a campaign the caller may see, for `unit_id`, which must be in her reach as
/// an officer (any role over it: `NOT_FOUND` or `FORBIDDEN` otherwise). Without `unit_id`: the
/// campaign's own unit when she is an officer over it, else the highest unit of the campaign's
/// subtree where she holds a role (a ward officer looking at a city campaign sees her ward).
pub async fn campaign_dashboard(
    call: Call<'_>,
    campaign_id: CampaignId,
    unit_id: Option<UnitId>,
) -> Result<CampaignDashboard, ApiError> {
    let c = get_campaign(call, campaign_id).await?;
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit_id = match unit_id {
        Some(id) => id,
        None => default_unit(db, viewer.person_id, &c).await?,
    };
    let unit = get_unit(db, unit_id).await?;
    authz::require(db, viewer, Capability::ViewUnit, unit.id).await?;
    let children = org_unit::Entity::find()
        .filter(org_unit::Column::ParentId.eq(unit.id))
        .filter(org_unit::Column::Status.eq(org_unit::UnitStatus::Active.as_str()))
        .order_by_asc(org_unit::Column::NameSearch)
        .order_by_asc(org_unit::Column::Id)
        .all(db)
        .await?;
    // The unit and its children, each over its whole subtree, in one grouped count.
    let rows = CountRow::find_by_statement(db::stmt(
        db.get_database_backend(),
        "SELECT c.ancestor_id AS unit_id, p.status AS status, p.kind AS kind, COUNT(*) AS n \
         FROM pledge p JOIN org_unit_closure c ON c.descendant_id = p.branch_id \
         JOIN org_unit u ON u.id = c.ancestor_id \
         WHERE p.campaign_id = ? AND (u.id = ? OR u.parent_id = ?) \
         GROUP BY c.ancestor_id, p.status, p.kind",
        [c.id.into(), unit.id.into(), unit.id.into()],
    ))
    .all(db)
    .await?;
    let mut counts: HashMap<UnitId, PledgeCounts> = HashMap::new();
    for row in rows {
        let entry = counts.entry(row.unit_id).or_default();
        match PledgeStatus::parse(&row.status) {
            Some(PledgeStatus::Submitted) => entry.submitted += row.n,
            Some(PledgeStatus::Certified) => {
                entry.certified += row.n;
                if PledgeKind::parse(&row.kind) == Some(PledgeKind::Household) {
                    entry.certified_households += row.n;
                }
            }
            Some(PledgeStatus::Returned) => entry.returned += row.n,
            None => {}
        }
    }
    let period = Period { from_year: c.term_start.year(), to_year: c.term_end.year() };
    let household_target = target::Entity::find()
        .filter(target::Column::IndicatorId.eq(HOUSEHOLDS_CERTIFIED))
        .filter(target::Column::UnitId.eq(unit.id))
        .filter(target::Column::FromYear.eq(period.from_year))
        .filter(target::Column::ToYear.eq(period.to_year))
        .one(db)
        .await?
        .map(|t| t.value);
    let fanout = launch_fanout(db, &c).await?;
    let row = |unit: org_unit::Model| UnitPledges {
        counts: counts.get(&unit.id).copied().unwrap_or_default(),
        unit,
    };
    Ok(CampaignDashboard {
        total: row(unit),
        children: children.into_iter().map(row).collect(),
        period,
        household_target,
        fanout,
        campaign: c,
    })
}

/// The unit a dashboard shows when none is asked for (see [`campaign_dashboard`]).
async fn default_unit(
    conn: &impl ConnectionTrait,
    person: entities::ids::PersonId,
    c: &campaign::Model,
) -> Result<UnitId, ApiError> {
    if authz::decide(conn, person, Capability::ViewUnit, c.unit_id.into()).await?.allowed() {
        return Ok(c.unit_id);
    }
    let held = authz::role_units(conn, person, Capability::ViewUnit).await?;
    if held.is_empty() {
        return Err(ApiError::NotFound);
    }
    let within = org_unit::Entity::find()
        .filter(org_unit::Column::Id.is_in(held))
        .filter(org_unit::Column::Id.in_subquery(authz::subtree_select(c.unit_id)))
        .order_by_asc(org_unit::Column::Depth)
        .order_by_asc(org_unit::Column::Code)
        .one(conn)
        .await?;
    within.map(|u| u.id).ok_or(ApiError::NotFound)
}

/// The launch notice's progress: its job, and while it runs, the members it goes to.
async fn launch_fanout(
    conn: &impl ConnectionTrait,
    c: &campaign::Model,
) -> Result<Option<FanoutProgress>, ApiError> {
    let Some(job) = fanout_job::Entity::find()
        .filter(fanout_job::Column::Kind.eq(FanoutKind::CampaignLaunched.as_str()))
        .filter(fanout_job::Column::SubjectId.eq(uuid::Uuid::from(c.id)))
        .order_by_desc(fanout_job::Column::CreatedAt)
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let done = job.status == fanout::DONE;
    let total = if done {
        job.notified
    } else {
        Active::find_by_statement(db::stmt(
            conn.get_database_backend(),
            "SELECT CAST(active AS BIGINT) AS active FROM unit_member_count WHERE unit_id = ?",
            [job.unit_id.into()],
        ))
        .one(conn)
        .await?
        .map_or(0, |a| a.active)
        .max(job.notified)
    };
    Ok(Some(FanoutProgress { done, notified: job.notified, total }))
}
