//! Per-day counters of the computed indicators that are not membership figures: attendances
//! (check-ins) and certified household pledges. Each change adds to the row of the unit where
//! it happened and of every unit above it, in the writer's transaction, so a target's actual is
//! a sum over a few rows per unit and day — never a count over millions of registrations.
//!
//! When a unit moves, [`shift`] takes its counters away from its old ancestors and gives them
//! to the new ones (as `membership::shift_rollups` does for members): its history moves with it.

use chrono::NaiveDate;
use entities::ids::UnitId;
use sea_orm::ConnectionTrait;

use crate::{db, error::ApiError};

pub use entities::unit_activity_day::Metric;

/// Adds `delta` to `metric` on `day` for `unit_id` and every unit above it.
pub async fn record(
    txn: &impl ConnectionTrait,
    unit_id: UnitId,
    metric: Metric,
    day: NaiveDate,
    delta: i64,
) -> Result<(), ApiError> {
    db::execute(
        txn,
        "INSERT INTO unit_activity_day (unit_id, metric, day, value) \
         SELECT ancestor_id, ?, ?, ? FROM org_unit_closure WHERE descendant_id = ? \
         ON CONFLICT (unit_id, metric, day) DO UPDATE SET value = unit_activity_day.value + excluded.value",
        [metric.as_str().into(), day.into(), delta.into(), unit_id.into()],
    )
    .await?;
    Ok(())
}

/// Adds `sign` × the counters of `unit_id` (all it contains) to each of its strict ancestors but
/// those in `except`: `-1` before a move detaches it, `+1` once it hangs below its new parent
/// (the ancestors the old and new places share are left alone: their sums do not change).
pub async fn shift(
    txn: &impl ConnectionTrait,
    unit_id: UnitId,
    sign: i64,
    except: &[UnitId],
) -> Result<(), ApiError> {
    let (skip, values) = db::not_in("a.ancestor_id", except);
    let mut all: Vec<sea_orm::Value> = vec![sign.into(), unit_id.into()];
    all.extend(values);
    db::execute(
        txn,
        &format!(
            "INSERT INTO unit_activity_day (unit_id, metric, day, value) \
             SELECT a.ancestor_id, u.metric, u.day, ? * u.value FROM unit_activity_day u \
             JOIN org_unit_closure a ON a.descendant_id = u.unit_id \
             WHERE u.unit_id = ? AND a.depth > 0{skip} \
             ON CONFLICT (unit_id, metric, day) DO UPDATE SET value = unit_activity_day.value + excluded.value"
        ),
        all,
    )
    .await?;
    Ok(())
}
