//! Live events for GraphQL subscriptions, fanned out to every API instance.
//!
//! With Redis configured, every event is published on one Redis channel (`<prefix>events`) and
//! each instance's listener task hands what it receives to its local subscribers — including
//! events the instance published itself, so all instances see one order. Without Redis the
//! events go straight to local subscribers. Delivery is best-effort (at most once): state that
//! must not be lost lives in the database, and events only tell clients to look.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::{Stream, StreamExt};
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::error::ApiError;

/// Events buffered per local subscriber before a slow one starts missing events.
const LOCAL_BUFFER: usize = 1024;

/// One event: a topic (e.g. `session-revoked:<id>`) and a JSON payload.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Event {
    pub topic: String,
    pub payload: serde_json::Value,
}

/// Publishes events and streams them to subscribers. Cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    local: broadcast::Sender<Arc<Event>>,
    redis: Option<(ConnectionManager, String)>,
    /// When a publish last failed: for a moment after, events are dropped at once rather than
    /// each waiting out the timeout (a fan-out or an ancestor walk publishes many in a row).
    last_failure: Arc<std::sync::Mutex<Option<Instant>>>,
}

/// The bound on one publish, and how long publishing pauses after a failure.
const PUBLISH_TIMEOUT: Duration = Duration::from_millis(500);
const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(1);

impl EventBus {
    /// Events stay in this process.
    pub fn in_process() -> Self {
        Self { local: broadcast::channel(LOCAL_BUFFER).0, redis: None, last_failure: Arc::default() }
    }

    /// Events go through Redis; a background task relays them to local subscribers and
    /// reconnects (with backoff) when the connection drops.
    pub async fn with_redis(
        client: redis::Client,
        publisher: ConnectionManager,
        prefix: &str,
    ) -> Result<Self, redis::RedisError> {
        let channel = format!("{prefix}events");
        let local = broadcast::channel(LOCAL_BUFFER).0;
        // Subscribe before returning, so no event published after start-up is missed.
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&channel).await?;
        tokio::spawn(relay(client, channel.clone(), local.clone(), pubsub));
        Ok(Self { local, redis: Some((publisher, channel)), last_failure: Arc::default() })
    }

    /// Publishes an event to every subscriber of its topic, on every instance. Best-effort and
    /// bounded: `UNAVAILABLE` when Redis does not take it within half a second (or failed a
    /// moment ago); callers go on, since events only tell clients to look.
    pub async fn publish(&self, topic: String, payload: serde_json::Value) -> Result<(), ApiError> {
        let event = Event { topic, payload };
        let unavailable = ApiError::Unavailable { retry_after_secs: 1 };
        match &self.redis {
            Some((conn, channel)) => {
                let failed_lately = self
                    .last_failure
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_some_and(|at| at.elapsed() < PAUSE_AFTER_FAILURE);
                if failed_lately {
                    return Err(unavailable);
                }
                let json = serde_json::to_string(&event).map_err(ApiError::internal)?;
                let mut cmd = redis::cmd("PUBLISH");
                cmd.arg(channel).arg(json);
                let sent =
                    tokio::time::timeout(PUBLISH_TIMEOUT, cmd.query_async::<i64>(&mut conn.clone())).await;
                if !matches!(sent, Ok(Ok(_))) {
                    tracing::warn!("event bus: an event could not be published; dropped");
                    *self.last_failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                    return Err(unavailable);
                }
            }
            None => {
                // No receiver is not an error: nobody is listening right now.
                let _ = self.local.send(Arc::new(event));
            }
        }
        Ok(())
    }

    /// Payloads of the events on `topic` from now on.
    pub fn subscribe(&self, topic: String) -> impl Stream<Item = serde_json::Value> + Send + use<> {
        let rx = self.local.subscribe();
        futures_util::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(event) => return Some((event, rx)),
                    // A slow subscriber skips what it missed rather than stalling everyone.
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "subscriber lagged behind the event bus");
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .filter_map(move |event| {
            let hit = (event.topic == topic).then(|| event.payload.clone());
            async move { hit }
        })
    }
}

