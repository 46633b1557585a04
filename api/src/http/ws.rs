//! GraphQL subscriptions over WebSocket (`/graphql/ws`), protocol `graphql-transport-ws` (the
//! legacy `graphql-ws` too).
//!
//! The access token travels in the `connection_init` payload (`{"authorization": "Bearer …"}`,
//! or `token`/`accessToken`), never in the URL. An invalid token closes the socket with 4403;
//! no `connection_init` within `APP_WS_INIT_TIMEOUT_SECS` closes it with 4408, as the protocol
//! asks. A signed-in socket is closed with 4403 as soon as its session is revoked or its token
//! expires (checked on every operation and every 30 s heartbeat). An outage of Redis never
//! closes a socket: revocation is then checked in the database, events resume when the relay
//! reconnects, and a `connection_init` that cannot be checked at all is closed with 1013 (try
//! again later), which clients retry. Pings are answered; a silent
//! peer is dropped after 90 seconds; messages are limited to 64 KiB and a client that floods
//! the socket is cut off (1008).

use std::{
    str::FromStr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use async_graphql::{
    Data,
    http::{WebSocket, WebSocketProtocols, WsMessage},
};
use futures_util::StreamExt;

use super::{idempotency, request_meta};
use crate::graphql::{CredentialGuard, Engine, loaders::Loaders};
use service::metrics::metrics;
use service::{
    auth::{self, Auth},
    identity::session_revoked_topic,
    state::AppState,
};

const HEARTBEAT: Duration = Duration::from_secs(30);
const SILENCE_LIMIT: Duration = Duration::from_secs(90);
const MAX_MESSAGE: usize = 64 * 1024;
/// Client messages waiting for the protocol handler before the client is cut off.
const MAX_QUEUED: usize = 64;
/// How long a revoked socket stays open to deliver `sessionRevoked`.
const REVOKED_GRACE: Duration = Duration::from_millis(300);

/// Upgrades the connection and spawns the session.
pub async fn handshake(
    req: HttpRequest,
    body: web::Payload,
    engine: web::Data<Engine>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let (response, session, stream) =
        actix_ws::handle_with_protocols(&req, body, &["graphql-transport-ws", "graphql-ws"])?;
    let protocol = response
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|p| WebSocketProtocols::from_str(p).ok());
    let Some(protocol) = protocol else {
        return Ok(HttpResponse::BadRequest().body("Sec-WebSocket-Protocol must be graphql-transport-ws"));
    };
    let (lang, meta) = request_meta(&req, &state.settings);
    let mut data = Data::default();
    data.insert(lang);
    data.insert(meta);
    data.insert(Loaders::new(&state.db));
    // This worker's state (its own pool and Redis connection) before the schema's.
    data.insert(state.get_ref().clone());
    data.insert(CredentialGuard::default());
    actix_web::rt::spawn(run(session, stream, engine.into_inner(), state.into_inner(), protocol, data));
    Ok(response)
}

