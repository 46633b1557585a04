//! GraphQL surface of the units' yearly emulation ratings: the criteria a level sets for the
//! units below it, a unit's self-assessment and proposal, the review above it, and the lists
//! and summaries of a subtree. Rules in `service::ratings`.

use std::collections::HashMap;

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject, connection::Connection};
use chrono::{DateTime, Utc};
use entities::{ids::UnitId, rating_criterion, unit_rating};
use uuid::Uuid;

use super::{
    ContextExt,
    connection::{build, page},
    errors::in_argument,
    identity::PersonRef,
    org::{GqlUnitKind, OrgUnit},
};
use service::{
    domain::{GlobalId, NodeKind},
    error::{ApiError, InputProblem},
    ratings::{self as svc, Detail, RatingLevel, RatingStatus},
};

/// A unit's rating for a year (xếp loại thi đua), best first.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "RatingLevel", remote = "RatingLevel")]
pub enum GqlLevel {
    /// Hoàn thành xuất sắc nhiệm vụ.
    Excellent,
    /// Hoàn thành tốt nhiệm vụ.
    Good,
    /// Hoàn thành nhiệm vụ.
    Fair,
    /// Không hoàn thành nhiệm vụ.
    Weak,
}

/// Where a unit's rating stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "RatingStatus", remote = "RatingStatus")]
pub enum GqlStatus {
    /// Being written by the unit (again, when sent back: see `returnReason`).
    Draft,
    /// Waiting for the level above.
    Submitted,
    /// Decided by the level above: final.
    Confirmed,
}

/// A criterion the units directly below a unit are assessed against in a year.
pub struct RatingCriterion(rating_criterion::Model);

#[Object]
impl RatingCriterion {
    /// Its id, as a `RatingScoreInput` names it.
    async fn id(&self) -> ID {
        self.0.id.to_string().into()
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// The most points it gives.
    async fn max_score(&self) -> i32 {
        self.0.max_score
    }

    /// The year it is for.
    async fn year(&self) -> i32 {
        self.0.year
    }
}

/// The points a rating claims for one criterion.
pub struct RatingScore {
    criterion: Option<rating_criterion::Model>,
    score: entities::unit_rating_score::Model,
}

#[Object]
impl RatingScore {
    async fn criterion(&self) -> Option<RatingCriterion> {
        self.criterion.clone().map(RatingCriterion)
    }

    async fn score(&self) -> i32 {
        self.score.score
    }

    /// What shows it.
    async fn evidence(&self) -> Option<&str> {
        self.score.evidence.as_deref()
    }
}

/// A unit's rating for a year: its self-assessment and proposal, and what the level above
/// decided. Any officer over the unit reads it.
pub struct UnitRating {
    row: unit_rating::Model,
    detail: Detail,
}

impl UnitRating {
    /// A rating with its criteria and scores.
    pub async fn load(ctx: &Context<'_>, row: unit_rating::Model) -> Result<Self, ApiError> {
        let mut all = Self::load_all(ctx, vec![row]).await?;
        all.pop().ok_or(ApiError::NotFound)
    }

