//! Merging units (sáp nhập): `mergeOrgUnits(sourceIds, intoId)` folds units into another of the
//! same kind, in one transaction, so that no member, report or figure is lost.
//!
//! - **Who**: a `UNIT_ADMIN` (or system administrator) over every unit named and over each
//!   source's parent (`ManageStructure`); 1–20 sources, all `ACTIVE`, of the target's kind, none
//!   the target or the root.
//! - **The living move to the target**: the sources' children (with their subtrees, counters and
//!   closure rows, as `moveOrgUnit` moves them), memberships (each with a `TRANSFERRED` event
//!   from the source), pending join and transfer requests and invitations, active officer roles
//!   (each ended at the source and granted again at the target, or only ended when the admin
//!   says so in `endRoleIds`; a role the person already holds at the target just ends), trainings,
//!   campaigns and their pledges, news posts and their pending notification jobs, members'
//!   stories and comments and their moderation cases, reported indicators defined at the source,
//!   kinds of award it grants, and violence reports placed, routed or handled there (case
//!   officers losing their only covering role give back the reports assigned to them).
//! - **Counters are folded**: what the source itself counted (its branch's members by day, its
//!   own trainings' check-ins and certified households) leaves its old ancestors and joins the
//!   target and the target's ancestors; the source's rows go to zero.
//! - **Targets and population figures** of the current year and later are folded into the
//!   target's: added for indicators that count (`SUM`), the target's kept for averaged ones and
//!   shares (the source's taken when the target has none); population figures added when the
//!   target has its own (its figure is otherwise unknown and stays so). Earlier ones stay with the
//!   source, as its history.
//! - **History stays with the source**, which remains, `MERGED`, as a leaf **below the target**
//!   (`mergedInto`, `mergedAt`): its code still resolves, and its ratings, reported values,
//!   criteria, awards, earlier targets, membership history and audit trail are still read — and,
//!   being in the target's subtree, still counted there and above, so every figure of the units
//!   above both is what it was. Units merged into a source move with its other children.
//! - **A merged unit is read, not changed**: every officer capability but reading is refused
//!   over it (`CONFLICT` `UNIT_MERGED`, in `authz::decide`), lists of children skip it, and joining
//!   or transferring to a merged branch is refused the same way.
//! - **Splitting** a unit is out of scope: a unit is divided by creating the new units and moving
//!   branches (`moveOrgUnit`); memberships stay with their branches.
//!
//! The whole merge takes the tree lock and locks the units' rows (PostgreSQL), so it serialises
//! with moves, creations and other merges, and with writes that lock the unit they write to
//! ([`super::lock_active`]).

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, Utc};
use entities::ids::{PersonId, UnitId};
use entities::membership_event::EventKind;
use entities::org_unit::{self, UnitStatus};
use entities::{membership, membership_event, officer_role, population_figure, target};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Set,
    TransactionTrait, Value, sea_query::Expr,
};
use uuid::Uuid;

use super::{get_unit, lock_tree, reattach, shared_ancestors};
use crate::{
    Call, audit,
    authz::{self, Capability},
    campaigns::targets::Aggregation,
    db,
    domain::hanoi_day,
    error::{ApiError, ConflictKind, InputProblem},
};

/// Most units one merge folds.
pub const MAX_SOURCES: usize = 20;

/// What a merge moved, for the admin's record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Moved {
    pub children: u64,
    pub memberships: u64,
    pub requests: u64,
    pub roles_moved: u64,
    pub roles_ended: u64,
    pub trainings: u64,
    pub campaigns: u64,
    pub posts: u64,
    pub violence_reports: u64,
}

/// The result of a merge.
#[derive(Clone, Debug)]
pub struct Merged {
    pub into: org_unit::Model,
    /// The sources, now `MERGED`, in the order given.
    pub sources: Vec<org_unit::Model>,
    pub moved: Moved,
    /// How long the tree lock and the units' rows were held (the transaction, from the lock
    /// to the commit).
    pub held: std::time::Duration,
}

