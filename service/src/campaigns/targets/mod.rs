//! Targets (chỉ tiêu): indicators, the target a unit has for an indicator over a period and the
//! shares it hands its direct children, the values officers report for reported indicators, and
//! progress — target, actual and attainment for a unit and each of its direct children.
//!
//! - **Indicators.** Five computed ones with fixed ids ([`NEW_MEMBERS`], [`PEOPLE_TRAINED`],
//!   [`HOUSEHOLDS_CERTIFIED`], and the shares of units rated good or better,
//!   [`BASES_RATED_GOOD`] and [`BRANCHES_RATED_GOOD`]), counted by the system, and reported ones
//!   that a `UNIT_OFFICER` or `UNIT_ADMIN` defines for her unit's subtree. An indicator is
//!   *usable* at a unit when it is computed, or reported and defined at the unit or above it;
//!   elsewhere it is `NOT_FOUND`. A share's target is a percentage each unit is held to (90
//!   for "90% of bases rated good"), not a figure divided among the children.
//! - **Periods** are spans of whole years ([`Period`]): one year, or a term such as 2021–2026.
//! - **Targets**: at most one per (unit, period, indicator). A `UNIT_OFFICER`/`UNIT_ADMIN` at or
//!   above a unit sets its own target and its direct children's shares in one call. A target
//!   that came from above (a share, or a value set by someone holding the role strictly above the
//!   unit) is `assigned_by_parent`, and only someone strictly above the unit may change it: a
//!   district officer divides the city's figure for her district, she does not rewrite it.
//! - **Reported values** are never updated but to be superseded: the row without
//!   `superseded_at` is the current value (the partial unique index `ux_reported_value_current`
//!   keeps it unique), the others are its history.
//! - **Progress** reads the per-day counters that every unit holds for its whole subtree
//!   (`unit_member_day`, `unit_activity_day`) and the current reported values of the subtree, in
//!   one statement for all indicators, the unit and its children. Partners read the same
//!   progress, coarsened, through `integrations::statistics::targets`.

mod progress;
mod reported;
mod set;

use crate::Call;
use crate::audit;
use chrono::{NaiveDate, Utc};
use entities::ids::UnitId;
use entities::{indicator, org_unit};
use sea_orm::TransactionTrait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, Set,
    sea_query::{Expr, ExprTrait, Query, SelectStatement},
};
use uuid::Uuid;

pub use progress::{IndicatorProgress, MAX_ASKED, ProgressRow, target_progress};
pub(crate) use progress::{Listed, progress_of};
pub use reported::{HistoryCursor, ReportInput, indicator_value_history, report_indicator_value};
pub use set::{SetTargets, TargetInput, set_target};

use crate::{
    auth::Viewer,
    authz::{self, Capability, Decision},
    db::stmt,
    domain::normalise_text,
    domain::{GlobalId, NodeKind},
    error::{ApiError, ConflictKind, InputProblem, is_unique_violation},
    org::get_unit,
};

/// Computed indicator: members who joined (`unit_member_day.joined`).
pub const NEW_MEMBERS: Uuid = Uuid::from_u128(1);
/// Computed indicator: check-ins at trainings (`unit_activity_day`, `ATTENDED`).
pub const PEOPLE_TRAINED: Uuid = Uuid::from_u128(2);
/// Computed indicator: certified household pledges (`unit_activity_day`, `HOUSEHOLDS_CERTIFIED`).
pub const HOUSEHOLDS_CERTIFIED: Uuid = Uuid::from_u128(3);
/// Computed indicator: the share (%) of the confirmed ratings of bases in the period's years
/// that are good or better (`unit_rating`; see `ratings`).
pub const BASES_RATED_GOOD: Uuid = Uuid::from_u128(4);
/// Computed indicator: the same share for branches.
pub const BRANCHES_RATED_GOOD: Uuid = Uuid::from_u128(5);

pub use entities::indicator::{Aggregation, IndicatorKind};

/// Earliest and latest year of a period.
pub const MIN_YEAR: i32 = 2000;
pub const MAX_YEAR: i32 = 2100;
/// Most years a period covers.
pub const MAX_YEARS: i32 = 10;

/// Whole years `from_year..=to_year`: from 1 January of the first to 31 December of the last,
/// Hanoi days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from_year: i32,
    pub to_year: i32,
}

