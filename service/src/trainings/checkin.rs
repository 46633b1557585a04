//! Check-in and the roster.
//!
//! A confirmed registrant's app shows a check-in code (a QR payload) that names her
//! registration and expires after `APP_CHECK_IN_TOKEN_TTL_SECS`; it is MACed with a key derived
//! from the server secret, so it cannot be guessed, altered, or moved to another person or
//! training (see [`crate::auth::TokenKeys::issue_check_in`]). Attendance is recorded once: a
//! second scan answers the same registration with `alreadyCheckedIn`.

use crate::Call;
use crate::audit;
use chrono::Utc;
use entities::ids::TrainingId;
use entities::{person, training, training_registration as reg};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
    RelationDef, TransactionTrait, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CheckInMethod, RegistrationStatus, TrainingStatus, lock_training, require_manager};
use crate::{
    auth::Viewer,
    campaigns::activity::{self, Metric},
    domain::hanoi_day,
    error::{ApiError, ConflictKind, InputProblem},
    state::AppState,
};

/// The result of a check-in.
pub struct CheckIn {
    pub registration: reg::Model,
    /// The person had been checked in before; nothing changed.
    pub already_checked_in: bool,
}

/// The check-in code of the caller's own confirmed registration, with its expiry; `None` when
/// the registration has no seat or the training is not running.
pub fn issue_check_in_token(
    state: &AppState,
    viewer: &Viewer,
    r: &reg::Model,
    t: &training::Model,
) -> Option<(String, chrono::DateTime<Utc>)> {
    let mine = r.person_id == viewer.person_id;
    let seated = r.status == RegistrationStatus::Confirmed;
    let running = t.status == TrainingStatus::Published;
    (mine && seated && running).then(|| state.tokens.issue_check_in(r.id, Utc::now()))
}

/// Checks in the holder of a check-in code at `training_id`, for a manager of the training.
pub async fn check_in(call: Call<'_>, training_id: TrainingId, token: &str) -> Result<CheckIn, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    // Only a manager of the training learns anything about a code (genuine, expired, whose):
    // anybody else gets the same answer whatever she sends.
    let t = training::Entity::find_by_id(training_id).one(&state.db).await?.ok_or(ApiError::NotFound)?;
    let acting = require_manager(&state.db, viewer, &t).await?;
    let registration_id = state
        .tokens
        .verify_check_in(token.trim(), Utc::now())
        .map_err(|p| ApiError::bad_input("token", p))?;
    record(state, audit::Actor::new(viewer, acting), training_id, registration_id, CheckInMethod::Token).await
}

/// Checks in a registration by hand (the person has no phone with her, say).
pub async fn check_in_manually(call: Call<'_>, registration_id: Uuid) -> Result<CheckIn, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let r = reg::Entity::find_by_id(registration_id).one(&state.db).await?.ok_or(ApiError::NotFound)?;
    let t = training::Entity::find_by_id(r.training_id).one(&state.db).await?.ok_or(ApiError::NotFound)?;
    let acting = require_manager(&state.db, viewer, &t).await?;
    record(state, audit::Actor::new(viewer, acting), r.training_id, registration_id, CheckInMethod::Manual)
        .await
}

/// Checks in many registrations by hand (see [`crate::bulk`]), each as [`check_in_manually`]
/// would, on its own.
pub async fn check_in_many_manually(
    call: Call<'_>,
    registration_ids: &[Uuid],
) -> Result<Vec<Result<CheckIn, ApiError>>, ApiError> {
    call.viewer()?;
    crate::bulk::check_max(registration_ids.len(), "registration_ids")?;
    Ok(crate::bulk::each(registration_ids, |id| check_in_manually(call, id)).await)
}

