//! Membership: joining a branch, transfers, leaving, suspension, direct enrolment and import,
//! the member directory and statistics.
//!
//! Invariants, each kept by the database as well as by the code:
//! - a person has at most one current (`ACTIVE` or `SUSPENDED`) membership and at most one
//!   `PENDING` request (partial unique indexes; a second one answers `CONFLICT`);
//! - a request is decided once: the decision is a conditional update from `PENDING`, so of two
//!   officers deciding at the same moment exactly one wins and the other gets `CONFLICT`;
//! - every change of a membership appends a `membership_event` in the same transaction;
//! - `branch_member_count` and `branch_member_day` (per branch) and `unit_member_count` and
//!   `unit_member_day` (per unit, for everything it contains) change in the same transaction as
//!   the membership rows they summarise, and a moved unit's counters move with it; statistics
//!   read these rows by key, never count memberships.

mod directory;
mod import;
mod invitations;
mod lifecycle;
mod requests;
mod stats;

pub use directory::*;
pub use import::*;
pub use invitations::*;
pub use lifecycle::*;
pub use requests::*;
pub use stats::*;

use chrono::{NaiveDate, Utc};
use entities::ids::{MembershipId, PersonId, UnitId};
use entities::{membership, membership_event};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, Set,
};
use uuid::Uuid;

use crate::{
    db::{self, stmt},
    domain::hanoi_day,
    error::{ApiError, ConflictKind, is_unique_violation},
};

pub use entities::{membership::MemberStatus, membership_event::EventKind};

#[derive(FromQueryResult)]
struct NextValue {
    next_value: i64,
}

/// Reserves `n` consecutive member numbers; returns the first. The counter row is updated in
/// the caller's transaction, so numbers are unique citywide and a rolled-back write frees none.
pub async fn reserve_member_numbers(txn: &impl ConnectionTrait, n: i64) -> Result<i64, ApiError> {
    let row = NextValue::find_by_statement(stmt(
        txn.get_database_backend(),
        "UPDATE counter SET next_value = next_value + ? WHERE name = 'member_number' RETURNING next_value",
        [n.into()],
    ))
    .one(txn)
    .await?
    .ok_or_else(|| ApiError::internal("member number counter missing"))?;
    Ok(row.next_value - n)
}

/// The printed form of a member number: `HN` and seven digits.
pub fn format_member_number(n: i64) -> String {
    format!("HN{n:07}")
}

/// Adds `delta` to a branch's active-member count (and to every unit containing it).
pub async fn bump_active(txn: &impl ConnectionTrait, branch_id: UnitId, delta: i64) -> Result<(), ApiError> {
    if delta == 0 {
        return Ok(());
    }
    db::execute(
        txn,
        "INSERT INTO branch_member_count (branch_id, active) VALUES (?, ?) \
         ON CONFLICT (branch_id) DO UPDATE SET active = branch_member_count.active + excluded.active",
        [branch_id.into(), delta.into()],
    )
    .await?;
    roll_up_active(txn, &[(branch_id, delta)]).await
}

/// Adds joins and departures to a branch's day (and to every unit containing it).
pub async fn bump_day(
    txn: &impl ConnectionTrait,
    branch_id: UnitId,
    day: NaiveDate,
    joined: i64,
    left: i64,
) -> Result<(), ApiError> {
    db::execute(
        txn,
        "INSERT INTO branch_member_day (branch_id, day, joined, \"left\") VALUES (?, ?, ?, ?) \
         ON CONFLICT (branch_id, day) DO UPDATE SET joined = branch_member_day.joined + excluded.joined, \
         \"left\" = branch_member_day.\"left\" + excluded.\"left\"",
        [branch_id.into(), day.into(), joined.into(), left.into()],
    )
    .await?;
    roll_up_days(txn, day, &[(branch_id, joined, left)]).await
}

