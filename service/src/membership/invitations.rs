//! Invitations: how an officer enrols someone the service already knows.
//!
//! Rules (direct enrolment and import alike):
//! - a phone number the service has never seen becomes a record without an account and an
//!   `ACTIVE` membership at once (the members recorded on paper); she claims the record when she
//!   registers with that number;
//! - a number the service knows (an account holder, or a record enrolled or imported earlier)
//!   never becomes a membership without her: she gets an invitation in her inbox and accepts or
//!   declines it. The officer is answered with what she typed, never with the stored name,
//!   birth date or account;
//! - that the number belongs to a current member is told only when her branch is in the
//!   officer's reach (`ALREADY_MEMBER`, `MEMBER_ELSEWHERE`); outside it she is invited like any
//!   other known number, and accepting moves her active membership to the inviting branch.
//!
//! An invitation stays open [`INVITATION_TTL_DAYS`] days. Sending it again while it is open, or
//! within that time after she declined, changes nothing and notifies nobody (the officer's answer
//! is the same), so an officer cannot pester her; later it is renewed. Becoming a member or
//! moving, by an invitation or a request, cancels her other open invitations. Only the invitee sees an invitation; anyone else's id is `NOT_FOUND`.

use crate::Call;
use entities::ids::{PersonId, UnitId};
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use entities::{membership_invitation as invitation, notification, org_unit, person};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
    sea_query::{Expr, OnConflict},
};
use serde_json::json;
use uuid::Uuid;

use super::{EventKind, MemberStatus, activate, current_membership, move_membership};
use crate::{
    domain::{GlobalId, NodeKind},
    error::{ApiError, ConflictKind},
    notifications::{self, NewNotification, NotificationKind},
};

/// Days an invitation stays open, and days after a decline before the branch may ask again.
pub const INVITATION_TTL_DAYS: i64 = 30;
/// Invitations listed for one person (newest first).
const MAX_LISTED: u64 = 50;
/// Values per `IN (…)` list and rows per insert (an invitation binds 8 values).
const CHUNK: usize = 1000;

pub use entities::membership_invitation::InvitationStatus;

/// The status of a stored invitation at `now` (an open one past its expiry is expired).
pub fn invitation_status(row: &invitation::Model, now: DateTime<Utc>) -> InvitationStatus {
    match row.status {
        InvitationStatus::Pending if row.expires_at <= now => InvitationStatus::Expired,
        status => status,
    }
}

/// Whether sending an invitation again now changes anything: not while it is open, nor within
/// [`INVITATION_TTL_DAYS`] of her declining.
fn renewable(row: &invitation::Model, now: DateTime<Utc>) -> bool {
    match invitation_status(row, now) {
        InvitationStatus::Pending => false,
        InvitationStatus::Declined => {
            row.responded_at.is_none_or(|at| at + Duration::days(INVITATION_TTL_DAYS) <= now)
        }
        _ => true,
    }
}

fn link(id: Uuid) -> Option<String> {
    Some(GlobalId::new(NodeKind::MembershipInvitation, id).encode())
}