    /// Ratings with their criteria and scores, in three statements whatever their number.
    async fn load_all(ctx: &Context<'_>, rows: Vec<unit_rating::Model>) -> Result<Vec<Self>, ApiError> {
        let db = &ctx.state().map_err(|_| ApiError::Internal)?.db;
        let mut details = svc::details(db, &rows).await?;
        Ok(rows
            .into_iter()
            .map(|row| Self { detail: details.remove(&row.id).unwrap_or_default(), row })
            .collect())
    }
}

#[Object]
impl UnitRating {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::UnitRating, self.row.id).encode().into()
    }

    async fn unit(&self, ctx: &Context<'_>) -> Result<Option<OrgUnit>> {
        Ok(super::unit(ctx, self.row.unit_id).await?.map(OrgUnit))
    }

    async fn year(&self) -> i32 {
        self.row.year
    }

    async fn status(&self) -> GqlStatus {
        self.row.status.into()
    }

    /// What the unit proposes for itself.
    async fn proposed_rating(&self) -> Option<GqlLevel> {
        self.row.proposed.map(Into::into)
    }

    /// The unit's account of its year.
    async fn self_assessment(&self) -> Option<&str> {
        self.row.self_assessment.as_deref()
    }

    /// The rating the level above confirmed; null until then.
    async fn rating(&self) -> Option<GqlLevel> {
        self.row.rating.map(Into::into)
    }

    /// Why the confirmed rating differs from the proposal.
    async fn change_reason(&self) -> Option<&str> {
        self.row.change_reason.as_deref()
    }

    /// Why the level above last sent it back.
    async fn return_reason(&self) -> Option<&str> {
        self.row.return_reason.as_deref()
    }

    /// The criteria it is assessed against (set by the unit's parent for the year), in order.
    async fn criteria(&self) -> Vec<RatingCriterion> {
        self.detail.criteria.iter().cloned().map(RatingCriterion).collect()
    }

    /// The points claimed, in the order of the criteria.
    async fn scores(&self) -> Vec<RatingScore> {
        self.detail
            .scores
            .iter()
            .map(|s| RatingScore {
                criterion: self.detail.criteria.iter().find(|c| c.id == s.criterion_id).cloned(),
                score: s.clone(),
            })
            .collect()
    }

    /// The points claimed over all criteria.
    async fn total_score(&self) -> i32 {
        self.detail.totals().0
    }

    /// The most points the criteria give.
    async fn max_score(&self) -> i32 {
        self.detail.totals().1
    }

    async fn submitted_by(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        PersonRef::load(ctx, self.row.submitted_by).await
    }

    async fn submitted_at(&self) -> Option<DateTime<Utc>> {
        self.row.submitted_at
    }

    async fn confirmed_by(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        PersonRef::load(ctx, self.row.confirmed_by).await
    }

    async fn confirmed_at(&self) -> Option<DateTime<Utc>> {
        self.row.confirmed_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

/// How the units of one kind below a unit stand for a year.
#[derive(SimpleObject)]
pub struct RatingKindSummary {
    pub kind: GqlUnitKind,
    /// Units of the kind below.
    pub units: i64,
    /// Units with no rating begun.
    pub not_started: i64,
    pub drafts: i64,
    /// Waiting for the level above.
    pub submitted: i64,
    pub excellent: i64,
    pub good: i64,
    pub fair: i64,
    pub weak: i64,
    /// Confirmed good or better over confirmed (0.9 = 90%); null before any is confirmed.
    pub good_or_better_share: Option<f64>,
}

impl From<svc::KindSummary> for RatingKindSummary {
    fn from(s: svc::KindSummary) -> Self {
        Self {
            kind: s.kind.into(),
            units: s.units,
            not_started: s.not_started,
            drafts: s.drafts,
            submitted: s.submitted,
            excellent: s.excellent,
            good: s.good,
            fair: s.fair,
            weak: s.weak,
            good_or_better_share: s.good_or_better_share(),
        }
    }
}

/// Extra fields of the list of ratings.
pub struct UnitRatingListFields {
    filter: svc::Filter,
}

#[Object]
impl UnitRatingListFields {
    /// Ratings matching the filter (one more statement, only when asked).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(svc::count(&ctx.state()?.db, self.filter).await?)
    }
}

/// A criterion to set.
#[derive(InputObject)]
pub struct RatingCriterionInput {
    /// 1–300 characters.
    pub title: String,
    /// Up to 2,000 characters.
    pub description: Option<String>,
    /// The most points it gives: 1–1,000.
    pub max_score: i32,
}

/// The points claimed for one criterion.
#[derive(InputObject)]
pub struct RatingScoreInput {
    /// A criterion's `id` (from `ratingCriteria`).
    pub criterion_id: ID,
    /// 0 to the criterion's `maxScore`.
    pub score: i32,
    /// What shows it: up to 2,000 characters.
    pub evidence: Option<String>,
}

/// What `saveUnitRating` writes. Scores given replace those saved for the same criteria; the
/// others stay.
#[derive(InputObject)]
pub struct UnitRatingInput {
    #[graphql(default)]
    pub scores: Vec<RatingScoreInput>,
    /// Null keeps the proposal saved.
    pub proposed_rating: Option<GqlLevel>,
    /// The unit's account of its year, up to 4,000 characters; null keeps it, blank clears it.
    pub self_assessment: Option<String>,
    /// Submit it to the level above once saved (every criterion scored and a proposal needed).
    #[graphql(default)]
    pub submit: bool,
}

fn unit_arg(id: &ID, field: &'static str) -> Result<UnitId, ApiError> {
    GlobalId::decode_id(id, field)
}

fn rating_arg(id: &ID) -> Result<Uuid, ApiError> {
    GlobalId::decode_as(id, NodeKind::UnitRating, "ratingId")
}

#[derive(Default)]
pub struct RatingQuery;

#[Object]
impl RatingQuery {
    /// A unit's rating for a year (any officer over the unit); null when none was begun.
    async fn unit_rating(&self, ctx: &Context<'_>, unit_id: ID, year: i32) -> Result<Option<UnitRating>> {
        ctx.auth()?.require()?;
        let unit = unit_arg(&unit_id, "unitId")?;
        match svc::of_unit(ctx.call()?, unit, year).await? {
            Some(row) => Ok(Some(UnitRating::load(ctx, row).await?)),
            None => Ok(None),
        }
    }

