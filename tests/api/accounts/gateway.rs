//! A fake HTTP SMS gateway (the shape of the Vietnamese brand-name SMS and Zalo ZNS APIs): it
//! records what it is sent and answers as told, so the HTTP adapter is tested over real HTTP.
//! The webhook tests use it as a partner's receiver (they verify signatures over `raw`).

use std::{
    collections::{HashMap, VecDeque},
    net::TcpListener,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

/// One request the gateway received.
#[derive(Clone, Debug)]
pub struct Received {
    pub body: Value,
    /// The body exactly as sent.
    pub raw: String,
    pub headers: HashMap<String, String>,
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    /// Statuses to answer next (then 200).
    statuses: Mutex<VecDeque<u16>>,
    answer: Mutex<Value>,
}

pub struct FakeGateway {
    pub url: String,
    shared: Arc<Shared>,
    server: actix_web::dev::ServerHandle,
}

async fn receive(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let raw = String::from_utf8_lossy(&body).into_owned();
    let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
    shared.received.lock().unwrap().push(Received { body, raw, headers });
    let status = shared.statuses.lock().unwrap().pop_front().unwrap_or(200);
    let answer = shared.answer.lock().unwrap().clone();
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(answer)
}

impl FakeGateway {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared { answer: Mutex::new(json!({ "ok": true })), ..Shared::default() });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            App::new().app_data(data.clone()).route("/send", web::post().to(receive))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url: format!("http://127.0.0.1:{port}/send"), shared, server: handle }
    }

    /// The next answers' statuses, in order (200 after them).
    pub fn fail_next(&self, statuses: &[u16]) {
        self.shared.statuses.lock().unwrap().extend(statuses);
    }

    /// The JSON body of every answer from now on.
    pub fn answer_with(&self, answer: Value) {
        *self.shared.answer.lock().unwrap() = answer;
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..1000 {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the gateway received {} requests, not {n}", self.received().len());
    }

    pub async fn stop(self) {
        self.server.stop(false).await;
    }
}
