//! GraphQL surface of targets (chỉ tiêu): indicators, setting and dividing targets, reported
//! values and their history, and progress. The rules are in `service::campaigns::targets`.

use crate::graphql::errors::in_argument;
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject, connection::Connection};
use chrono::{DateTime, Utc};
use entities::ids::UnitId;
use entities::{indicator, reported_value, target};
use uuid::Uuid;

use crate::graphql::{
    ContextExt,
    connection::{build, page},
    identity::PersonRef,
    org::OrgUnit,
};
use service::{
    campaigns::targets::{self as svc, HistoryCursor, IndicatorProgress, ProgressRow as RowData},
    domain::{GlobalId, NodeKind},
    error::{ApiError, InputProblem},
};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "IndicatorKind", remote = "service::campaigns::targets::IndicatorKind")]
pub enum GqlIndicatorKind {
    /// Counted by the system from its own data.
    Computed,
    /// Reported by officers, unit by unit.
    Reported,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "IndicatorAggregation", remote = "service::campaigns::targets::Aggregation")]
pub enum GqlAggregation {
    /// A subtree's figure is the sum of its units' figures.
    Sum,
    /// A subtree's figure is the mean of the figures of the units that reported.
    Average,
}

/// An indicator argument: its id, or its stable code (`HOUSEHOLDS_CERTIFIED`).
async fn indicator_id(ctx: &Context<'_>, id: &ID, field: &'static str) -> Result<Uuid, ApiError> {
    svc::indicator_ref(ctx.call()?, id, field).await
}

fn unit_id(id: &ID, field: &'static str) -> Result<UnitId, ApiError> {
    GlobalId::decode_id::<UnitId>(id, field)
}

async fn load_unit(ctx: &Context<'_>, id: UnitId) -> Result<OrgUnit> {
    Ok(OrgUnit(crate::graphql::unit(ctx, id).await?.ok_or(ApiError::NotFound)?))
}

/// What a target counts: computed by the system, or reported by officers.
pub struct Indicator(pub indicator::Model);

#[Object]
impl Indicator {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Indicator, self.0.id).encode().into()
    }

    /// `NEW_MEMBERS`, `PEOPLE_TRAINED`, `HOUSEHOLDS_CERTIFIED`, `BASES_RATED_GOOD` or
    /// `BRANCHES_RATED_GOOD` for the computed ones; null for reported ones.
    async fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    async fn kind(&self) -> GqlIndicatorKind {
        self.0.kind.into()
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn unit_of_measure(&self) -> &str {
        &self.0.unit_of_measure
    }

    /// How a subtree's reported values combine (computed indicators are sums).
    async fn aggregation(&self) -> GqlAggregation {
        self.0.aggregation.into()
    }

    /// The unit whose subtree may use a reported indicator; null for computed ones.
    async fn unit(&self, ctx: &Context<'_>) -> Result<Option<OrgUnit>> {
        match self.0.unit_id {
            Some(id) => Ok(Some(load_unit(ctx, id).await?)),
            None => Ok(None),
        }
    }
}

/// Whole years, from 1 January of `fromYear` to 31 December of `toYear` (Asia/Ho_Chi_Minh).
#[derive(SimpleObject, Clone, Copy)]
pub struct Period {
    from_year: i32,
    to_year: i32,
}

impl From<svc::Period> for Period {
    fn from(p: svc::Period) -> Self {
        Period { from_year: p.from_year, to_year: p.to_year }
    }
}

/// A period: either `year`, or `fromYear` and `toYear` (a term, e.g. 2021–2026). Years
/// 2000–2100, at most 10 of them. `BAD_USER_INPUT` (`EXACTLY_ONE` or `OUT_OF_RANGE`) otherwise.
#[derive(InputObject)]
pub struct PeriodInput {
    pub year: Option<i32>,
    pub from_year: Option<i32>,
    pub to_year: Option<i32>,
}

