//! The criteria of a year that a unit sets for the units directly below it.

use chrono::Utc;
use entities::ids::UnitId;
use entities::{rating_criterion, unit_rating, unit_rating_score};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use uuid::Uuid;

use super::{MAX_CRITERIA, MIN_YEAR, RatingStatus, locks, optional_text, this_year};
use crate::{
    Call, audit,
    authz::{self, Capability},
    domain::normalise_text,
    error::{ApiError, ConflictKind, InputProblem},
    org::get_unit,
};

/// Most points one criterion gives.
pub const MAX_POINTS: i32 = 1000;
/// The longest title of a criterion.
pub const MAX_TITLE: usize = 300;
/// The longest description of a criterion.
pub const MAX_DESCRIPTION: usize = 2000;

/// One criterion as set.
#[derive(Clone, Debug)]
pub struct CriterionInput {
    /// 1–300 characters.
    pub title: String,
    /// Up to 2,000 characters.
    pub description: Option<String>,
    /// The most points it gives: 1–1,000.
    pub max_score: i32,
}

/// The criteria `unit_id` set for `year`, in order; locked for share when `lock` (a saving
/// rating reads them so, and a change of them waits for it).
pub(crate) async fn of_unit(
    conn: &impl ConnectionTrait,
    unit_id: UnitId,
    year: i32,
    lock: bool,
) -> Result<Vec<rating_criterion::Model>, ApiError> {
    let mut query = rating_criterion::Entity::find()
        .filter(rating_criterion::Column::UnitId.eq(unit_id))
        .filter(rating_criterion::Column::Year.eq(year))
        .order_by_asc(rating_criterion::Column::Position);
    if lock {
        query = query.lock_shared();
    }
    Ok(query.all(conn).await?)
}

/// The criteria `unit_id` is rated against for `year` (those its parent set), in order, for
/// any officer over it; none for the root.
pub async fn for_unit(
    call: Call<'_>,
    unit_id: UnitId,
    year: i32,
) -> Result<Vec<rating_criterion::Model>, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, unit_id).await?;
    authz::require(db, viewer, Capability::ViewUnit, &unit).await?;
    match unit.parent_id {
        Some(parent) => of_unit(db, parent, year, false).await,
        None => Ok(Vec::new()),
    }
}

/// The criteria of `ids`, for showing the scores of ratings (unordered).
pub async fn by_ids(
    conn: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<rating_criterion::Model>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(rating_criterion::Entity::find()
        .filter(rating_criterion::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?)
}

/// Sets the criteria of `year` for the units directly below `unit_id` (`SetTargets` over it),
/// replacing those set before: 1–30 of them, for a year from 2000 to next year. Once a unit
/// below has submitted a rating for the year they are fixed (`CONFLICT` `CRITERIA_IN_USE`);
/// the scores drafts gave the criteria replaced go with them.
pub async fn set(
    call: Call<'_>,
    unit_id: UnitId,
    year: i32,
    inputs: Vec<CriterionInput>,
) -> Result<Vec<rating_criterion::Model>, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, unit_id).await?;
    let acting = authz::require(db, viewer, Capability::SetTargets, &unit).await?;
    if !(MIN_YEAR..=this_year() + 1).contains(&year) {
        return Err(ApiError::bad_input("year", InputProblem::OutOfRange));
    }
    if inputs.is_empty() {
        return Err(ApiError::bad_input("criteria", InputProblem::Required));
    }
    if inputs.len() > MAX_CRITERIA {
        return Err(ApiError::bad_input("criteria", InputProblem::TooMany));
    }
    let now = Utc::now();
    let mut rows = Vec::with_capacity(inputs.len());
    for (position, c) in inputs.iter().enumerate() {
        let title = normalise_text(&c.title);
        match title.chars().count() {
            0 => return Err(ApiError::bad_input("criteria.title", InputProblem::Required)),
            n if n > MAX_TITLE => return Err(ApiError::bad_input("criteria.title", InputProblem::TooLong)),
            _ => {}
        }
        if !(1..=MAX_POINTS).contains(&c.max_score) {
            return Err(ApiError::bad_input("criteria.max_score", InputProblem::OutOfRange));
        }
        rows.push(rating_criterion::Model {
            id: Uuid::now_v7(),
            unit_id: unit.id,
            year,
            position: position as i32,
            title,
            description: optional_text(c.description.as_deref(), MAX_DESCRIPTION, "criteria.description")?,
            max_score: c.max_score,
            created_by: viewer.person_id,
            created_at: now,
        });
    }

    let txn = db.begin().await?;
    // Lock the criteria first, then look for submissions: a rating being submitted holds them
    // for share until it commits, and is then seen here.
    let mut query = rating_criterion::Entity::find()
        .filter(rating_criterion::Column::UnitId.eq(unit.id))
        .filter(rating_criterion::Column::Year.eq(year))
        .order_by_asc(rating_criterion::Column::Position);
    if locks(&txn) {
        query = query.lock_exclusive();
    }
    let old = query.all(&txn).await?;
    let submitted = unit_rating::Entity::find()
        .filter(unit_rating::Column::CriteriaUnitId.eq(unit.id))
        .filter(unit_rating::Column::Year.eq(year))
        .filter(unit_rating::Column::Status.ne(RatingStatus::Draft.as_str()))
        .count(&txn)
        .await?;
    if submitted > 0 {
        return Err(ApiError::Conflict(ConflictKind::CriteriaInUse));
    }
    if !old.is_empty() {
        let old_ids = || old.iter().map(|c| c.id);
        unit_rating_score::Entity::delete_many()
            .filter(unit_rating_score::Column::CriterionId.is_in(old_ids()))
            .exec(&txn)
            .await?;
        rating_criterion::Entity::delete_many()
            .filter(rating_criterion::Column::Id.is_in(old_ids()))
            .exec(&txn)
            .await?;
    }
    rating_criterion::Entity::insert_many(rows.iter().cloned().map(|r| rating_criterion::ActiveModel {
        id: Set(r.id),
        unit_id: Set(r.unit_id),
        year: Set(r.year),
        position: Set(r.position),
        title: Set(r.title),
        description: Set(r.description),
        max_score: Set(r.max_score),
        created_by: Set(r.created_by),
        created_at: Set(r.created_at),
    }))
    .exec_without_returning(&txn)
    .await?;
    let listed = |cs: &[rating_criterion::Model]| {
        (!cs.is_empty()).then(|| {
            cs.iter().map(|c| format!("{} ({})", c.title, c.max_score)).collect::<Vec<_>>().join("; ")
        })
    };
    let entry = audit::Entry::new(
        audit::Action::RatingCriteriaSet,
        unit.id,
        audit::SubjectKind::RatingCriteria,
        unit.id.uuid(),
    )
    .set("year", year)
    .change("criteria", listed(&old), listed(&rows));
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    tracing::info!(event = "rating_criteria_set", unit_id = %unit.id, year, count = rows.len(), "rating criteria set");
    Ok(rows)
}
