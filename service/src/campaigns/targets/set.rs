//! Setting a unit's target and dividing it among its direct children, in one transaction.

use crate::Call;
use crate::audit;
use crate::integrations::webhooks::{self, ProgressCause};
use entities::ids::UnitId;
use std::collections::HashSet;

use chrono::Utc;
use entities::{indicator, org_unit, target};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait, Value};
use uuid::Uuid;

use super::{Period, check_value, require_target_manager, usable_indicator};
use crate::{
    db::{self, repeat_list},
    error::{ApiError, InputProblem},
    org::get_unit,
};

/// Most shares one call may set (a unit has far fewer direct children).
const MAX_SHARES: usize = 1000;

/// What `setTarget` writes.
#[derive(Clone, Debug)]
pub struct TargetInput {
    pub indicator_id: Uuid,
    pub unit_id: UnitId,
    pub period: Period,
    /// The unit's own target; `None` leaves it as it is.
    pub value: Option<f64>,
    /// (direct child, its share).
    pub shares: Vec<(UnitId, f64)>,
}

/// The targets after a `setTarget`.
pub struct SetTargets {
    pub indicator: indicator::Model,
    /// The unit's own target, if it has one.
    pub own: Option<target::Model>,
    /// The shares written, in the order given.
    pub shares: Vec<target::Model>,
}

/// Sets a unit's own target and its direct children's shares for an indicator and a period
/// (see the module docs for who may). Shares need not add up to the target.
pub async fn set_target(call: Call<'_>, input: TargetInput) -> Result<SetTargets, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, input.unit_id).await?;
    let (above, acting) = require_target_manager(db, viewer, &unit).await?;
    if let Some(v) = input.value {
        check_value(v, "value")?;
    }
    if input.shares.len() > MAX_SHARES {
        return Err(ApiError::bad_input("shares", InputProblem::TooMany));
    }
    let mut seen = HashSet::new();
    for &(child, value) in &input.shares {
        check_value(value, "shares")?;
        if !seen.insert(child) {
            return Err(ApiError::bad_input("shares", InputProblem::InvalidFormat));
        }
    }
    let indicator = usable_indicator(db, input.indicator_id, unit.id).await?;
    if !input.shares.is_empty() {
        let children = org_unit::Entity::find()
            .filter(org_unit::Column::Id.is_in(seen.iter().copied()))
            .filter(org_unit::Column::ParentId.eq(unit.id))
            .filter(org_unit::Column::Status.eq(org_unit::UnitStatus::Active.as_str()))
            .count(db)
            .await?;
        if children != input.shares.len() as u64 {
            return Err(ApiError::bad_input("shares", InputProblem::NotAChild));
        }
    }

    let Period { from_year, to_year } = input.period;
    let now = Utc::now();
    let row = |unit_id: UnitId, value: f64, assigned: bool| -> [Value; 9] {
        [
            Uuid::now_v7().into(),
            indicator.id.into(),
            unit_id.into(),
            from_year.into(),
            to_year.into(),
            value.into(),
            assigned.into(),
            viewer.person_id.into(),
            now.into(),
        ]
    };
    let upsert = |rows: usize, guard: &str| {
        format!(
            "INSERT INTO target (id, indicator_id, unit_id, from_year, to_year, value, assigned_by_parent, set_by, set_at) \
             VALUES {} ON CONFLICT (unit_id, from_year, to_year, indicator_id) DO UPDATE SET \
             value = excluded.value, assigned_by_parent = excluded.assigned_by_parent, \
             set_by = excluded.set_by, set_at = excluded.set_at{guard}",
            repeat_list("(?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        )
    };
    let units: Vec<UnitId> = std::iter::once(unit.id).chain(input.shares.iter().map(|s| s.0)).collect();
    let targets = || {
        target::Entity::find()
            .filter(target::Column::IndicatorId.eq(indicator.id))
            .filter(target::Column::UnitId.is_in(units.iter().copied()))
            .filter(target::Column::FromYear.eq(from_year))
            .filter(target::Column::ToYear.eq(to_year))
    };
    let txn = db.begin().await?;
    // What the trail calls "before": read in the transaction (a concurrent setTarget on the
    // same targets waits on the upsert's row locks and writes its own entry after this one).
    let before = targets().all(&txn).await?;
    if let Some(value) = input.value {
        // A target from above is kept from above: whoever stands strictly above the unit writes
        // an assigned target; anybody else may only replace one that was not assigned. The guard
        // is part of the upsert, so a share written meanwhile by the parent cannot be lost.
        let assigned = above && unit.parent_id.is_some();
        let (guard, mut values) = if above {
            (String::new(), Vec::new())
        } else {
            (" WHERE target.assigned_by_parent = ?".to_owned(), vec![Value::from(false)])
        };
        let mut all: Vec<Value> = row(unit.id, value, assigned).into();
        all.append(&mut values);
        if db::execute(&txn, &upsert(1, &guard), all).await? == 0 {
            return Err(ApiError::Forbidden);
        }
    }
    if !input.shares.is_empty() {
        let values = input.shares.iter().flat_map(|&(child, value)| row(child, value, true));
        db::execute(&txn, &upsert(input.shares.len(), ""), values).await?;
    }
    let mut rows = targets().all(&txn).await?;
    let entries = rows
        .iter()
        .map(|t| {
            let was = before.iter().find(|b| b.unit_id == t.unit_id);
            audit::Entry::new(audit::Action::TargetSet, t.unit_id, audit::SubjectKind::Target, t.id)
                .field("indicatorId", was, t, |t| t.indicator_id)
                .field("period", was, t, |t| format!("{}-{}", t.from_year, t.to_year))
                .field("value", was, t, |t| t.value)
                .field("assignedByParent", was, t, |t| t.assigned_by_parent)
        })
        .collect();
    audit::record_all(&txn, audit::Actor::new(viewer, acting), entries).await?;
    let events = rows
        .iter()
        .map(|t| webhooks::Event {
            event_type: webhooks::EventType::TargetProgressChanged,
            unit_id: t.unit_id,
            data: webhooks::progress_data(
                t.unit_id,
                indicator.id,
                (from_year, to_year),
                ProgressCause::TargetSet,
            ),
        })
        .collect();
    let queued = webhooks::emit_all(&txn, events).await?;
    txn.commit().await?;
    webhooks::announce(state, queued);
    tracing::info!(
        event = "target_set",
        unit_id = %unit.id,
        indicator_id = %indicator.id,
        from_year,
        to_year,
        own = input.value.is_some(),
        shares = input.shares.len(),
        "target set"
    );
    let own = rows.iter().position(|t| t.unit_id == unit.id).map(|i| rows.swap_remove(i));
    let shares = input
        .shares
        .iter()
        .filter_map(|&(child, _)| rows.iter().find(|t| t.unit_id == child).cloned())
        .collect();
    Ok(SetTargets { indicator, own, shares })
}
