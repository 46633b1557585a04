//! Reading awards: the kinds usable at a unit, the nominations a subtree made, the approved
//! awards of units and of a person, and the year's figures.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entities::award_kind;
use entities::award_nomination::{self as nomination, NominationStatus};
use entities::ids::{PersonId, UnitId};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Query},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    Call,
    authz::{self, Capability, subtree_select},
    db::stmt,
    error::ApiError,
    org::get_unit,
};

/// The kinds usable at `unit_id` (any officer over it): those of the unit and of every unit
/// above it, the highest level's first, by name; inactive ones only when `all`.
pub async fn kinds_at(
    call: Call<'_>,
    unit_id: UnitId,
    all: bool,
) -> Result<Vec<award_kind::Model>, ApiError> {
    use entities::org_unit_closure as c;
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, unit_id).await?;
    authz::require(db, viewer, Capability::ViewUnit, &unit).await?;
    let above = Query::select()
        .column(c::Column::AncestorId)
        .from(c::Entity)
        .and_where(Expr::col(c::Column::DescendantId).eq(unit_id))
        .to_owned();
    let mut query = award_kind::Entity::find().filter(award_kind::Column::UnitId.in_subquery(above));
    if !all {
        query = query.filter(award_kind::Column::Active.eq(true));
    }
    let mut kinds = query.order_by_asc(award_kind::Column::Name).all(db).await?;
    // The highest level first: by the depth of the unit that decides it.
    let depths: HashMap<UnitId, i32> = entities::org_unit::Entity::find()
        .select_only()
        .column(entities::org_unit::Column::Id)
        .column(entities::org_unit::Column::Depth)
        .filter(entities::org_unit::Column::Id.is_in(kinds.iter().map(|k| k.unit_id)))
        .into_tuple::<(UnitId, i32)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    kinds.sort_by_key(|k| depths.get(&k.unit_id).copied().unwrap_or(i32::MAX));
    Ok(kinds)
}

/// Which nominations [`list`] reads: those made by `unit_id` and the units below it.
#[derive(Clone, Copy, Debug)]
pub struct Filter {
    pub unit_id: UnitId,
    pub year: Option<i32>,
    pub status: Option<NominationStatus>,
    pub kind_id: Option<Uuid>,
}

/// The keyset cursor of the list: the last nomination's time and id (oldest first).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

fn filtered(f: &Filter) -> sea_orm::Select<nomination::Entity> {
    let mut query = nomination::Entity::find()
        .filter(nomination::Column::NominatingUnitId.in_subquery(subtree_select(f.unit_id)));
    if let Some(year) = f.year {
        query = query.filter(nomination::Column::Year.eq(year));
    }
    if let Some(status) = f.status {
        query = query.filter(nomination::Column::Status.eq(status.as_str()));
    }
    if let Some(kind) = f.kind_id {
        query = query.filter(nomination::Column::KindId.eq(kind));
    }
    query
}

/// The nominations of `filter` (any officer over the unit), oldest first, after `after`: up to
/// `first`, and whether more follow.
pub async fn list(
    call: Call<'_>,
    filter: Filter,
    first: u64,
    after: Option<Cursor>,
) -> Result<(Vec<nomination::Model>, bool), ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    authz::require(db, viewer, Capability::ViewUnit, filter.unit_id).await?;
    let mut query = filtered(&filter);
    if let Some(c) = after {
        query = query.filter(
            sea_orm::Condition::any()
                .add(nomination::Column::NominatedAt.gt(c.at))
                .add(nomination::Column::NominatedAt.eq(c.at).and(nomination::Column::Id.gt(c.id))),
        );
    }
    let mut rows = query
        .order_by_asc(nomination::Column::NominatedAt)
        .order_by_asc(nomination::Column::Id)
        .limit(first + 1)
        .all(db)
        .await?;
    let has_next = rows.len() as u64 > first;
    rows.truncate(first as usize);
    Ok((rows, has_next))
}

/// How many nominations [`list`] reads without paging (the caller was checked by it).
pub async fn count(conn: &impl ConnectionTrait, filter: Filter) -> Result<u64, ApiError> {
    use sea_orm::PaginatorTrait;
    Ok(filtered(&filter).count(conn).await?)
}

/// The approved awards of `units`, newest decision first (public: they are on the units'
/// pages); of `year` only when given. One statement.
pub async fn of_units(
    conn: &impl ConnectionTrait,
    units: &[UnitId],
    year: Option<i32>,
) -> Result<Vec<nomination::Model>, ApiError> {
    if units.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = nomination::Entity::find()
        .filter(nomination::Column::UnitId.is_in(units.iter().copied()))
        .filter(nomination::Column::Status.eq(NominationStatus::Approved.as_str()));
    if let Some(year) = year {
        query = query.filter(nomination::Column::Year.eq(year));
    }
    Ok(query
        .order_by_desc(nomination::Column::DecisionDate)
        .order_by_desc(nomination::Column::Id)
        .all(conn)
        .await?)
}

