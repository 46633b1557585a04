//! Trainings: publishing, discovery, registration with capacity and a waitlist, check-in and
//! attendance statistics.
//!
//! - **Who manages** a training (edits, publishes, cancels, completes it, sees its roster, checks
//!   people in): a `UNIT_OFFICER` at or above its unit, or a `BRANCH_LEADER` at or above it when
//!   the unit is a branch. Managers see their trainings in every status.
//! - **Who may see and register**: for a `MEMBERS` training, members whose branch is in the
//!   unit's subtree; for an `OFFICERS` training, people holding an officer role in that subtree;
//!   in both cases also officers with any role at or above the unit, and anyone already
//!   registered (registering again after a cancellation needs the audience, though). Drafts
//!   are for managers only. Everybody else gets `NOT_FOUND`: a training is not advertised
//!   outside its audience.
//! - **Seats**: a registration, a cancellation and a capacity change lock the training's row
//!   (`SELECT … FOR UPDATE` on PostgreSQL; SQLite has one connection), so the confirmed count is
//!   read and changed by one transaction at a time. Each registration takes the next arrival
//!   number from that row: the waitlist is in arrival order, and a freed seat goes to the
//!   lowest waitlisted number.

mod checkin;
mod list;
mod registration;
mod stats;

use crate::Call;
use crate::audit::{self, SubjectKind};
use crate::integrations::webhooks::{self, EventType};
use chrono::{DateTime, Utc};
use entities::ids::{TrainingId, UnitId};
use entities::training;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, FromQueryResult, Set, TransactionTrait};
use uuid::Uuid;

pub use checkin::{
    CheckIn, RosterCursor, RosterFilter, TrainingDashboard, check_in, check_in_manually,
    check_in_many_manually, issue_check_in_token, require_roster_access, roster, roster_count, roster_csv,
    training_dashboard,
};
pub use list::{
    TrainingCursor, TrainingFilter, TrainingQuery, client_training_query, count_trainings, list_trainings,
    list_trainings_with_registration, training_query,
};
pub use registration::{
    cancel_registration, my_registrations, register, registrations_of, waitlist_positions,
};
pub use stats::{CategoryFigures, TrainingFigures, TrainingStats, training_statistics};

use crate::{
    auth::Viewer,
    authz::{self, Capability},
    db::stmt,
    domain::{fold_for_search, normalise_text, parse_line, parse_optional_url},
    error::{ApiError, ConflictKind, InputProblem},
    {
        notifications::{self, NewNotification, NotificationKind},
        org::get_unit,
    },
};

pub use entities::training::{Audience, Category, TrainingStatus};

pub use entities::training_registration::{CheckInMethod, RegistrationStatus};

/// Longest description kept.
const MAX_DESCRIPTION: usize = 5000;
/// Most seats a training can offer.
const MAX_CAPACITY: i32 = 100_000;

/// The fields of a training an officer writes (create and edit).
#[derive(Clone, Debug)]
pub struct TrainingInput {
    pub title: String,
    pub description: String,
    pub category: Category,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub place: Option<String>,
    pub online_url: Option<String>,
    pub capacity: Option<i32>,
    pub registration_opens_at: Option<DateTime<Utc>>,
    pub registration_closes_at: Option<DateTime<Utc>>,
    pub audience: Audience,
}

/// [`TrainingInput`] checked and normalised.
struct Checked {
    title: String,
    description: String,
    place: Option<String>,
    online_url: Option<String>,
}

fn optional_text(raw: Option<&str>, max: usize, field: &'static str) -> Result<Option<String>, ApiError> {
    match raw.map(normalise_text).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() > max => Err(ApiError::bad_input(field, InputProblem::TooLong)),
        other => Ok(other),
    }
}

