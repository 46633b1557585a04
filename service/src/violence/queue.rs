//! The case officers' console: the queue (urgent first, then oldest), a report's details (each
//! read logged), the access log, and the counts every officer may see.
//!
//! A queue page is one statement (two with `totalCount`) whatever its size: the caller's
//! `CASE_OFFICER` units and the units below them are read first (two statements, three with a
//! unit filter) so the reach filter carries them as constants.

use crate::Call;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use entities::ids::{ReportId, UnitId};
use entities::{
    violence_access_log as access_log, violence_report as report, violence_report_event as event,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{Expr, Func},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{AccessAction, ActorRole, ReportStatus, covers, log_access, readable_report};
use crate::{
    auth::Viewer,
    authz::{self, Capability},
    db::{TimeOrder, split_page},
    domain::hanoi_day_start,
    error::ApiError,
};

/// The queue's filters.
#[derive(Clone, Debug, Default)]
pub struct QueueFilter {
    pub status: Option<ReportStatus>,
    pub urgent: Option<bool>,
    /// Only reports placed in this unit's subtree (which must be in her reach).
    pub unit: Option<UnitId>,
    pub assigned_to_me: bool,
    /// Only reports past their acknowledgement deadline (`true`), or only those that are not.
    pub overdue: Option<bool>,
    pub submitted_from: Option<DateTime<Utc>>,
    pub submitted_to: Option<DateTime<Utc>>,
    pub order: QueueOrder,
}

/// The order of the queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QueueOrder {
    /// Reports in immediate danger first, then the oldest: the order they are worked in.
    #[default]
    UrgentFirst,
    /// By submission alone.
    Submitted(TimeOrder),
}

/// Position in the queue: urgent first, then oldest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QueueCursor {
    pub urgent: bool,
    pub submitted_at: DateTime<Utc>,
    pub id: ReportId,
}

/// The queue condition, with the caller's reach resolved.
#[derive(Clone)]
pub struct QueueQuery {
    condition: Condition,
    order: QueueOrder,
}

/// The units where the viewer holds a case-handling role.
pub(super) async fn case_officer_units(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
) -> Result<Vec<UnitId>, ApiError> {
    authz::role_units(conn, viewer.person_id, Capability::HandleViolenceReports).await
}

/// The units at or below any of `roots`.
async fn subtree_units(conn: &impl ConnectionTrait, roots: &[UnitId]) -> Result<Vec<UnitId>, ApiError> {
    use entities::org_unit_closure as c;
    Ok(c::Entity::find()
        .select_only()
        .column(c::Column::DescendantId)
        .filter(c::Column::AncestorId.is_in(roots.iter().copied()))
        .distinct()
        .into_tuple()
        .all(conn)
        .await?)
}

/// Overdue: still unacknowledged past its deadline — escalated at least once, due now, or past
/// the top of the tree (a submitted report has no deadline only once escalation has run out).
fn overdue_condition(now: DateTime<Utc>) -> Condition {
    Condition::all().add(report::Column::Status.eq(ReportStatus::Submitted.as_str())).add(
        Condition::any()
            .add(report::Column::EscalationLevel.gt(0))
            .add(report::Column::EscalateAt.is_null())
            .add(report::Column::EscalateAt.lte(now)),
    )
}

/// Whether a report is overdue now.
pub fn is_overdue(row: &report::Model, now: DateTime<Utc>) -> bool {
    row.status == ReportStatus::Submitted
        && (row.escalation_level > 0 || row.escalate_at.is_none_or(|at| at <= now))
}

/// Resolves the caller's reach and the filters into one condition. Someone who is not a case
/// officer anywhere sees nothing (an assignment without a covering role grants nothing).
pub async fn queue_query(call: Call<'_>, filter: &QueueFilter) -> Result<QueueQuery, ApiError> {
    let (conn, viewer) = (&call.state.db, call.viewer()?);
    let units = case_officer_units(conn, viewer).await?;
    let mine = report::Column::AssignedTo.eq(viewer.person_id);
    let mut condition = Condition::all();
    // The units of her reach as constants: the planner then uses the per-unit index (a subquery
    // here made it scan every report).
    let reach = match authz::unless_root(conn, units).await? {
        None => Condition::all().add(Expr::cust("1 = 1")),
        Some(units) if units.is_empty() => Condition::all().add(Expr::cust("1 = 0")),
        Some(units) => {
            // What her units handle, and what is offered to them.
            let units = subtree_units(conn, &units).await?;
            Condition::any()
                .add(report::Column::HandlingUnitId.is_in(units.iter().copied()))
                .add(report::Column::TransferToUnitId.is_in(units))
        }
    };
    condition = condition.add(reach);
    if let Some(unit) = filter.unit {
        if !covers(conn, viewer.person_id, unit).await? {
            return Err(ApiError::NotFound);
        }
        condition = condition.add(report::Column::UnitId.is_in(subtree_units(conn, &[unit]).await?));
    }
    if let Some(status) = filter.status {
        condition = condition.add(report::Column::Status.eq(status.as_str()));
    }
    if let Some(urgent) = filter.urgent {
        condition = condition.add(report::Column::Urgent.eq(urgent));
    }
    if filter.assigned_to_me {
        condition = condition.add(mine);
    }
    match filter.overdue {
        Some(true) => condition = condition.add(overdue_condition(Utc::now())),
        Some(false) => condition = condition.add(overdue_condition(Utc::now()).not()),
        None => {}
    }
    if let Some(from) = filter.submitted_from {
        condition = condition.add(report::Column::SubmittedAt.gte(from));
    }
    if let Some(to) = filter.submitted_to {
        condition = condition.add(report::Column::SubmittedAt.lt(to));
    }
    Ok(QueueQuery { condition, order: filter.order })
}

