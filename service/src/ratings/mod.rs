//! Emulation ratings (xếp loại thi đua): every year each unit below the root is rated
//! excellent, good, fair or weak by the level above it.
//!
//! - **Criteria.** The officers of a unit (`SetTargets` over it) set, per year, the criteria the
//!   units directly below it are assessed against, each with the most points it gives
//!   ([`criteria`]). They are replaced whole, until a unit below submits a rating against them
//!   (`CONFLICT` `CRITERIA_IN_USE`): a drafted score of a criterion replaced goes with it.
//! - **Self-assessment.** A unit's officers, or its branch leader for a branch
//!   (`SubmitRating`), write its rating for a year — points and evidence per criterion, an
//!   account of the year, a proposed rating — as a draft saved as often as needed, then submit
//!   it ([`save`]); submitting needs every criterion scored and a proposal. One rating per unit
//!   and year (`ux_unit_rating_unit_year`); a year not yet begun cannot be rated, nor the root.
//!   Without criteria from the level above nothing can be saved (`CONFLICT` `NO_CRITERIA`).
//! - **Review.** Officers and admins strictly above the unit (`ReviewRatings`) confirm a
//!   submitted rating — as proposed, or changed with a reason ([`confirm`]) — or send it back
//!   with a reason ([`send_back`]); nobody decides a rating she wrote or submitted herself
//!   (`FORBIDDEN`: whoever saved it is in `unit_rating_editor`).
//!   A confirmed rating is final. Both are one conditional `UPDATE … WHERE status =
//!   'SUBMITTED'`, so of two reviewers deciding at once exactly one does; the other gets
//!   `CONFLICT` `ALREADY_DECIDED` (or `WRONG_STATUS` once it is a draft again).
//! - **Reading.** Any officer over a unit reads its ratings, those of the units below it
//!   ([`list`]) and how they stand by kind ([`summary`]).
//! - **Targets.** Two computed indicators, `BASES_RATED_GOOD` and `BRANCHES_RATED_GOOD`, are the
//!   share (in %) of the confirmed ratings of a period's years, of bases or branches of a
//!   subtree, that are good or better (see `campaigns::targets`).
//!
//! Saving, submitting and deciding lock the rating's row (`FOR UPDATE` on PostgreSQL; SQLite
//! has one writer), and saving reads the criteria `FOR SHARE`, so criteria cannot change under
//! a submission. Submissions, send-backs and confirmations are in the audit trail (area
//! `RATINGS`); drafts are the unit's working notes and are not.

pub mod criteria;
mod list;

use std::collections::HashMap;

use chrono::{Datelike, Utc};
use entities::ids::UnitId;
use entities::{org_unit, rating_criterion, unit_rating, unit_rating_score};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
    sea_query::{Expr, OnConflict},
};
use serde_json::json;
use uuid::Uuid;

pub use entities::unit_rating::{RatingLevel, RatingStatus};
pub use list::{Cursor, Filter, KindSummary, count, list, summary};

use crate::{
    Call, audit,
    authz::{self, Capability},
    domain::{GlobalId, NodeKind, hanoi_day, normalise_multiline},
    error::{ApiError, ConflictKind, InputProblem},
    notifications::{self, NewNotification, NotificationKind},
    org::get_unit,
};

/// The first year a rating or its criteria may be for.
pub const MIN_YEAR: i32 = 2000;
/// Most criteria a unit sets for a year.
pub const MAX_CRITERIA: usize = 30;
/// The longest evidence note of a score.
pub const MAX_EVIDENCE: usize = 2000;
/// The longest account of a year.
pub const MAX_SELF_ASSESSMENT: usize = 4000;
/// The longest reason of a changed rating or of a send-back.
pub const MAX_REASON: usize = 1000;

/// The current year in Hanoi.
pub fn this_year() -> i32 {
    hanoi_day(Utc::now()).year()
}

