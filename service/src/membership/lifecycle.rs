//! Leaving, suspension and reinstatement, and direct enrolment by an officer (with consent:
//! see [`super::invitations`]).

use crate::Call;
use crate::audit::{self, SubjectKind};
use chrono::{NaiveDate, Utc};
use entities::ids::{MembershipId, PersonId, UnitId};
use entities::{membership, membership_request, person};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait,
    sea_query::{Expr, OnConflict},
};

use super::{
    EventKind, MemberStatus, NewEvent, RequestStatus, activate, bump_active, bump_day, current_membership,
    invite, record_event,
};
use crate::{
    authz::{self, Capability},
    domain::{PersonName, PhoneNumber, check_birth_date, hanoi_day, parse_reason},
    error::{ApiError, ConflictKind, InputProblem},
    {
        identity::new_person,
        notifications,
        org::{UnitKind, get_unit},
    },
};

/// Moves a membership from one status to another if it is still in `from`; `CONFLICT` when a
/// concurrent change got there first.
async fn change_status(
    txn: &impl ConnectionTrait,
    m: &membership::Model,
    from: MemberStatus,
    to: MemberStatus,
) -> Result<(), ApiError> {
    // Her branch is held against a merge, and must still be hers: the counters below are its.
    crate::org::lock_active(txn, m.branch_id).await?;
    let now = Utc::now();
    let mut update = membership::Entity::update_many()
        .col_expr(membership::Column::Status, Expr::value(to.as_str()))
        .col_expr(membership::Column::UpdatedAt, Expr::value(now))
        .filter(membership::Column::Id.eq(m.id))
        .filter(membership::Column::BranchId.eq(m.branch_id))
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
pub async fn leave_union(call: Call<'_>, reason: &str) -> Result<membership::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let reason = parse_reason(reason, "reason")?;
    let txn = state.db.begin().await?;
    let m = current_membership(&txn, viewer.person_id)
        .await?
        .ok_or(ApiError::Conflict(ConflictKind::NotAMember))?;
    let from = m.status;
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
pub async fn get_membership(call: Call<'_>, id: MembershipId) -> Result<membership::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let m = membership::Entity::find_by_id(id).one(&state.db).await?.ok_or(ApiError::NotFound)?;
    if m.person_id != viewer.person_id {
        authz::require(&state.db, viewer, Capability::ManageMembers, m.branch_id)
            .await
            .map_err(authz::hide_forbidden)?;
    }
    Ok(m)
}

/// Suspends an active membership, or reinstates a suspended one (a member manager over its
/// branch, with a reason).
pub async fn set_suspended(
    call: Call<'_>,
    membership_id: MembershipId,
    suspend: bool,
    reason: &str,
) -> Result<membership::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let m = membership::Entity::find_by_id(membership_id).one(db).await?.ok_or(ApiError::NotFound)?;
    let acting = authz::require(db, viewer, Capability::ManageMembers, m.branch_id).await?;
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
            reason: Some(reason.clone()),
        },
    )
    .await?;
    let action =
        if suspend { audit::Action::MembershipSuspended } else { audit::Action::MembershipReinstated };
    let entry = audit::Entry::new(action, m.branch_id, SubjectKind::Membership, m.id)
        .change("status", from, to)
        .set("reason", reason);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    let changed = membership::Entity::find_by_id(m.id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    txn.commit().await?;
    Ok(changed)
}

/// Input of [`enrol_member`].
pub struct Enrolment {
    pub full_name: String,
    pub phone: String,
    pub birth_date: Option<NaiveDate>,
    pub branch_id: UnitId,
}

/// What [`enrol_member`] did.
pub enum EnrolmentOutcome {
    /// The number was new to the service: her record and an active membership were created.
    Enrolled(membership::Model),
    /// The number belongs to someone the service knows: she was invited (or an invitation is
    /// still open), and becomes a member when she accepts.
    Invited,
}

/// The answer to an officer who enrolled someone: what she typed (normalised), never what the
/// service holds about the person, and the outcome.
pub struct EnrolmentResult {
    pub full_name: PersonName,
    pub phone: PhoneNumber,
    pub birth_date: Option<NaiveDate>,
    pub outcome: EnrolmentOutcome,
}

/// Enrols a person directly (many members were recorded on paper): a member manager over the
/// branch, at most `APP_ENROL_MAX_PER_OFFICER` an hour. A number new to the service becomes a
/// record and an active membership; a known one gets an invitation (see [`super::invitations`]).
/// `CONFLICT` `ALREADY_MEMBER` only when she is a current member of a branch in the caller's
/// reach.
pub async fn enrol_member(call: Call<'_>, input: Enrolment) -> Result<EnrolmentResult, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, input.branch_id).await?;
    let acting = authz::require(db, viewer, Capability::ManageMembers, unit.id).await?;
    if unit.kind != UnitKind::Branch {
        return Err(ApiError::bad_input("branch_id", InputProblem::InvalidKind));
    }
    let name = PersonName::parse(&input.full_name, "full_name")?;
    let phone = PhoneNumber::parse(&input.phone, "phone")?;
    check_birth_date(input.birth_date, "birth_date")?;
    // Each answer tells whether the number is known: a budget per officer.
    state
        .cache
        .spend(
            &format!("enrol:officer:{}", viewer.person_id),
            std::time::Duration::from_secs(3600),
            1,
            state.settings.enrol_max_per_officer,
        )
        .await?;

    let txn = db.begin().await?;
    let id = PersonId::new();
    // A number nobody holds yet: her record is created here. Someone else creating it at the
    // same moment (registering, another officer enrolling her) makes it a known number.
    let created = person::Entity::insert(person::ActiveModel {
        id: Set(id),
        birth_date: Set(input.birth_date),
        gender: Set(Some(entities::person::Gender::Female)),
        ..new_person(&phone, &name, Utc::now())
    })
    .on_conflict(OnConflict::column(person::Column::Phone).do_nothing().to_owned())
    .exec_without_returning(&txn)
    .await?;
    let (outcome, notes) = if created == 1 {
        let person = person::Entity::find_by_id(id).one(&txn).await?.ok_or(ApiError::NotFound)?;
        let m = activate(&txn, &person, unit.id, Some(viewer.person_id), EventKind::Enrolled, None).await?;
        let entry = audit::Entry::new(audit::Action::MemberEnrolled, unit.id, SubjectKind::Membership, m.id)
            .set("personId", person.id)
            .set("status", m.status);
        audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
        (EnrolmentOutcome::Enrolled(m), Vec::new())
    } else {
        let person = person::Entity::find()
            .filter(person::Column::Phone.eq(phone.as_str()))
            .one(&txn)
            .await?
            .ok_or_else(|| ApiError::internal("enrolled person vanished"))?;
        if let Some(m) = current_membership(&txn, person.id).await?
            && authz::require(&txn, viewer, Capability::ManageMembers, m.branch_id).await.is_ok()
        {
            return Err(ApiError::Conflict(ConflictKind::AlreadyMember));
        }
        let notes = invite(&txn, viewer.person_id, &[(person.id, unit.id)]).await?;
        let entry = audit::Entry::new(audit::Action::MemberInvited, unit.id, SubjectKind::Person, person.id);
        audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
        (EnrolmentOutcome::Invited, notes)
    };
    txn.commit().await?;
    notifications::announce(state, &notes).await;
    Ok(EnrolmentResult { full_name: name, phone, birth_date: input.birth_date, outcome })
}