/// The approved awards of `people`, newest decision first (for herself, or for whoever may read
/// their memberships). One statement.
pub async fn of_people(
    conn: &impl ConnectionTrait,
    people: &[PersonId],
) -> Result<Vec<nomination::Model>, ApiError> {
    if people.is_empty() {
        return Ok(Vec::new());
    }
    Ok(nomination::Entity::find()
        .filter(nomination::Column::PersonId.is_in(people.iter().copied()))
        .filter(nomination::Column::Status.eq(NominationStatus::Approved.as_str()))
        .order_by_desc(nomination::Column::DecisionDate)
        .order_by_desc(nomination::Column::Id)
        .all(conn)
        .await?)
}

/// The awards of one kind in a year's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct KindFigures {
    pub kind: award_kind::Model,
    /// Units awarded.
    pub collective: i64,
    /// People awarded.
    pub individual: i64,
    /// Of them, women.
    pub women: i64,
}

/// A year's awards to a subtree.
#[derive(Clone, Debug, PartialEq)]
pub struct Statistics {
    /// By kind: the highest level's first, then by name.
    pub kinds: Vec<KindFigures>,
}

impl Statistics {
    pub fn collective(&self) -> i64 {
        self.kinds.iter().map(|k| k.collective).sum()
    }

    pub fn individual(&self) -> i64 {
        self.kinds.iter().map(|k| k.individual).sum()
    }

    pub fn women(&self) -> i64 {
        self.kinds.iter().map(|k| k.women).sum()
    }

    /// Women among the people awarded (0.75 = 75%); `None` when nobody was.
    pub fn women_share(&self) -> Option<f64> {
        let people = self.individual();
        (people > 0).then(|| self.women() as f64 / people as f64)
    }
}

#[derive(FromQueryResult)]
struct Figures {
    kind_id: Uuid,
    collective: i64,
    individual: i64,
    women: i64,
}

/// The awards of `year` to the subtree of `unit_id` (any officer over it): units of the
/// subtree, and people nominated by a unit of it. Three statements after the check: the
/// figures, their kinds, the depths of the kinds' units.
pub async fn statistics(call: Call<'_>, unit_id: UnitId, year: i32) -> Result<Statistics, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, unit_id).await?;
    authz::require(db, viewer, Capability::ViewUnit, &unit).await?;
    let rows = Figures::find_by_statement(stmt(
        db.get_database_backend(),
        "SELECT n.kind_id AS kind_id, \
           CAST(SUM(CASE WHEN n.unit_id IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS collective, \
           CAST(SUM(CASE WHEN n.person_id IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS individual, \
           CAST(SUM(CASE WHEN p.gender = ? THEN 1 ELSE 0 END) AS BIGINT) AS women \
         FROM award_nomination n \
         JOIN org_unit_closure c ON c.descendant_id = COALESCE(n.unit_id, n.nominating_unit_id) \
         LEFT JOIN person p ON p.id = n.person_id \
         WHERE c.ancestor_id = ? AND n.year = ? AND n.status = ? \
         GROUP BY n.kind_id",
        [
            entities::person::Gender::Female.as_str().into(),
            unit_id.into(),
            year.into(),
            NominationStatus::Approved.as_str().into(),
        ],
    ))
    .all(db)
    .await?;
    let kinds: HashMap<Uuid, award_kind::Model> = award_kind::Entity::find()
        .filter(award_kind::Column::Id.is_in(rows.iter().map(|r| r.kind_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|k| (k.id, k))
        .collect();
    let depths: HashMap<UnitId, i32> = entities::org_unit::Entity::find()
        .select_only()
        .column(entities::org_unit::Column::Id)
        .column(entities::org_unit::Column::Depth)
        .filter(entities::org_unit::Column::Id.is_in(kinds.values().map(|k| k.unit_id)))
        .into_tuple::<(UnitId, i32)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut figures: Vec<KindFigures> = rows
        .into_iter()
        .filter_map(|r| {
            Some(KindFigures {
                kind: kinds.get(&r.kind_id)?.clone(),
                collective: r.collective,
                individual: r.individual,
                women: r.women,
            })
        })
        .collect();
    figures.sort_by(|a, b| {
        let depth = |k: &KindFigures| depths.get(&k.kind.unit_id).copied().unwrap_or(i32::MAX);
        depth(a).cmp(&depth(b)).then_with(|| a.kind.name.cmp(&b.kind.name))
    });
    Ok(Statistics { kinds: figures })
}

/// Kinds by id (for showing awards whose reader was checked).
pub async fn kinds_by_ids(
    conn: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<award_kind::Model>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(award_kind::Entity::find().filter(award_kind::Column::Id.is_in(ids.iter().copied())).all(conn).await?)
}
