//! Reading the ratings of a subtree: the list a reviewer works through, and how the units of
//! each kind stand.

use std::collections::BTreeMap;

use entities::ids::UnitId;
use entities::org_unit::UnitKind;
use entities::unit_rating;
use sea_orm::{ConnectionTrait, FromQueryResult, Value};

use super::{RatingLevel, RatingStatus};
use crate::{
    Call,
    authz::{self, Capability},
    db::stmt,
    error::ApiError,
    org::get_unit,
};

/// Which ratings [`list`] reads: those of a year of the units strictly below `unit_id`.
#[derive(Clone, Copy, Debug)]
pub struct Filter {
    pub unit_id: UnitId,
    pub year: i32,
    pub status: Option<RatingStatus>,
    pub kind: Option<UnitKind>,
}

/// The keyset cursor of the list: the last unit's code (the list is in code order, which
/// follows the tree: `HN-LB-BD` before `HN-LB-BD-01`).
pub type Cursor = String;

/// The `WHERE` of the list, and its values.
fn conditions(f: &Filter) -> (String, Vec<Value>) {
    let mut sql = String::from(
        "FROM unit_rating r JOIN org_unit u ON u.id = r.unit_id \
         JOIN org_unit_closure c ON c.descendant_id = r.unit_id \
         WHERE c.ancestor_id = ? AND c.depth > 0 AND r.year = ?",
    );
    let mut values: Vec<Value> = vec![f.unit_id.into(), f.year.into()];
    if let Some(status) = f.status {
        sql.push_str(" AND r.status = ?");
        values.push(status.as_str().into());
    }
    if let Some(kind) = f.kind {
        sql.push_str(" AND r.unit_kind = ?");
        values.push(kind.as_str().into());
    }
    (sql, values)
}

/// The ratings of `filter`, in the order of their units' codes, after `after`: up to `first`,
/// and whether more follow (any officer over the unit). Two statements: the check and the page.
pub async fn list(
    call: Call<'_>,
    filter: Filter,
    first: u64,
    after: Option<Cursor>,
) -> Result<(Vec<(unit_rating::Model, String)>, bool), ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    authz::require(db, viewer, Capability::ViewUnit, filter.unit_id).await?;
    let (mut sql, mut values) = conditions(&filter);
    if let Some(code) = after {
        sql.push_str(" AND u.code > ?");
        values.push(code.into());
    }
    sql.push_str(" ORDER BY u.code LIMIT ?");
    values.push(((first + 1) as i64).into());
    let rows = Listed::find_by_statement(stmt(
        db.get_database_backend(),
        &format!(
            "SELECT r.id, r.unit_id, r.unit_kind, r.criteria_unit_id, r.year, r.status, r.proposed, r.self_assessment, \
             r.rating, r.change_reason, r.return_reason, r.created_by, r.created_at, r.updated_at, \
             r.submitted_by, r.submitted_at, r.confirmed_by, r.confirmed_at, u.code AS unit_code {sql}"
        ),
        values,
    ))
    .all(db)
    .await?;
    let has_next = rows.len() as u64 > first;
    Ok((rows.into_iter().take(first as usize).map(|l| (l.rating, l.unit_code)).collect(), has_next))
}

/// How many ratings [`list`] reads without paging (the caller was checked by it).
pub async fn count(conn: &impl ConnectionTrait, filter: Filter) -> Result<u64, ApiError> {
    let (sql, values) = conditions(&filter);
    let n = Count::find_by_statement(stmt(
        conn.get_database_backend(),
        &format!("SELECT CAST(COUNT(*) AS BIGINT) AS n {sql}"),
        values,
    ))
    .one(conn)
    .await?
    .map_or(0, |c| c.n);
    Ok(n.max(0) as u64)
}

struct Listed {
    rating: unit_rating::Model,
    unit_code: String,
}

impl FromQueryResult for Listed {
    fn from_query_result(res: &sea_orm::QueryResult, pre: &str) -> Result<Self, sea_orm::DbErr> {
        Ok(Self {
            rating: unit_rating::Model::from_query_result(res, pre)?,
            unit_code: res.try_get(pre, "unit_code")?,
        })
    }
}

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