/// A page of the queue, in its order (urgent first, then oldest, unless asked otherwise).
pub(super) async fn queue(
    conn: &impl ConnectionTrait,
    q: &QueueQuery,
    first: u64,
    after: Option<&QueueCursor>,
) -> Result<(Vec<report::Model>, bool), ApiError> {
    let mut query = report::Entity::find().filter(q.condition.clone());
    if let QueueOrder::Submitted(order) = q.order {
        if let Some(c) = after {
            query = query.filter(order.after(
                report::Column::SubmittedAt,
                c.submitted_at,
                report::Column::Id,
                c.id,
            ));
        }
        let rows = query
            .order_by(report::Column::SubmittedAt, order.direction())
            .order_by(report::Column::Id, order.direction())
            .limit(first + 1)
            .all(conn)
            .await?;
        return Ok(split_page(rows, first));
    }
    if let Some(c) = after {
        let later = Condition::any().add(report::Column::SubmittedAt.gt(c.submitted_at)).add(
            Condition::all()
                .add(report::Column::SubmittedAt.eq(c.submitted_at))
                .add(report::Column::Id.gt(c.id)),
        );
        let same_urgency = Condition::all().add(report::Column::Urgent.eq(c.urgent)).add(later);
        let mut after_cursor = Condition::any().add(same_urgency);
        if c.urgent {
            after_cursor = after_cursor.add(report::Column::Urgent.eq(false));
        }
        query = query.filter(after_cursor);
    }
    let rows = query
        .order_by_desc(report::Column::Urgent)
        .order_by_asc(report::Column::SubmittedAt)
        .order_by_asc(report::Column::Id)
        .limit(first + 1)
        .all(conn)
        .await?;
    Ok(split_page(rows, first))
}

pub async fn count_queue(conn: &impl ConnectionTrait, q: &QueueQuery) -> Result<u64, ApiError> {
    Ok(report::Entity::find().filter(q.condition.clone()).count(conn).await?)
}

/// A report's details for a case officer: the row and its whole timeline. The read is logged.
pub(super) async fn read_report(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: ReportId,
) -> Result<(report::Model, Vec<event::Model>), ApiError> {
    let (row, _) = readable_report(conn, viewer, report::Entity::find_by_id(id).one(conn).await?).await?;
    let events = timeline(conn, id).await?;
    log_access(conn, id, Some(viewer.person_id), ActorRole::CaseOfficer, AccessAction::Read, Utc::now())
        .await?;
    Ok((row, events))
}

/// Every step of a report, oldest first.
pub(super) async fn timeline(
    conn: &impl ConnectionTrait,
    id: ReportId,
) -> Result<Vec<event::Model>, ApiError> {
    Ok(event::Entity::find()
        .filter(event::Column::ReportId.eq(id))
        .order_by_asc(event::Column::CreatedAt)
        .order_by_asc(event::Column::Id)
        .all(conn)
        .await?)
}

/// Position in an access log (oldest first).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogCursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