/// Merges `sources` into `into` (see the module docs). `end_roles`: active roles held at a
/// source that end instead of moving to the target.
pub async fn merge_units(
    call: Call<'_>,
    sources: &[UnitId],
    into: UnitId,
    end_roles: &[Uuid],
) -> Result<Merged, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    if sources.is_empty() {
        return Err(ApiError::bad_input("source_ids", InputProblem::Required));
    }
    if sources.len() > MAX_SOURCES {
        return Err(ApiError::bad_input("source_ids", InputProblem::TooMany));
    }
    let distinct: HashSet<UnitId> = sources.iter().copied().collect();
    if distinct.len() != sources.len() {
        return Err(ApiError::bad_input("source_ids", InputProblem::InvalidId));
    }
    if distinct.contains(&into) {
        return Err(ApiError::bad_input("source_ids", InputProblem::Conflicting));
    }
    let target = get_unit(db, into).await?;
    let role = authz::require(db, viewer, Capability::ManageStructure, &target).await?;
    let mut rows = Vec::with_capacity(sources.len());
    for &id in sources {
        let source = get_unit(db, id).await?;
        authz::require(db, viewer, Capability::ManageStructure, &source).await?;
        let Some(parent) = source.parent_id else {
            return Err(ApiError::bad_input("source_ids", InputProblem::IsRoot));
        };
        // Taking a unit away from its parent is a change to the parent's subtree too.
        authz::require(db, viewer, Capability::ManageStructure, parent).await?;
        if source.kind != target.kind {
            return Err(ApiError::bad_input("source_ids", InputProblem::InvalidKind));
        }
        rows.push(source);
    }
    let end_roles: HashSet<Uuid> = end_roles.iter().copied().collect();
    if !end_roles.is_empty() {
        let held: HashSet<Uuid> = officer_role::Entity::find()
            .select_only()
            .column(officer_role::Column::Id)
            .filter(officer_role::Column::UnitId.is_in(sources.iter().copied()))
            .filter(officer_role::Column::RevokedAt.is_null())
            .into_tuple::<Uuid>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        if !end_roles.is_subset(&held) {
            return Err(ApiError::bad_input("end_role_ids", InputProblem::InvalidId));
        }
    }

    let txn = db.begin().await?;
    lock_tree(&txn).await?;
    let started = std::time::Instant::now();
    // Inside the lock: the units as they are now (a concurrent merge may have taken one), and
    // their rows held against writers that lock the unit they write to.
    let mut locked =
        org_unit::Entity::find().filter(org_unit::Column::Id.is_in(sources.iter().copied().chain([into])));
    if txn.get_database_backend() == DbBackend::Postgres {
        locked = locked.lock_exclusive();
    }
    let now_rows = locked.all(&txn).await?;
    if now_rows.len() != sources.len() + 1 {
        return Err(ApiError::NotFound);
    }
    if now_rows.iter().any(|u| u.status != UnitStatus::Active) {
        return Err(ApiError::Conflict(ConflictKind::UnitMerged));
    }

    let now = Utc::now();
    let this_year = hanoi_day(now).year();
    let mut moved = Moved::default();
    let mut released_people: HashSet<PersonId> = HashSet::new();
    for source in &rows {
        let s = source.id;
        // 1. Its children, with their subtrees and counters.
        let children: Vec<UnitId> = org_unit::Entity::find()
            .select_only()
            .column(org_unit::Column::Id)
            .filter(org_unit::Column::ParentId.eq(s))
            .into_tuple()
            .all(&txn)
            .await?;
        for &child in &children {
            reattach(&txn, child, into).await?;
        }
        moved.children += children.len() as u64;

        // 2. What it counted itself: out of its old ancestors, into the target and above.
        fold_counters(&txn, s, into).await?;

        // 3. Below the target, merged.
        reattach(&txn, s, into).await?;
        org_unit::Entity::update_many()
            .col_expr(org_unit::Column::Status, Expr::value(UnitStatus::Merged.as_str()))
            .col_expr(org_unit::Column::MergedIntoId, Expr::value(into))
            .col_expr(org_unit::Column::MergedAt, Expr::value(now))
            .col_expr(org_unit::Column::UpdatedAt, Expr::value(now))
            .filter(org_unit::Column::Id.eq(s))
            .exec(&txn)
            .await?;

        // 4. Members, with a transfer in their history.
        moved.memberships += move_memberships(&txn, s, into, viewer.person_id).await?;
        moved.requests += move_rows(
            &txn,
            "UPDATE membership_request SET branch_id = ? WHERE branch_id = ? AND status = 'PENDING'",
            into,
            s,
        )
        .await?;
        move_rows(
            &txn,
            "UPDATE membership_request SET from_branch_id = ? WHERE from_branch_id = ? AND status = 'PENDING'",
            into,
            s,
        )
        .await?;
        // An invitation is one per person and branch: one to the target already answers for
        // the source's.
        db::execute(
            &txn,
            "DELETE FROM membership_invitation WHERE branch_id = ? AND status = 'PENDING' \
             AND person_id IN (SELECT person_id FROM membership_invitation WHERE branch_id = ?)",
            [s.into(), into.into()],
        )
        .await?;
        move_rows(
            &txn,
            "UPDATE membership_invitation SET branch_id = ? WHERE branch_id = ? AND status = 'PENDING'",
            into,
            s,
        )
        .await?;

        // 5. Officer roles: moved (ended here, granted there) or ended.
        let (kept, ended, people) = move_roles(&txn, s, into, &end_roles, viewer.person_id).await?;
        moved.roles_moved += kept;
        moved.roles_ended += ended;
        released_people.extend(people);

        // 6. What the unit runs.
        moved.trainings +=
            move_rows(&txn, "UPDATE training SET unit_id = ? WHERE unit_id = ?", into, s).await?;
        moved.campaigns +=
            move_rows(&txn, "UPDATE campaign SET unit_id = ? WHERE unit_id = ?", into, s).await?;
        moved.posts += move_rows(&txn, "UPDATE post SET unit_id = ? WHERE unit_id = ?", into, s).await?;
        // A household is one per campaign, year and branch, by its folded label: the same label
        // at both branches is two households, kept apart by the source's code.
        db::execute(
            &txn,
            "UPDATE pledge SET household_key = household_key || ' #' || ? WHERE branch_id = ? \
             AND household_key IS NOT NULL AND EXISTS (SELECT 1 FROM pledge t WHERE t.branch_id = ? \
             AND t.campaign_id = pledge.campaign_id AND t.year = pledge.year AND t.household_key = pledge.household_key)",
            [source.code.clone().into(), s.into(), into.into()],
        )
        .await?;
        // Nominations waiting for the source go to the target, unless it is proposed for the
        // same award already (that one stands; the source's can still be decided).
        db::execute(
            &txn,
            "UPDATE award_nomination SET unit_id = ? WHERE unit_id = ? AND status = 'PROPOSED' \
             AND NOT EXISTS (SELECT 1 FROM award_nomination t WHERE t.unit_id = ? AND t.kind_id = award_nomination.kind_id \
             AND t.year = award_nomination.year AND t.status <> 'DECLINED')",
            [into.into(), s.into(), into.into()],
        )
        .await?;
        for sql in [
            "UPDATE pledge SET branch_id = ? WHERE branch_id = ?",
            "UPDATE fanout_job SET unit_id = ? WHERE unit_id = ?",
            "UPDATE story SET unit_id = ? WHERE unit_id = ?",
            "UPDATE comment SET unit_id = ? WHERE unit_id = ?",
            "UPDATE moderation_case SET unit_id = ? WHERE unit_id = ?",
            "UPDATE indicator SET unit_id = ? WHERE unit_id = ?",
            "UPDATE award_kind SET unit_id = ? WHERE unit_id = ?",
        ] {
            move_rows(&txn, sql, into, s).await?;
        }
        db::execute(&txn, "DELETE FROM content_settings WHERE unit_id = ?", [s.into()]).await?;

        // 7. Violence reports: where they are placed, routed, handled, offered.
        moved.violence_reports +=
            move_rows(&txn, "UPDATE violence_report SET unit_id = ? WHERE unit_id = ?", into, s).await?;
        for sql in [
            "UPDATE violence_report SET routed_unit_id = ? WHERE routed_unit_id = ?",
            "UPDATE violence_report SET handling_unit_id = ? WHERE handling_unit_id = ?",
            "UPDATE violence_report SET transfer_to_unit_id = ? WHERE transfer_to_unit_id = ?",
        ] {
            move_rows(&txn, sql, into, s).await?;
        }

        // 8. This year's and later targets and population figures.
        fold_targets(&txn, s, into, this_year).await?;
        fold_population(&txn, s, into, this_year).await?;

        let entry = audit::Entry::new(audit::Action::UnitMerged, s, audit::SubjectKind::Unit, s.uuid())
            .change("status", source.status, UnitStatus::Merged)
            .change("parentId", source.parent_id, Some(into))
            .set("mergedIntoId", into);
        audit::record(&txn, audit::Actor::new(viewer, role), entry).await?;
    }
    // Case officers whose roles ended give back the reports no role of theirs covers.
    let mut released = Vec::new();
    for person in released_people {
        released
            .push(crate::violence::workflow::release_assignments(&txn, &state.report_keys, person).await?);
    }
    let sources_after = org_unit::Entity::find()
        .filter(org_unit::Column::Id.is_in(sources.iter().copied()))
        .all(&txn)
        .await?;
    let into_after = get_unit(&txn, into).await?;
    txn.commit().await?;
    let held = started.elapsed();
    for r in released {
        crate::violence::workflow::announce_released(state, r).await;
    }
    let by_id: HashMap<UnitId, org_unit::Model> = sources_after.into_iter().map(|u| (u.id, u)).collect();
    tracing::info!(
        event = "units_merged",
        into = %into,
        sources = sources.len(),
        memberships = moved.memberships,
        held_ms = held.as_millis() as u64,
        "units merged"
    );
    Ok(Merged {
        into: into_after,
        sources: sources.iter().filter_map(|id| by_id.get(id).cloned()).collect(),
        moved,
        held,
    })
}