impl TrainingInput {
    fn check(&self) -> Result<Checked, ApiError> {
        let title = parse_line(&self.title, 200, "title")?;
        let description = self.description.trim().to_owned();
        if description.chars().count() > MAX_DESCRIPTION {
            return Err(ApiError::bad_input("description", InputProblem::TooLong));
        }
        if self.ends_at <= self.starts_at {
            return Err(ApiError::bad_input("ends_at", InputProblem::OutOfRange));
        }
        let place = optional_text(self.place.as_deref(), 300, "place")?;
        let online_url = parse_optional_url(self.online_url.as_deref(), 500, "online_url")?;
        if place.is_none() && online_url.is_none() {
            return Err(ApiError::bad_input("place", InputProblem::Required));
        }
        if let Some(c) = self.capacity
            && !(1..=MAX_CAPACITY).contains(&c)
        {
            return Err(ApiError::bad_input("capacity", InputProblem::OutOfRange));
        }
        let closes = self.registration_closes_at.unwrap_or(self.starts_at);
        if closes > self.ends_at {
            return Err(ApiError::bad_input("registration_closes_at", InputProblem::OutOfRange));
        }
        if let Some(opens) = self.registration_opens_at
            && opens >= closes
        {
            return Err(ApiError::bad_input("registration_opens_at", InputProblem::OutOfRange));
        }
        Ok(Checked { title, description, place, online_url })
    }
}

/// Reads a training the caller may see (see the module docs), else `NOT_FOUND`.
pub async fn get_training(call: Call<'_>, id: TrainingId) -> Result<training::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let t = training::Entity::find_by_id(id).one(&state.db).await?.ok_or(ApiError::NotFound)?;
    if can_see(&state.db, viewer, &t).await? { Ok(t) } else { Err(ApiError::NotFound) }
}

/// Reads a registration for the person herself or a manager of its training, else `NOT_FOUND`.
pub async fn get_registration(
    call: Call<'_>,
    id: Uuid,
) -> Result<entities::training_registration::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let r = entities::training_registration::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound)?;
    if r.person_id == viewer.person_id {
        return Ok(r);
    }
    let t = training::Entity::find_by_id(r.training_id).one(&state.db).await?.ok_or(ApiError::NotFound)?;
    require_manager(&state.db, viewer, &t).await.map_err(authz::hide_forbidden)?;
    Ok(r)
}

/// `NOT_FOUND` when the caller cannot see the training, `FORBIDDEN` when she can but does not
/// manage it.
async fn require_manager(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    t: &training::Model,
) -> Result<authz::ActingAs, ApiError> {
    let unit = get_unit(conn, t.unit_id).await?;
    if let authz::Decision::Allowed { by, .. } =
        authz::decide(conn, viewer.person_id, Capability::ManageTrainings, (&unit).into()).await?
    {
        return Ok(by);
    }
    if can_see(conn, viewer, t).await? { Err(ApiError::Forbidden) } else { Err(ApiError::NotFound) }
}

#[derive(FromQueryResult)]
struct Seen {
    n: i64,
}

/// The audience rule of the module docs, in one query.
async fn can_see(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    t: &training::Model,
) -> Result<bool, ApiError> {
    sees(conn, viewer, t, true).await
}

/// Whether the caller may register anew: [`can_see`] without "anyone already registered" (a
/// cancelled registration is no ticket back into an audience she has left).
async fn in_audience(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    t: &training::Model,
) -> Result<bool, ApiError> {
    sees(conn, viewer, t, false).await
}

