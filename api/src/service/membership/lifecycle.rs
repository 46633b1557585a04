//! Leaving, suspension and reinstatement, and direct enrolment by an officer.

use chrono::{NaiveDate, Utc};
use entities::{membership, membership_request, person};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait,
    sea_query::Expr,
};
use uuid::Uuid;

use super::{
    EventKind, MemberStatus, NewEvent, RequestStatus, activate, bump_active, bump_day, current_membership,
    hanoi_day, parse_reason, record_event,
};
use crate::{
    auth::Viewer,
    authz::{self, MEMBER_MANAGERS},
    domain::{PersonName, PhoneNumber},
    error::{ApiError, ConflictKind, InputProblem, is_unique_violation},
    service::{
        identity::new_person,
        org::{UnitKind, get_unit},
    },
    state::AppState,
};

/// Moves a membership from one status to another if it is still in `from`; `CONFLICT` when a
/// concurrent change got there first.
async fn change_status(
    txn: &impl ConnectionTrait,
    m: &membership::Model,
    from: MemberStatus,
    to: MemberStatus,
) -> Result<(), ApiError> {
    let now = Utc::now();
    let mut update = membership::Entity::update_many()
        .col_expr(membership::Column::Status, Expr::value(to.as_str()))
        .col_expr(membership::Column::UpdatedAt, Expr::value(now))
        .filter(membership::Column::Id.eq(m.id))
        .filter(membership::Column::Status.eq(from.as_str()));
    if to == MemberStatus::Left {
        update = update.col_expr(membership::Column::LeftAt, Expr::value(now));
    }
    if update.exec(txn).await?.rows_affected == 0 {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    let active_delta = i64::from(to == MemberStatus::Active) - i64::from(from == MemberStatus::Active);
    bump_active(txn, m.branch_id, active_delta).await?;
    if to == MemberStatus::Left {
        bump_day(txn, m.branch_id, hanoi_day(now), 0, 1).await?;
    }
    Ok(())
}

/// The member leaves the union; her pending requests are withdrawn.
pub async fn leave_union(
    state: &AppState,
    viewer: &Viewer,
    reason: &str,
) -> Result<membership::Model, ApiError> {
    let reason = parse_reason(reason, "reason")?;
    let txn = state.db.begin().await?;
    let m = current_membership(&txn, viewer.person_id)
        .await?
        .ok_or(ApiError::Conflict(ConflictKind::NotAMember))?;
    let from =
        MemberStatus::parse(&m.status).ok_or_else(|| ApiError::internal("unknown membership status"))?;
    change_status(&txn, &m, from, MemberStatus::Left).await?;
    membership_request::Entity::update_many()
        .col_expr(membership_request::Column::Status, Expr::value(RequestStatus::Cancelled.as_str()))
        .col_expr(membership_request::Column::DecidedAt, Expr::value(Utc::now()))
        .filter(membership_request::Column::PersonId.eq(viewer.person_id))
        .filter(membership_request::Column::Status.eq(RequestStatus::Pending.as_str()))
        .exec(&txn)
        .await?;
    record_event(
        &txn,
        NewEvent {
            membership: &m,
            kind: EventKind::Left,
            from_branch: Some(m.branch_id),
            to_branch: None,
            from_status: Some(from),
            to_status: Some(MemberStatus::Left),
            actor: None,
            reason: Some(reason),
        },
    )
    .await?;
    let left = membership::Entity::find_by_id(m.id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    txn.commit().await?;
    Ok(left)
}

/// A membership, for the member herself or a member manager over its branch.
pub async fn get_membership(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> Result<membership::Model, ApiError> {
    let m = membership::Entity::find_by_id(id).one(&state.db).await?.ok_or(ApiError::NotFound)?;
    if m.person_id != viewer.person_id {
        authz::require_any_role_over(&state.db, viewer, m.branch_id, MEMBER_MANAGERS)
            .await
            .map_err(authz::hide_forbidden)?;
    }
    Ok(m)
}

/// Suspends an active membership, or reinstates a suspended one (a member manager over its
/// branch, with a reason).
pub async fn set_suspended(
    state: &AppState,
    viewer: &Viewer,
    membership_id: Uuid,
    suspend: bool,
    reason: &str,
) -> Result<membership::Model, ApiError> {
    let db = &state.db;
    let m = membership::Entity::find_by_id(membership_id).one(db).await?.ok_or(ApiError::NotFound)?;
    authz::require_any_role_over(db, viewer, m.branch_id, MEMBER_MANAGERS).await?;
    // An officer who is also a member does not decide about her own membership.
    if m.person_id == viewer.person_id {
        return Err(ApiError::Forbidden);
    }
    let reason = parse_reason(reason, "reason")?;
    let (from, to, kind) = if suspend {
        (MemberStatus::Active, MemberStatus::Suspended, EventKind::Suspended)
    } else {
        (MemberStatus::Suspended, MemberStatus::Active, EventKind::Reinstated)
    };
    let txn = db.begin().await?;
    change_status(&txn, &m, from, to).await?;
    record_event(
        &txn,
        NewEvent {
            membership: &m,
            kind,
            from_branch: Some(m.branch_id),
            to_branch: Some(m.branch_id),
            from_status: Some(from),
            to_status: Some(to),
            actor: Some(viewer.person_id),
            reason: Some(reason),
        },
    )
    .await?;
    let changed = membership::Entity::find_by_id(m.id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    txn.commit().await?;
    Ok(changed)
}

/// Input of [`enrol_member`].
pub struct Enrolment {
    pub full_name: String,
    pub phone: String,
    pub birth_date: Option<NaiveDate>,
    pub branch_id: Uuid,
}

/// Finds the person with this phone, or creates her without an account (she claims the record
/// when she registers with the same number).
pub async fn find_or_create_person(
    txn: &impl ConnectionTrait,
    phone: &PhoneNumber,
    name: &PersonName,
    birth_date: Option<NaiveDate>,
) -> Result<person::Model, ApiError> {
    if let Some(p) = person::Entity::find().filter(person::Column::Phone.eq(phone.as_str())).one(txn).await? {
        return Ok(p);
    }
    person::ActiveModel {
        birth_date: Set(birth_date),
        gender: Set(Some("FEMALE".to_owned())),
        ..new_person(phone, name, Utc::now())
    }
    .insert(txn)
    .await
    // Another transaction created her at the same moment (two officers enrolling the same
    // woman): she is being made a member there.
    .map_err(|e| {
        if is_unique_violation(&e) { ApiError::Conflict(ConflictKind::AlreadyMember) } else { e.into() }
    })
}

/// Checks a birth date: not in the future, not more than 120 years ago.
pub fn check_birth_date(birth: Option<NaiveDate>, field: &'static str) -> Result<(), ApiError> {
    if let Some(birth) = birth {
        let today = Utc::now().date_naive();
        let oldest = today.checked_sub_months(chrono::Months::new(12 * 120));
        if birth > today || oldest.is_some_and(|o| birth < o) {
            return Err(ApiError::bad_input(field, InputProblem::OutOfRange));
        }
    }
    Ok(())
}

/// Enrols a person directly (many members were recorded on paper): a member manager over the
/// branch. `CONFLICT` when she is already a member.
pub async fn enrol_member(
    state: &AppState,
    viewer: &Viewer,
    input: Enrolment,
) -> Result<membership::Model, ApiError> {
    let db = &state.db;
    let unit = get_unit(db, input.branch_id).await?;
    authz::require_any_role_over(db, viewer, unit.id, MEMBER_MANAGERS).await?;
    if UnitKind::parse(&unit.kind) != Some(UnitKind::Branch) {
        return Err(ApiError::bad_input("branchId", InputProblem::InvalidKind));
    }
    let name = PersonName::parse(&input.full_name, "fullName")?;
    let phone = PhoneNumber::parse(&input.phone, "phone")?;
    check_birth_date(input.birth_date, "birthDate")?;
    let txn = db.begin().await?;
    let person = find_or_create_person(&txn, &phone, &name, input.birth_date).await?;
    if current_membership(&txn, person.id).await?.is_some() {
        return Err(ApiError::Conflict(ConflictKind::AlreadyMember));
    }
    let m = activate(&txn, &person, unit.id, Some(viewer.person_id), EventKind::Enrolled, None).await?;
    txn.commit().await?;
    Ok(m)
}
