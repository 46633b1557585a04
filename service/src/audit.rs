//! The audit trail of officer actions: every decision, role change, import, training, campaign,
//! target and news change an officer makes is appended, in the transaction that makes it, as
//! one [`audit_event`] row — who, the role that allowed it, when, over which unit, on what, and
//! the before/after of the fields it changed. The database refuses to update or delete a row.
//!
//! What a row never holds: a sealed value (report contents, contact details, secrets, tokens),
//! a password or a phone number. Fields are named by the service, one [`Entry::change`] each,
//! from plain columns only; secrets and people are referred to by id. Violence reports are not
//! here: every read and change of a report goes to its own access log
//! ([`crate::violence::log_access`]), open only to the case officers over it.
//!
//! Admins read the trail over a unit's subtree ([`page`]; `UNIT_ADMIN` at or above the unit, or
//! a system administrator), filtered by actor, area and time, newest first, keyset-paged.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use entities::audit_event as audit;
use entities::ids::{PersonId, UnitId};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use sea_orm::{ColumnTrait, DbErr, prelude::Uuid};
use serde::{Deserialize, Serialize};

pub use entities::audit_event::{AuditAction as Action, AuditArea as Area, AuditRole, SubjectKind};

use crate::{
    Call,
    auth::Viewer,
    authz::{self, ActingAs, Capability},
    db::{before_key, split_page},
    error::ApiError,
};

/// Who acted: the person and the role that allowed the action.
#[derive(Clone, Copy, Debug)]
pub struct Actor {
    pub person_id: PersonId,
    pub role: ActingAs,
}

impl Actor {
    pub fn new(viewer: &Viewer, role: ActingAs) -> Self {
        Actor { person_id: viewer.person_id, role }
    }
}

/// One field an action changed: its value before and after, as text (`None` = no value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// One action to record.
#[derive(Debug)]
pub struct Entry {
    action: Action,
    unit_id: UnitId,
    subject_kind: SubjectKind,
    subject_id: Option<Uuid>,
    changes: Vec<Change>,
}

impl Entry {
    /// `action` over `unit_id`, on the record `subject_id` of kind `subject_kind`.
    pub fn new(
        action: Action,
        unit_id: UnitId,
        subject_kind: SubjectKind,
        subject_id: impl Into<Uuid>,
    ) -> Self {
        Entry { action, unit_id, subject_kind, subject_id: Some(subject_id.into()), changes: Vec::new() }
    }

    /// What was done.
    pub fn action(&self) -> Action {
        self.action
    }

    /// A field changed from `before` to `after`; nothing is kept when the two are equal.
    pub fn change(mut self, field: &str, before: impl Audited, after: impl Audited) -> Self {
        let (before, after) = (before.audit_text(), after.audit_text());
        if before != after {
            self.changes.push(Change { field: field.to_owned(), before, after });
        }
        self
    }

    /// A field read by `read` from a record as it was (`None`: a new record) and as it is.
    pub fn field<M, V: Audited>(
        self,
        name: &str,
        before: Option<&M>,
        after: &M,
        read: impl Fn(&M) -> V,
    ) -> Self {
        let was = before.map(&read);
        self.change(name, was, read(after))
    }

    /// A field of a new record (no value before).
    pub fn set(self, field: &str, value: impl Audited) -> Self {
        self.change(field, None::<&str>, value)
    }

    fn into_model(self, actor: Actor, at: DateTime<Utc>) -> Result<audit::ActiveModel, DbErr> {
        let changes = serde_json::to_string(&self.changes).map_err(|e| DbErr::Custom(e.to_string()))?;
        Ok(audit::ActiveModel {
            id: Set(Uuid::now_v7()),
            at: Set(at),
            actor_id: Set(actor.person_id),
            actor_role: Set(actor.role),
            area: Set(self.action.area()),
            action: Set(self.action),
            unit_id: Set(self.unit_id),
            subject_kind: Set(self.subject_kind),
            subject_id: Set(self.subject_id),
            changes: Set(changes),
        })
    }
}

/// Appends `entry` (on the caller's transaction, so the row exists exactly when the action
/// does).
pub async fn record(conn: &impl ConnectionTrait, actor: Actor, entry: Entry) -> Result<(), DbErr> {
    entry.into_model(actor, Utc::now())?.insert(conn).await?;
    Ok(())
}

/// Appends several entries of one action (an import, one per branch) in one statement.
pub async fn record_all(conn: &impl ConnectionTrait, actor: Actor, entries: Vec<Entry>) -> Result<(), DbErr> {
    if entries.is_empty() {
        return Ok(());
    }
    let at = Utc::now();
    let rows = entries.into_iter().map(|e| e.into_model(actor, at)).collect::<Result<Vec<_>, _>>()?;
    audit::Entity::insert_many(rows).exec(conn).await?;
    Ok(())
}

/// A value as the trail writes it: text, or `None` for no value. Times are UTC in RFC 3339 to
/// the second, dates ISO 8601, enums their stored names.
pub trait Audited {
    fn audit_text(&self) -> Option<String>;
}