impl PeriodInput {
    pub(crate) fn parse(&self, field: &'static str) -> Result<svc::Period, ApiError> {
        svc::Period::parse(self.year, self.from_year, self.to_year, field)
    }
}

/// The target of a unit for an indicator and a period.
pub struct Target {
    row: target::Model,
    indicator: indicator::Model,
}

#[Object]
impl Target {
    async fn indicator(&self) -> Indicator {
        Indicator(self.indicator.clone())
    }

    async fn unit(&self, ctx: &Context<'_>) -> Result<OrgUnit> {
        load_unit(ctx, self.row.unit_id).await
    }

    async fn period(&self) -> Period {
        Period { from_year: self.row.from_year, to_year: self.row.to_year }
    }

    async fn value(&self) -> f64 {
        self.row.value
    }

    /// Set from above (the parent's share for this unit): only someone holding the role
    /// strictly above the unit may change it.
    async fn assigned_by_parent(&self) -> bool {
        self.row.assigned_by_parent
    }

    async fn set_by(&self, ctx: &Context<'_>) -> Result<PersonRef> {
        Ok(PersonRef(ctx.loaders()?.people.load_one(self.row.set_by).await?.ok_or(ApiError::NotFound)?))
    }

    async fn set_at(&self) -> DateTime<Utc> {
        self.row.set_at
    }
}

/// The targets after `setTarget`.
pub struct SetTargetResult(svc::SetTargets);

#[Object]
impl SetTargetResult {
    /// The unit's own target (null if it has none).
    async fn target(&self) -> Option<Target> {
        self.0.own.clone().map(|row| Target { row, indicator: self.0.indicator.clone() })
    }

    /// The shares written, in the order given.
    async fn shares(&self) -> Vec<Target> {
        self.0
            .shares
            .iter()
            .map(|row| Target { row: row.clone(), indicator: self.0.indicator.clone() })
            .collect()
    }
}

/// A value reported for a unit (its own figure, not including the units below it).
pub struct ReportedIndicatorValue(pub reported_value::Model);

#[Object]
impl ReportedIndicatorValue {
    async fn value(&self) -> f64 {
        self.0.value
    }

    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }

    async fn period(&self) -> Period {
        Period { from_year: self.0.from_year, to_year: self.0.to_year }
    }

    async fn unit(&self, ctx: &Context<'_>) -> Result<OrgUnit> {
        load_unit(ctx, self.0.unit_id).await
    }

    async fn reported_at(&self) -> DateTime<Utc> {
        self.0.reported_at
    }

    async fn reported_by(&self, ctx: &Context<'_>) -> Result<PersonRef> {
        Ok(PersonRef(ctx.loaders()?.people.load_one(self.0.reported_by).await?.ok_or(ApiError::NotFound)?))
    }

    /// The value in force (the latest); earlier ones are history.
    async fn current(&self) -> bool {
        self.0.superseded_at.is_none()
    }

    /// When a later report replaced it.
    async fn superseded_at(&self) -> Option<DateTime<Utc>> {
        self.0.superseded_at
    }
}

/// One unit's figures for an indicator.
pub struct ProgressRow(RowData);

#[Object]
impl ProgressRow {
    async fn unit(&self) -> OrgUnit {
        OrgUnit(self.0.unit.clone())
    }

    /// Null when the unit has no target for the indicator and period.
    async fn target(&self) -> Option<f64> {
        self.0.target
    }

    /// Over the unit's whole subtree. For a reported indicator: the current values of the units
    /// of the subtree (the unit's own included), summed or averaged; 0 when none reported. For
    /// a share of units rated good or better: the percentage of the confirmed ratings of the
    /// period's years of the subtree's bases or branches; 0 when none is confirmed.
    async fn actual(&self) -> f64 {
        self.0.actual
    }

    /// `actual ÷ target` as a ratio (0.75 means 75%); null without a target or with a target of 0.
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

/// Progress of a unit and its direct children towards their targets for one indicator.
pub struct TargetProgress(IndicatorProgress);

#[Object]
impl TargetProgress {
    async fn indicator(&self) -> Indicator {
        Indicator(self.0.indicator.clone())
    }

