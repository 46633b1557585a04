//! Join and transfer requests and their decision.

use crate::Call;
use crate::audit::{self, SubjectKind};
use chrono::Utc;
use entities::ids::{PersonId, UnitId};
use entities::{membership, membership_request, org_unit};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, Set,
    TransactionTrait, sea_query::Expr,
};
use serde_json::json;
use uuid::Uuid;

use super::{EventKind, MemberStatus, NewEvent, activate, bump_active, close_invitations, record_event};
use crate::{
    auth::Viewer,
    authz::{self, Capability},
    db::stmt,
    domain::{GlobalId, NodeKind},
    domain::{parse_note, parse_reason},
    error::{ApiError, ConflictKind, InputProblem, is_unique_violation},
    state::AppState,
    {
        notifications::{self, NewNotification, NotificationKind},
        org::{UnitKind, get_unit},
    },
};

pub use entities::membership_request::{RequestKind, RequestStatus};

/// A branch (a `BRANCH` unit) or `BAD_USER_INPUT` on `field`.
async fn branch(
    conn: &impl ConnectionTrait,
    id: UnitId,
    field: &'static str,
) -> Result<org_unit::Model, ApiError> {
    let unit = get_unit(conn, id).await?;
    if unit.kind != UnitKind::Branch {
        return Err(ApiError::bad_input(field, InputProblem::InvalidKind));
    }
    if unit.status != crate::org::UnitStatus::Active {
        return Err(ApiError::Conflict(ConflictKind::UnitMerged));
    }
    Ok(unit)
}

/// The person's current (active or suspended) membership.
pub async fn current_membership(
    conn: &impl ConnectionTrait,
    person_id: PersonId,
) -> Result<Option<membership::Model>, ApiError> {
    Ok(membership::Entity::find()
        .filter(membership::Column::PersonId.eq(person_id))
        .filter(
            membership::Column::Status
                .is_in([MemberStatus::Active.as_str(), MemberStatus::Suspended.as_str()]),
        )
        .one(conn)
        .await?)
}

#[derive(FromQueryResult)]
struct Recipient {
    person_id: PersonId,
    distance: i32,
}

/// Who hears of a new request at a branch: its branch leaders, or if it has none, the officers
/// of the nearest unit above that has any.
async fn request_recipients(
    conn: &impl ConnectionTrait,
    branch_id: UnitId,
) -> Result<Vec<PersonId>, ApiError> {
    let rows = Recipient::find_by_statement(stmt(
        conn.get_database_backend(),
        "SELECT DISTINCT r.person_id, c.depth AS distance FROM officer_role r \
         JOIN org_unit_closure c ON c.ancestor_id = r.unit_id \
         WHERE c.descendant_id = ? AND r.revoked_at IS NULL AND r.role IN ('BRANCH_LEADER', 'UNIT_OFFICER') \
         ORDER BY c.depth",
        [branch_id.into()],
    ))
    .all(conn)
    .await?;
    let nearest = rows.first().map(|r| r.distance);
    Ok(rows.into_iter().filter(|r| Some(r.distance) == nearest).map(|r| r.person_id).collect())
}

fn request_link(id: Uuid) -> Option<String> {
    Some(GlobalId::new(NodeKind::MembershipRequest, id).encode())
}

async fn insert_request(
    state: &AppState,
    viewer: &Viewer,
    kind: RequestKind,
    to: &org_unit::Model,
    from_branch: Option<UnitId>,
    note: Option<String>,
) -> Result<membership_request::Model, ApiError> {
    let txn = state.db.begin().await?;
    crate::org::lock_active(&txn, to.id).await?;
    let current = current_membership(&txn, viewer.person_id).await?;
    match (kind, &current) {
        (RequestKind::Join, Some(_)) => return Err(ApiError::Conflict(ConflictKind::AlreadyMember)),
        (RequestKind::Transfer, Some(m)) if m.status == MemberStatus::Active => {}
        (RequestKind::Transfer, _) => return Err(ApiError::Conflict(ConflictKind::NotAMember)),
        (RequestKind::Join, None) => {}
    }
    let row = membership_request::ActiveModel {
        id: Set(Uuid::now_v7()),
        person_id: Set(viewer.person_id),
        kind: Set(kind),
        branch_id: Set(to.id),
        from_branch_id: Set(from_branch),
        status: Set(RequestStatus::Pending),
        note: Set(note),
        decision_reason: Set(None),
        decided_by: Set(None),
        decided_at: Set(None),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) { ApiError::Conflict(ConflictKind::RequestPending) } else { e.into() }
    })?;
    let notify_kind = if kind == RequestKind::Join {
        NotificationKind::JoinRequested
    } else {
        NotificationKind::TransferRequested
    };
    let items = request_recipients(&txn, to.id)
        .await?
        .into_iter()
        .map(|person_id| NewNotification {
            person_id,
            kind: notify_kind,
            params: json!({ "branch": to.name }),
            link: request_link(row.id),
            duty: false,
        })
        .collect();
    let notes = notifications::enqueue(&txn, items).await?;
    txn.commit().await?;
    notifications::announce(state, &notes).await;
    Ok(row)
}

