//! Webhooks: an integration client is told when something happens in its subtree — a campaign
//! launched or ended, a training published or cancelled, a post published, a target or a
//! reported value changed — by a signed HTTP `POST` to a URL of its own.
//!
//! - **Subscriptions.** The admins who manage a client (clients have no mutations) subscribe a
//!   URL to event types, each of which needs the client to hold the scope that reads its subject
//!   ([`EventType::scope`]). The signing secret (`whsec_…`, Standard Webhooks) is shown once and
//!   kept sealed. A URL must be `https://` at public addresses in production ([`target`]).
//! - **Events.** The change that an event reports calls [`emit`] in its own transaction: when some
//!   live subscription wants the event (its type, its client's subtree holding the subject's unit,
//!   the client live and holding the scope), the event and one delivery per subscription are
//!   written with the change, so an event exists exactly when its change does. Nothing is written
//!   when nobody listens (one indexed statement).
//! - **Payloads** carry public fields and ids only, what the client could read with its scopes.
//! - **Delivery** ([`delivery`]): a worker on every instance claims due deliveries (on PostgreSQL
//!   with `SKIP LOCKED`), posts them signed, and retries failures with exponential backoff; the
//!   event id is the `webhook-id` every attempt and replay carries, so receivers drop duplicates
//!   (delivery is at least once). A subscription whose attempts keep failing, or whose receiver
//!   answers 410 Gone, is disabled; the admins see each delivery's attempts, replay one, and
//!   enable the subscription again.

pub mod delivery;
pub mod target;

use crate::audit::{self, SubjectKind as Kind};
use chrono::{DateTime, Utc};
use entities::{
    ids::{ClientId, UnitId},
    integration_client as client, webhook_delivery as wd, webhook_event as we, webhook_subscription as ws,
};
use std::collections::{BTreeSet, HashMap, HashSet};

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
    sea_query::{Expr, ExprTrait, Query},
};
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Scope, ScopeSet};
use crate::{
    Call,
    domain::{GlobalId, NodeKind},
    error::{ApiError, ConflictKind, InputProblem},
    state::AppState,
};

pub use entities::{
    webhook_delivery::DeliveryStatus,
    webhook_subscription::{DisabledReason, SubscriptionStatus},
};

/// The most subscriptions one client holds.
pub const MAX_SUBSCRIPTIONS_PER_CLIENT: u64 = 10;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// A campaign was launched (`campaigns:read`).
    CampaignLaunched,
    /// A campaign ended (`campaigns:read`).
    CampaignEnded,
    /// A training for members was published (`trainings:read`).
    TrainingPublished,
    /// A published training for members was cancelled (`trainings:read`).
    TrainingCancelled,
    /// A post was published, or put back after being taken down (`news:read`).
    PostPublished,
    /// A target was set, or a reported indicator value reported (`statistics:read`).
    TargetProgressChanged,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::CampaignLaunched,
        EventType::CampaignEnded,
        EventType::TrainingPublished,
        EventType::TrainingCancelled,
        EventType::PostPublished,
        EventType::TargetProgressChanged,
    ];

    /// The wire type, the body's `type`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::CampaignLaunched => "campaign.launched",
            EventType::CampaignEnded => "campaign.ended",
            EventType::TrainingPublished => "training.published",
            EventType::TrainingCancelled => "training.cancelled",
            EventType::PostPublished => "post.published",
            EventType::TargetProgressChanged => "target.progress_changed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The scope a client must hold to be told.
    pub const fn scope(self) -> Scope {
        match self {
            EventType::CampaignLaunched | EventType::CampaignEnded => Scope::CampaignsRead,
            EventType::TrainingPublished | EventType::TrainingCancelled => Scope::TrainingsRead,
            EventType::PostPublished => Scope::NewsRead,
            EventType::TargetProgressChanged => Scope::StatisticsRead,
        }
    }
}

/// The event types of a subscription as stored: space-separated, in a fixed order.
fn stored_types(types: &[EventType]) -> String {
    let mut types = types.to_vec();
    types.sort();
    types.dedup();
    types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(" ")
}

/// The event types of a stored subscription (a type this version does not know is left out).
pub fn event_types(row: &ws::Model) -> Vec<EventType> {
    row.event_types.split(' ').filter_map(EventType::parse).collect()
}