/// Invites each `(person, branch)` in the caller's transaction: new invitations are inserted,
/// closed ones renewed, open ones left alone; each invitee whose invitation is new or renewed
/// gets a notification. Returns the notifications, for [`notifications::announce`] after commit.
/// A bounded number of statements however many targets (chunked reads and inserts).
pub(super) async fn invite(
    txn: &impl ConnectionTrait,
    inviter: PersonId,
    targets: &[(PersonId, UnitId)],
) -> Result<Vec<notification::Model>, ApiError> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let people: Vec<PersonId> = targets.iter().map(|t| t.0).collect::<HashSet<_>>().into_iter().collect();
    let mut existing: HashMap<(PersonId, UnitId), invitation::Model> = HashMap::new();
    for chunk in people.chunks(CHUNK) {
        for row in invitation::Entity::find()
            .filter(invitation::Column::PersonId.is_in(chunk.iter().copied()))
            .all(txn)
            .await?
        {
            existing.insert((row.person_id, row.branch_id), row);
        }
    }
    let expires_at = now + Duration::days(INVITATION_TTL_DAYS);
    let (mut fresh, mut renewed, mut sent) = (Vec::new(), Vec::new(), Vec::new());
    for &(person_id, branch_id) in targets {
        match existing.get(&(person_id, branch_id)) {
            Some(row) if renewable(row, now) => {
                renewed.push(row.id);
                sent.push((row.id, person_id, branch_id));
            }
            Some(_) => {}
            None => {
                let id = Uuid::now_v7();
                fresh.push(invitation::ActiveModel {
                    id: Set(id),
                    person_id: Set(person_id),
                    branch_id: Set(branch_id),
                    invited_by: Set(inviter),
                    status: Set(InvitationStatus::Pending),
                    created_at: Set(now),
                    expires_at: Set(expires_at),
                    responded_at: Set(None),
                });
                sent.push((id, person_id, branch_id));
            }
        }
    }
    for chunk in fresh.chunks(CHUNK) {
        let inserted = invitation::Entity::insert_many(chunk.iter().cloned())
            .on_conflict(
                OnConflict::columns([invitation::Column::PersonId, invitation::Column::BranchId])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
        if inserted < chunk.len() as u64 {
            // Another officer invited some of them at this very moment: hers stand, and she
            // told them; ours that did not go in notify nobody.
            let ids: Vec<Uuid> = chunk.iter().filter_map(|m| m.id.try_as_ref().copied()).collect();
            let kept: HashSet<Uuid> = invitation::Entity::find()
                .select_only()
                .column(invitation::Column::Id)
                .filter(invitation::Column::Id.is_in(ids.iter().copied()))
                .into_tuple::<Uuid>()
                .all(txn)
                .await?
                .into_iter()
                .collect();
            let lost: HashSet<Uuid> = ids.into_iter().filter(|id| !kept.contains(id)).collect();
            sent.retain(|(id, _, _)| !lost.contains(id));
        }
    }
    for chunk in renewed.chunks(CHUNK) {
        // Only if still closed: of two officers renewing one invitation at once, one does it
        // (and notifies); the other finds it open.
        let done = invitation::Entity::update_many()
            .col_expr(invitation::Column::Status, Expr::value(InvitationStatus::Pending.as_str()))
            .col_expr(invitation::Column::InvitedBy, Expr::value(inviter))
            .col_expr(invitation::Column::CreatedAt, Expr::value(now))
            .col_expr(invitation::Column::ExpiresAt, Expr::value(expires_at))
            .col_expr(invitation::Column::RespondedAt, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(invitation::Column::Id.is_in(chunk.iter().copied()))
            .filter(
                Condition::any()
                    .add(invitation::Column::Status.ne(InvitationStatus::Pending.as_str()))
                    .add(invitation::Column::ExpiresAt.lte(now)),
            )
            .exec(txn)
            .await?
            .rows_affected;
        if done < chunk.len() as u64 {
            let ours: HashSet<Uuid> = invitation::Entity::find()
                .select_only()
                .column(invitation::Column::Id)
                .filter(invitation::Column::Id.is_in(chunk.iter().copied()))
                .filter(invitation::Column::CreatedAt.eq(now))
                .filter(invitation::Column::InvitedBy.eq(inviter))
                .into_tuple::<Uuid>()
                .all(txn)
                .await?
                .into_iter()
                .collect();
            let chunk: HashSet<Uuid> = chunk.iter().copied().collect();
            sent.retain(|(id, _, _)| !chunk.contains(id) || ours.contains(id));
        }
    }

    let branches: Vec<UnitId> = sent.iter().map(|s| s.2).collect::<HashSet<_>>().into_iter().collect();
    let mut names: HashMap<UnitId, String> = HashMap::new();
    for chunk in branches.chunks(CHUNK) {
        names.extend(
            org_unit::Entity::find()
                .select_only()
                .column(org_unit::Column::Id)
                .column(org_unit::Column::Name)
                .filter(org_unit::Column::Id.is_in(chunk.iter().copied()))
                .into_tuple::<(UnitId, String)>()
                .all(txn)
                .await?,
        );
    }
    let items = sent
        .into_iter()
        .map(|(id, person_id, branch_id)| NewNotification {
            person_id,
            kind: NotificationKind::MembershipInvited,
            params: json!({ "branch": names.get(&branch_id).map(String::as_str).unwrap_or("") }),
            link: link(id),
            duty: false,
        })
        .collect();
    notifications::enqueue(txn, items).await
}

/// Cancels a person's open invitations: she has become a member, or moved (inside the
/// transaction that did it).
pub(super) async fn close_invitations(
    txn: &impl ConnectionTrait,
    person_id: PersonId,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    invitation::Entity::update_many()
        .col_expr(invitation::Column::Status, Expr::value(InvitationStatus::Cancelled.as_str()))
        .col_expr(invitation::Column::RespondedAt, Expr::value(now))
        .filter(invitation::Column::PersonId.eq(person_id))
        .filter(invitation::Column::Status.eq(InvitationStatus::Pending.as_str()))
        .exec(txn)
        .await?;
    Ok(())
}

/// The caller's invitations, newest first (at most 50).
pub async fn my_invitations(
    conn: &impl ConnectionTrait,
    person_id: PersonId,
) -> Result<Vec<invitation::Model>, ApiError> {
    Ok(invitation::Entity::find()
        .filter(invitation::Column::PersonId.eq(person_id))
        .order_by_desc(invitation::Column::CreatedAt)
        .order_by_desc(invitation::Column::Id)
        .limit(MAX_LISTED)
        .all(conn)
        .await?)
}

/// One of the caller's invitations; anyone else's is `NOT_FOUND`.
pub async fn get_invitation(call: Call<'_>, id: Uuid) -> Result<invitation::Model, ApiError> {
    let (conn, viewer) = (&call.state.db, call.viewer()?);
    invitation::Entity::find_by_id(id)
        .filter(invitation::Column::PersonId.eq(viewer.person_id))
        .one(conn)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Accepts or declines one of the caller's open invitations. Accepting makes her an active
/// member of the branch (or moves her active membership there), with the inviting officer as
/// the actor, and cancels her other open invitations. `CONFLICT` `WRONG_STATUS` when it is no
/// longer open (answered, expired, or a concurrent answer won), `ALREADY_MEMBER` when she is a
/// member of that branch already, `NOT_A_MEMBER` when her membership elsewhere is suspended.
pub async fn respond_to_invitation(
    call: Call<'_>,
    id: Uuid,
    accept: bool,
) -> Result<invitation::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let row = get_invitation(call, id).await?;
    let now = Utc::now();
    let status = if accept { InvitationStatus::Accepted } else { InvitationStatus::Declined };
    let txn = state.db.begin().await?;
    let won = invitation::Entity::update_many()
        .col_expr(invitation::Column::Status, Expr::value(status.as_str()))
        .col_expr(invitation::Column::RespondedAt, Expr::value(now))
        .filter(invitation::Column::Id.eq(row.id))
        .filter(invitation::Column::Status.eq(InvitationStatus::Pending.as_str()))
        .filter(invitation::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?
        .rows_affected;
    if won == 0 {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    if accept {
        match current_membership(&txn, viewer.person_id).await? {
            Some(m) if m.branch_id == row.branch_id => {
                return Err(ApiError::Conflict(ConflictKind::AlreadyMember));
            }
            Some(m) if m.status == MemberStatus::Active => {
                move_membership(&txn, &m, row.branch_id, row.invited_by).await?;
            }
            Some(_) => return Err(ApiError::Conflict(ConflictKind::NotAMember)),
            None => {
                let me = person::Entity::find_by_id(viewer.person_id)
                    .one(&txn)
                    .await?
                    .ok_or(ApiError::NotFound)?;
                activate(&txn, &me, row.branch_id, Some(row.invited_by), EventKind::Enrolled, None).await?;
            }
        }
    }
    let answered = invitation::Entity::find_by_id(row.id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    txn.commit().await?;
    tracing::info!(event = "membership_invitation_answered", invitation_id = %row.id, accepted = accept, "invitation answered");
    Ok(answered)
}
