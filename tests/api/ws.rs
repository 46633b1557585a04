//! `/graphql/ws`: the graphql-transport-ws protocol, authentication in `connection_init`, the
//! init timeout, and live delivery of `sessionRevoked`.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest},
};

use crate::helpers::*;

pub type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) async fn connect(app: &TestApp) -> Ws {
    let mut req = format!("ws://127.0.0.1:{}/graphql/ws", app.port).into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    let (ws, resp) = connect_async(req).await.expect("websocket handshake");
    assert_eq!(resp.headers().get("sec-websocket-protocol").unwrap(), "graphql-transport-ws");
    ws
}

pub async fn send(ws: &mut Ws, msg: Value) {
    ws.send(Message::text(msg.to_string())).await.unwrap();
}

/// The next JSON message, or the close code when the server closes.
pub(crate) async fn next(ws: &mut Ws) -> Result<Value, Option<u16>> {
    loop {
        let msg =
            tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("server answered in time");
        match msg {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(None),
        }
    }
}

async fn init(ws: &mut Ws, payload: Value) -> Result<Value, Option<u16>> {
    send(ws, json!({ "type": "connection_init", "payload": payload })).await;
    next(ws).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_revoked_is_delivered_live_to_the_authenticated_socket() {
    let app = spawn_app().await;
    let token = app.token(MEMBER).await;
    let mut ws = connect(&app).await;
    let ack = init(&mut ws, json!({ "authorization": format!("Bearer {token}") })).await.unwrap();
    assert_eq!(ack["type"], "connection_ack");
    send(&mut ws, json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { sessionRevoked { reason revokedAt } }" } })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    app.gql("mutation { logout }", json!({}), Some(&token)).await.ok();

    let event = next(&mut ws).await.unwrap();
    assert_eq!(event["type"], "next", "{event}");
    assert_eq!(event["id"], "1");
    assert_eq!(event["payload"]["data"]["sessionRevoked"]["reason"], "LOGOUT");
    let done = next(&mut ws).await.unwrap();
    assert_eq!(done["type"], "complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_sessions_revocation_is_not_delivered() {
    let app = spawn_app().await;
    let mine = app.token(MEMBER).await;
    let other = app.token(MEMBER).await;
    let mut ws = connect(&app).await;
    init(&mut ws, json!({ "authorization": format!("Bearer {mine}") })).await.unwrap();
    send(&mut ws, json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { sessionRevoked { reason } }" } })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.gql("mutation { logout }", json!({}), Some(&other)).await.ok();
    let quiet = tokio::time::timeout(Duration::from_millis(700), ws.next()).await;
    assert!(quiet.is_err(), "unexpected message: {quiet:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_without_a_token_is_unauthenticated() {
    let app = spawn_app().await;
    let mut ws = connect(&app).await;
    let ack = init(&mut ws, json!({})).await.unwrap();
    assert_eq!(ack["type"], "connection_ack");
    send(&mut ws, json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { sessionRevoked { reason } }" } })).await;
    let msg = next(&mut ws).await.unwrap();
    let errors = if msg["type"] == "error" { &msg["payload"] } else { &msg["payload"]["errors"] };
    assert_eq!(errors[0]["extensions"]["code"], "UNAUTHENTICATED", "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_token_in_connection_init_closes_with_4403() {
    let app = spawn_app().await;
    let mut ws = connect(&app).await;
    let res = init(&mut ws, json!({ "authorization": "Bearer not.a.token" })).await;
    assert_eq!(res, Err(Some(4403)));
}

async fn send_binary(ws: &mut Ws, msg: Value) {
    ws.send(Message::binary(msg.to_string().into_bytes())).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_frames_get_the_same_token_checks_as_text() {
    let app = spawn_app().await;
    // A forged token in a binary connection_init is refused like one in text.
    let mut ws = connect(&app).await;
    send_binary(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "authorization": "Bearer not.a.token" } }),
    )
    .await;
    assert_eq!(next(&mut ws).await, Err(Some(4403)));

    // A token that expires while the socket is open: an operation sent in a binary frame after
    // that closes the socket, as a text one would.
    let real = app.token(MEMBER).await;
    let now = chrono::Utc::now().timestamp();
    let short = crate::identity::sign(
        jsonwebtoken::Algorithm::HS256,
        TEST_JWT_SECRET,
        &crate::identity::claims_like(&real, |c| {
            c["iat"] = json!(now);
            c["exp"] = json!(now + 1);
        }),
    );
    let mut ws = connect(&app).await;
    send_binary(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {short}") } }),
    )
    .await;
    assert_eq!(next(&mut ws).await.unwrap()["type"], "connection_ack");
    // Past the expiry and the 5 s leeway.
    tokio::time::sleep(Duration::from_secs(7)).await;
    send_binary(&mut ws, json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { sessionRevoked { reason } }" } }))
        .await;
    assert_eq!(next(&mut ws).await, Err(Some(4403)));

    // Bytes that are not a UTF-8 message close the socket as a protocol error.
    let mut ws = connect(&app).await;
    ws.send(Message::binary(vec![0xff, 0xfe, 0x00])).await.unwrap();
    assert_eq!(next(&mut ws).await, Err(Some(4400)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_in_connection_init_closes_with_4403() {
    let app = spawn_app().await;
    let token = app.token(MEMBER).await;
    app.gql("mutation { logout }", json!({}), Some(&token)).await.ok();
    let mut ws = connect(&app).await;
    let res = init(&mut ws, json!({ "authorization": format!("Bearer {token}") })).await;
    assert_eq!(res, Err(Some(4403)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_connection_init_closes_with_4408() {
    let app = spawn_app_with(&[("APP_WS_INIT_TIMEOUT_SECS", "1")]).await;
    let mut ws = connect(&app).await;
    let started = std::time::Instant::now();
    assert_eq!(next(&mut ws).await, Err(Some(4408)));
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_also_run_over_the_socket() {
    let app = spawn_app().await;
    let token = app.token(MEMBER).await;
    let mut ws = connect(&app).await;
    init(&mut ws, json!({ "authorization": format!("Bearer {token}") })).await.unwrap();
    send(&mut ws, json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ me { phone } }" } }))
        .await;
    let msg = next(&mut ws).await.unwrap();
    assert_eq!(msg["payload"]["data"]["me"]["phone"], MEMBER, "{msg}");
}

/// Opens a socket on `app` (with `Accept-Language: lang` when given) authenticated with `token`
/// and starts `query` as operation "1"; the caller waits a moment before producing events.
pub async fn subscribe(app: &TestApp, token: &str, query: &str, lang: Option<&str>) -> Ws {
    let mut req = format!("ws://127.0.0.1:{}/graphql/ws", app.port).into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    if let Some(lang) = lang {
        req.headers_mut().insert("Accept-Language", lang.parse().unwrap());
    }
    let (mut ws, _) = connect_async(req).await.expect("websocket handshake");
    let ack = init(&mut ws, json!({ "authorization": format!("Bearer {token}") })).await.unwrap();
    assert_eq!(ack["type"], "connection_ack");
    send(&mut ws, json!({ "id": "1", "type": "subscribe", "payload": { "query": query } })).await;
    ws
}

/// Opens a socket on `app` authenticated with `token` and subscribes to `sessionRevoked`.
pub async fn subscribe_session_revoked(app: &TestApp, token: &str) -> Ws {
    let mut ws = connect(app).await;
    init(&mut ws, json!({ "authorization": format!("Bearer {token}") })).await.unwrap();
    send(&mut ws, json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { sessionRevoked { reason } }" } })).await;
    ws
}

/// The next message of a socket (panics when it closes instead).
pub async fn next_event(ws: &mut Ws) -> Value {
    next(ws).await.expect("a message, not a close")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_is_closed_when_its_session_is_revoked() {
    let app = spawn_app().await;
    let token = app.token(MEMBER).await;
    let mut ws = connect(&app).await;
    init(&mut ws, json!({ "authorization": format!("Bearer {token}") })).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.gql("mutation { logout }", json!({}), Some(&token)).await.ok();
    assert_eq!(next(&mut ws).await, Err(Some(4403)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_socket_cannot_run_operations() {
    let app = spawn_app().await;
    let token = app.token(MEMBER).await;
    let mut ws = connect(&app).await;
    init(&mut ws, json!({ "authorization": format!("Bearer {token}") })).await.unwrap();
    // Revoke without telling this instance's event bus in time: the per-operation check alone
    // must refuse the query.
    app.gql("mutation { logout }", json!({}), Some(&token)).await.ok();
    send(&mut ws, json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ me { phone } }" } }))
        .await;
    let res = next(&mut ws).await;
    assert_eq!(res, Err(Some(4403)), "{res:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_at_once_on_one_socket_are_bounded() {
    let app = spawn_app_with(&[("APP_MAX_IN_FLIGHT_PER_CALLER", "2")]).await;
    let token = app.token(MEMBER).await;
    let mut ws = connect(&app).await;
    init(&mut ws, json!({ "authorization": format!("Bearer {token}") })).await.unwrap();
    let revoked = json!({ "query": "subscription { sessionRevoked { reason } }" });
    for id in ["1", "2"] {
        send(&mut ws, json!({ "id": id, "type": "subscribe", "payload": revoked })).await;
    }
    // A third at once is refused with an error of its own; the socket stays open.
    send(&mut ws, json!({ "id": "3", "type": "subscribe", "payload": revoked })).await;
    let refused = next(&mut ws).await.unwrap();
    assert_eq!((refused["id"].clone(), refused["type"].clone()), (json!("3"), json!("error")), "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "RATE_LIMITED");
    // Once one ends, another runs.
    send(&mut ws, json!({ "id": "1", "type": "complete" })).await;
    send(&mut ws, json!({ "id": "4", "type": "subscribe", "payload": { "query": "{ me { phone } }" } }))
        .await;
    let answer = loop {
        // The server may confirm the end of "1" first.
        let msg = next(&mut ws).await.unwrap();
        if msg["id"] == "4" {
            break msg;
        }
    };
    assert_eq!(answer["payload"]["data"]["me"]["phone"], MEMBER, "{answer}");
}
