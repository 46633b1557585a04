//! Domestic-violence concerns: confidential reports, their case workflow, escalation up the
//! tree, the reporter's follow-up, and the append-only access log.
//!
//! Who may see what:
//!
//! - A report is read and worked only by the case officers whose reach covers the unit handling
//!   it (a `CASE_OFFICER` role at that unit or above; the handling unit is its place until a
//!   transfer is accepted, see [`transfer`]); the case officers of a unit a pending transfer
//!   offers it to may read it to decide. Anyone else — other officers, administrators,
//!   integrations — gets `NOT_FOUND` and can only ask for counts ([`queue::counts`]), which
//!   stay with the place.
//! - The reporter follows her report by account (signed in) or by reference code and PIN
//!   (anonymous), and sees only its public steps, with officers named by role.
//! - Every read of a report's details and every change appends a row to the access log (who,
//!   in which role, when, what), which the database itself refuses to update or delete.
//!
//! What a report says — description, address, safe contact, notes, messages, reasons, referral
//! outcomes — is sealed with [`crate::crypto::Keyring`] before it reaches the database, bound to
//! its row and field, and opened only to build an authorised answer. None of it is written to a
//! log, an error or a notification: notification texts are neutral.

pub mod escalation;
pub mod officer;
pub mod queue;
pub mod reporter;
pub mod submit;
pub mod transfer;
pub mod workflow;

use crate::Call;
use chrono::{DateTime, Utc};
use entities::ids::{PersonId, ReportId, UnitId};
use entities::{
    officer_role, violence_access_log as access_log, violence_report as report,
    violence_report_event as event,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter,
    QuerySelect, Set, Statement,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    auth::Viewer,
    authz::{self, Capability, Role},
    crypto::Keyring,
    db::stmt,
    domain::{GlobalId, NodeKind},
    error::ApiError,
    notifications::{NewNotification, NotificationKind, enqueue},
    state::AppState,
};

pub use entities::violence_report::{
    Affected, AgeGroup, CloseReason, ContactChannel, ReportStatus, ViolenceKind,
};

pub use entities::violence_report_event::{ActorRole, Agency, EventKind};

pub use entities::violence_access_log::AccessAction;

/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 5000;
/// Longest note, message, added information, reason or referral outcome.
pub const MAX_TEXT: usize = 2000;
/// Longest address.
pub const MAX_ADDRESS: usize = 300;
/// Longest "safe times" text.
pub const MAX_SAFE_TIMES: usize = 200;

/// The ids of the keys that sealed stored reports but are missing from `keys`: an instance
/// started with other keys than its peers (each generated its own development key, or
/// `APP_REPORT_KEYS` differs) could open none of those reports, so start-up refuses it.
pub async fn missing_report_keys(conn: &impl ConnectionTrait, keys: &Keyring) -> Result<Vec<u16>, DbErr> {
    // Sealed values start with a version byte and the key id (two bytes, big-endian). Every
    // sealed column: after a rotation, new timeline entries use the new key, old reports the old;
    // webhook signing secrets and stored responses to idempotent requests are sealed with the
    // same keys.
    let sql = "SELECT substr(description, 2, 2) FROM violence_report \
               UNION SELECT substr(address, 2, 2) FROM violence_report WHERE address IS NOT NULL \
               UNION SELECT substr(contact, 2, 2) FROM violence_report WHERE contact IS NOT NULL \
               UNION SELECT substr(body, 2, 2) FROM violence_report_event WHERE body IS NOT NULL \
               UNION SELECT substr(secret, 2, 2) FROM webhook_subscription \
               UNION SELECT substr(response, 2, 2) FROM idempotency_key WHERE response IS NOT NULL";
    let rows = conn.query_all_raw(Statement::from_string(conn.get_database_backend(), sql)).await?;
    let mut missing = Vec::new();
    for row in rows {
        let bytes: Vec<u8> = row.try_get_by_index(0)?;
        if let [hi, lo] = bytes[..] {
            let id = u16::from_be_bytes([hi, lo]);
            if !keys.has_key(id) {
                missing.push(id);
            }
        }
    }
    Ok(missing)
}

/// What a sealed value is bound to: its row and field, so it opens nowhere else.
pub fn seal_context(row: impl Into<Uuid>, field: &str) -> Vec<u8> {
    let row: Uuid = row.into();
    let mut out = Vec::with_capacity(16 + 1 + field.len());
    out.extend_from_slice(row.as_bytes());
    out.push(b'/');
    out.extend_from_slice(field.as_bytes());
    out
}