/// Runs `sql` (`… SET col = ? WHERE col = ?`) with the target then the source: rows changed.
async fn move_rows(
    txn: &impl ConnectionTrait,
    sql: &str,
    into: UnitId,
    source: UnitId,
) -> Result<u64, ApiError> {
    Ok(db::execute(txn, sql, [into.into(), source.into()]).await?)
}

/// Moves what `source` counted itself (its subtree is itself alone now) out of its old
/// ancestors and into `into` and every unit above it; the source's rows are deleted.
async fn fold_counters(txn: &impl ConnectionTrait, source: UnitId, into: UnitId) -> Result<(), ApiError> {
    // The ancestors the source and the target share keep their sums: left alone.
    let common = shared_ancestors(txn, source, into).await?;
    crate::membership::shift_rollups(txn, source, -1, &common).await?;
    crate::campaigns::activity::shift(txn, source, -1, &common).await?;
    let (skip, skipped) = db::not_in("a.ancestor_id", &common);
    let both = || -> Vec<Value> {
        let mut v: Vec<Value> = vec![into.into(), source.into()];
        v.extend(skipped.iter().cloned());
        v
    };
    db::execute(
        txn,
        &format!(
            "INSERT INTO unit_member_count (unit_id, active) \
         SELECT a.ancestor_id, u.active FROM unit_member_count u \
         JOIN org_unit_closure a ON a.descendant_id = ? WHERE u.unit_id = ?{skip} \
         ON CONFLICT (unit_id) DO UPDATE SET active = unit_member_count.active + excluded.active"
        ),
        both(),
    )
    .await?;
    db::execute(
        txn,
        &format!(
            "INSERT INTO unit_member_day (unit_id, day, joined, \"left\") \
         SELECT a.ancestor_id, u.day, u.joined, u.\"left\" FROM unit_member_day u \
         JOIN org_unit_closure a ON a.descendant_id = ? WHERE u.unit_id = ?{skip} \
         ON CONFLICT (unit_id, day) DO UPDATE SET joined = unit_member_day.joined + excluded.joined, \
         \"left\" = unit_member_day.\"left\" + excluded.\"left\""
        ),
        both(),
    )
    .await?;
    db::execute(
        txn,
        &format!(
            "INSERT INTO unit_activity_day (unit_id, metric, day, value) \
         SELECT a.ancestor_id, u.metric, u.day, u.value FROM unit_activity_day u \
         JOIN org_unit_closure a ON a.descendant_id = ? WHERE u.unit_id = ?{skip} \
         ON CONFLICT (unit_id, metric, day) DO UPDATE SET value = unit_activity_day.value + excluded.value"
        ),
        both(),
    )
    .await?;
    db::execute(
        txn,
        "INSERT INTO branch_member_count (branch_id, active) \
         SELECT ?, active FROM branch_member_count WHERE branch_id = ? \
         ON CONFLICT (branch_id) DO UPDATE SET active = branch_member_count.active + excluded.active",
        [into.into(), source.into()],
    )
    .await?;
    db::execute(
        txn,
        "INSERT INTO branch_member_day (branch_id, day, joined, \"left\") \
         SELECT ?, day, joined, \"left\" FROM branch_member_day WHERE branch_id = ? \
         ON CONFLICT (branch_id, day) DO UPDATE SET joined = branch_member_day.joined + excluded.joined, \
         \"left\" = branch_member_day.\"left\" + excluded.\"left\"",
        [into.into(), source.into()],
    )
    .await?;
    for table in ["unit_member_count", "unit_member_day", "unit_activity_day"] {
        db::execute(txn, &format!("DELETE FROM {table} WHERE unit_id = ?"), [source.into()]).await?;
    }
    for table in ["branch_member_count", "branch_member_day"] {
        db::execute(txn, &format!("DELETE FROM {table} WHERE branch_id = ?"), [source.into()]).await?;
    }
    Ok(())
}