impl Period {
    /// Either `year`, or `from` and `to` (both); years 2000–2100, `to ≥ from`, at most
    /// [`MAX_YEARS`] years. `BAD_USER_INPUT` on `field`: `EXACTLY_ONE` or `OUT_OF_RANGE`.
    pub fn parse(
        year: Option<i32>,
        from: Option<i32>,
        to: Option<i32>,
        field: &'static str,
    ) -> Result<Self, ApiError> {
        let (from_year, to_year) = match (year, from, to) {
            (Some(y), None, None) => (y, y),
            (None, Some(f), Some(t)) => (f, t),
            _ => return Err(ApiError::bad_input(field, InputProblem::ExactlyOne)),
        };
        let years = MIN_YEAR..=MAX_YEAR;
        if !years.contains(&from_year) || !years.contains(&to_year) || to_year < from_year {
            return Err(ApiError::bad_input(field, InputProblem::OutOfRange));
        }
        if to_year - from_year >= MAX_YEARS {
            return Err(ApiError::bad_input(field, InputProblem::OutOfRange));
        }
        Ok(Self { from_year, to_year })
    }

    /// The first and last day of the period.
    pub fn days(self) -> Result<(NaiveDate, NaiveDate), ApiError> {
        let day = |y, m, d| {
            NaiveDate::from_ymd_opt(y, m, d)
                .ok_or_else(|| ApiError::internal(format_args!("no day {y}-{m}-{d}")))
        };
        Ok((day(self.from_year, 1, 1)?, day(self.to_year, 12, 31)?))
    }
}

/// A target or reported value: finite and not negative.
fn check_value(value: f64, field: &'static str) -> Result<f64, ApiError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(ApiError::bad_input(field, InputProblem::OutOfRange))
    }
}

/// User-typed text, normalised: 1–`max` characters.
fn required_text(raw: &str, max: usize, field: &'static str) -> Result<String, ApiError> {
    let text = normalise_text(raw);
    match text.chars().count() {
        0 => Err(ApiError::bad_input(field, InputProblem::Required)),
        n if n > max => Err(ApiError::bad_input(field, InputProblem::TooLong)),
        _ => Ok(text),
    }
}

/// A reported indicator an officer defines.
#[derive(Clone, Debug)]
pub struct IndicatorInput {
    /// Its stable code (`CLUBS_FOUNDED`): 2–40 of `A`–`Z`, digits and `_`, starting with a
    /// letter, unique; made from the name when not given.
    pub code: Option<String>,
    /// 1–200 characters.
    pub name: String,
    /// 1–50 characters, e.g. "%" or "hộ".
    pub unit_of_measure: String,
    pub aggregation: Aggregation,
}

/// Defines a reported indicator for the subtree of `unit_id` (a `UNIT_OFFICER` or `UNIT_ADMIN`
/// at or above it).
pub async fn create_indicator(
    call: Call<'_>,
    unit_id: UnitId,
    input: IndicatorInput,
) -> Result<indicator::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    get_unit(db, unit_id).await?;
    let acting = authz::require(db, viewer, Capability::SetTargets, unit_id).await?;
    let name = required_text(&input.name, 200, "name")?;
    let unit_of_measure = required_text(&input.unit_of_measure, 50, "unit_of_measure")?;
    let given = input.code.as_deref().map(parse_indicator_code).transpose()?;
    // A code made from the name is made again if a concurrent call took it first.
    let mut attempts = 0;
    let (row, txn) = loop {
        attempts += 1;
        let code = match &given {
            Some(code) => code.clone(),
            None => free_code(db, &name).await?,
        };
        let txn = db.begin().await?;
        let inserted = indicator::ActiveModel {
            id: Set(Uuid::now_v7()),
            code: Set(Some(code)),
            kind: Set(IndicatorKind::Reported),
            name: Set(name.clone()),
            unit_of_measure: Set(unit_of_measure.clone()),
            aggregation: Set(input.aggregation),
            unit_id: Set(Some(unit_id)),
            created_by: Set(Some(viewer.person_id)),
            created_at: Set(Utc::now()),
        }
        .insert(&txn)
        .await;
        match inserted {
            Ok(row) => break (row, txn),
            Err(e) if is_unique_violation(&e) && given.is_none() && attempts < 5 => continue,
            Err(e) if is_unique_violation(&e) => return Err(ApiError::Conflict(ConflictKind::CodeTaken)),
            Err(e) => return Err(e.into()),
        }
    };
    let entry =
        audit::Entry::new(audit::Action::IndicatorCreated, unit_id, audit::SubjectKind::Indicator, row.id)
            .set("code", &row.code)
            .set("name", &row.name)
            .set("unitOfMeasure", &row.unit_of_measure)
            .set("aggregation", row.aggregation);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    tracing::info!(event = "indicator_created", indicator_id = %row.id, unit_id = %unit_id, "indicator created");
    Ok(row)
}

