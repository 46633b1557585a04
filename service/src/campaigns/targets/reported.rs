//! Values reported for reported indicators: the latest wins, every earlier one stays in the
//! history. Reporting supersedes the current row and inserts the new one in one transaction;
//! `ux_reported_value_current` allows one current row per (unit, indicator, period), so of two
//! simultaneous reports one commits and the other retries on the unique violation, superseding
//! the winner's row: both end up in the history, exactly one is current.

use crate::Call;
use crate::audit;
use crate::integrations::webhooks;
use chrono::{DateTime, Utc};
use entities::ids::UnitId;
use entities::reported_value as rv;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{IndicatorKind, Period, check_value, usable_indicator};
use crate::{
    authz::{self, Capability},
    db,
    domain::parse_note,
    error::{ApiError, InputProblem, is_unique_violation},
    org::get_unit,
};

/// Attempts of a report that keeps losing the race for the current row. Each lost attempt means
/// another report committed meanwhile, so this bounds simultaneous reports of one figure.
const MAX_ATTEMPTS: usize = 32;

/// What `reportIndicatorValue` records.
#[derive(Clone, Debug)]
pub struct ReportInput {
    pub indicator_id: Uuid,
    pub unit_id: UnitId,
    pub period: Period,
    /// The unit's own figure, not including the units below it.
    pub value: f64,
    pub note: Option<String>,
}

/// Records a unit's value for a reported indicator and a period; it becomes the current value.
pub async fn report_indicator_value(call: Call<'_>, input: ReportInput) -> Result<rv::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, input.unit_id).await?;
    let acting = authz::require(db, viewer, Capability::ReportIndicators, &unit).await?;
    let indicator = usable_indicator(db, input.indicator_id, unit.id).await?;
    if indicator.kind != IndicatorKind::Reported {
        return Err(ApiError::bad_input("indicator_id", InputProblem::InvalidKind));
    }
    let value = check_value(input.value, "value")?;
    let note = parse_note(input.note.as_deref(), "note")?;
    let mut attempt = 1;
    loop {
        match supersede_and_insert(db, audit::Actor::new(viewer, acting), &input, value, note.clone()).await {
            Ok((row, queued)) => {
                webhooks::announce(state, queued);
                tracing::info!(
                    event = "indicator_value_reported",
                    indicator_id = %row.indicator_id,
                    unit_id = %row.unit_id,
                    reported_value_id = %row.id,
                    attempt,
                    "indicator value reported"
                );
                return Ok(row);
            }
            Err(e) if is_unique_violation(&e) && attempt < MAX_ATTEMPTS => attempt += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

/// One attempt: marks the current row superseded and inserts the new current row.
async fn supersede_and_insert(
    db: &DatabaseConnection,
    actor: audit::Actor,
    input: &ReportInput,
    value: f64,
    note: Option<String>,
) -> Result<(rv::Model, webhooks::Queued), DbErr> {
    let txn = db.begin().await?;
    let Period { from_year, to_year } = input.period;
    let written = async {
        // Lock the current value (PostgreSQL; SQLite has one writer), then read the clock and
        // supersede exactly that row. Whoever superseded it before us committed with an earlier
        // time, and whoever comes after waits for our lock — so the current value is always the
        // newest one. When there is no current row to lock (none yet, or it was superseded while
        // we waited), nothing is superseded: a row committed meanwhile makes the insert below a
        // unique violation and the report retries, seeing that row. (Superseding "whatever is
        // current" here instead would let a report that read its clock earlier supersede one that
        // read it later.)
        let mut current = rv::Entity::find()
            .filter(rv::Column::IndicatorId.eq(input.indicator_id))
            .filter(rv::Column::FromYear.eq(from_year))
            .filter(rv::Column::ToYear.eq(to_year))
            .filter(rv::Column::UnitId.eq(input.unit_id))
            .filter(rv::Column::SupersededAt.is_null());
        if txn.get_database_backend() == DbBackend::Postgres {
            current = current.lock_exclusive();
        }
        let was = current.one(&txn).await?;
        let now = Utc::now();
        if let Some(was) = &was {
            db::execute(
                &txn,
                "UPDATE reported_value SET superseded_at = ? WHERE id = ? AND superseded_at IS NULL",
                [now.into(), was.id.into()],
            )
            .await?;
        }
        let row = rv::ActiveModel {
            id: Set(Uuid::now_v7()),
            indicator_id: Set(input.indicator_id),
            unit_id: Set(input.unit_id),
            from_year: Set(from_year),
            to_year: Set(to_year),
            value: Set(value),
            note: Set(note),
            reported_by: Set(actor.person_id),
            reported_at: Set(now),
            superseded_at: Set(None),
        }
        .insert(&txn)
        .await?;
        let progress = webhooks::progress_data(
            input.unit_id,
            input.indicator_id,
            (from_year, to_year),
            webhooks::ProgressCause::ValueReported,
        );
        let event = webhooks::Event {
            event_type: webhooks::EventType::TargetProgressChanged,
            unit_id: input.unit_id,
            data: progress,
        };
        let queued = webhooks::emit(&txn, event).await?;
        let entry = audit::Entry::new(
            audit::Action::ValueReported,
            row.unit_id,
            audit::SubjectKind::ReportedValue,
            row.id,
        )
        .set("indicatorId", row.indicator_id)
        .set("period", format!("{from_year}-{to_year}"))
        .change("value", was.as_ref().map(|w| w.value), row.value)
        .change("note", was.and_then(|w| w.note), &row.note);
        audit::record(&txn, actor, entry).await?;
        Ok((row, queued))
    }
    .await;
    match written {
        Ok(written) => {
            txn.commit().await?;
            Ok(written)
        }
        Err(e) => {
            // The transaction is unusable after a failed statement on PostgreSQL.
            txn.rollback().await?;
            Err(e)
        }
    }
}

/// Position in a value history, which is ordered newest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HistoryCursor {
    pub reported_at: DateTime<Utc>,
    pub id: Uuid,
}

/// The values reported for a unit, an indicator and a period, newest first (any officer role
/// over the unit; the indicator must be usable there). `has_next` tells whether more follow.
pub async fn indicator_value_history(
    call: Call<'_>,
    indicator_id: Uuid,
    unit_id: UnitId,
    period: Period,
    first: u64,
    after: Option<&HistoryCursor>,
) -> Result<(Vec<rv::Model>, bool), ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    get_unit(db, unit_id).await?;
    authz::require(db, viewer, Capability::ViewUnit, unit_id).await?;
    usable_indicator(db, indicator_id, unit_id).await?;
    let mut query = rv::Entity::find()
        .filter(rv::Column::UnitId.eq(unit_id))
        .filter(rv::Column::IndicatorId.eq(indicator_id))
        .filter(rv::Column::FromYear.eq(period.from_year))
        .filter(rv::Column::ToYear.eq(period.to_year));
    if let Some(a) = after {
        query = query.filter(Condition::any().add(rv::Column::ReportedAt.lt(a.reported_at)).add(
            Condition::all().add(rv::Column::ReportedAt.eq(a.reported_at)).add(rv::Column::Id.lt(a.id)),
        ));
    }
    let rows = query
        .order_by_desc(rv::Column::ReportedAt)
        .order_by_desc(rv::Column::Id)
        .limit(first + 1)
        .all(db)
        .await?;
    Ok(crate::db::split_page(rows, first))
}