/// Records attendance; the caller has checked that the viewer manages the training.
async fn record(
    state: &AppState,
    actor: audit::Actor,
    training_id: TrainingId,
    registration_id: Uuid,
    method: CheckInMethod,
) -> Result<CheckIn, ApiError> {
    let txn = state.db.begin().await?;
    let t = lock_training(&txn, training_id).await?;
    if !matches!(t.status, TrainingStatus::Published | TrainingStatus::Completed) {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    let r = reg::Entity::find_by_id(registration_id)
        .one(&txn)
        .await?
        .filter(|r| r.training_id == training_id)
        .ok_or(match method {
            // A genuine code, of another training's registration.
            CheckInMethod::Token => ApiError::bad_input("token", InputProblem::OtherTraining),
            CheckInMethod::Manual => ApiError::NotFound,
        })?;
    match r.status {
        RegistrationStatus::Attended => {
            return Ok(CheckIn { registration: r, already_checked_in: true });
        }
        // A late arrival after the training was closed still counts.
        RegistrationStatus::Confirmed | RegistrationStatus::NoShow => {}
        _ => return Err(ApiError::Conflict(ConflictKind::NotConfirmed)),
    }
    // Check-in opens a while before the start (people arrive early), not days before.
    let window = chrono::Duration::from_std(state.settings.check_in_opens_before).unwrap_or_default();
    let opens = t.starts_at.checked_sub_signed(window).unwrap_or(t.starts_at);
    if state.clock.now() < opens {
        return Err(ApiError::Conflict(ConflictKind::NotStartedYet));
    }
    let now = Utc::now();
    reg::Entity::update_many()
        .col_expr(reg::Column::Status, Expr::value(RegistrationStatus::Attended.as_str()))
        .col_expr(reg::Column::AttendedAt, Expr::value(now))
        .col_expr(reg::Column::CheckedInBy, Expr::value(actor.person_id))
        .col_expr(reg::Column::CheckInMethod, Expr::value(method.as_str()))
        .col_expr(reg::Column::UpdatedAt, Expr::value(now))
        .filter(reg::Column::Id.eq(registration_id))
        .exec(&txn)
        .await?;
    // Counted for the targets (people trained) of the organising unit and every unit above.
    activity::record(&txn, t.unit_id, Metric::Attended, hanoi_day(now), 1).await?;
    let entry =
        audit::Entry::new(audit::Action::CheckedIn, t.unit_id, audit::SubjectKind::Registration, r.id)
            .change("status", r.status, RegistrationStatus::Attended)
            .set("method", method);
    audit::record(&txn, actor, entry).await?;
    let r = reg::Entity::find_by_id(registration_id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    txn.commit().await?;
    tracing::info!(event = "training_check_in", training_id = %training_id, registration_id = %registration_id, method = method.as_str(), by = %actor.person_id, "checked in");
    Ok(CheckIn { registration: r, already_checked_in: false })
}

/// Takes a training's attendances out of the activity counters (it is being cancelled, and a
/// cancelled training trains nobody in the figures), day by day as they were counted.
pub(super) async fn uncount_attendances(
    txn: &impl ConnectionTrait,
    t: &training::Model,
) -> Result<(), ApiError> {
    let attended: Vec<Option<chrono::DateTime<Utc>>> = reg::Entity::find()
        .select_only()
        .column(reg::Column::AttendedAt)
        .filter(reg::Column::TrainingId.eq(t.id))
        .filter(reg::Column::AttendedAt.is_not_null())
        .into_tuple()
        .all(txn)
        .await?;
    let mut per_day = std::collections::BTreeMap::new();
    for at in attended.into_iter().flatten() {
        *per_day.entry(hanoi_day(at)).or_insert(0i64) += 1;
    }
    for (day, n) in per_day {
        activity::record(txn, t.unit_id, Metric::Attended, day, -n).await?;
    }
    Ok(())
}

/// Filters of a roster.
#[derive(Clone, Default)]
pub struct RosterFilter {
    pub status: Option<RegistrationStatus>,
}

/// Position in a roster, which is in arrival order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RosterCursor {
    pub queue_no: i64,
}

fn to_person() -> RelationDef {
    reg::Entity::belongs_to(person::Entity).from(reg::Column::PersonId).to(person::Column::Id).into()
}

fn roster_condition(training_id: TrainingId, filter: &RosterFilter) -> Condition {
    let mut c = Condition::all().add(reg::Column::TrainingId.eq(training_id));
    if let Some(s) = filter.status {
        c = c.add(reg::Column::Status.eq(s.as_str()));
    }
    c
}

/// One page of a training's registrations with their people, in arrival order (managers only).
pub async fn roster(
    call: Call<'_>,
    t: &training::Model,
    filter: &RosterFilter,
    first: u64,
    after: Option<&RosterCursor>,
) -> Result<(Vec<(reg::Model, person::Model)>, bool), ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    require_manager(&state.db, viewer, t).await?;
    let mut query = reg::Entity::find()
        .join(JoinType::InnerJoin, to_person())
        .select_also(person::Entity)
        .filter(roster_condition(t.id, filter));
    if let Some(a) = after {
        query = query.filter(reg::Column::QueueNo.gt(a.queue_no));
    }
    let rows = query.order_by_asc(reg::Column::QueueNo).limit(first + 1).all(&state.db).await?;
    let rows: Vec<_> = rows.into_iter().filter_map(|(r, p)| p.map(|p| (r, p))).collect();
    Ok(crate::db::split_page(rows, first))
}