/// A page of a report's access log, for a case officer whose reach covers it. Reading the log
/// is itself logged.
pub(super) async fn access_log_page(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: ReportId,
    first: u64,
    after: Option<&LogCursor>,
) -> Result<(Vec<access_log::Model>, bool), ApiError> {
    let row = report::Entity::find_by_id(id).one(conn).await?.ok_or(ApiError::NotFound)?;
    // The log is for the case officers holding the case, not for an assignee alone.
    if !covers(conn, viewer.person_id, row.handling_unit_id).await? {
        return Err(ApiError::NotFound);
    }
    log_access(conn, id, Some(viewer.person_id), ActorRole::CaseOfficer, AccessAction::ReadLog, Utc::now())
        .await?;
    let mut query = access_log::Entity::find().filter(access_log::Column::ReportId.eq(id));
    if let Some(c) = after {
        query =
            query.filter(crate::db::after_key(access_log::Column::At, c.at, access_log::Column::Id, c.id));
    }
    let rows = query
        .order_by_asc(access_log::Column::At)
        .order_by_asc(access_log::Column::Id)
        .limit(first + 1)
        .all(conn)
        .await?;
    Ok(split_page(rows, first))
}

/// Counts of a subtree's reports as the caller may know them: exact and by status for a case
/// officer whose reach covers the unit (she can read each report anyway); for any other
/// officer over it only the coarse total — over whole calendar months, below
/// `APP_SUPPRESSION_MIN_COUNT` suppressed (`None`), above it rounded down to a multiple of it
/// ([`crate::suppression::Suppression::coarse`]) — so neither a count nor the difference of two counts singles out
/// one report, its day or its closing.
#[derive(Default, Debug)]
pub struct Counts {
    pub coarse: bool,
    pub total: Option<u64>,
    pub open: Option<u64>,
    pub urgent_open: Option<u64>,
    pub overdue: Option<u64>,
    /// Empty when coarse.
    pub by_status: Vec<(ReportStatus, u64)>,
}

#[derive(FromQueryResult)]
struct CountRow {
    status: String,
    urgent: bool,
    overdue: i64,
    n: i64,
}

/// Counts of the reports placed in `unit`'s subtree and submitted on the Hanoi days `[from,
/// to)` (whole days, so the range cannot be narrowed onto one report's time). One statement.
pub async fn counts(
    call: Call<'_>,
    unit: UnitId,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Counts, ApiError> {
    let (conn, viewer) = (&call.state.db, call.viewer()?);
    authz::require(conn, viewer, Capability::ViewUnit, unit).await?;
    let exact = covers(conn, viewer.person_id, unit).await?;
    // Coarse readers count whole calendar months: sliding a range day by day cannot show on
    // which day a count crossed a step.
    let (from, to) = if exact { (from, to) } else { (from.map(month_start), to.map(month_end)) };
    let now = Utc::now();
    let mut query = report::Entity::find()
        .select_only()
        .column(report::Column::Status)
        .column(report::Column::Urgent)
        .column_as(
            Expr::from(Func::sum(Expr::Case(Box::new(
                Expr::case(overdue_condition(now), 1i32).finally(0i32),
            )))),
            "overdue",
        )
        .column_as(Expr::from(Func::count(Expr::col(report::Column::Id))), "n")
        .filter(report::Column::UnitId.in_subquery(authz::subtree_select(unit)))
        .group_by(report::Column::Status)
        .group_by(report::Column::Urgent);
    if let Some(from) = from {
        query = query.filter(report::Column::SubmittedAt.gte(hanoi_day_start(from)));
    }
    if let Some(to) = to {
        query = query.filter(report::Column::SubmittedAt.lt(hanoi_day_start(to)));
    }
    let rows = query.into_model::<CountRow>().all(conn).await?;
    let (mut total, mut open, mut urgent_open, mut overdue) = (0, 0, 0, 0);
    let mut by_status: Vec<(ReportStatus, u64)> = ReportStatus::ALL.iter().map(|&s| (s, 0)).collect();
    for r in rows {
        let n = r.n as u64;
        let Some(status) = ReportStatus::parse(&r.status) else { continue };
        total += n;
        if !status.is_finished() {
            open += n;
            if r.urgent {
                urgent_open += n;
            }
        }
        overdue += r.overdue as u64;
        if let Some(slot) = by_status.iter_mut().find(|(s, _)| *s == status) {
            slot.1 += n;
        }
    }
    Ok(if exact {
        Counts {
            coarse: false,
            total: Some(total),
            open: Some(open),
            urgent_open: Some(urgent_open),
            overdue: Some(overdue),
            by_status,
        }
    } else {
        // Only the total: how many are still open would show one report's closing.
        let rule = crate::suppression::Suppression::new(call.state.settings.suppression_min_count);
        Counts { coarse: true, total: rule.coarse(total), ..Counts::default() }
    })
}

/// The first day of `day`'s month.
fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// The first day of a month at or after `day` (an exclusive end rounded out to a whole month).
fn month_end(day: NaiveDate) -> NaiveDate {
    if day.day() == 1 {
        return day;
    }
    let first = month_start(day);
    first.checked_add_months(chrono::Months::new(1)).unwrap_or(first)
}