/// How the units of one kind strictly below a unit stand for a year.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindSummary {
    pub kind: UnitKind,
    /// Units of the kind below.
    pub units: i64,
    /// No rating begun.
    pub not_started: i64,
    pub drafts: i64,
    /// Waiting for the level above.
    pub submitted: i64,
    pub excellent: i64,
    pub good: i64,
    pub fair: i64,
    pub weak: i64,
}

impl KindSummary {
    /// Confirmed ratings.
    pub fn confirmed(&self) -> i64 {
        self.excellent + self.good + self.fair + self.weak
    }

    /// Confirmed good or better ÷ confirmed (0.9 = 90%); `None` before any is confirmed.
    pub fn good_or_better_share(&self) -> Option<f64> {
        let confirmed = self.confirmed();
        (confirmed > 0).then(|| (self.excellent + self.good) as f64 / confirmed as f64)
    }
}

#[derive(FromQueryResult)]
struct Counted {
    kind: String,
    status: Option<String>,
    rating: Option<String>,
    n: i64,
}

/// The first instant after `year` (Hanoi): units merged before it did not live through the year.
fn year_end(year: i32) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    let day = chrono::NaiveDate::from_ymd_opt(year + 1, 1, 1)
        .ok_or_else(|| ApiError::internal(format_args!("no new year after {year}")))?;
    Ok(crate::domain::hanoi_day_start(day))
}

/// For each kind of unit strictly below `unit_id` (any officer over it), how its units stand
/// for `year`, from the top of the tree down: the units that lived through the year (not merged
/// before its end), and the ratings of all of them. Three statements: the check and one `UNION ALL`
/// counting the units and the ratings.
pub async fn summary(call: Call<'_>, unit_id: UnitId, year: i32) -> Result<Vec<KindSummary>, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, unit_id).await?;
    authz::require(db, viewer, Capability::ViewUnit, &unit).await?;
    let rows = Counted::find_by_statement(stmt(
        db.get_database_backend(),
        "SELECT u.kind AS kind, CAST(NULL AS VARCHAR(16)) AS status, CAST(NULL AS VARCHAR(16)) AS rating, \
           CAST(COUNT(*) AS BIGINT) AS n \
         FROM org_unit_closure c JOIN org_unit u ON u.id = c.descendant_id \
         WHERE c.ancestor_id = ? AND c.depth > 0 AND (u.merged_at IS NULL OR u.merged_at >= ?) GROUP BY u.kind \
         UNION ALL \
         SELECT r.unit_kind AS kind, r.status AS status, r.rating AS rating, CAST(COUNT(*) AS BIGINT) AS n \
         FROM unit_rating r JOIN org_unit_closure c ON c.descendant_id = r.unit_id \
         WHERE c.ancestor_id = ? AND c.depth > 0 AND r.year = ? GROUP BY r.unit_kind, r.status, r.rating",
        [unit_id.into(), year_end(year)?.into(), unit_id.into(), year.into()],
    ))
    .all(db)
    .await?;
    let mut by_kind: BTreeMap<UnitKind, KindSummary> = BTreeMap::new();
    for row in rows {
        let Some(kind) = UnitKind::parse(&row.kind) else { continue };
        let entry = by_kind.entry(kind).or_insert(KindSummary {
            kind,
            units: 0,
            not_started: 0,
            drafts: 0,
            submitted: 0,
            excellent: 0,
            good: 0,
            fair: 0,
            weak: 0,
        });
        let status = row.status.as_deref().and_then(RatingStatus::parse);
        match (status, row.rating.as_deref().and_then(RatingLevel::parse)) {
            (None, _) => entry.units += row.n,
            (Some(RatingStatus::Draft), _) => entry.drafts += row.n,
            (Some(RatingStatus::Submitted), _) => entry.submitted += row.n,
            (Some(RatingStatus::Confirmed), Some(RatingLevel::Excellent)) => entry.excellent += row.n,
            (Some(RatingStatus::Confirmed), Some(RatingLevel::Good)) => entry.good += row.n,
            (Some(RatingStatus::Confirmed), Some(RatingLevel::Fair)) => entry.fair += row.n,
            (Some(RatingStatus::Confirmed), _) => entry.weak += row.n,
        }
    }
    Ok(by_kind
        .into_values()
        .map(|mut s| {
            s.not_started = (s.units - s.drafts - s.submitted - s.confirmed()).max(0);
            s
        })
        .collect())
}