async fn sees(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    t: &training::Model,
    registered_sees: bool,
) -> Result<bool, ApiError> {
    let unit = get_unit(conn, t.unit_id).await?;
    if authz::may(conn, viewer, Capability::ManageTrainings, &unit).await? {
        return Ok(true);
    }
    if t.status == TrainingStatus::Draft {
        return Ok(false);
    }
    let audience = if t.audience == Audience::Officers {
        // An officer role at a unit inside the training's subtree.
        "SELECT 1 FROM officer_role r JOIN org_unit_closure c ON c.descendant_id = r.unit_id \
         WHERE c.ancestor_id = ? AND r.person_id = ? AND r.revoked_at IS NULL"
    } else {
        "SELECT 1 FROM membership m JOIN org_unit_closure c ON c.descendant_id = m.branch_id \
         WHERE c.ancestor_id = ? AND m.person_id = ? AND m.status = 'ACTIVE'"
    };
    let registered = if registered_sees {
        "UNION ALL SELECT 1 FROM training_registration g WHERE g.training_id = ? AND g.person_id = ?"
    } else {
        ""
    };
    let sql = format!(
        "SELECT COUNT(*) AS n FROM ( \
           {audience} \
           UNION ALL SELECT 1 FROM officer_role r JOIN org_unit_closure c ON c.ancestor_id = r.unit_id \
             WHERE c.descendant_id = ? AND r.person_id = ? AND r.revoked_at IS NULL \
           {registered} \
         ) seen"
    );
    let p = viewer.person_id;
    let mut values: Vec<sea_orm::Value> = vec![t.unit_id.into(), p.into(), t.unit_id.into(), p.into()];
    if registered_sees {
        values.extend([t.id.into(), p.into()]);
    }
    let seen = Seen::find_by_statement(stmt(conn.get_database_backend(), &sql, values)).one(conn).await?;
    Ok(seen.is_some_and(|s| s.n > 0))
}

/// Creates a draft training for `unit_id`'s subtree.
pub async fn create_training(
    call: Call<'_>,
    unit_id: UnitId,
    input: TrainingInput,
) -> Result<training::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, unit_id).await?;
    let acting = authz::require(db, viewer, Capability::ManageTrainings, &unit).await?;
    let checked = input.check()?;
    let now = Utc::now();
    let txn = db.begin().await?;
    let row = training::ActiveModel {
        id: Set(TrainingId::new()),
        unit_id: Set(unit_id),
        title_search: Set(fold_for_search(&checked.title)),
        title: Set(checked.title),
        description: Set(checked.description),
        category: Set(input.category),
        starts_at: Set(input.starts_at),
        ends_at: Set(input.ends_at),
        place: Set(checked.place),
        online_url: Set(checked.online_url),
        capacity: Set(input.capacity),
        registration_opens_at: Set(input.registration_opens_at),
        registration_closes_at: Set(input.registration_closes_at),
        audience: Set(input.audience),
        status: Set(TrainingStatus::Draft),
        confirmed_count: Set(0),
        waitlist_count: Set(0),
        next_queue_no: Set(1),
        cancel_reason: Set(None),
        created_by: Set(viewer.person_id),
        published_at: Set(None),
        cancelled_at: Set(None),
        completed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let entry = audit_fields(
        audit::Entry::new(audit::Action::TrainingCreated, unit_id, SubjectKind::Training, row.id),
        None,
        &row,
    )
    .set("status", row.status);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    tracing::info!(event = "training_created", training_id = %row.id, unit_id = %unit_id, by = %viewer.person_id, "training created");
    Ok(row)
}

/// Reads the training under a row lock held until the transaction ends (PostgreSQL; SQLite's
/// single connection serialises transactions anyway).
pub(crate) async fn lock_training(
    txn: &impl ConnectionTrait,
    id: TrainingId,
) -> Result<training::Model, ApiError> {
    crate::db::lock_by_id::<training::Entity>(txn, id).await?.ok_or(ApiError::NotFound)
}

