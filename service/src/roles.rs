//! Officer role assignments: granted and revoked by a `UNIT_ADMIN` above, each recorded with who
//! and when. Granting `UNIT_ADMIN` itself needs an admin at a strict ancestor (or a system
//! administrator), so nobody can mint a peer of their own level.

use crate::Call;
use crate::audit::{self, SubjectKind};
use entities::ids::{PersonId, UnitId};
use std::collections::HashMap;

use chrono::Utc;
use entities::{officer_role, org_unit_closure, person};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
    sea_query::{Expr, Query},
};
use uuid::Uuid;

use crate::{
    authz::{self, Capability, Role},
    domain::PhoneNumber,
    error::{ApiError, ConflictKind, is_unique_violation},
    {org::get_unit, violence},
};

/// Who is to receive a role: a known person id, or a phone number.
pub enum Grantee {
    PersonId(PersonId),
    Phone(String),
}

/// Grants `role` at `unit_id` to a person.
pub async fn assign_role(
    call: Call<'_>,
    grantee: Grantee,
    unit_id: UnitId,
    role: Role,
) -> Result<officer_role::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    get_unit(db, unit_id).await?;
    let acting = authz::require(db, viewer, Capability::to_assign(role), unit_id).await?;
    // Granting a role hands out access: a stolen session alone must not do it.
    crate::identity::mfa::require_step_up(call).await?;
    let person = match grantee {
        Grantee::PersonId(id) => person::Entity::find_by_id(id).one(db).await?,
        Grantee::Phone(raw) => {
            let phone = PhoneNumber::parse(&raw, "phone")?;
            person::Entity::find().filter(person::Column::Phone.eq(phone.as_str())).one(db).await?
        }
    }
    .ok_or(ApiError::NotFound)?;
    // Nobody grants herself a role (an admin making herself case officer would read reports).
    if person.id == viewer.person_id {
        return Err(ApiError::Forbidden);
    }
    let txn = db.begin().await?;
    let row = officer_role::ActiveModel {
        id: Set(Uuid::now_v7()),
        person_id: Set(person.id),
        unit_id: Set(unit_id),
        role: Set(role),
        granted_by: Set(Some(viewer.person_id)),
        granted_at: Set(Utc::now()),
        revoked_by: Set(None),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) { ApiError::Conflict(ConflictKind::RoleAlreadyHeld) } else { e.into() }
    })?;
    let entry = audit::Entry::new(audit::Action::RoleAssigned, unit_id, SubjectKind::OfficerRole, row.id)
        .set("personId", row.person_id)
        .set("role", role);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    tracing::info!(event = "role_granted", role = role.as_str(), unit_id = %unit_id, person_id = %person.id, by = %viewer.person_id, "officer role granted");
    Ok(row)
}

/// Revokes an active role assignment.
pub async fn revoke_role(call: Call<'_>, role_id: Uuid) -> Result<officer_role::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let row = officer_role::Entity::find_by_id(role_id).one(db).await?.ok_or(ApiError::NotFound)?;
    let role = row.role;
    let acting = authz::require(db, viewer, Capability::to_assign(role), row.unit_id).await?;
    crate::identity::mfa::require_step_up(call).await?;
    let now = Utc::now();
    let txn = db.begin().await?;
    let changed = officer_role::Entity::update_many()
        .col_expr(officer_role::Column::RevokedAt, Expr::value(now))
        .col_expr(officer_role::Column::RevokedBy, Expr::value(viewer.person_id))
        .filter(officer_role::Column::Id.eq(role_id))
        .filter(officer_role::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if changed == 0 {
        return Err(ApiError::Conflict(ConflictKind::AlreadyRevoked));
    }
    // The reports she was assigned go back to their queues with the role (in the same
    // transaction: no moment where she holds an assignment without the role).
    let released = if Capability::HandleViolenceReports.granted_by(role) {
        Some(violence::workflow::release_assignments(&txn, &state.report_keys, row.person_id).await?)
    } else {
        None
    };
    let saved = officer_role::Entity::find_by_id(role_id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    let entry = audit::Entry::new(audit::Action::RoleRevoked, row.unit_id, SubjectKind::OfficerRole, row.id)
        .set("revokedAt", saved.revoked_at);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    tracing::info!(event = "role_revoked", role = %row.role, unit_id = %row.unit_id, by = %viewer.person_id, "officer role revoked");
    if let Some(released) = released {
        violence::workflow::announce_released(state, released).await;
    }
    Ok(saved)
}

/// One role assignment, for its holder or for an admin over its unit; `NOT_FOUND` otherwise.
pub async fn get_role(call: Call<'_>, role_id: Uuid) -> Result<officer_role::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let row = officer_role::Entity::find_by_id(role_id).one(db).await?.ok_or(ApiError::NotFound)?;
    if row.person_id != viewer.person_id {
        authz::require(db, viewer, Capability::AssignRoles, row.unit_id)
            .await
            .map_err(authz::hide_forbidden)?;
    }
    Ok(row)
}

/// Filters of the role list of a unit.
pub struct RoleFilter {
    pub unit_id: UnitId,
    pub include_subtree: bool,
    pub active_only: bool,
}

fn role_condition(filter: &RoleFilter) -> Condition {
    let mut cond = Condition::all();
    cond = if filter.include_subtree {
        cond.add(
            officer_role::Column::UnitId.in_subquery(
                Query::select()
                    .column(org_unit_closure::Column::DescendantId)
                    .from(org_unit_closure::Entity)
                    .and_where(org_unit_closure::Column::AncestorId.eq(filter.unit_id))
                    .to_owned(),
            ),
        )
    } else {
        cond.add(officer_role::Column::UnitId.eq(filter.unit_id))
    };
    if filter.active_only {
        cond = cond.add(officer_role::Column::RevokedAt.is_null());
    }
    cond
}

/// Role assignments at a unit (and below), for a `UNIT_ADMIN` over it; oldest first.
pub async fn list_roles(
    call: Call<'_>,
    filter: &RoleFilter,
    first: u64,
    after: Option<Uuid>,
) -> Result<(Vec<officer_role::Model>, bool), ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    get_unit(db, filter.unit_id).await?;
    authz::require(db, viewer, Capability::AssignRoles, filter.unit_id).await?;
    let mut q = officer_role::Entity::find().filter(role_condition(filter));
    if let Some(after) = after {
        q = q.filter(officer_role::Column::Id.gt(after));
    }
    let rows = q.order_by_asc(officer_role::Column::Id).limit(first + 1).all(db).await?;
    Ok(crate::db::split_page(rows, first))
}

/// How many role assignments match (the caller was authorised by [`list_roles`]).
pub async fn count_roles(conn: &impl ConnectionTrait, filter: &RoleFilter) -> Result<u64, ApiError> {
    Ok(officer_role::Entity::find().filter(role_condition(filter)).count(conn).await?)
}

/// Active roles of each person, oldest first (for DataLoaders).
pub async fn active_roles_of(
    conn: &impl ConnectionTrait,
    people: &[PersonId],
) -> Result<HashMap<PersonId, Vec<officer_role::Model>>, ApiError> {
    let mut out: HashMap<PersonId, Vec<officer_role::Model>> =
        people.iter().map(|&p| (p, Vec::new())).collect();
    let rows = officer_role::Entity::find()
        .filter(officer_role::Column::PersonId.is_in(people.iter().copied()))
        .filter(officer_role::Column::RevokedAt.is_null())
        .order_by_asc(officer_role::Column::Id)
        .all(conn)
        .await?;
    for r in rows {
        out.entry(r.person_id).or_default().push(r);
    }
    Ok(out)
}