/// Asks to join a branch.
pub async fn request_membership(
    call: Call<'_>,
    branch_id: UnitId,
    note: Option<&str>,
) -> Result<membership_request::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let to = branch(&state.db, branch_id, "branch_id").await?;
    let note = parse_note(note, "note")?;
    insert_request(state, viewer, RequestKind::Join, &to, None, note).await
}

/// Asks to move one's active membership to another branch (the receiving branch decides).
pub async fn request_transfer(
    call: Call<'_>,
    to_branch_id: UnitId,
    note: Option<&str>,
) -> Result<membership_request::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let to = branch(&state.db, to_branch_id, "to_branch_id").await?;
    let note = parse_note(note, "note")?;
    let current = current_membership(&state.db, viewer.person_id)
        .await?
        .ok_or(ApiError::Conflict(ConflictKind::NotAMember))?;
    if current.branch_id == to.id {
        return Err(ApiError::bad_input("to_branch_id", InputProblem::OutOfRange));
    }
    insert_request(state, viewer, RequestKind::Transfer, &to, Some(current.branch_id), note).await
}

/// Withdraws one's own pending request.
pub async fn cancel_request(call: Call<'_>, request_id: Uuid) -> Result<membership_request::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let row = membership_request::Entity::find_by_id(request_id)
        .one(&state.db)
        .await?
        .filter(|r| r.person_id == viewer.person_id)
        .ok_or(ApiError::NotFound)?;
    let changed = membership_request::Entity::update_many()
        .col_expr(membership_request::Column::Status, Expr::value(RequestStatus::Cancelled.as_str()))
        .col_expr(membership_request::Column::DecidedAt, Expr::value(Utc::now()))
        .filter(membership_request::Column::Id.eq(row.id))
        .filter(membership_request::Column::Status.eq(RequestStatus::Pending.as_str()))
        .exec(&state.db)
        .await?
        .rows_affected;
    if changed == 0 {
        return Err(ApiError::Conflict(ConflictKind::AlreadyDecided));
    }
    membership_request::Entity::find_by_id(request_id).one(&state.db).await?.ok_or(ApiError::NotFound)
}

/// A request, for its applicant or a member manager over its branch; `NOT_FOUND` otherwise.
pub async fn get_request(call: Call<'_>, request_id: Uuid) -> Result<membership_request::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let row =
        membership_request::Entity::find_by_id(request_id).one(&state.db).await?.ok_or(ApiError::NotFound)?;
    if row.person_id != viewer.person_id {
        authz::require(&state.db, viewer, Capability::ManageMembers, row.branch_id)
            .await
            .map_err(authz::hide_forbidden)?;
    }
    Ok(row)
}

/// Approves or rejects a pending request (a member manager over the requested branch).
/// Exactly one of concurrent decisions wins; the others get `CONFLICT`.
pub async fn decide_request(
    call: Call<'_>,
    request_id: Uuid,
    approve: bool,
    reason: Option<&str>,
) -> Result<membership_request::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let request =
        membership_request::Entity::find_by_id(request_id).one(db).await?.ok_or(ApiError::NotFound)?;
    let acting = authz::require(db, viewer, Capability::ManageMembers, request.branch_id).await?;
    // Nobody approves her own request.
    if request.person_id == viewer.person_id {
        return Err(ApiError::Forbidden);
    }
    let reason = if approve {
        parse_note(reason, "reason")?
    } else {
        Some(parse_reason(reason.unwrap_or(""), "reason")?)
    };
    let to = get_unit(db, request.branch_id).await?;
    let kind = request.kind;

    let now = Utc::now();
    let txn = db.begin().await?;
    let status = if approve { RequestStatus::Approved } else { RequestStatus::Rejected };
    let won = membership_request::Entity::update_many()
        .col_expr(membership_request::Column::Status, Expr::value(status.as_str()))
        .col_expr(membership_request::Column::DecisionReason, Expr::value(reason.clone()))
        .col_expr(membership_request::Column::DecidedBy, Expr::value(viewer.person_id))
        .col_expr(membership_request::Column::DecidedAt, Expr::value(now))
        .filter(membership_request::Column::Id.eq(request_id))
        .filter(membership_request::Column::Status.eq(RequestStatus::Pending.as_str()))
        .exec(&txn)
        .await?
        .rows_affected;
    if won == 0 {
        return Err(ApiError::Conflict(ConflictKind::AlreadyDecided));
    }
    if approve {
        match kind {
            RequestKind::Join => {
                let person = entities::person::Entity::find_by_id(request.person_id)
                    .one(&txn)
                    .await?
                    .ok_or(ApiError::NotFound)?;
                activate(&txn, &person, to.id, Some(viewer.person_id), EventKind::Joined, None).await?;
            }
            RequestKind::Transfer => transfer(&txn, &request, viewer.person_id).await?,
        }
    }
    let (notify_kind, params) = if approve {
        (NotificationKind::RequestApproved, json!({ "branch": to.name }))
    } else {
        (NotificationKind::RequestRejected, json!({ "branch": to.name, "reason": reason }))
    };
    let notes = notifications::enqueue(
        &txn,
        vec![NewNotification {
            person_id: request.person_id,
            kind: notify_kind,
            params,
            link: request_link(request.id),
            duty: false,
        }],
    )
    .await?;
    let action = if approve { audit::Action::RequestApproved } else { audit::Action::RequestRejected };
    let entry = audit::Entry::new(action, request.branch_id, SubjectKind::MembershipRequest, request.id)
        .change("status", request.status, status)
        .change("decisionReason", &request.decision_reason, &reason);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    notifications::announce(state, &notes).await;
    tracing::info!(event = "membership_request_decided", request_id = %request_id, approved = approve, by = %viewer.person_id, "request decided");
    membership_request::Entity::find_by_id(request_id).one(db).await?.ok_or(ApiError::NotFound)
}