/// Edits a draft or published training. Registrations are kept; the capacity cannot go below
/// the confirmed seats (`CONFLICT`), and new seats go to the waitlist in order.
pub async fn update_training(
    call: Call<'_>,
    id: TrainingId,
    input: TrainingInput,
) -> Result<training::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let checked = input.check()?;
    let txn = state.db.begin().await?;
    let t = lock_training(&txn, id).await?;
    let acting = require_manager(&txn, viewer, &t).await?;
    if !matches!(t.status, TrainingStatus::Draft | TrainingStatus::Published) {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    if let Some(c) = input.capacity
        && c < t.confirmed_count
    {
        return Err(ApiError::Conflict(ConflictKind::CapacityBelowConfirmed));
    }
    let mut row: training::ActiveModel = t.clone().into();
    row.title_search = Set(fold_for_search(&checked.title));
    row.title = Set(checked.title);
    row.description = Set(checked.description);
    row.category = Set(input.category);
    row.starts_at = Set(input.starts_at);
    row.ends_at = Set(input.ends_at);
    row.place = Set(checked.place);
    row.online_url = Set(checked.online_url);
    row.capacity = Set(input.capacity);
    row.registration_opens_at = Set(input.registration_opens_at);
    row.registration_closes_at = Set(input.registration_closes_at);
    row.audience = Set(input.audience);
    row.updated_at = Set(Utc::now());
    let updated = row.update(&txn).await?;
    let (updated, notes) = registration::fill_free_seats(&txn, updated).await?;
    // A published training that moves between audiences appears to partners (published) or
    // leaves their view (cancelled, as far as they can tell).
    let event = match (t.audience, updated.audience) {
        (from, to) if from == to || t.status != TrainingStatus::Published => None,
        (_, Audience::Members) => webhooks::training_event(EventType::TrainingPublished, &updated),
        (_, Audience::Officers) => {
            let mut data = webhooks::training_data(&updated);
            data["status"] = serde_json::json!(TrainingStatus::Cancelled.as_str());
            Some(webhooks::Event { event_type: EventType::TrainingCancelled, unit_id: updated.unit_id, data })
        }
    };
    let queued = match event {
        Some(event) => webhooks::emit(&txn, event).await?,
        None => webhooks::Queued(false),
    };
    let entry = audit::Entry::new(audit::Action::TrainingUpdated, t.unit_id, SubjectKind::Training, id);
    audit::record(&txn, audit::Actor::new(viewer, acting), audit_fields(entry, Some(&t), &updated)).await?;
    txn.commit().await?;
    notifications::announce(state, &notes).await;
    webhooks::announce(state, queued);
    tracing::info!(event = "training_updated", training_id = %id, by = %viewer.person_id, "training updated");
    Ok(updated)
}