/// Moves the memberships of branch `source` to `into`, each with a `TRANSFERRED` event (by the
/// admin, reason "merge"): the number moved.
async fn move_memberships(
    txn: &impl ConnectionTrait,
    source: UnitId,
    into: UnitId,
    actor: PersonId,
) -> Result<u64, ApiError> {
    let members = membership::Entity::find().filter(membership::Column::BranchId.eq(source)).all(txn).await?;
    if members.is_empty() {
        return Ok(0);
    }
    let now = Utc::now();
    for chunk in members.chunks(1000) {
        membership_event::Entity::insert_many(chunk.iter().map(|m| membership_event::ActiveModel {
            id: Set(Uuid::now_v7()),
            membership_id: Set(m.id),
            person_id: Set(m.person_id),
            kind: Set(EventKind::Transferred),
            from_branch_id: Set(Some(source)),
            to_branch_id: Set(Some(into)),
            from_status: Set(Some(m.status)),
            to_status: Set(Some(m.status)),
            actor_id: Set(Some(actor)),
            reason: Set(Some(MERGE_REASON.to_owned())),
            created_at: Set(now),
        }))
        .exec_without_returning(txn)
        .await?;
    }
    let n = db::execute(
        txn,
        "UPDATE membership SET branch_id = ?, updated_at = ? WHERE branch_id = ?",
        [into.into(), now.into(), source.into()],
    )
    .await?;
    Ok(n)
}