    /// The unit itself.
    async fn total(&self) -> ProgressRow {
        ProgressRow(self.0.total.clone())
    }

    /// Every direct child, by name.
    async fn children(&self) -> Vec<ProgressRow> {
        self.0.children.iter().cloned().map(ProgressRow).collect()
    }

    /// The sum of the children's targets (0 when none has one). Shares need not add up to the
    /// unit's target.
    async fn children_target_sum(&self) -> f64 {
        self.0.children_target_sum()
    }

    /// The unit's target minus `childrenTargetSum` (negative when the shares exceed it); null
    /// without a unit target.
    async fn unallocated(&self) -> Option<f64> {
        self.0.unallocated()
    }
}

#[derive(InputObject)]
pub struct CreateIndicatorInput {
    /// A stable code to address it by (`CLUBS_FOUNDED`): 2–40 of `A`–`Z`, digits and `_`,
    /// starting with a letter, unique (`CONFLICT` `CODE_TAKEN`). Made from the name when not
    /// given.
    pub code: Option<String>,
    /// 1–200 characters.
    pub name: String,
    /// 1–50 characters, e.g. "%" or "hộ".
    pub unit_of_measure: String,
    pub aggregation: GqlAggregation,
}

#[derive(InputObject)]
pub struct TargetShareInput {
    /// A direct child of the target's unit.
    pub unit_id: ID,
    /// At least 0.
    pub value: f64,
}

#[derive(InputObject)]
pub struct SetTargetInput {
    pub indicator_id: ID,
    pub unit_id: ID,
    pub period: PeriodInput,
    /// The unit's own target (at least 0); null leaves it as it is.
    pub value: Option<f64>,
    /// Shares of direct children, each at most once; they need not add up to `value`.
    #[graphql(default)]
    pub shares: Vec<TargetShareInput>,
}

#[derive(InputObject)]
pub struct ReportIndicatorValueInput {
    /// A reported indicator usable at the unit.
    pub indicator_id: ID,
    pub unit_id: ID,
    pub period: PeriodInput,
    /// The unit's own figure (at least 0), not including the units below it.
    pub value: f64,
    /// At most 500 characters.
    pub note: Option<String>,
}

#[derive(Default)]
pub struct TargetQuery;

#[Object]
impl TargetQuery {
    /// The indicators usable at a unit (any officer role over it): the computed ones, then the
    /// reported ones defined at the unit or above it.
    async fn indicators(&self, ctx: &Context<'_>, unit_id: ID) -> Result<Vec<Indicator>> {
        ctx.auth()?.require()?;
        let unit = self::unit_id(&unit_id, "unitId")?;
        Ok(svc::indicators(ctx.call()?, unit).await?.into_iter().map(Indicator).collect())
    }

    /// Progress of a unit in reach (any officer role over it) and of each direct child, for every
    /// indicator with a target at the unit or a child for exactly `period`, and for those asked
    /// for in `indicatorIds`. Actuals are rolled up over each unit's whole subtree.
    async fn target_progress(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        period: PeriodInput,
        indicator_ids: Option<Vec<ID>>,
    ) -> Result<Vec<TargetProgress>> {
        ctx.auth()?.require()?;
        let unit = self::unit_id(&unit_id, "unitId")?;
        let period = period.parse("period")?;
        let indicator_ids = indicator_ids.unwrap_or_default();
        if indicator_ids.len() > svc::MAX_ASKED {
            return Err(ApiError::bad_input("indicatorIds", InputProblem::TooMany).into());
        }
        let mut asked = Vec::with_capacity(indicator_ids.len());
        for id in &indicator_ids {
            asked.push(indicator_id(ctx, id, "indicatorIds").await?);
        }
        Ok(svc::target_progress(ctx.call()?, unit, period, &asked)
            .await?
            .into_iter()
            .map(TargetProgress)
            .collect())
    }