/// A year that may be rated: from [`MIN_YEAR`] to this one.
fn rated_year(year: i32) -> Result<i32, ApiError> {
    if (MIN_YEAR..=this_year()).contains(&year) {
        Ok(year)
    } else {
        Err(ApiError::bad_input("year", InputProblem::OutOfRange))
    }
}

/// Optional text of one or more lines, tidied (`normalise_multiline`), at most `max`
/// characters; blank is none.
fn optional_text(raw: Option<&str>, max: usize, field: &'static str) -> Result<Option<String>, ApiError> {
    let Some(text) = raw.map(normalise_multiline).filter(|t| !t.is_empty()) else { return Ok(None) };
    if text.chars().count() > max {
        return Err(ApiError::bad_input(field, InputProblem::TooLong));
    }
    Ok(Some(text))
}

/// The points claimed for one criterion.
#[derive(Clone, Debug)]
pub struct ScoreInput {
    pub criterion_id: Uuid,
    /// 0 to the criterion's most.
    pub score: i32,
    /// What shows it; up to 2,000 characters.
    pub evidence: Option<String>,
}

/// What [`save`] writes. Scores given replace those stored for the same criteria; the others
/// stay.
#[derive(Clone, Debug, Default)]
pub struct RatingInput {
    pub scores: Vec<ScoreInput>,
    /// `None` keeps the stored proposal.
    pub proposed: Option<RatingLevel>,
    /// `None` keeps the stored account; blank clears it.
    pub self_assessment: Option<String>,
    /// Submit it to the level above once saved.
    pub submit: bool,
}

/// What a rating is assessed against, and what it claims.
#[derive(Clone, Debug, Default)]
pub struct Detail {
    /// The criteria its unit's parent set for its year, in order.
    pub criteria: Vec<rating_criterion::Model>,
    /// Its scores, in the order of the criteria.
    pub scores: Vec<unit_rating_score::Model>,
}

impl Detail {
    /// The points claimed, and the most the criteria give.
    pub fn totals(&self) -> (i32, i32) {
        (self.scores.iter().map(|s| s.score).sum(), self.criteria.iter().map(|c| c.max_score).sum())
    }
}

/// Whether the rows read in a transaction should be locked (PostgreSQL; SQLite has one writer).
fn locks(conn: &impl ConnectionTrait) -> bool {
    conn.get_database_backend() == DbBackend::Postgres
}