/// The reason of the membership events a merge writes.
pub const MERGE_REASON: &str = "Sáp nhập đơn vị";

/// Ends the active roles held at `source`, granting each again at `into` unless it is in
/// `end` or the person holds that role there already: (moved, ended only, people whose roles
/// ended).
async fn move_roles(
    txn: &impl ConnectionTrait,
    source: UnitId,
    into: UnitId,
    end: &HashSet<Uuid>,
    actor: PersonId,
) -> Result<(u64, u64, Vec<PersonId>), ApiError> {
    let held = officer_role::Entity::find()
        .filter(officer_role::Column::UnitId.eq(source))
        .filter(officer_role::Column::RevokedAt.is_null())
        .all(txn)
        .await?;
    if held.is_empty() {
        return Ok((0, 0, Vec::new()));
    }
    let there: HashSet<(PersonId, authz::Role)> = officer_role::Entity::find()
        .filter(officer_role::Column::UnitId.eq(into))
        .filter(officer_role::Column::RevokedAt.is_null())
        .all(txn)
        .await?
        .into_iter()
        .map(|r| (r.person_id, r.role))
        .collect();
    let now = Utc::now();
    officer_role::Entity::update_many()
        .col_expr(officer_role::Column::RevokedAt, Expr::value(now))
        .col_expr(officer_role::Column::RevokedBy, Expr::value(actor))
        .filter(officer_role::Column::Id.is_in(held.iter().map(|r| r.id)))
        .exec(txn)
        .await?;
    let (mut moved, mut ended) = (0, 0);
    let mut people = Vec::new();
    for r in &held {
        if end.contains(&r.id) || there.contains(&(r.person_id, r.role)) {
            ended += 1;
            people.push(r.person_id);
            continue;
        }
        officer_role::ActiveModel {
            id: Set(Uuid::now_v7()),
            person_id: Set(r.person_id),
            unit_id: Set(into),
            role: Set(r.role),
            granted_by: Set(Some(actor)),
            granted_at: Set(now),
            revoked_by: Set(None),
            revoked_at: Set(None),
        }
        .insert(txn)
        .await?;
        moved += 1;
    }
    Ok((moved, ended, people))
}