/// Approves or rejects many pending requests (see [`crate::bulk`]), each as
/// [`decide_request`] would, on its own; the shared reason is checked once, first.
pub async fn decide_requests(
    call: Call<'_>,
    ids: &[Uuid],
    approve: bool,
    reason: Option<&str>,
) -> Result<Vec<Result<membership_request::Model, ApiError>>, ApiError> {
    call.viewer()?;
    crate::bulk::check_max(ids.len(), "ids")?;
    if approve {
        parse_note(reason, "reason")?;
    } else {
        parse_reason(reason.unwrap_or(""), "reason")?;
    }
    Ok(crate::bulk::each(ids, |id| decide_request(call, id, approve, reason)).await)
}

/// Moves the applicant's active membership to the requested branch.
async fn transfer(
    txn: &impl ConnectionTrait,
    request: &membership_request::Model,
    actor: PersonId,
) -> Result<(), ApiError> {
    let current = current_membership(txn, request.person_id)
        .await?
        .filter(|m| m.status == MemberStatus::Active)
        .ok_or(ApiError::Conflict(ConflictKind::NotAMember))?;
    move_membership(txn, &current, request.branch_id, actor).await
}

/// Moves an active membership to branch `to` (a `TRANSFERRED` event by `actor`); `CONFLICT`
/// `NOT_A_MEMBER` when it is no longer active in the branch it was read in (a concurrent move
/// got there first). Her other pending requests and invitations are moot now.
pub(super) async fn move_membership(
    txn: &impl ConnectionTrait,
    current: &membership::Model,
    to: UnitId,
    actor: PersonId,
) -> Result<(), ApiError> {
    let from = current.branch_id;
    // Both branches held against a merge (refused if one was merged meanwhile).
    crate::org::lock_active(txn, from).await?;
    crate::org::lock_active(txn, to).await?;
    let now = Utc::now();
    let moved = membership::Entity::update_many()
        .col_expr(membership::Column::BranchId, Expr::value(to))
        .col_expr(membership::Column::UpdatedAt, Expr::value(now))
        .filter(membership::Column::Id.eq(current.id))
        .filter(membership::Column::BranchId.eq(from))
        .filter(membership::Column::Status.eq(MemberStatus::Active.as_str()))
        .exec(txn)
        .await?
        .rows_affected;
    if moved == 0 {
        return Err(ApiError::Conflict(ConflictKind::NotAMember));
    }
    membership_request::Entity::update_many()
        .col_expr(membership_request::Column::Status, Expr::value(RequestStatus::Cancelled.as_str()))
        .col_expr(membership_request::Column::DecidedAt, Expr::value(now))
        .filter(membership_request::Column::PersonId.eq(current.person_id))
        .filter(membership_request::Column::Status.eq(RequestStatus::Pending.as_str()))
        .exec(txn)
        .await?;
    close_invitations(txn, current.person_id, now).await?;
    bump_active(txn, from, -1).await?;
    bump_active(txn, to, 1).await?;
    record_event(
        txn,
        NewEvent {
            membership: current,
            kind: EventKind::Transferred,
            from_branch: Some(from),
            to_branch: Some(to),
            from_status: Some(MemberStatus::Active),
            to_status: Some(MemberStatus::Active),
            actor: Some(actor),
            reason: None,
        },
    )
    .await?;
    Ok(())
}