/// The sealing context of a subscription's secret: it opens on its own row only.
fn secret_context(id: Uuid) -> Vec<u8> {
    format!("webhook_subscription:{id}:secret").into_bytes()
}

/// A subscription just made, with its signing secret (`whsec_` and the base64 of 32 random
/// bytes), shown this once.
pub struct CreatedSubscription {
    pub row: ws::Model,
    pub secret: SecretString,
}

/// What a new subscription is.
pub struct NewSubscription {
    pub client_id: ClientId,
    pub url: String,
    pub event_types: Vec<EventType>,
}

/// Subscribes a live client's URL to event types (its managers, from a stepped-up session).
pub async fn create_subscription(
    call: Call<'_>,
    input: NewSubscription,
) -> Result<CreatedSubscription, ApiError> {
    use base64::Engine;
    let (client, actor) = super::clients::managed_client(call, input.client_id).await?;
    crate::identity::mfa::require_step_up(call).await?;
    let settings = &call.state.settings.webhooks;
    let url = target::parse_url(&input.url, settings.allow_private_targets, "url")?;
    if input.event_types.is_empty() {
        return Err(ApiError::bad_input("event_types", InputProblem::Required));
    }
    let scopes = ScopeSet::parse(&client.scopes).unwrap_or_default();
    if input.event_types.iter().any(|t| !scopes.contains(t.scope())) {
        return Err(ApiError::bad_input("event_types", InputProblem::ScopeNotGranted));
    }
    if !settings.allow_private_targets {
        target::check_resolves_public(&url, "url").await?;
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(ApiError::internal)?;
    let id = Uuid::now_v7();
    let sealed = call.state.report_keys.seal(&key, &secret_context(id)).map_err(ApiError::internal)?;
    let now = Utc::now();
    let txn = call.state.db.begin().await?;
    // Locks the client row (PostgreSQL), so two requests at once cannot pass the cap together.
    let client = super::clients::live_client(&txn, client.id).await?;
    let held = ws::Entity::find().filter(ws::Column::ClientId.eq(client.id)).count(&txn).await?;
    if held >= MAX_SUBSCRIPTIONS_PER_CLIENT {
        return Err(ApiError::Conflict(ConflictKind::TooManyWebhooks));
    }
    let row = ws::ActiveModel {
        id: Set(id),
        client_id: Set(client.id),
        url: Set(url.to_string()),
        event_types: Set(stored_types(&input.event_types)),
        secret: Set(sealed),
        status: Set(SubscriptionStatus::Active),
        failures: Set(0),
        disabled_at: Set(None),
        disabled_reason: Set(None),
        last_success_at: Set(None),
        last_failure_at: Set(None),
        created_by: Set(actor.person_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    // The target's origin only: a URL's path or query may carry the partner's own credentials.
    let entry =
        audit::Entry::new(audit::Action::WebhookCreated, client.unit_id, Kind::WebhookSubscription, id)
            .set("origin", url.origin().ascii_serialization())
            .set("eventTypes", &row.event_types);
    super::clients::record(&txn, client.id, actor, None, now, entry).await?;
    txn.commit().await?;
    tracing::info!(event = "webhook_subscribed", client = %client.id, subscription = %id, "webhook subscription added");
    let secret = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(key));
    Ok(CreatedSubscription { row, secret: SecretString::from(secret) })
}

/// A subscription the caller manages, else `NOT_FOUND`.
pub async fn get_subscription(call: Call<'_>, id: Uuid) -> Result<ws::Model, ApiError> {
    Ok(managed_subscription(call, id).await?.0)
}

/// A subscription the caller manages, the unit of its client and who acts on it in which
/// role; `NOT_FOUND` for anyone else.
async fn managed_subscription(
    call: Call<'_>,
    id: Uuid,
) -> Result<(ws::Model, UnitId, audit::Actor), ApiError> {
    let row = ws::Entity::find_by_id(id).one(&call.state.db).await?.ok_or(ApiError::NotFound)?;
    let (client, actor) = super::clients::managed_client(call, row.client_id).await?;
    Ok((row, client.unit_id, actor))
}

/// The subscriptions of clients, the oldest first, in one statement (the caller has been
/// allowed to read the clients).
pub async fn subscriptions_of(
    conn: &impl ConnectionTrait,
    clients: &[ClientId],
) -> Result<Vec<ws::Model>, ApiError> {
    Ok(ws::Entity::find()
        .filter(ws::Column::ClientId.is_in(clients.iter().copied()))
        .order_by_asc(ws::Column::CreatedAt)
        .order_by_asc(ws::Column::Id)
        .all(conn)
        .await?)
}

/// Disables a subscription (nothing more is queued for it, and what is queued waits) or enables
/// it again (its count of failures starts over, and what waited goes out); `CONFLICT`
/// `WRONG_STATUS` when it is so already.
pub async fn set_enabled(call: Call<'_>, id: Uuid, enabled: bool) -> Result<ws::Model, ApiError> {
    let (row, unit_id, actor) = managed_subscription(call, id).await?;
    let now = Utc::now();
    let (from, to) = if enabled {
        (SubscriptionStatus::Disabled, SubscriptionStatus::Active)
    } else {
        (SubscriptionStatus::Active, SubscriptionStatus::Disabled)
    };
    let txn = call.state.db.begin().await?;
    let mut update = ws::Entity::update_many()
        .col_expr(ws::Column::Status, Expr::value(to.as_str()))
        .col_expr(ws::Column::UpdatedAt, Expr::value(now))
        .filter(ws::Column::Id.eq(id))
        .filter(ws::Column::Status.eq(from.as_str()));
    update = if enabled {
        update
            .col_expr(ws::Column::Failures, Expr::value(0))
            .col_expr(ws::Column::DisabledAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(ws::Column::DisabledReason, Expr::value(Option::<String>::None))
    } else {
        update
            .col_expr(ws::Column::DisabledAt, Expr::value(now))
            .col_expr(ws::Column::DisabledReason, Expr::value(DisabledReason::ByAdmin.as_str()))
    };
    if update.exec(&txn).await?.rows_affected == 0 {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    if enabled {
        // What waited goes out now, not at the end of a backoff of up to an hour.
        wd::Entity::update_many()
            .col_expr(wd::Column::NextAttemptAt, Expr::value(now))
            .filter(wd::Column::SubscriptionId.eq(id))
            .filter(wd::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .exec(&txn)
            .await?;
    }
    let action = if enabled { audit::Action::WebhookEnabled } else { audit::Action::WebhookDisabled };
    let entry = audit::Entry::new(action, unit_id, Kind::WebhookSubscription, id).change("status", from, to);
    super::clients::record(&txn, row.client_id, actor, None, now, entry).await?;
    let row = ws::Entity::find_by_id(id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    txn.commit().await?;
    if enabled {
        call.state.webhooks_queued.notify_one();
    }
    Ok(row)
}

/// Deletes a subscription and its deliveries.
pub async fn delete_subscription(call: Call<'_>, id: Uuid) -> Result<ws::Model, ApiError> {
    let (row, unit_id, actor) = managed_subscription(call, id).await?;
    let txn = call.state.db.begin().await?;
    // Locked first: a change queuing an event for it meanwhile commits its deliveries before
    // they are deleted here (see [`emit_all`]).
    crate::db::lock_by_id::<ws::Entity>(&txn, id).await?;
    wd::Entity::delete_many().filter(wd::Column::SubscriptionId.eq(id)).exec(&txn).await?;
    ws::Entity::delete_by_id(id).exec(&txn).await?;
    let entry = audit::Entry::new(audit::Action::WebhookDeleted, unit_id, Kind::WebhookSubscription, id);
    super::clients::record(&txn, row.client_id, actor, None, Utc::now(), entry).await?;
    txn.commit().await?;
    Ok(row)
}

/// A delivery with its event.
pub type DeliveryRow = (wd::Model, we::Model);

/// One page of a subscription's deliveries, the newest first (by when they were queued), with
/// their events, and whether more follow: two statements. For a subscription the caller has been
/// allowed to read (the API reaches one only through a client its managers read).
pub async fn deliveries_of(
    call: Call<'_>,
    subscription_id: Uuid,
    status: Option<DeliveryStatus>,
    first: u64,
    after: Option<(DateTime<Utc>, Uuid)>,
) -> Result<(Vec<DeliveryRow>, bool), ApiError> {
    let db = &call.state.db;
    let mut query = wd::Entity::find().filter(wd::Column::SubscriptionId.eq(subscription_id));
    if let Some(status) = status {
        query = query.filter(wd::Column::Status.eq(status.as_str()));
    }
    if let Some((at, id)) = after {
        query = query.filter(
            Condition::any()
                .add(wd::Column::CreatedAt.lt(at))
                .add(Condition::all().add(wd::Column::CreatedAt.eq(at)).add(wd::Column::Id.lt(id))),
        );
    }
    let mut rows = query
        .order_by_desc(wd::Column::CreatedAt)
        .order_by_desc(wd::Column::Id)
        .limit(first + 1)
        .all(db)
        .await?;
    let has_next = rows.len() as u64 > first;
    rows.truncate(first as usize);
    let events: HashMap<Uuid, we::Model> = we::Entity::find()
        .filter(we::Column::Id.is_in(rows.iter().map(|r| r.event_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    let rows = rows.into_iter().filter_map(|d| events.get(&d.event_id).cloned().map(|e| (d, e))).collect();
    Ok((rows, has_next))
}

/// Sends a delivered or failed delivery again, with a fresh count of attempts and the same
/// event id; `CONFLICT` `WRONG_STATUS` while it is still pending or its subscription is
/// disabled (enable it first).
pub async fn replay_delivery(call: Call<'_>, id: Uuid) -> Result<DeliveryRow, ApiError> {
    let db = &call.state.db;
    let delivery = wd::Entity::find_by_id(id).one(db).await?.ok_or(ApiError::NotFound)?;
    let (subscription, unit_id, actor) = managed_subscription(call, delivery.subscription_id).await?;
    if subscription.status != SubscriptionStatus::Active {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    let now = Utc::now();
    let txn = call.state.db.begin().await?;
    let changed = wd::Entity::update_many()
        .col_expr(wd::Column::Status, Expr::value(DeliveryStatus::Pending.as_str()))
        .col_expr(wd::Column::Attempts, Expr::value(0))
        .col_expr(wd::Column::NextAttemptAt, Expr::value(now))
        .filter(wd::Column::Id.eq(id))
        .filter(wd::Column::Status.ne(DeliveryStatus::Pending.as_str()))
        .exec(&txn)
        .await?
        .rows_affected;
    if changed == 0 {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    let entry = audit::Entry::new(audit::Action::WebhookReplayed, unit_id, Kind::WebhookDelivery, id).change(
        "status",
        delivery.status,
        DeliveryStatus::Pending,
    );
    super::clients::record(&txn, subscription.client_id, actor, None, now, entry).await?;
    txn.commit().await?;
    call.state.webhooks_queued.notify_one();
    tracing::info!(event = "webhook_replayed", delivery = %id, by = %actor.person_id, "webhook delivery replayed");
    let delivery = wd::Entity::find_by_id(id).one(db).await?.ok_or(ApiError::NotFound)?;
    let event = we::Entity::find_by_id(delivery.event_id).one(db).await?.ok_or(ApiError::NotFound)?;
    Ok((delivery, event))
}

// ---- events ----

/// An event to tell subscribers about: its type, the unit of its subject, and its public data.
pub struct Event {
    pub event_type: EventType,
    pub unit_id: UnitId,
    pub data: Value,
}

/// Whether [`emit`] queued deliveries: the caller wakes this instance's worker after commit
/// ([`announce`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct Queued(pub bool);

/// The ids of the clients neither revoked nor expired at `now` (their subscriptions are told and
/// posted to; the others' wait).
pub(crate) fn live_clients(now: DateTime<Utc>) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(client::Column::Id)
        .from(client::Entity)
        .and_where(client::Column::RevokedAt.is_null())
        .and_where(
            Expr::col(client::Column::ExpiresAt).is_null().or(Expr::col(client::Column::ExpiresAt).gt(now)),
        )
        .to_owned()
}

/// Queues `event` for every live subscription that wants it, inside the caller's transaction.
pub async fn emit(conn: &impl ConnectionTrait, event: Event) -> Result<Queued, DbErr> {
    emit_all(conn, vec![event]).await
}

/// Rows one insert writes at most (the databases bound the parameters of one statement).
const INSERT_CHUNK: usize = 500;

/// Queues each event for every live subscription that wants it — its type, its client live and
/// holding the type's scope, the client's subtree holding the event's unit — inside the caller's
/// transaction. One statement when nobody listens to these units; five at most otherwise, however
/// many events (a target set with a thousand shares).
pub async fn emit_all(conn: &impl ConnectionTrait, events: Vec<Event>) -> Result<Queued, DbErr> {
    use entities::org_unit_closure as closure;
    if events.is_empty() {
        return Ok(Queued(false));
    }
    let now = Utc::now();
    let units: BTreeSet<UnitId> = events.iter().map(|e| e.unit_id).collect();
    let live_clients = live_clients(now)
        .and_where(
            Expr::col(client::Column::UnitId).in_subquery(
                Query::select()
                    .column(closure::Column::AncestorId)
                    .from(closure::Entity)
                    .and_where(Expr::col(closure::Column::DescendantId).is_in(units.iter().copied()))
                    .to_owned(),
            ),
        )
        .to_owned();
    let mut query = ws::Entity::find()
        .select_only()
        .columns([ws::Column::Id, ws::Column::ClientId, ws::Column::EventTypes])
        .filter(ws::Column::Status.eq(SubscriptionStatus::Active.as_str()))
        .filter(ws::Column::ClientId.in_subquery(live_clients));
    // The subscriptions stay until the caller commits: one deleted meanwhile waits for it (see
    // [`delete_subscription`]), one deleted just before is skipped, so no delivery ever points
    // at a subscription that is gone. SQLite's one writer orders the two anyway.
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        query = query.lock(sea_orm::sea_query::LockType::KeyShare);
    }
    let subscriptions: Vec<(Uuid, ClientId, String)> = query.into_tuple().all(conn).await?;
    let wanted: BTreeSet<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let subscriptions: Vec<(Uuid, ClientId, BTreeSet<EventType>)> = subscriptions
        .into_iter()
        .map(|(id, client, types)| {
            (id, client, types.split(' ').filter_map(EventType::parse).collect::<BTreeSet<_>>())
        })
        .filter(|(_, _, types)| types.iter().any(|t| wanted.contains(t.as_str())))
        .collect();
    if subscriptions.is_empty() {
        return Ok(Queued(false));
    }
    let clients: HashMap<ClientId, (UnitId, ScopeSet)> = client::Entity::find()
        .select_only()
        .columns([client::Column::Id, client::Column::UnitId, client::Column::Scopes])
        .filter(client::Column::Id.is_in(subscriptions.iter().map(|s| s.1)))
        .into_tuple::<(ClientId, UnitId, String)>()
        .all(conn)
        .await?
        .into_iter()
        .map(|(id, unit, scopes)| (id, (unit, ScopeSet::parse(&scopes).unwrap_or_default())))
        .collect();
    let inside: HashSet<(UnitId, UnitId)> = closure::Entity::find()
        .select_only()
        .columns([closure::Column::AncestorId, closure::Column::DescendantId])
        .filter(closure::Column::AncestorId.is_in(clients.values().map(|c| c.0)))
        .filter(closure::Column::DescendantId.is_in(units.iter().copied()))
        .into_tuple()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let mut event_rows = Vec::new();
    let mut deliveries = Vec::new();
    for event in events {
        let to: Vec<Uuid> = subscriptions
            .iter()
            .filter(|(_, client, types)| {
                types.contains(&event.event_type)
                    && clients.get(client).is_some_and(|(root, scopes)| {
                        scopes.contains(event.event_type.scope()) && inside.contains(&(*root, event.unit_id))
                    })
            })
            .map(|s| s.0)
            .collect();
        if to.is_empty() {
            continue;
        }
        let id = Uuid::now_v7();
        let body = json!({
            "type": event.event_type.as_str(),
            "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": event.data,
        });
        event_rows.push(we::ActiveModel {
            id: Set(id),
            event_type: Set(event.event_type.as_str().to_owned()),
            unit_id: Set(event.unit_id),
            payload: Set(body.to_string()),
            occurred_at: Set(now),
        });
        deliveries.extend(to.into_iter().map(|subscription_id| wd::ActiveModel {
            id: Set(Uuid::now_v7()),
            subscription_id: Set(subscription_id),
            event_id: Set(id),
            status: Set(DeliveryStatus::Pending),
            attempts: Set(0),
            next_attempt_at: Set(now),
            last_attempt_at: Set(None),
            last_status: Set(None),
            last_error: Set(None),
            delivered_at: Set(None),
            created_at: Set(now),
        }));
    }
    if event_rows.is_empty() {
        return Ok(Queued(false));
    }
    for chunk in chunks(event_rows) {
        we::Entity::insert_many(chunk).exec(conn).await?;
    }
    for chunk in chunks(deliveries) {
        wd::Entity::insert_many(chunk).exec(conn).await?;
    }
    Ok(Queued(true))
}

fn chunks<T>(mut rows: Vec<T>) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    while rows.len() > INSERT_CHUNK {
        let rest = rows.split_off(INSERT_CHUNK);
        out.push(std::mem::replace(&mut rows, rest));
    }
    out.push(rows);
    out
}

/// After the commit that queued deliveries: wakes this instance's worker, so they go out at
/// once rather than at the next poll.
pub fn announce(state: &AppState, queued: Queued) {
    if queued.0 {
        state.webhooks_queued.notify_one();
    }
}

fn global(kind: NodeKind, id: impl Into<Uuid>) -> String {
    GlobalId::new(kind, id.into()).encode()
}

fn timestamp(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |at| Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
}

/// A campaign's public fields, as `campaigns:read` reads them.
pub fn campaign_data(c: &entities::campaign::Model) -> Value {
    json!({
        "id": global(NodeKind::Campaign, c.id),
        "unitId": global(NodeKind::OrgUnit, c.unit_id),
        "title": c.title,
        "status": c.status.as_str(),
        "launchedAt": timestamp(c.launched_at),
        "endedAt": timestamp(c.ended_at),
    })
}

/// A training's public fields, as `trainings:read` reads them (never who registered).
pub fn training_data(t: &entities::training::Model) -> Value {
    json!({
        "id": global(NodeKind::Training, t.id),
        "unitId": global(NodeKind::OrgUnit, t.unit_id),
        "title": t.title,
        "status": t.status.as_str(),
        "startsAt": timestamp(Some(t.starts_at)),
        "endsAt": timestamp(Some(t.ends_at)),
    })
}

/// A post's public fields, as `news:read` reads them (the body is read through the API).
pub fn post_data(p: &entities::post::Model) -> Value {
    json!({
        "id": global(NodeKind::Post, p.id),
        "unitId": global(NodeKind::OrgUnit, p.unit_id),
        "title": p.title,
        "publishedAt": timestamp(Some(p.published_at)),
    })
}

/// Why a target's progress changed.
#[derive(Clone, Copy, Debug)]
pub enum ProgressCause {
    /// Its target (or its children's shares) was set.
    TargetSet,
    /// A value of a reported indicator was reported.
    ValueReported,
}

/// Which progress changed: the figures are read through `publicStatistics` (small counts
/// suppressed), never sent.
pub fn progress_data(unit_id: UnitId, indicator_id: Uuid, years: (i32, i32), cause: ProgressCause) -> Value {
    json!({
        "unitId": global(NodeKind::OrgUnit, unit_id),
        "indicatorId": global(NodeKind::Indicator, indicator_id),
        "fromYear": years.0,
        "toYear": years.1,
        "cause": match cause {
            ProgressCause::TargetSet => "TARGET_SET",
            ProgressCause::ValueReported => "VALUE_REPORTED",
        },
    })
}

/// The event of a campaign's launch or end.
pub fn campaign_event(event_type: EventType, c: &entities::campaign::Model) -> Event {
    Event { event_type, unit_id: c.unit_id, data: campaign_data(c) }
}

/// The event of a training published or cancelled; `None` for a training clients never see (one
/// for officers).
pub fn training_event(event_type: EventType, t: &entities::training::Model) -> Option<Event> {
    (t.audience == entities::training::Audience::Members).then(|| Event {
        event_type,
        unit_id: t.unit_id,
        data: training_data(t),
    })
}

/// The event of a post published.
pub fn post_event(p: &entities::post::Model) -> Event {
    Event { event_type: EventType::PostPublished, unit_id: p.unit_id, data: post_data(p) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_stored_once_each_in_one_order() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(
            stored_types(&[EventType::PostPublished, EventType::CampaignLaunched, EventType::PostPublished]),
            "campaign.launched post.published"
        );
    }

    #[test]
    fn inserts_are_cut_in_chunks() {
        let sizes: Vec<usize> = chunks((0..1201).collect()).iter().map(Vec::len).collect();
        assert_eq!(sizes, [500, 500, 201]);
        assert_eq!(chunks(Vec::<u8>::new()).len(), 1);
    }
}
