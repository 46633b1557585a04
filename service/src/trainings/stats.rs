//! Training statistics of a unit's subtree for a period: trainings held, registrations,
//! attendances, distinct people trained and their gender, overall, per direct child and per
//! category. A training counts for the unit that organised it (and every unit above), in the
//! period its start falls in; drafts and cancelled trainings are not "held". Aggregate queries
//! through the closure table: nothing is counted in Rust.

use crate::Call;
use entities::ids::UnitId;
use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entities::org_unit;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, Value};

use super::Category;
use crate::{
    authz::{self, Capability},
    db::{repeat_list, stmt},
    domain::hanoi_day_start,
    error::{ApiError, InputProblem},
    org::get_unit,
};

/// The figures of one group of trainings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrainingFigures {
    /// Trainings held (published or completed) that started in the period.
    pub trainings: i64,
    /// Registrations of those trainings, cancelled ones excepted.
    pub registrations: i64,
    /// Check-ins recorded.
    pub attendances: i64,
    /// Distinct people checked in at least once.
    pub people_trained: i64,
    /// Of those, the women, the men, and those whose profile gives no gender.
    pub women: i64,
    pub men: i64,
    pub gender_unknown: i64,
}

impl TrainingFigures {
    /// Women ÷ people trained whose gender is known (`OTHER` included); `None` when none is.
    pub fn women_share(&self) -> Option<f64> {
        let known = self.people_trained - self.gender_unknown;
        (known > 0).then(|| self.women as f64 / known as f64)
    }
}

/// A category's figures.
#[derive(Clone, Debug)]
pub struct CategoryFigures {
    pub category: Category,
    pub figures: TrainingFigures,
}

/// A unit's figures, its direct children's, and its figures by category.
pub struct TrainingStats {
    pub unit: org_unit::Model,
    pub total: TrainingFigures,
    pub children: Vec<(org_unit::Model, TrainingFigures)>,
    pub by_category: Vec<CategoryFigures>,
}

#[derive(FromQueryResult)]
struct Row {
    unit: UnitId,
    category: String,
    trainings: i64,
    registrations: i64,
    attendances: i64,
    people: i64,
    women: i64,
    men: i64,
    unknown: i64,
}

/// Figures of the trainings in the subtree of each of `roots` starting in `[from, to)`, by root
/// (and by category when asked). Two statements: trainings, then their registrations.
async fn figures(
    conn: &impl ConnectionTrait,
    by_category: bool,
    roots: &[UnitId],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HashMap<(UnitId, String), TrainingFigures>, ApiError> {
    // The held trainings of the subtrees, with `joins` added after `training t`.
    let held = |joins: &str| {
        format!(
            "FROM training t {joins} JOIN org_unit_closure c ON c.descendant_id = t.unit_id \
             WHERE c.ancestor_id IN ({}) AND t.status IN ('PUBLISHED', 'COMPLETED') \
               AND t.starts_at >= ? AND t.starts_at < ?",
            repeat_list("?", roots.len())
        )
    };
    let values = || {
        let mut v: Vec<Value> = roots.iter().map(|&u| u.into()).collect();
        v.push(from.into());
        v.push(to.into());
        v
    };
    let backend = conn.get_database_backend();
    let (key, group) = if by_category {
        ("c.ancestor_id AS unit, t.category AS category", "c.ancestor_id, t.category")
    } else {
        ("c.ancestor_id AS unit, '' AS category", "c.ancestor_id")
    };
    let trainings = Row::find_by_statement(stmt(
        backend,
        &format!(
            "SELECT {key}, COUNT(*) AS trainings, CAST(0 AS BIGINT) AS registrations, \
               CAST(0 AS BIGINT) AS attendances, CAST(0 AS BIGINT) AS people, CAST(0 AS BIGINT) AS women, \
               CAST(0 AS BIGINT) AS men, CAST(0 AS BIGINT) AS unknown {held} GROUP BY {group}",
            held = held("")
        ),
        values(),
    ))
    .all(conn)
    .await?;
    let people = Row::find_by_statement(stmt(
        backend,
        &format!(
            "SELECT {key}, CAST(0 AS BIGINT) AS trainings, \
               CAST(COALESCE(SUM(CASE WHEN r.status <> 'CANCELLED' THEN 1 ELSE 0 END), 0) AS BIGINT) AS registrations, \
               CAST(COALESCE(SUM(CASE WHEN r.status = 'ATTENDED' THEN 1 ELSE 0 END), 0) AS BIGINT) AS attendances, \
               COUNT(DISTINCT CASE WHEN r.status = 'ATTENDED' THEN r.person_id END) AS people, \
               COUNT(DISTINCT CASE WHEN r.status = 'ATTENDED' AND p.gender = 'FEMALE' THEN r.person_id END) AS women, \
               COUNT(DISTINCT CASE WHEN r.status = 'ATTENDED' AND p.gender = 'MALE' THEN r.person_id END) AS men, \
               COUNT(DISTINCT CASE WHEN r.status = 'ATTENDED' AND p.gender IS NULL THEN r.person_id END) AS unknown \
             {held_r} GROUP BY {group}",
            held_r = held(
                "JOIN training_registration r ON r.training_id = t.id JOIN person p ON p.id = r.person_id"
            )
        ),
        values(),
    ))
    .all(conn)
    .await?;
    let mut out: HashMap<(UnitId, String), TrainingFigures> = HashMap::new();
    for row in trainings.into_iter().chain(people) {
        let f = out.entry((row.unit, row.category)).or_default();
        f.trainings += row.trainings;
        f.registrations += row.registrations;
        f.attendances += row.attendances;
        f.people_trained += row.people;
        f.women += row.women;
        f.men += row.men;
        // A gender other than these two is known, not unknown.
        f.gender_unknown += row.unknown;
    }
    Ok(out)
}

/// Statistics of `unit_id` over the days `from..=to` (Hanoi days), for any officer over it.
pub async fn training_statistics(
    call: Call<'_>,
    unit_id: UnitId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<TrainingStats, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, unit_id).await?;
    authz::require(db, viewer, Capability::ViewUnit, unit_id).await?;
    if to < from {
        return Err(ApiError::bad_input("to", InputProblem::OutOfRange));
    }
    let (start, end) = (hanoi_day_start(from), hanoi_day_start(to) + Duration::days(1));
    let children = org_unit::Entity::find()
        .filter(org_unit::Column::ParentId.eq(unit_id))
        .filter(org_unit::Column::Status.eq(org_unit::UnitStatus::Active.as_str()))
        .order_by_asc(org_unit::Column::NameSearch)
        .all(db)
        .await?;
    let roots: Vec<UnitId> = std::iter::once(unit_id).chain(children.iter().map(|c| c.id)).collect();
    let by_unit = figures(db, false, &roots, start, end).await?;
    let by_category = figures(db, true, &[unit_id], start, end).await?;
    let of = |id: UnitId| by_unit.get(&(id, String::new())).cloned().unwrap_or_default();
    Ok(TrainingStats {
        total: of(unit_id),
        children: children.into_iter().map(|c| (of(c.id), c)).map(|(f, c)| (c, f)).collect(),
        by_category: Category::ALL
            .iter()
            .map(|&category| CategoryFigures {
                category,
                figures: by_category
                    .get(&(unit_id, category.as_str().to_owned()))
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect(),
        unit,
    })
}