/// The ancestors (the unit itself included) of each of `units`, in chunks of 500.
async fn ancestors_of(
    txn: &impl ConnectionTrait,
    units: &[UnitId],
) -> Result<Vec<(UnitId, UnitId)>, ApiError> {
    use entities::org_unit_closure as c;
    use sea_orm::QuerySelect;
    let mut pairs = Vec::new();
    for chunk in units.chunks(500) {
        let rows: Vec<(UnitId, UnitId)> = c::Entity::find()
            .select_only()
            .column(c::Column::DescendantId)
            .column(c::Column::AncestorId)
            .filter(c::Column::DescendantId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(txn)
            .await?;
        pairs.extend(rows);
    }
    Ok(pairs)
}

/// Adds per-branch active deltas to `unit_member_count` of every unit containing each branch:
/// one multi-row upsert per chunk of units.
pub async fn roll_up_active(txn: &impl ConnectionTrait, deltas: &[(UnitId, i64)]) -> Result<(), ApiError> {
    let by_branch: std::collections::HashMap<UnitId, i64> = deltas.iter().copied().collect();
    let mut per_unit: std::collections::BTreeMap<UnitId, i64> = Default::default();
    for (branch, unit) in ancestors_of(txn, &by_branch.keys().copied().collect::<Vec<_>>()).await? {
        *per_unit.entry(unit).or_default() += by_branch.get(&branch).copied().unwrap_or(0);
    }
    let rows: Vec<(UnitId, i64)> = per_unit.into_iter().filter(|(_, d)| *d != 0).collect();
    for chunk in rows.chunks(500) {
        let sql = format!(
            "INSERT INTO unit_member_count (unit_id, active) VALUES {} \
             ON CONFLICT (unit_id) DO UPDATE SET active = unit_member_count.active + excluded.active",
            db::repeat_list("(?, ?)", chunk.len())
        );
        db::execute(txn, &sql, chunk.iter().flat_map(|&(u, d)| [u.into(), d.into()])).await?;
    }
    Ok(())
}

/// Adds per-branch joins/departures of one day to `unit_member_day` of every containing unit.
pub async fn roll_up_days(
    txn: &impl ConnectionTrait,
    day: NaiveDate,
    deltas: &[(UnitId, i64, i64)],
) -> Result<(), ApiError> {
    let by_branch: std::collections::HashMap<UnitId, (i64, i64)> =
        deltas.iter().map(|&(b, j, l)| (b, (j, l))).collect();
    let mut per_unit: std::collections::BTreeMap<UnitId, (i64, i64)> = Default::default();
    for (branch, unit) in ancestors_of(txn, &by_branch.keys().copied().collect::<Vec<_>>()).await? {
        let (j, l) = by_branch.get(&branch).copied().unwrap_or((0, 0));
        let e = per_unit.entry(unit).or_default();
        e.0 += j;
        e.1 += l;
    }
    let rows: Vec<(UnitId, (i64, i64))> =
        per_unit.into_iter().filter(|(_, (j, l))| *j != 0 || *l != 0).collect();
    for chunk in rows.chunks(400) {
        let sql = format!(
            "INSERT INTO unit_member_day (unit_id, day, joined, \"left\") VALUES {} \
             ON CONFLICT (unit_id, day) DO UPDATE SET joined = unit_member_day.joined + excluded.joined, \
             \"left\" = unit_member_day.\"left\" + excluded.\"left\"",
            db::repeat_list("(?, ?, ?, ?)", chunk.len())
        );
        let values = chunk.iter().flat_map(|&(u, (j, l))| [u.into(), day.into(), j.into(), l.into()]);
        db::execute(txn, &sql, values).await?;
    }
    Ok(())
}

/// Moves a unit's rolled-up counters from its ancestors to others: `sign` -1 before its closure
/// rows change (takes them from the old ancestors), +1 after (gives them to the new ones). The
/// unit's own rows, and those of everything below it, do not change.
pub async fn shift_rollups(
    txn: &impl ConnectionTrait,
    unit_id: UnitId,
    sign: i64,
    except: &[UnitId],
) -> Result<(), ApiError> {
    let (skip, mut values) = db::not_in("a.ancestor_id", except);
    let mut head: Vec<sea_orm::Value> = vec![sign.into(), unit_id.into()];
    head.append(&mut values.clone());
    db::execute(
        txn,
        &format!(
            "INSERT INTO unit_member_count (unit_id, active) \
             SELECT a.ancestor_id, ? * u.active FROM unit_member_count u \
             JOIN org_unit_closure a ON a.descendant_id = u.unit_id \
             WHERE u.unit_id = ? AND a.depth > 0{skip} \
             ON CONFLICT (unit_id) DO UPDATE SET active = unit_member_count.active + excluded.active"
        ),
        head,
    )
    .await?;
    let mut day: Vec<sea_orm::Value> = vec![sign.into(), sign.into(), unit_id.into()];
    day.append(&mut values);
    db::execute(
        txn,
        &format!(
            "INSERT INTO unit_member_day (unit_id, day, joined, \"left\") \
             SELECT a.ancestor_id, u.day, ? * u.joined, ? * u.\"left\" FROM unit_member_day u \
             JOIN org_unit_closure a ON a.descendant_id = u.unit_id \
             WHERE u.unit_id = ? AND a.depth > 0{skip} \
             ON CONFLICT (unit_id, day) DO UPDATE SET joined = unit_member_day.joined + excluded.joined, \
             \"left\" = unit_member_day.\"left\" + excluded.\"left\""
        ),
        day,
    )
    .await?;
    Ok(())
}

/// A change to record in the history.
pub struct NewEvent<'a> {
    pub membership: &'a membership::Model,
    pub kind: EventKind,
    pub from_branch: Option<UnitId>,
    pub to_branch: Option<UnitId>,
    pub from_status: Option<MemberStatus>,
    pub to_status: Option<MemberStatus>,
    pub actor: Option<PersonId>,
    pub reason: Option<String>,
}