/// Seals a text of row `row`'s `field`.
pub fn seal(keys: &Keyring, text: &str, row: impl Into<Uuid>, field: &str) -> Result<Vec<u8>, ApiError> {
    keys.seal_str(text, &seal_context(row, field))
        .map_err(|e| ApiError::internal(format_args!("sealing: {e}")))
}

/// Opens a sealed text of row `row`. A value that does not open is an internal error (logged
/// without the value).
pub fn open_text(
    keys: &Keyring,
    sealed: &[u8],
    row: impl Into<Uuid>,
    field: &str,
) -> Result<String, ApiError> {
    let row: Uuid = row.into();
    keys.open_str(sealed, &seal_context(row, field))
        .map_err(|e| ApiError::internal(format_args!("sealed {field} of {row} does not open: {e}")))
}

/// The kinds of a report, parsed from their stored form.
pub fn parse_kinds(stored: &str) -> Vec<ViolenceKind> {
    stored.split(',').filter_map(ViolenceKind::parse).collect()
}

/// How a viewer may see a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A case officer whose reach covers the unit handling it (the place, until a transfer is
    /// accepted). Being assigned grants nothing by itself: an officer whose role has ended loses
    /// the report with it.
    CaseOfficer,
    /// A case officer of the unit a pending transfer offers it to: she reads it (logged) to
    /// decide, and accepts or declines; she does nothing else with it until she accepts.
    Receiving,
    /// Nothing: answer `NOT_FOUND`.
    None,
}

/// Whether `person` is a case officer whose reach covers `unit` (a `CASE_OFFICER` role at the
/// unit or one of its ancestors).
pub async fn covers(conn: &impl ConnectionTrait, person: PersonId, unit: UnitId) -> Result<bool, ApiError> {
    Ok(authz::decide(conn, person, Capability::HandleViolenceReports, unit.into()).await?.allowed())
}

/// Locks `person`'s current roles until the transaction ends (`FOR SHARE` on PostgreSQL; SQLite
/// serialises transactions anyway), so that a role cannot be revoked between the check that
/// relies on it and the commit.
pub async fn lock_roles(conn: &impl ConnectionTrait, person: PersonId) -> Result<(), ApiError> {
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        officer_role::Entity::find()
            .filter(officer_role::Column::PersonId.eq(person))
            .filter(officer_role::Column::RevokedAt.is_null())
            .lock_shared()
            .all(conn)
            .await?;
    }
    Ok(())
}

/// How `viewer` may see `row`.
pub(crate) async fn access(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    row: &report::Model,
) -> Result<Access, ApiError> {
    if covers(conn, viewer.person_id, row.handling_unit_id).await? {
        return Ok(Access::CaseOfficer);
    }
    if let Some(to) = row.transfer_to_unit_id
        && covers(conn, viewer.person_id, to).await?
    {
        return Ok(Access::Receiving);
    }
    Ok(Access::None)
}

/// The report `id` if `viewer` may act on it as a case officer; `FORBIDDEN` for an officer it
/// is only offered to, `NOT_FOUND` otherwise (its existence is not revealed).
pub(crate) async fn officer_report(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    row: Option<report::Model>,
) -> Result<report::Model, ApiError> {
    let row = row.ok_or(ApiError::NotFound)?;
    match access(conn, viewer, &row).await? {
        Access::CaseOfficer => Ok(row),
        Access::Receiving => Err(ApiError::Forbidden),
        Access::None => Err(ApiError::NotFound),
    }
}

/// The report if `viewer` may read it: a case officer holding it, or one it is offered to.
pub(crate) async fn readable_report(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    row: Option<report::Model>,
) -> Result<(report::Model, Access), ApiError> {
    let row = row.ok_or(ApiError::NotFound)?;
    match access(conn, viewer, &row).await? {
        Access::None => Err(ApiError::NotFound),
        seen => Ok((row, seen)),
    }
}