async fn relay(
    client: redis::Client,
    channel: String,
    local: broadcast::Sender<Arc<Event>>,
    first: redis::aio::PubSub,
) {
    let mut pubsub = Some(first);
    let mut backoff = Duration::from_millis(200);
    loop {
        let current = match pubsub.take() {
            Some(p) => p,
            None => match connect(&client, &channel).await {
                Ok(p) => {
                    backoff = Duration::from_millis(200);
                    p
                }
                Err(e) => {
                    tracing::warn!(error = ?e.kind(), "event bus: redis subscribe failed; retrying");
                    tokio::time::sleep(backoff).await;
                    // At most 2 s: events resume soon after Redis does.
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            },
        };
        let mut messages = current.into_on_message();
        while let Some(msg) = messages.next().await {
            let Ok(bytes) = msg.get_payload::<Vec<u8>>() else { continue };
            match serde_json::from_slice::<Event>(&bytes) {
                Ok(event) => {
                    let _ = local.send(Arc::new(event));
                }
                Err(_) => tracing::warn!("event bus: ignored a malformed event"),
            }
        }
        tracing::warn!("event bus: redis subscription ended; reconnecting");
    }
}

/// Subscribes anew; bounded, since a Redis that accepts connections but does not answer would
/// otherwise hold the relay forever.
async fn connect(client: &redis::Client, channel: &str) -> Result<redis::aio::PubSub, redis::RedisError> {
    let attempt = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok(pubsub)
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .unwrap_or_else(|_| Err(redis::RedisError::from((redis::ErrorKind::Io, "subscribe timed out"))))
}

/// Publishes `payload` on the console topic (`topic(unit)`) of each of `units` and of every unit
/// above them, each unit once: how the consoles of a subtree's officers hear what happens below.
/// Called after the commit that made the news; a lost event is logged, never fatal (`what` names
/// the news in the log).
pub async fn publish_up(
    state: &crate::state::AppState,
    units: impl IntoIterator<Item = entities::ids::UnitId>,
    topic: impl Fn(entities::ids::UnitId) -> String,
    payload: serde_json::Value,
    what: &str,
) {
    use entities::org_unit_closure as c;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    let ancestors: Vec<entities::ids::UnitId> = match c::Entity::find()
        .select_only()
        .column(c::Column::AncestorId)
        .filter(c::Column::DescendantId.is_in(units))
        .distinct()
        .into_tuple()
        .all(&state.db)
        .await
    {
        Ok(units) => units,
        Err(e) => {
            tracing::warn!(error = %e, what, "could not read the units to tell about an event");
            return;
        }
    };
    for unit in ancestors {
        if let Err(e) = state.events.publish(topic(unit), payload.clone()).await {
            // The bus is down: the other units' consoles would not get it either.
            tracing::warn!(error = ?e, what, "could not publish an event");
            break;
        }
    }
}

/// The payloads of several console topics as one stream, each event once (a console following
/// two units on one path hears it on both topics): `key` names an event, `None` drops it as
/// malformed. Ends when the session `session_id` is revoked.
pub fn console_stream<K, F>(
    bus: &EventBus,
    topics: Vec<String>,
    session_id: uuid::Uuid,
    key: F,
) -> impl Stream<Item = serde_json::Value> + Send + use<K, F>
where
    K: PartialEq + Send + 'static,
    F: Fn(&serde_json::Value) -> Option<K> + Send + 'static,
{
    let revoked = bus.subscribe(crate::identity::session_revoked_topic(session_id));
    let streams = topics.into_iter().map(|t| bus.subscribe(t).boxed());
    let mut recent: std::collections::VecDeque<K> = std::collections::VecDeque::with_capacity(RECENT);
    futures_util::stream::select_all(streams)
        .filter(move |payload| {
            let fresh = match key(payload) {
                Some(k) if !recent.contains(&k) => {
                    if recent.len() == RECENT {
                        recent.pop_front();
                    }
                    recent.push_back(k);
                    true
                }
                _ => false,
            };
            std::future::ready(fresh)
        })
        .take_until(revoked.boxed().into_future())
}

/// Events a console remembers to pass each on once.
const RECENT: usize = 64;