/// The longest indicator code.
const MAX_CODE: usize = 40;

/// An indicator code as typed: trimmed and upper-cased; 2–40 of `A`–`Z`, digits and `_`,
/// starting with a letter.
fn parse_indicator_code(raw: &str) -> Result<String, ApiError> {
    let code = raw.trim().to_ascii_uppercase();
    let well_formed = (2..=MAX_CODE).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if well_formed { Ok(code) } else { Err(ApiError::bad_input("code", InputProblem::InvalidFormat)) }
}

/// A code made from a name ("Số câu lạc bộ mới" → `SO_CAU_LAC_BO_MOI`), with `_2`, `_3`… when
/// taken.
async fn free_code(conn: &impl ConnectionTrait, name: &str) -> Result<String, ApiError> {
    let folded = crate::domain::fold_for_search(name).to_ascii_uppercase();
    let mut base: String = folded
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    if !base.starts_with(|c: char| c.is_ascii_uppercase()) {
        base.insert_str(0, "I_");
    }
    base.truncate(MAX_CODE - 4);
    let base = base.trim_end_matches('_').to_owned();
    for n in 1..1000 {
        let code = if n == 1 { base.clone() } else { format!("{base}_{n}") };
        if code.len() >= 2 && indicator_by_code(conn, &code).await?.is_none() {
            return Ok(code);
        }
    }
    Err(ApiError::Conflict(ConflictKind::CodeTaken))
}