/// Saves the rating of `unit_id` for `year` (`SubmitRating` over the unit): creates the draft
/// when there is none, writes the scores, proposal and account given, and submits it when
/// `input.submit` says so (every criterion scored, a proposal: `BAD_USER_INPUT` `scores` or
/// `proposed_rating` `REQUIRED`). A rating already submitted or confirmed answers `CONFLICT`
/// `WRONG_STATUS`.
pub async fn save(
    call: Call<'_>,
    unit_id: UnitId,
    year: i32,
    input: RatingInput,
) -> Result<unit_rating::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, unit_id).await?;
    let acting = authz::require(db, viewer, Capability::SubmitRating, &unit).await?;
    let Some(parent) = unit.parent_id else {
        return Err(ApiError::bad_input("unit_id", InputProblem::IsRoot));
    };
    rated_year(year)?;
    if input.scores.len() > MAX_CRITERIA {
        return Err(ApiError::bad_input("scores", InputProblem::TooMany));
    }
    let mut given: HashMap<Uuid, (i32, Option<String>)> = HashMap::new();
    for s in &input.scores {
        let evidence = optional_text(s.evidence.as_deref(), MAX_EVIDENCE, "scores.evidence")?;
        if given.insert(s.criterion_id, (s.score, evidence)).is_some() {
            return Err(ApiError::bad_input("scores.criterion_id", InputProblem::InvalidId));
        }
    }
    let self_assessment = match &input.self_assessment {
        Some(raw) => Some(optional_text(Some(raw), MAX_SELF_ASSESSMENT, "self_assessment")?),
        None => None,
    };

    let txn = db.begin().await?;
    let criteria = criteria::of_unit(&txn, parent, year, locks(&txn)).await?;
    if criteria.is_empty() {
        return Err(ApiError::Conflict(ConflictKind::NoCriteria));
    }
    for (id, (score, _)) in &given {
        let criterion = criteria
            .iter()
            .find(|c| c.id == *id)
            .ok_or(ApiError::bad_input("scores.criterion_id", InputProblem::InvalidId))?;
        if !(0..=criterion.max_score).contains(score) {
            return Err(ApiError::bad_input("scores.score", InputProblem::OutOfRange));
        }
    }
    let now = Utc::now();
    // The draft, made by the first save; two first saves at once make one (the key).
    unit_rating::Entity::insert(unit_rating::ActiveModel {
        id: Set(Uuid::now_v7()),
        unit_id: Set(unit.id),
        unit_kind: Set(unit.kind),
        criteria_unit_id: Set(parent),
        year: Set(year),
        status: Set(RatingStatus::Draft),
        proposed: Set(None),
        self_assessment: Set(None),
        rating: Set(None),
        change_reason: Set(None),
        return_reason: Set(None),
        created_by: Set(viewer.person_id),
        created_at: Set(now),
        updated_at: Set(now),
        submitted_by: Set(None),
        submitted_at: Set(None),
        confirmed_by: Set(None),
        confirmed_at: Set(None),
    })
    .on_conflict(
        OnConflict::columns([unit_rating::Column::UnitId, unit_rating::Column::Year]).do_nothing().to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let mut query = unit_rating::Entity::find()
        .filter(unit_rating::Column::UnitId.eq(unit.id))
        .filter(unit_rating::Column::Year.eq(year));
    if locks(&txn) {
        query = query.lock_exclusive();
    }
    let before = query.one(&txn).await?.ok_or(ApiError::NotFound)?;
    if before.status != RatingStatus::Draft {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    if before.criteria_unit_id != parent {
        // The unit moved (or its parent was merged) since the draft was begun: it is now
        // assessed against its new parent's criteria, and the scores of the old ones go.
        unit_rating_score::Entity::delete_many()
            .filter(unit_rating_score::Column::RatingId.eq(before.id))
            .exec(&txn)
            .await?;
    }
    // Whoever writes it may not confirm it.
    crate::db::execute(
        &txn,
        "INSERT INTO unit_rating_editor (rating_id, person_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [before.id.into(), viewer.person_id.into()],
    )
    .await?;
    for (criterion_id, (score, evidence)) in given {
        unit_rating_score::Entity::insert(unit_rating_score::ActiveModel {
            rating_id: Set(before.id),
            criterion_id: Set(criterion_id),
            score: Set(score),
            evidence: Set(evidence),
        })
        .on_conflict(
            OnConflict::columns([
                unit_rating_score::Column::RatingId,
                unit_rating_score::Column::CriterionId,
            ])
            .update_columns([unit_rating_score::Column::Score, unit_rating_score::Column::Evidence])
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    let scores = scores_of(&txn, &[before.id]).await?.remove(&before.id).unwrap_or_default();
    let mut row: unit_rating::ActiveModel = before.clone().into();
    row.criteria_unit_id = Set(parent);
    if let Some(proposed) = input.proposed {
        row.proposed = Set(Some(proposed));
    }
    if let Some(text) = self_assessment {
        row.self_assessment = Set(text);
    }
    row.updated_at = Set(now);
    let proposed = input.proposed.or(before.proposed);
    if input.submit {
        if criteria.iter().any(|c| !scores.iter().any(|s| s.criterion_id == c.id)) {
            return Err(ApiError::bad_input("scores", InputProblem::Required));
        }
        if proposed.is_none() {
            return Err(ApiError::bad_input("proposed_rating", InputProblem::Required));
        }
        row.status = Set(RatingStatus::Submitted);
        row.submitted_by = Set(Some(viewer.person_id));
        row.submitted_at = Set(Some(now));
    }
    let saved = row.update(&txn).await?;
    if input.submit {
        let total: i32 = scores.iter().map(|s| s.score).sum();
        let entry = audit::Entry::new(
            audit::Action::RatingSubmitted,
            unit.id,
            audit::SubjectKind::UnitRating,
            saved.id,
        )
        .set("year", year)
        .change("status", before.status, saved.status)
        .set("proposed", saved.proposed)
        .set("totalScore", total);
        audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    }
    txn.commit().await?;
    if input.submit {
        tracing::info!(event = "rating_submitted", rating_id = %saved.id, unit_id = %unit.id, year, "rating submitted");
    }
    Ok(saved)
}

/// The scores in the order of their criteria (those of criteria no longer set last).
fn in_criteria_order(
    mut scores: Vec<unit_rating_score::Model>,
    criteria: &[rating_criterion::Model],
) -> Vec<unit_rating_score::Model> {
    let place = |id: Uuid| criteria.iter().position(|c| c.id == id).unwrap_or(usize::MAX);
    scores.sort_by_key(|s| (place(s.criterion_id), s.criterion_id));
    scores
}

/// The scores of `ratings`, by rating (unordered).
async fn scores_of(
    conn: &impl ConnectionTrait,
    ratings: &[Uuid],
) -> Result<HashMap<Uuid, Vec<unit_rating_score::Model>>, ApiError> {
    let mut out: HashMap<Uuid, Vec<unit_rating_score::Model>> = HashMap::new();
    if ratings.is_empty() {
        return Ok(out);
    }
    let rows = unit_rating_score::Entity::find()
        .filter(unit_rating_score::Column::RatingId.is_in(ratings.iter().copied()))
        .all(conn)
        .await?;
    for row in rows {
        out.entry(row.rating_id).or_default().push(row);
    }
    Ok(out)
}

/// The criteria and scores of `ratings` (read by someone allowed to), by rating: two
/// statements whatever their number (the criteria, the scores).
pub async fn details(
    conn: &impl ConnectionTrait,
    ratings: &[unit_rating::Model],
) -> Result<HashMap<Uuid, Detail>, ApiError> {
    if ratings.is_empty() {
        return Ok(HashMap::new());
    }
    let setters: Vec<UnitId> = ratings.iter().map(|r| r.criteria_unit_id).collect();
    let years: Vec<i32> = ratings.iter().map(|r| r.year).collect();
    let criteria = rating_criterion::Entity::find()
        .filter(rating_criterion::Column::UnitId.is_in(setters))
        .filter(rating_criterion::Column::Year.is_in(years))
        .order_by_asc(rating_criterion::Column::Position)
        .all(conn)
        .await?;
    let ids: Vec<Uuid> = ratings.iter().map(|r| r.id).collect();
    let mut scores = scores_of(conn, &ids).await?;
    Ok(ratings
        .iter()
        .map(|r| {
            let criteria: Vec<rating_criterion::Model> = criteria
                .iter()
                .filter(|c| c.unit_id == r.criteria_unit_id && c.year == r.year)
                .cloned()
                .collect();
            let scores = in_criteria_order(scores.remove(&r.id).unwrap_or_default(), &criteria);
            (r.id, Detail { criteria, scores })
        })
        .collect())
}

/// A rating, for any officer over its unit (`ViewUnit`); `NOT_FOUND` for anyone else.
pub async fn get(call: Call<'_>, id: Uuid) -> Result<unit_rating::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let row = unit_rating::Entity::find_by_id(id).one(db).await?.ok_or(ApiError::NotFound)?;
    authz::require(db, viewer, Capability::ViewUnit, row.unit_id).await.map_err(authz::hide_forbidden)?;
    Ok(row)
}

/// The rating of `unit_id` for `year`, if one was begun (any officer over the unit).
pub async fn of_unit(
    call: Call<'_>,
    unit_id: UnitId,
    year: i32,
) -> Result<Option<unit_rating::Model>, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, unit_id).await?;
    authz::require(db, viewer, Capability::ViewUnit, &unit).await?;
    Ok(unit_rating::Entity::find()
        .filter(unit_rating::Column::UnitId.eq(unit_id))
        .filter(unit_rating::Column::Year.eq(year))
        .one(db)
        .await?)
}

/// A rating submitted and waiting, for a reviewer (`ReviewRatings` over its unit, not the one
/// who submitted it). `NOT_FOUND` out of reach, `FORBIDDEN` for those who may only read it.
async fn for_review(
    conn: &impl ConnectionTrait,
    viewer: &crate::auth::Viewer,
    id: Uuid,
) -> Result<(unit_rating::Model, org_unit::Model, authz::ActingAs), ApiError> {
    let row = unit_rating::Entity::find_by_id(id).one(conn).await?.ok_or(ApiError::NotFound)?;
    let unit = get_unit(conn, row.unit_id).await?;
    let acting = authz::require(conn, viewer, Capability::ReviewRatings, &unit).await?;
    if row.submitted_by == Some(viewer.person_id) || edited(conn, row.id, viewer.person_id).await? {
        return Err(ApiError::Forbidden);
    }
    Ok((row, unit, acting))
}

#[derive(sea_orm::FromQueryResult)]
struct Count {
    n: i64,
}

/// Whether `person` saved the rating `id` at some point.
async fn edited(
    conn: &impl ConnectionTrait,
    id: Uuid,
    person: entities::ids::PersonId,
) -> Result<bool, ApiError> {
    use sea_orm::FromQueryResult;
    let found = Count::find_by_statement(crate::db::stmt(
        conn.get_database_backend(),
        "SELECT COUNT(*) AS n FROM unit_rating_editor WHERE rating_id = ? AND person_id = ?",
        [id.into(), person.into()],
    ))
    .one(conn)
    .await?;
    Ok(found.is_some_and(|c| c.n > 0))
}

/// Why a conditional decision found nothing to decide: decided already, or not submitted.
async fn not_waiting(conn: &impl ConnectionTrait, id: Uuid) -> ApiError {
    match unit_rating::Entity::find_by_id(id).one(conn).await {
        Ok(Some(r)) if r.status == RatingStatus::Confirmed => {
            ApiError::Conflict(ConflictKind::AlreadyDecided)
        }
        Ok(_) => ApiError::Conflict(ConflictKind::WrongStatus),
        Err(e) => e.into(),
    }
}

/// Confirms a submitted rating (`ReviewRatings` over its unit): as proposed, or as `rating`
/// with a reason (`BAD_USER_INPUT` `reason` `REQUIRED` when it differs from the proposal). The
/// one who submitted it is told. Final: a second decision answers `CONFLICT`
/// `ALREADY_DECIDED`; a rating not submitted, `WRONG_STATUS`.
pub async fn confirm(
    call: Call<'_>,
    id: Uuid,
    rating: RatingLevel,
    reason: Option<&str>,
) -> Result<unit_rating::Model, ApiError> {
    let reason = optional_text(reason, MAX_REASON, "reason")?;
    review(call, id, Review::Confirm { rating, reason }).await
}

/// Sends a submitted rating back to its unit as a draft, with a reason (1–1,000 characters)
/// the unit reads (`ReviewRatings` over its unit); the one who submitted it is told.
pub async fn send_back(call: Call<'_>, id: Uuid, reason: &str) -> Result<unit_rating::Model, ApiError> {
    let reason = optional_text(Some(reason), MAX_REASON, "reason")?
        .ok_or(ApiError::bad_input("reason", InputProblem::Required))?;
    review(call, id, Review::SendBack { reason }).await
}

/// What a reviewer decides.
enum Review {
    Confirm { rating: RatingLevel, reason: Option<String> },
    SendBack { reason: String },
}

/// Decides a submitted rating: one conditional `UPDATE` on the submission read, the submitter
/// told, the audit entry, in one transaction.
async fn review(call: Call<'_>, id: Uuid, review: Review) -> Result<unit_rating::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let (row, unit, acting) = for_review(db, viewer, id).await?;
    if row.status != RatingStatus::Submitted {
        return Err(not_waiting(db, id).await);
    }
    if let Review::Confirm { rating, reason: None } = &review
        && row.proposed != Some(*rating)
    {
        return Err(ApiError::bad_input("reason", InputProblem::Required));
    }
    let now = Utc::now();
    let mut update =
        unit_rating::Entity::update_many().col_expr(unit_rating::Column::UpdatedAt, Expr::value(now));
    let (kind, action, mut params) = match &review {
        Review::Confirm { rating, reason } => {
            update = update
                .col_expr(unit_rating::Column::Status, Expr::value(RatingStatus::Confirmed.as_str()))
                .col_expr(unit_rating::Column::Rating, Expr::value(rating.as_str()))
                .col_expr(unit_rating::Column::ChangeReason, Expr::value(reason.clone()))
                .col_expr(unit_rating::Column::ConfirmedBy, Expr::value(viewer.person_id))
                .col_expr(unit_rating::Column::ConfirmedAt, Expr::value(now));
            (
                NotificationKind::RatingConfirmed,
                audit::Action::RatingConfirmed,
                json!({ "rating": rating.as_str() }),
            )
        }
        Review::SendBack { reason } => {
            update = update
                .col_expr(unit_rating::Column::Status, Expr::value(RatingStatus::Draft.as_str()))
                .col_expr(unit_rating::Column::ReturnReason, Expr::value(reason.clone()));
            (NotificationKind::RatingReturned, audit::Action::RatingReturned, json!({}))
        }
    };
    let txn = db.begin().await?;
    let won = update
        .filter(unit_rating::Column::Id.eq(id))
        .filter(unit_rating::Column::Status.eq(RatingStatus::Submitted.as_str()))
        // The submission read above, not one made since (a proposal that changed since needs
        // its own look, and perhaps a reason).
        .filter(unit_rating::Column::SubmittedAt.eq(row.submitted_at))
        .exec(&txn)
        .await?
        .rows_affected;
    if won == 0 {
        drop(txn);
        return Err(not_waiting(db, id).await);
    }
    let saved = unit_rating::Entity::find_by_id(id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    params["unit"] = json!(unit.name);
    params["year"] = json!(saved.year);
    let notes = notify_submitter(&txn, &saved, kind, params).await?;
    let mut entry = audit::Entry::new(action, unit.id, audit::SubjectKind::UnitRating, id)
        .set("year", saved.year)
        .change("status", row.status, saved.status);
    entry = match review {
        Review::Confirm { .. } => {
            entry.change("rating", row.proposed, saved.rating).set("changeReason", &saved.change_reason)
        }
        Review::SendBack { .. } => entry.set("reason", &saved.return_reason),
    };
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    notifications::announce(state, &notes).await;
    tracing::info!(event = "rating_reviewed", rating_id = %id, unit_id = %unit.id, status = saved.status.as_str(), "rating reviewed");
    Ok(saved)
}

/// Tells whoever submitted `rating` what became of it.
async fn notify_submitter(
    txn: &impl ConnectionTrait,
    rating: &unit_rating::Model,
    kind: NotificationKind,
    params: serde_json::Value,
) -> Result<Vec<entities::notification::Model>, ApiError> {
    let Some(person_id) = rating.submitted_by else { return Ok(Vec::new()) };
    notifications::enqueue(
        txn,
        vec![NewNotification {
            person_id,
            kind,
            params,
            link: Some(GlobalId::new(NodeKind::UnitRating, rating.id).encode()),
            duty: false,
        }],
    )
    .await
}