    /// The values reported for a unit, an indicator and a period, newest first (any officer
    /// role over the unit).
    async fn indicator_value_history(
        &self,
        ctx: &Context<'_>,
        indicator_id: ID,
        unit_id: ID,
        period: PeriodInput,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, ReportedIndicatorValue>> {
        ctx.auth()?.require()?;
        let indicator = self::indicator_id(ctx, &indicator_id, "indicatorId").await?;
        let unit = self::unit_id(&unit_id, "unitId")?;
        let period = period.parse("period")?;
        let page = page::<HistoryCursor>(first, after.as_deref())?;
        let (rows, has_next) = svc::indicator_value_history(
            ctx.call()?,
            indicator,
            unit,
            period,
            page.first,
            page.after.as_ref(),
        )
        .await?;
        Ok(build(
            rows,
            has_next,
            page.after.is_some(),
            async_graphql::connection::EmptyFields,
            |r| HistoryCursor { reported_at: r.reported_at, id: r.id },
            ReportedIndicatorValue,
        ))
    }
}

#[derive(Default)]
pub struct TargetMutation;

#[Object]
impl TargetMutation {
    /// Defines a reported indicator for a unit's subtree (a `UNIT_OFFICER` or `UNIT_ADMIN` at or
    /// above the unit).
    async fn create_indicator(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        input: CreateIndicatorInput,
    ) -> Result<Indicator> {
        ctx.auth()?.require()?;
        let unit = self::unit_id(&unit_id, "unitId")?;
        let input = svc::IndicatorInput {
            code: input.code,
            name: input.name,
            unit_of_measure: input.unit_of_measure,
            aggregation: input.aggregation.into(),
        };
        Ok(Indicator(svc::create_indicator(ctx.call()?, unit, input).await.map_err(in_argument("input"))?))
    }

    /// Sets a unit's own target and its direct children's shares (a `UNIT_OFFICER` or
    /// `UNIT_ADMIN` at or above the unit). A target assigned from above can be changed only from
    /// strictly above the unit (`FORBIDDEN`); a share for a unit that is not a direct child is
    /// `BAD_USER_INPUT` (`NOT_A_CHILD`).
    async fn set_target(&self, ctx: &Context<'_>, input: SetTargetInput) -> Result<SetTargetResult> {
        ctx.auth()?.require()?;
        let shares = input
            .shares
            .iter()
            .map(|s| Ok((unit_id(&s.unit_id, "input.shares")?, s.value)))
            .collect::<Result<Vec<_>, ApiError>>()?;
        let input = svc::TargetInput {
            indicator_id: indicator_id(ctx, &input.indicator_id, "input.indicatorId").await?,
            unit_id: unit_id(&input.unit_id, "input.unitId")?,
            period: input.period.parse("input.period")?,
            value: input.value,
            shares,
        };
        Ok(SetTargetResult(svc::set_target(ctx.call()?, input).await.map_err(in_argument("input"))?))
    }

    /// Reports a unit's own value of a reported indicator for a period (a `UNIT_OFFICER` or
    /// `UNIT_ADMIN` at or above the unit, or the `BRANCH_LEADER` of a branch). The latest value
    /// wins; earlier ones stay in `indicatorValueHistory`.
    async fn report_indicator_value(
        &self,
        ctx: &Context<'_>,
        input: ReportIndicatorValueInput,
    ) -> Result<ReportedIndicatorValue> {
        ctx.auth()?.require()?;
        let input = svc::ReportInput {
            indicator_id: indicator_id(ctx, &input.indicator_id, "input.indicatorId").await?,
            unit_id: unit_id(&input.unit_id, "input.unitId")?,
            period: input.period.parse("input.period")?,
            value: input.value,
            note: input.note,
        };
        Ok(ReportedIndicatorValue(
            svc::report_indicator_value(ctx.call()?, input).await.map_err(in_argument("input"))?,
        ))
    }
}