    /// The ratings of a year of the units below a unit (any officer over it), in the order of
    /// their codes (which follows the tree); by status and kind of unit when given.
    #[allow(clippy::too_many_arguments)]
    async fn unit_ratings(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        year: i32,
        status: Option<GqlStatus>,
        kind: Option<GqlUnitKind>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, UnitRating, UnitRatingListFields>> {
        ctx.auth()?.require()?;
        let filter = svc::Filter {
            unit_id: unit_arg(&unit_id, "unitId")?,
            year,
            status: status.map(Into::into),
            kind: kind.map(Into::into),
        };
        let page = page::<svc::Cursor>(first, after.as_deref())?;
        let had_cursor = page.after.is_some();
        let (rows, has_next) = svc::list(ctx.call()?, filter, page.first, page.after).await?;
        let codes: HashMap<Uuid, String> = rows.iter().map(|(r, code)| (r.id, code.clone())).collect();
        let ratings = UnitRating::load_all(ctx, rows.into_iter().map(|(r, _)| r).collect()).await?;
        Ok(build(
            ratings,
            has_next,
            had_cursor,
            UnitRatingListFields { filter },
            |r| codes[&r.row.id].clone(),
            |r| r,
        ))
    }

    /// For each kind of unit below a unit (any officer over it), how its units stand for a year:
    /// not started, drafts, waiting, and confirmed by rating.
    async fn rating_summary(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        year: i32,
    ) -> Result<Vec<RatingKindSummary>> {
        ctx.auth()?.require()?;
        let unit = unit_arg(&unit_id, "unitId")?;
        Ok(svc::summary(ctx.call()?, unit, year).await?.into_iter().map(Into::into).collect())
    }

    /// The criteria a unit is assessed against for a year (those its parent set), in order
    /// (any officer over the unit).
    async fn rating_criteria(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        year: i32,
    ) -> Result<Vec<RatingCriterion>> {
        ctx.auth()?.require()?;
        let unit = unit_arg(&unit_id, "unitId")?;
        Ok(svc::criteria::for_unit(ctx.call()?, unit, year).await?.into_iter().map(RatingCriterion).collect())
    }
}

#[derive(Default)]
pub struct RatingMutation;

#[Object]
impl RatingMutation {
    /// Sets the criteria of a year for the units directly below `unitId` (whoever sets their
    /// targets), replacing those set before: 1–30, until one of them submits a rating.
    async fn set_rating_criteria(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        year: i32,
        criteria: Vec<RatingCriterionInput>,
    ) -> Result<Vec<RatingCriterion>> {
        ctx.auth()?.require()?;
        let unit = unit_arg(&unit_id, "unitId")?;
        let inputs = criteria
            .into_iter()
            .map(|c| svc::criteria::CriterionInput {
                title: c.title,
                description: c.description,
                max_score: c.max_score,
            })
            .collect();
        let rows = svc::criteria::set(ctx.call()?, unit, year, inputs).await?;
        Ok(rows.into_iter().map(RatingCriterion).collect())
    }

    /// Saves a unit's rating for a year (its officers, or its branch leader for a branch): a
    /// draft, made by the first save, and submitted when `input.submit` says so.
    async fn save_unit_rating(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        year: i32,
        input: UnitRatingInput,
    ) -> Result<UnitRating> {
        ctx.auth()?.require()?;
        let unit = unit_arg(&unit_id, "unitId")?;
        let mut scores = Vec::with_capacity(input.scores.len());
        for s in input.scores {
            let criterion_id = Uuid::parse_str(s.criterion_id.trim()).map_err(|_| {
                in_argument("input")(ApiError::bad_input("scores.criterion_id", InputProblem::InvalidId))
            })?;
            scores.push(svc::ScoreInput { criterion_id, score: s.score, evidence: s.evidence });
        }
        let save = svc::RatingInput {
            scores,
            proposed: input.proposed_rating.map(Into::into),
            self_assessment: input.self_assessment,
            submit: input.submit,
        };
        let row = match svc::save(ctx.call()?, unit, year, save).await {
            Ok(row) => row,
            Err(e @ ApiError::BadInput { field: "unit_id" | "year", .. }) => return Err(e.into()),
            Err(e) => return Err(in_argument("input")(e).into()),
        };
        Ok(UnitRating::load(ctx, row).await?)
    }

    /// Confirms a submitted rating (officers and admins above its unit; not the one who
    /// submitted it): as proposed, or as `rating` with a `reason` (1–1,000 characters). Final.
    async fn confirm_unit_rating(
        &self,
        ctx: &Context<'_>,
        rating_id: ID,
        rating: GqlLevel,
        reason: Option<String>,
    ) -> Result<UnitRating> {
        ctx.auth()?.require()?;
        let row =
            svc::confirm(ctx.call()?, rating_arg(&rating_id)?, rating.into(), reason.as_deref()).await?;
        Ok(UnitRating::load(ctx, row).await?)
    }

    /// Sends a submitted rating back to its unit as a draft with a reason (1–1,000 characters).
    async fn return_unit_rating(
        &self,
        ctx: &Context<'_>,
        rating_id: ID,
        reason: String,
    ) -> Result<UnitRating> {
        ctx.auth()?.require()?;
        let row = svc::send_back(ctx.call()?, rating_arg(&rating_id)?, &reason).await?;
        Ok(UnitRating::load(ctx, row).await?)
    }
}