/// Appends a membership event.
pub async fn record_event(
    txn: &impl ConnectionTrait,
    e: NewEvent<'_>,
) -> Result<membership_event::Model, ApiError> {
    Ok(membership_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        membership_id: Set(e.membership.id),
        person_id: Set(e.membership.person_id),
        kind: Set(e.kind),
        from_branch_id: Set(e.from_branch),
        to_branch_id: Set(e.to_branch),
        from_status: Set(e.from_status),
        to_status: Set(e.to_status),
        actor_id: Set(e.actor),
        reason: Set(e.reason),
        created_at: Set(Utc::now()),
    }
    .insert(txn)
    .await?)
}

/// Adds the later-word name keys of new memberships, by which a name search finds them (see
/// [`crate::domain::WordPrefix`]).
pub async fn insert_name_keys(
    txn: &impl ConnectionTrait,
    names: &[(MembershipId, &str)],
) -> Result<(), ApiError> {
    let keys: Vec<(MembershipId, &str)> = names
        .iter()
        .flat_map(|&(id, name)| crate::domain::later_word_suffixes(name).map(move |key| (id, key)))
        .collect();
    for chunk in keys.chunks(2000) {
        let sql = format!(
            "INSERT INTO membership_name_key (name_key, membership_id) VALUES {}",
            db::repeat_list("(?, ?)", chunk.len())
        );
        db::execute(txn, &sql, chunk.iter().flat_map(|&(id, key)| [key.into(), id.into()])).await?;
    }
    Ok(())
}

/// Makes a person an active member of a branch: a new membership with the next member
/// number, the counters, and the event. `CONFLICT` when she already has a current membership.
pub async fn activate(
    txn: &impl ConnectionTrait,
    person: &entities::person::Model,
    branch_id: UnitId,
    actor: Option<PersonId>,
    kind: EventKind,
    number: Option<i64>,
) -> Result<membership::Model, ApiError> {
    // A branch being merged is waited for; a merged one refused.
    crate::org::lock_active(txn, branch_id).await?;
    let now = Utc::now();
    let number = match number {
        Some(n) => n,
        None => reserve_member_numbers(txn, 1).await?,
    };
    let row = membership::ActiveModel {
        id: Set(MembershipId::new()),
        person_id: Set(person.id),
        name_search: Set(person.name_search.clone()),
        branch_id: Set(branch_id),
        member_number: Set(format_member_number(number)),
        status: Set(MemberStatus::Active),
        joined_at: Set(now),
        left_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) { ApiError::Conflict(ConflictKind::AlreadyMember) } else { e.into() }
    })?;
    insert_name_keys(txn, &[(row.id, &row.name_search)]).await?;
    bump_active(txn, branch_id, 1).await?;
    bump_day(txn, branch_id, hanoi_day(now), 1, 0).await?;
    // A join request she left pending is moot now that she is a member.
    entities::membership_request::Entity::update_many()
        .col_expr(
            entities::membership_request::Column::Status,
            sea_orm::sea_query::Expr::value(RequestStatus::Cancelled.as_str()),
        )
        .col_expr(entities::membership_request::Column::DecidedAt, sea_orm::sea_query::Expr::value(now))
        .filter(entities::membership_request::Column::PersonId.eq(person.id))
        .filter(entities::membership_request::Column::Kind.eq(RequestKind::Join.as_str()))
        .filter(entities::membership_request::Column::Status.eq(RequestStatus::Pending.as_str()))
        .exec(txn)
        .await?;
    close_invitations(txn, person.id, now).await?;
    record_event(
        txn,
        NewEvent {
            membership: &row,
            kind,
            from_branch: None,
            to_branch: Some(branch_id),
            from_status: None,
            to_status: Some(MemberStatus::Active),
            actor,
            reason: None,
        },
    )
    .await?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_numbers_have_a_fixed_width() {
        assert_eq!(format_member_number(123), "HN0000123");
    }
}