async fn run(
    mut session: actix_ws::Session,
    stream: actix_ws::MessageStream,
    engine: Arc<Engine>,
    state: Arc<AppState>,
    protocol: WebSocketProtocols,
    data: Data,
) {
    let mut incoming =
        stream.max_frame_size(MAX_MESSAGE).aggregate_continuations().max_continuation_size(MAX_MESSAGE);
    let (mut tx, rx) = futures_channel::mpsc::channel::<Vec<u8>>(MAX_QUEUED);
    let mut init_seen = false;

    // The token is checked here, before the message reaches the protocol handler, so that a
    // bad one closes with 4403 as graphql-transport-ws recommends (the handler would say 1002).
    let auth_cell: Arc<Mutex<Auth>> = Arc::new(Mutex::new(Auth::Anonymous));
    let init_auth = auth_cell.clone();
    let on_init = move |_payload: serde_json::Value| async move {
        let auth = *init_auth.lock().unwrap_or_else(|p| p.into_inner());
        let mut data = Data::default();
        data.insert(auth);
        Ok(data)
    };
    let mut outgoing = WebSocket::new(
        idempotency::WsExecutor { engine: (*engine).clone(), state: state.clone() },
        rx,
        protocol,
    )
    .connection_data(data)
    .on_connection_init(on_init);

    let init_deadline = tokio::time::sleep(state.settings.ws_init_timeout);
    tokio::pin!(init_deadline);
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    let mut last_heard = Instant::now();

    // A signed-in socket stays signed in only as long as its session: every operation and every
    // heartbeat re-checks the token (expiry, revocation), and a revocation closes it at once.
    let mut token: Option<String> = None;
    let mut revoked: Option<futures_util::stream::BoxStream<'static, serde_json::Value>> = None;
    let closing = tokio::time::sleep(Duration::from_secs(0));
    tokio::pin!(closing);
    let mut closing_armed = false;
    let forbidden =
        || Some(CloseReason { code: CloseCode::Other(4403), description: Some("Forbidden".into()) });

    let _connected = Connected::new();
    let mut operations = Operations::new(state.settings.max_in_flight_per_caller as usize);
    let close = loop {
        tokio::select! {
            msg = incoming.next() => {
                last_heard = Instant::now();
                // Binary frames carry the same protocol messages: they go through the same
                // checks (a frame that is not UTF-8 is not a protocol message at all).
                let text = match msg {
                    Some(Ok(AggregatedMessage::Text(text))) => text.to_string(),
                    Some(Ok(AggregatedMessage::Binary(bytes))) => match String::from_utf8(bytes.to_vec()) {
                        Ok(text) => text,
                        Err(_) => break Some(CloseReason { code: CloseCode::Other(4400), description: Some("Invalid message".into()) }),
                    },
                    Some(Ok(AggregatedMessage::Ping(p))) => {
                        if session.pong(&p).await.is_err() { return; }
                        continue;
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => continue,
                    Some(Ok(AggregatedMessage::Close(reason))) => break reason,
                    Some(Err(_)) => break Some(CloseReason { code: CloseCode::Size, description: None }),
                    None => break None,
                };
                if !init_seen && let Some(payload) = connection_init_payload(&text) {
                    init_seen = true;
                    token = bearer(&payload);
                    let auth = match auth::authenticate(&state.tokens, &state.cache, &state.db, token.as_deref()).await {
                        Ok(auth) => auth,
                        // The session cannot be checked now: "try again later", which
                        // clients retry (4403 would read as a final refusal).
                        Err(_) => break Some(CloseReason { code: CloseCode::Again, description: Some("Try again later".into()) }),
                    };
                    match auth {
                        // Integration clients have no subscriptions.
                        Auth::Rejected | Auth::Client(_) => break forbidden(),
                        Auth::Signed(v) | Auth::Pending(v) => {
                            revoked = Some(Box::pin(state.events.subscribe(session_revoked_topic(v.session_id))));
                        }
                        Auth::Anonymous => {}
                    }
                    *auth_cell.lock().unwrap_or_else(|p| p.into_inner()) = auth;
                } else if token.is_some() && !still_signed_in(&state, token.as_deref()).await {
                    break forbidden();
                }
                // Operations running at once on one socket are bounded like HTTP requests: one
                // more is answered with an error of its own and never started.
                if let Some(refused) = operations.track_incoming(&text) {
                    if session.text(refused).await.is_err() { return; }
                    continue;
                }
                let bytes = text.into_bytes();
                // A client that sends faster than its operations are handled is cut off rather
                // than buffered without bound.
                if tx.try_send(bytes).is_err() {
                    break Some(CloseReason { code: CloseCode::Policy, description: Some("Too many messages".into()) });
                }
            }
            out = outgoing.next() => match out {
                Some(WsMessage::Text(text)) => {
                    operations.track_outgoing(&text);
                    if session.text(text).await.is_err() { return; }
                }
                Some(WsMessage::Close(code, reason)) => {
                    break Some(CloseReason { code: CloseCode::Other(code), description: Some(reason) });
                }
                None => break None,
            },
            // Revoked: let `sessionRevoked` reach the client, then close.
            Some(_) = next_or_pending(&mut revoked) => {
                revoked = None;
                closing.as_mut().reset(tokio::time::Instant::now() + REVOKED_GRACE);
                closing_armed = true;
            }
            _ = &mut closing, if closing_armed => break forbidden(),
            _ = &mut init_deadline, if !init_seen => {
                break Some(CloseReason {
                    code: CloseCode::Other(4408),
                    description: Some("Connection initialisation timeout".into()),
                });
            }
            _ = heartbeat.tick() => {
                if token.is_some() && !still_signed_in(&state, token.as_deref()).await {
                    break forbidden();
                }
                if last_heard.elapsed() > SILENCE_LIMIT || session.ping(b"").await.is_err() {
                    break None;
                }
            }
        }
    };
    let _ = session.close(close).await;
}

/// The operations a socket has running (by id), bounded by `APP_MAX_IN_FLIGHT_PER_CALLER`.
struct Operations {
    running: std::collections::HashSet<String>,
    max: usize,
}

/// The connection's operations end with it.
impl Drop for Operations {
    fn drop(&mut self) {
        metrics().ws_operations.sub(self.running.len() as i64);
    }
}

/// Counts an open connection (`phunu_ws_connections`) while it lives.
struct Connected;

impl Connected {
    fn new() -> Self {
        metrics().ws_connections.inc();
        Self
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        metrics().ws_connections.dec();
    }
}

impl Operations {
    fn new(max: usize) -> Self {
        Self { running: Default::default(), max }
    }

    /// Notes a client message; for a `subscribe` over the bound, the `error` message to answer
    /// instead of starting it.
    fn track_incoming(&mut self, text: &str) -> Option<String> {
        let (kind, id) = kind_and_id(text)?;
        match kind.as_str() {
            "subscribe" | "start" if !self.running.contains(&id) && self.running.len() >= self.max => {
                let payload = serde_json::json!([{
                    "message": "Too many operations at once on this connection.",
                    "extensions": { "code": "RATE_LIMITED", "retryAfter": 1 },
                }]);
                Some(serde_json::json!({ "id": id, "type": "error", "payload": payload }).to_string())
            }
            "subscribe" | "start" => {
                if self.running.insert(id) {
                    metrics().ws_operations.inc();
                }
                None
            }
            "complete" | "stop" => {
                if self.running.remove(&id) {
                    metrics().ws_operations.dec();
                }
                None
            }
            _ => None,
        }
    }

    /// Notes a server message: an operation's `complete` or `error` ends it.
    fn track_outgoing(&mut self, text: &str) {
        if let Some((kind, id)) = kind_and_id(text)
            && matches!(kind.as_str(), "complete" | "error")
            && self.running.remove(&id)
        {
            metrics().ws_operations.dec();
        }
    }
}

/// The `type` and `id` of a protocol message.
fn kind_and_id(text: &str) -> Option<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Message {
        #[serde(rename = "type")]
        kind: String,
        id: Option<String>,
    }
    let msg: Message = serde_json::from_str(text).ok()?;
    Some((msg.kind, msg.id?))
}