impl<T: Audited + ?Sized> Audited for &T {
    fn audit_text(&self) -> Option<String> {
        (**self).audit_text()
    }
}

impl<T: Audited> Audited for Option<T> {
    fn audit_text(&self) -> Option<String> {
        self.as_ref().and_then(Audited::audit_text)
    }
}

impl Audited for str {
    fn audit_text(&self) -> Option<String> {
        Some(self.to_owned())
    }
}

impl Audited for String {
    fn audit_text(&self) -> Option<String> {
        Some(self.clone())
    }
}

impl Audited for DateTime<Utc> {
    fn audit_text(&self) -> Option<String> {
        Some(self.to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

/// Plain values whose `Display` is what the trail writes.
macro_rules! audited_by_display {
    ($($t:ty),+ $(,)?) => {$(
        impl Audited for $t {
            fn audit_text(&self) -> Option<String> {
                Some(self.to_string())
            }
        }
    )+};
}

audited_by_display!(
    i32,
    i64,
    u32,
    u64,
    f64,
    bool,
    NaiveDate,
    Uuid,
    UnitId,
    PersonId,
    entities::officer_role::Role,
    entities::org_unit::UnitKind,
    entities::membership::MemberStatus,
    entities::membership_request::RequestKind,
    entities::training::Category,
    entities::training::Audience,
    entities::campaign::CampaignKind,
    entities::campaign::BodyFormat,
    entities::pledge::PledgeKind,
    entities::membership_request::RequestStatus,
    entities::training::TrainingStatus,
    entities::training_registration::RegistrationStatus,
    entities::training_registration::CheckInMethod,
    entities::campaign::CampaignStatus,
    entities::pledge::PledgeStatus,
    entities::post::PostStatus,
    entities::indicator::Aggregation,
    entities::webhook_subscription::SubscriptionStatus,
    entities::webhook_delivery::DeliveryStatus,
    entities::unit_rating::RatingStatus,
    entities::unit_rating::RatingLevel,
    entities::award_kind::Recipients,
    entities::award_nomination::NominationStatus,
    entities::org_unit::UnitStatus,
);

/// What the trail is read by. The unit is required: the trail of its subtree.
#[derive(Clone, Debug)]
pub struct Filter {
    pub unit_id: UnitId,
    pub actor_id: Option<PersonId>,
    pub area: Option<Area>,
    /// From this instant on (inclusive).
    pub since: Option<DateTime<Utc>>,
    /// Before this instant (exclusive).
    pub until: Option<DateTime<Utc>>,
}

/// The keyset cursor of the trail: the last row's time and id (newest first).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

/// One row as read back.
#[derive(Clone, Debug)]
pub struct Event {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_id: PersonId,
    pub actor_role: AuditRole,
    pub area: Area,
    pub action: Action,
    pub unit_id: UnitId,
    pub subject_kind: SubjectKind,
    pub subject_id: Option<Uuid>,
    pub changes: Vec<Change>,
}

impl Event {
    fn of(row: audit::Model) -> Result<Self, ApiError> {
        let changes = serde_json::from_str(&row.changes).map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(Event {
            id: row.id,
            at: row.at,
            actor_id: row.actor_id,
            actor_role: row.actor_role,
            area: row.area,
            action: row.action,
            unit_id: row.unit_id,
            subject_kind: row.subject_kind,
            subject_id: row.subject_id,
            changes,
        })
    }
}

/// A page of the trail over `filter.unit_id`'s subtree, newest first (one statement after the
/// permission check): for a `UNIT_ADMIN` at or above the unit, or a system administrator.
pub async fn page(
    call: Call<'_>,
    filter: &Filter,
    first: u64,
    after: Option<&Cursor>,
) -> Result<(Vec<Event>, bool), ApiError> {
    let (db, viewer) = (&call.state.db, call.viewer()?);
    crate::org::get_unit(db, filter.unit_id).await?;
    authz::require(db, viewer, Capability::ViewAuditTrail, filter.unit_id).await?;
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && until <= since
    {
        return Err(ApiError::bad_input("until", crate::error::InputProblem::OutOfRange));
    }
    let mut query = audit::Entity::find()
        .filter(audit::Column::UnitId.in_subquery(authz::subtree_select(filter.unit_id)));
    if let Some(actor) = filter.actor_id {
        query = query.filter(audit::Column::ActorId.eq(actor));
    }
    if let Some(area) = filter.area {
        query = query.filter(audit::Column::Area.eq(area));
    }
    if let Some(since) = filter.since {
        query = query.filter(audit::Column::At.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit::Column::At.lt(until));
    }
    if let Some(c) = after {
        query = query.filter(before_key(audit::Column::At, c.at, audit::Column::Id, c.id));
    }
    let rows = query
        .order_by_desc(audit::Column::At)
        .order_by_desc(audit::Column::Id)
        .limit(first + 1)
        .all(db)
        .await?;
    let (rows, has_next) = split_page(rows, first);
    Ok((rows.into_iter().map(Event::of).collect::<Result<_, _>>()?, has_next))
}