async fn indicator_by_code(
    conn: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<indicator::Model>, ApiError> {
    Ok(indicator::Entity::find().filter(indicator::Column::Code.eq(code)).one(conn).await?)
}

/// The indicator `raw` names: its global id, or its stable code (`HOUSEHOLDS_CERTIFIED`, or a
/// reported indicator's, case aside). An unknown code is `NOT_FOUND`; what may be done with
/// the indicator is checked where it is used.
pub async fn indicator_ref(call: Call<'_>, raw: &str, field: &'static str) -> Result<Uuid, ApiError> {
    if let Ok(id) = GlobalId::decode_as(raw, NodeKind::Indicator, field) {
        return Ok(id);
    }
    let code = parse_indicator_code(raw).map_err(|_| ApiError::bad_input(field, InputProblem::InvalidId))?;
    indicator_by_code(&call.state.db, &code).await?.map(|i| i.id).ok_or(ApiError::NotFound)
}

/// The ids of `unit_id` and every unit above it, as a subquery.
fn ancestors_select(unit_id: UnitId) -> SelectStatement {
    use entities::org_unit_closure as c;
    Query::select()
        .column(c::Column::AncestorId)
        .from(c::Entity)
        .and_where(Expr::col(c::Column::DescendantId).eq(unit_id))
        .to_owned()
}

/// Indicators usable at `unit_id`: the computed ones, and those defined at it or above.
fn usable_at(unit_id: UnitId) -> Condition {
    Condition::any()
        .add(indicator::Column::UnitId.is_null())
        .add(indicator::Column::UnitId.in_subquery(ancestors_select(unit_id)))
}

/// The indicators usable at a unit (any officer role over it): the computed ones first, then
/// the reported ones in the order they were defined.
pub async fn indicators(call: Call<'_>, unit_id: UnitId) -> Result<Vec<indicator::Model>, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    get_unit(db, unit_id).await?;
    authz::require(db, viewer, Capability::ViewUnit, unit_id).await?;
    Ok(indicator::Entity::find()
        .filter(usable_at(unit_id))
        .order_by_asc(indicator::Column::Kind)
        .order_by_asc(indicator::Column::CreatedAt)
        .order_by_asc(indicator::Column::Id)
        .all(db)
        .await?)
}

/// The indicator when it is usable at `unit_id`, else `NOT_FOUND`.
async fn usable_indicator(
    conn: &impl ConnectionTrait,
    id: Uuid,
    unit_id: UnitId,
) -> Result<indicator::Model, ApiError> {
    indicator::Entity::find_by_id(id).filter(usable_at(unit_id)).one(conn).await?.ok_or(ApiError::NotFound)
}

#[derive(FromQueryResult)]
struct Seen {
    n: i64,
}

/// An indicator, for `node(id)`: a computed one for anybody holding an officer role; a reported
/// one for those holding a role at, above or below the unit that defined it (it shows in their
/// indicators or progress). Anyone else gets `NOT_FOUND`.
pub async fn get_indicator(call: Call<'_>, id: Uuid) -> Result<indicator::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let found = indicator::Entity::find_by_id(id).one(db).await?.ok_or(ApiError::NotFound)?;
    let Some(unit_id) = found.unit_id else {
        authz::require_somewhere(db, viewer, Capability::ViewUnit).await.map_err(authz::hide_forbidden)?;
        return Ok(found);
    };
    let p = viewer.person_id;
    let seen = Seen::find_by_statement(stmt(
        db.get_database_backend(),
        "SELECT COUNT(*) AS n FROM ( \
           SELECT 1 AS x FROM officer_role r JOIN org_unit_closure c ON c.ancestor_id = r.unit_id \
             WHERE c.descendant_id = ? AND r.person_id = ? AND r.revoked_at IS NULL \
           UNION ALL SELECT 1 AS x FROM officer_role r JOIN org_unit_closure c ON c.descendant_id = r.unit_id \
             WHERE c.ancestor_id = ? AND r.person_id = ? AND r.revoked_at IS NULL \
         ) seen",
        [unit_id.into(), p.into(), unit_id.into(), p.into()],
    ))
    .one(db)
    .await?
    .is_some_and(|s| s.n > 0);
    if seen || authz::is_system_admin(db, p).await? { Ok(found) } else { Err(ApiError::NotFound) }
}

/// Checks that the viewer may set targets of `unit` and tells whether she stands strictly
/// above it (a system administrator does), and the role that allows it. `NOT_FOUND` without
/// any role over the unit, else `FORBIDDEN`.
async fn require_target_manager(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    unit: &org_unit::Model,
) -> Result<(bool, authz::ActingAs), ApiError> {
    match authz::decide(conn, viewer.person_id, Capability::SetTargets, unit.into()).await? {
        Decision::Allowed { above, by } => Ok((above, by)),
        denied => Err(denied.into_result().err().unwrap_or(ApiError::Forbidden)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(r: Result<Period, ApiError>) -> Option<InputProblem> {
        match r {
            Err(ApiError::BadInput { field: "period", problem }) => Some(problem),
            _ => None,
        }
    }

    #[test]
    fn a_period_is_one_year_or_a_term_of_at_most_ten() {
        assert_eq!(
            Period::parse(Some(2026), None, None, "period").ok(),
            Some(Period { from_year: 2026, to_year: 2026 })
        );
        assert_eq!(
            Period::parse(None, Some(2021), Some(2030), "period").ok(),
            Some(Period { from_year: 2021, to_year: 2030 })
        );
        let exactly_one = Some(InputProblem::ExactlyOne);
        assert_eq!(problem(Period::parse(None, None, None, "period")), exactly_one);
        assert_eq!(problem(Period::parse(Some(2026), Some(2021), Some(2026), "period")), exactly_one);
        assert_eq!(problem(Period::parse(None, Some(2021), None, "period")), exactly_one);
        assert_eq!(problem(Period::parse(Some(2026), None, Some(2026), "period")), exactly_one);
        let out = Some(InputProblem::OutOfRange);
        assert_eq!(problem(Period::parse(Some(1999), None, None, "period")), out);
        assert_eq!(problem(Period::parse(Some(2101), None, None, "period")), out);
        assert_eq!(problem(Period::parse(None, Some(2026), Some(2021), "period")), out);
        assert_eq!(problem(Period::parse(None, Some(2021), Some(2031), "period")), out);
    }

    #[test]
    fn a_period_runs_from_new_year_to_new_years_eve() {
        let (from, to) = Period { from_year: 2021, to_year: 2026 }.days().unwrap();
        assert_eq!((from.to_string(), to.to_string()), ("2021-01-01".into(), "2026-12-31".into()));
    }
}