/// Appends an access-log row.
pub async fn log_access(
    conn: &impl ConnectionTrait,
    report_id: ReportId,
    person_id: Option<PersonId>,
    role: ActorRole,
    action: AccessAction,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    access_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        report_id: Set(report_id),
        person_id: Set(person_id),
        role: Set(role),
        action: Set(action),
        at: Set(at),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// A timeline step to append.
pub struct NewEvent {
    pub kind: EventKind,
    pub actor_id: Option<PersonId>,
    pub actor_role: ActorRole,
    pub from_status: Option<ReportStatus>,
    pub to_status: Option<ReportStatus>,
    pub close_reason: Option<CloseReason>,
    /// Plain text, sealed here.
    pub body: Option<String>,
    pub agency: Option<Agency>,
    pub referred_on: Option<chrono::NaiveDate>,
    pub unit_id: Option<UnitId>,
    pub assignee_id: Option<PersonId>,
}

impl NewEvent {
    pub fn new(kind: EventKind, actor_id: Option<PersonId>, actor_role: ActorRole) -> Self {
        Self {
            kind,
            actor_id,
            actor_role,
            from_status: None,
            to_status: None,
            close_reason: None,
            body: None,
            agency: None,
            referred_on: None,
            unit_id: None,
            assignee_id: None,
        }
    }
}

/// Appends a timeline step, sealing its text.
pub async fn add_event(
    conn: &impl ConnectionTrait,
    keys: &Keyring,
    report_id: ReportId,
    new: NewEvent,
    at: DateTime<Utc>,
) -> Result<event::Model, ApiError> {
    let id = Uuid::now_v7();
    let body = new.body.map(|text| seal(keys, &text, id, "body")).transpose()?;
    Ok(event::ActiveModel {
        id: Set(id),
        report_id: Set(report_id),
        kind: Set(new.kind),
        public: Set(new.kind.is_public()),
        actor_id: Set(new.actor_id),
        actor_role: Set(new.actor_role),
        from_status: Set(new.from_status),
        to_status: Set(new.to_status),
        close_reason: Set(new.close_reason),
        body: Set(body),
        agency: Set(new.agency),
        referred_on: Set(new.referred_on),
        unit_id: Set(new.unit_id),
        assignee_id: Set(new.assignee_id),
        created_at: Set(at),
    }
    .insert(conn)
    .await?)
}

/// The people holding an active case-handling role (`CASE_OFFICER`) at exactly `unit` (each once).
pub async fn case_officers_at(conn: &impl ConnectionTrait, unit: UnitId) -> Result<Vec<PersonId>, ApiError> {
    authz::holders_at(conn, unit, Capability::HandleViolenceReports).await
}

#[derive(FromQueryResult)]
struct UnitRow {
    id: UnitId,
}

/// The nearest unit at or above `unit` (strictly above with `strict`) where someone holds an
/// active case-handling role (`CASE_OFFICER`).
pub async fn nearest_with_case_officers(
    conn: &impl ConnectionTrait,
    unit: UnitId,
    strict: bool,
) -> Result<Option<UnitId>, ApiError> {
    let roles: Vec<&str> = Capability::HandleViolenceReports.roles().map(Role::as_str).collect();
    let sql = format!(
        "SELECT c.ancestor_id AS id FROM org_unit_closure c \
         WHERE c.descendant_id = ? AND c.depth >= ? AND EXISTS (SELECT 1 FROM officer_role r \
           WHERE r.unit_id = c.ancestor_id AND r.role IN ({}) AND r.revoked_at IS NULL) \
         ORDER BY c.depth LIMIT 1",
        crate::db::repeat_list("?", roles.len())
    );
    let values = [unit.into(), i32::from(strict).into()].into_iter().chain(roles.into_iter().map(Into::into));
    Ok(UnitRow::find_by_statement(stmt(conn.get_database_backend(), &sql, values))
        .one(conn)
        .await?
        .map(|u| u.id))
}

/// Takes `person`'s name off the reports she made among `reports` (her account's deletion, or
/// the consent to them withdrawn), inside the caller's transaction: the reports stay with the
/// case officers, but no longer link to her account (`reporter_id`, her own events and access
/// log entries), her safe contact is erased (it is her number) and she is no longer to be
/// contacted, and her notifications about them go.
pub(crate) async fn unlink_reporter(
    conn: &impl ConnectionTrait,
    reports: &[ReportId],
    person: PersonId,
) -> Result<(), ApiError> {
    use sea_orm::sea_query::Expr;
    if reports.is_empty() {
        return Ok(());
    }
    let ids = || reports.iter().copied();
    report::Entity::update_many()
        .col_expr(report::Column::ReporterId, Expr::value(Option::<Uuid>::None))
        .col_expr(report::Column::Contact, Expr::value(Option::<Vec<u8>>::None))
        .col_expr(report::Column::MayContact, Expr::value(false))
        .filter(report::Column::Id.is_in(ids()))
        .filter(report::Column::ReporterId.eq(person))
        .exec(conn)
        .await?;
    event::Entity::update_many()
        .col_expr(event::Column::ActorId, Expr::value(Option::<Uuid>::None))
        .filter(event::Column::ReportId.is_in(ids()))
        .filter(event::Column::ActorId.eq(person))
        .filter(event::Column::ActorRole.eq(ActorRole::Reporter))
        .exec(conn)
        .await?;
    access_log::Entity::update_many()
        .col_expr(access_log::Column::PersonId, Expr::value(Option::<Uuid>::None))
        .filter(access_log::Column::ReportId.is_in(ids()))
        .filter(access_log::Column::PersonId.eq(person))
        .filter(access_log::Column::Role.eq(ActorRole::Reporter))
        .exec(conn)
        .await?;
    let links: Vec<String> = ids().map(|id| GlobalId::new(NodeKind::ViolenceReport, id).encode()).collect();
    entities::notification::Entity::delete_many()
        .filter(entities::notification::Column::PersonId.eq(person))
        .filter(entities::notification::Column::Link.is_in(links))
        .exec(conn)
        .await?;
    Ok(())
}

/// Queues a neutral notification of `kind` about a report to each of `people`, case officers:
/// part of their duties, so delivered and pushed whatever their preferences.
pub async fn notify(
    conn: &impl ConnectionTrait,
    people: &[PersonId],
    kind: NotificationKind,
    report_id: ReportId,
) -> Result<Vec<entities::notification::Model>, ApiError> {
    notify_as(conn, people, kind, report_id, true).await
}

/// Notifies a report's signed-in reporter: as [`notify`], but her preferences apply (she may
/// keep report notices out of her phone's lock screen, or off).
pub async fn notify_reporter(
    conn: &impl ConnectionTrait,
    reporter: PersonId,
    kind: NotificationKind,
    report_id: ReportId,
) -> Result<Vec<entities::notification::Model>, ApiError> {
    notify_as(conn, &[reporter], kind, report_id, false).await
}

async fn notify_as(
    conn: &impl ConnectionTrait,
    people: &[PersonId],
    kind: NotificationKind,
    report_id: ReportId,
    duty: bool,
) -> Result<Vec<entities::notification::Model>, ApiError> {
    let link = GlobalId::new(NodeKind::ViolenceReport, report_id).encode();
    let items = people
        .iter()
        .map(|&person_id| NewNotification {
            person_id,
            kind,
            params: json!({}),
            link: Some(link.clone()),
            duty,
        })
        .collect();
    enqueue(conn, items).await
}

/// What a console hears about a report: its id, what happened, and whether it is urgent —
/// nothing it says.
pub fn console_topic(unit: UnitId) -> String {
    format!("violence:{unit}")
}

/// Tells the consoles of the unit handling a report and of every unit above it (whose case
/// officers' reach covers it), and of the unit a pending transfer offers it to and those above,
/// that something happened to it. After commit; a lost event is logged, never fatal.
pub async fn publish_console_event(state: &AppState, row: &report::Model, what: &str) {
    let units = std::iter::once(row.handling_unit_id).chain(row.transfer_to_unit_id);
    let payload = json!({ "reportId": row.id, "event": what, "version": row.version });
    crate::events::publish_up(state, units, console_topic, payload, "violence report").await;
}

/// A case officer's live console: the events of the reports under her `CASE_OFFICER` units (or
/// under `unit`, which must be in her reach), each re-checked against her current access and
/// read back from the database (the bus carries ids only). An officer with roles at two units
/// on one path hears each event once. Ends when her session is revoked.
pub async fn console_events(
    call: Call<'_>,
    unit: Option<UnitId>,
) -> Result<impl futures_util::Stream<Item = (String, officer::ReportSummary)> + Send + use<>, ApiError> {
    let (state, viewer) = (call.state, *call.viewer()?);
    use futures_util::StreamExt;
    let units = match unit {
        Some(u) if covers(&state.db, viewer.person_id, u).await? => vec![u],
        Some(_) => return Err(ApiError::NotFound),
        None => queue::case_officer_units(&state.db, &viewer).await?,
    };
    if units.is_empty() {
        return Err(ApiError::Forbidden);
    }
    let db = state.db.clone();
    let key = |p: &serde_json::Value| {
        Some((
            p.get("reportId")?.as_str()?.to_owned(),
            p.get("version")?.as_i64()?,
            p.get("event")?.as_str()?.to_owned(),
        ))
    };
    let events = crate::events::console_stream(
        &state.events,
        units.into_iter().map(console_topic).collect(),
        viewer.session_id,
        key,
    );
    Ok(events.filter_map(move |payload| {
        let db = db.clone();
        async move {
            let id = ReportId(payload.get("reportId")?.as_str()?.parse::<Uuid>().ok()?);
            let event = payload.get("event")?.as_str()?.to_owned();
            let row = report::Entity::find_by_id(id).one(&db).await.ok()??;
            if access(&db, &viewer, &row).await.ok()? == Access::None {
                return None;
            }
            Some((event, officer::ReportSummary::of(&row).ok()?))
        }
    }))
}