/// Folds the source's targets of `from_year` and later into the target's (see the module docs).
async fn fold_targets(
    txn: &impl ConnectionTrait,
    source: UnitId,
    into: UnitId,
    from_year: i32,
) -> Result<(), ApiError> {
    let theirs = target::Entity::find()
        .filter(target::Column::UnitId.eq(source))
        .filter(target::Column::ToYear.gte(from_year))
        .all(txn)
        .await?;
    if theirs.is_empty() {
        return Ok(());
    }
    let ours: HashMap<(Uuid, i32, i32), target::Model> = target::Entity::find()
        .filter(target::Column::UnitId.eq(into))
        .filter(target::Column::ToYear.gte(from_year))
        .all(txn)
        .await?
        .into_iter()
        .map(|t| ((t.indicator_id, t.from_year, t.to_year), t))
        .collect();
    let counted: HashSet<Uuid> = entities::indicator::Entity::find()
        .select_only()
        .column(entities::indicator::Column::Id)
        .filter(entities::indicator::Column::Aggregation.eq(Aggregation::Sum.as_str()))
        .into_tuple::<Uuid>()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    for t in theirs {
        match ours.get(&(t.indicator_id, t.from_year, t.to_year)) {
            Some(mine) => {
                if counted.contains(&t.indicator_id) {
                    let mut row: target::ActiveModel = mine.clone().into();
                    row.value = Set(mine.value + t.value);
                    row.assigned_by_parent = Set(mine.assigned_by_parent || t.assigned_by_parent);
                    row.update(txn).await?;
                }
                target::Entity::delete_by_id(t.id).exec(txn).await?;
            }
            None => {
                target::Entity::update_many()
                    .col_expr(target::Column::UnitId, Expr::value(into))
                    .filter(target::Column::Id.eq(t.id))
                    .exec(txn)
                    .await?;
            }
        }
    }
    Ok(())
}

/// Adds the source's population figures of `from_year` and later to the target's own.
async fn fold_population(
    txn: &impl ConnectionTrait,
    source: UnitId,
    into: UnitId,
    from_year: i32,
) -> Result<(), ApiError> {
    let theirs = population_figure::Entity::find()
        .filter(population_figure::Column::UnitId.eq(source))
        .filter(population_figure::Column::Year.gte(from_year))
        .all(txn)
        .await?;
    for f in theirs {
        let mine = population_figure::Entity::find()
            .filter(population_figure::Column::UnitId.eq(into))
            .filter(population_figure::Column::Year.eq(f.year))
            .one(txn)
            .await?;
        if let Some(mine) = mine {
            let mut row: population_figure::ActiveModel = mine.clone().into();
            row.adult_women = Set(mine.adult_women + f.adult_women);
            row.update(txn).await?;
            population_figure::Entity::delete_by_id(f.id).exec(txn).await?;
        }
    }
    Ok(())
}