/// Publishes a draft: it becomes visible to its audience.
pub async fn publish_training(call: Call<'_>, id: TrainingId) -> Result<training::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let txn = state.db.begin().await?;
    let t = lock_training(&txn, id).await?;
    let acting = require_manager(&txn, viewer, &t).await?;
    if t.status != TrainingStatus::Draft {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    let now = Utc::now();
    let before = t.status;
    let mut row: training::ActiveModel = t.into();
    row.status = Set(TrainingStatus::Published);
    row.published_at = Set(Some(now));
    row.updated_at = Set(now);
    let row = row.update(&txn).await?;
    let queued = match webhooks::training_event(EventType::TrainingPublished, &row) {
        Some(event) => webhooks::emit(&txn, event).await?,
        None => webhooks::Queued(false),
    };
    let entry = audit::Entry::new(audit::Action::TrainingPublished, row.unit_id, SubjectKind::Training, id)
        .change("status", before, row.status);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    webhooks::announce(state, queued);
    tracing::info!(event = "training_published", training_id = %id, by = %viewer.person_id, "training published");
    Ok(row)
}

/// Cancels a draft or published training and notifies everyone registered or waitlisted.
pub async fn cancel_training(
    call: Call<'_>,
    id: TrainingId,
    reason: &str,
) -> Result<training::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let reason = crate::domain::parse_reason(reason, "reason")?;
    let txn = state.db.begin().await?;
    let t = lock_training(&txn, id).await?;
    let acting = require_manager(&txn, viewer, &t).await?;
    if !matches!(t.status, TrainingStatus::Draft | TrainingStatus::Published) {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    let now = Utc::now();
    let people = registration::registrants_to_tell(&txn, id).await?;
    checkin::uncount_attendances(&txn, &t).await?;
    let mut row: training::ActiveModel = t.clone().into();
    row.status = Set(TrainingStatus::Cancelled);
    row.cancelled_at = Set(Some(now));
    row.cancel_reason = Set(Some(reason));
    row.updated_at = Set(now);
    let row = row.update(&txn).await?;
    let link = crate::domain::GlobalId::new(crate::domain::NodeKind::Training, id).encode();
    let items = people
        .into_iter()
        .map(|person_id| NewNotification {
            person_id,
            kind: NotificationKind::TrainingCancelled,
            params: serde_json::json!({ "training": t.title }),
            link: Some(link.clone()),
            duty: false,
        })
        .collect();
    let notes = notifications::enqueue(&txn, items).await?;
    // Partners saw it only once it was published.
    let event = webhooks::training_event(EventType::TrainingCancelled, &row)
        .filter(|_| t.status == TrainingStatus::Published);
    let queued = match event {
        Some(event) => webhooks::emit(&txn, event).await?,
        None => webhooks::Queued(false),
    };
    let entry = audit::Entry::new(audit::Action::TrainingCancelled, row.unit_id, SubjectKind::Training, id)
        .change("status", t.status, row.status)
        .change("cancelReason", &t.cancel_reason, &row.cancel_reason);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    notifications::announce(state, &notes).await;
    webhooks::announce(state, queued);
    tracing::info!(event = "training_cancelled", training_id = %id, notified = notes.len(), by = %viewer.person_id, "training cancelled");
    Ok(row)
}

/// Closes a published training after it has started: confirmed registrations nobody checked in
/// become `NO_SHOW`; check-in stays possible for late corrections (`checkInManually`).
pub async fn complete_training(call: Call<'_>, id: TrainingId) -> Result<training::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let txn = state.db.begin().await?;
    let t = lock_training(&txn, id).await?;
    let acting = require_manager(&txn, viewer, &t).await?;
    if t.status != TrainingStatus::Published {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    let now = Utc::now();
    let before = t.status;
    if now < t.starts_at {
        return Err(ApiError::Conflict(ConflictKind::NotStartedYet));
    }
    registration::mark_no_shows(&txn, id, now).await?;
    let mut row: training::ActiveModel = t.into();
    row.status = Set(TrainingStatus::Completed);
    row.completed_at = Set(Some(now));
    row.updated_at = Set(now);
    let row = row.update(&txn).await?;
    let entry = audit::Entry::new(audit::Action::TrainingCompleted, row.unit_id, SubjectKind::Training, id)
        .change("status", before, row.status);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    tracing::info!(event = "training_completed", training_id = %id, by = %viewer.person_id, "training completed");
    Ok(row)
}

/// The trail of the fields an officer edits: each that differs between `before` (none for a
/// new training) and `after`.
fn audit_fields(
    entry: audit::Entry,
    before: Option<&training::Model>,
    after: &training::Model,
) -> audit::Entry {
    entry
        .field("title", before, after, |t| t.title.clone())
        .field("description", before, after, |t| t.description.clone())
        .field("category", before, after, |t| t.category)
        .field("startsAt", before, after, |t| t.starts_at)
        .field("endsAt", before, after, |t| t.ends_at)
        .field("place", before, after, |t| t.place.clone())
        .field("onlineUrl", before, after, |t| t.online_url.clone())
        .field("capacity", before, after, |t| t.capacity)
        .field("registrationOpensAt", before, after, |t| t.registration_opens_at)
        .field("registrationClosesAt", before, after, |t| t.registration_closes_at)
        .field("audience", before, after, |t| t.audience)
}

/// When registration closes: at the start, unless set earlier.
pub fn registration_closes_at(t: &training::Model) -> DateTime<Utc> {
    t.registration_closes_at.unwrap_or(t.starts_at)
}

/// Why nobody can register at `now` (status, then window), or `None` when registration is open.
pub fn registration_refusal(t: &training::Model, now: DateTime<Utc>) -> Option<ConflictKind> {
    if t.status != TrainingStatus::Published {
        Some(ConflictKind::WrongStatus)
    } else if t.registration_opens_at.is_some_and(|opens| now < opens) {
        Some(ConflictKind::RegistrationNotOpen)
    } else if now >= registration_closes_at(t) {
        Some(ConflictKind::RegistrationClosed)
    } else {
        None
    }
}

/// Seats left, or `None` when there is no limit.
pub fn seats_left(t: &training::Model) -> Option<i32> {
    t.capacity.map(|c| (c - t.confirmed_count).max(0))
}