/// Checks that the caller manages the training (its roster and its export).
pub async fn require_roster_access(call: Call<'_>, t: &training::Model) -> Result<(), ApiError> {
    require_manager(&call.state.db, call.viewer()?, t).await.map(|_| ())
}

/// Registrations of a roster filter (managers only; for `totalCount`).
pub async fn roster_count(
    conn: &impl ConnectionTrait,
    training_id: TrainingId,
    filter: &RosterFilter,
) -> Result<u64, ApiError> {
    use sea_orm::PaginatorTrait;
    Ok(reg::Entity::find().filter(roster_condition(training_id, filter)).count(conn).await?)
}

/// The whole roster as CSV, as the roster export writes it (`crate::exports`): UTF-8 with a
/// byte-order mark, Vietnamese headers and statuses, Hanoi local times, formulas defused.
pub async fn roster_csv(call: Call<'_>, t: &training::Model) -> Result<String, ApiError> {
    crate::exports::csv_text(crate::exports::sources::roster(call, t.id, RosterFilter::default()).await?)
        .await
}

/// A training's figures for its managers, in one statement: seats taken and left, the
/// waitlist, who came and who did not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrainingDashboard {
    pub capacity: Option<i32>,
    /// Seats still free (`None`: no capacity), as `seatsLeft` counts them.
    pub seats_left: Option<i32>,
    pub confirmed: i64,
    pub waitlisted: i64,
    pub attended: i64,
    pub no_show: i64,
    pub cancelled: i64,
}

impl TrainingDashboard {
    /// Those who came over those who held a seat (checked in, no-shows, and seats not yet
    /// used); `None` before anyone held one.
    pub fn attendance_rate(&self) -> Option<f64> {
        let seated = self.attended + self.no_show + self.confirmed;
        (seated > 0).then(|| self.attended as f64 / seated as f64)
    }
}

#[derive(sea_orm::FromQueryResult)]
struct StatusCount {
    status: String,
    n: i64,
}

/// The dashboard of a training the caller manages.
pub async fn training_dashboard(call: Call<'_>, t: &training::Model) -> Result<TrainingDashboard, ApiError> {
    require_roster_access(call, t).await?;
    let rows = <StatusCount as sea_orm::FromQueryResult>::find_by_statement(crate::db::stmt(
        call.state.db.get_database_backend(),
        "SELECT status, COUNT(*) AS n FROM training_registration WHERE training_id = ? GROUP BY status",
        [t.id.into()],
    ))
    .all(&call.state.db)
    .await?;
    let mut d =
        TrainingDashboard { capacity: t.capacity, seats_left: super::seats_left(t), ..Default::default() };
    for row in rows {
        let n = row.n;
        match RegistrationStatus::parse(&row.status) {
            Some(RegistrationStatus::Confirmed) => d.confirmed += n,
            Some(RegistrationStatus::Waitlisted) => d.waitlisted += n,
            Some(RegistrationStatus::Attended) => d.attended += n,
            Some(RegistrationStatus::NoShow) => d.no_show += n,
            Some(RegistrationStatus::Cancelled) => d.cancelled += n,
            None => {}
        }
    }
    Ok(d)
}