/// Whether the socket's token is still valid (not expired, not revoked). While its revocation
/// cannot be checked (cache and database both unreachable) the socket stays open: an outage is
/// not a sign-out, and the next check decides.
async fn still_signed_in(state: &AppState, token: Option<&str>) -> bool {
    match auth::authenticate(&state.tokens, &state.cache, &state.db, token).await {
        Ok(auth) => matches!(auth, Auth::Signed(_) | Auth::Pending(_)),
        Err(_) => true,
    }
}

/// The next item of an optional stream; never resolves when there is none.
async fn next_or_pending<T>(stream: &mut Option<futures_util::stream::BoxStream<'static, T>>) -> Option<T> {
    match stream {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// The payload of a `connection_init` message (`Null` when it has none).
fn connection_init_payload(text: &str) -> Option<serde_json::Value> {
    let mut msg = serde_json::from_str::<serde_json::Value>(text).ok()?;
    (msg.get("type")?.as_str()? == "connection_init").then(|| msg["payload"].take())
}

/// The access token of an init payload: `authorization` (with or without `Bearer`), `token`
/// or `accessToken`.
fn bearer(payload: &serde_json::Value) -> Option<String> {
    ["authorization", "Authorization", "token", "accessToken"]
        .iter()
        .find_map(|k| payload.get(*k).and_then(|v| v.as_str()).map(str::to_owned))
}
