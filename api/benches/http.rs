//! The service over HTTP, as the apps reach it: the release server binary, started in
//! production mode on PostgreSQL + Redis at Hanoi scale, and a load generator in this process
//! that counts any answer other than a 200 without GraphQL `errors` as a failure.
//!
//! Three documents, each as a signed-in member (a different one per request, out of 20,000):
//!
//! - `units`: a page of 100 wards with their parent (the console's unit list);
//! - `tree`: the city's first 20 districts with their 14 wards each (300 units, the tree view);
//! - `home`: the member app's home screen (see `common::home::HOME`).
//!
//! For each: requests/s closed loop (`BENCH_CONNECTIONS` connections, default 8, each sending
//! its next request when the last is answered, for `BENCH_SECONDS`, default 10), with the server's,
//! PostgreSQL's and the load generator's CPU time per request; then latency at a fixed rate
//! (open loop, `BENCH_RATE` requests/s, default 150: each request's latency counts from when it
//! was due, so queueing shows, as wrk2 does); and the server's peak RSS at the end.
//!
//! `BENCH_DATABASE_URL='postgres://postgres@127.0.0.1:5432?sslmode=disable' cargo bench -p api --bench http`
//! (`BENCH_REDIS_URL`, default `redis://127.0.0.1:6379/9`; `BENCH_REUSE=1` measures again on
//! the database `phunu_bench_home` that a previous run of this bench or of `--bench home`
//! seeded; `BENCH_ONLY=units,tree` picks documents; `BENCH_SERVER_BIN` runs another build of the
//! server, to compare).
//!
//! CPU time is read from `/proc` (Linux only): the server's process, every `postgres` process
//! (the backends serving the server's pool), and this process.

// A measuring program: a failed step should stop it loudly, like a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{Tree, build_tree, existing_state_with, fresh_state_with, home, officer, percentile};
use sea_orm::{ConnectionTrait, FromQueryResult, Statement};
use service::{auth::TokenFlags, domain::NodeId};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use uuid::Uuid;

/// The server's signing key for this run (the bench mints the members' tokens with it).
const JWT_SECRET: &str = "bench-http-signing-key-not-for-production-use";
/// 32 zero bytes: the server needs a report key in production; the bench seals nothing.
const REPORT_KEYS: &str = "1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const MEMBERS: usize = 20_000;

const UNITS: &str = "query Units($kind: OrgUnitKind!) { orgUnits(kind: $kind, first: 100) { \
  edges { node { id code name kind depth parent { id code name } } } pageInfo { hasNextPage endCursor } } }";
const TREE: &str = "query Tree($code: String!) { orgUnit(code: $code) { id code name \
  children(first: 20) { edges { node { id code name kind \
    children(first: 14) { edges { node { id code name kind depth } } } } } } } }";

struct Scenario {
    name: &'static str,
    body: String,
}

fn scenarios() -> Vec<Scenario> {
    let body = |query: &str, variables: serde_json::Value| {
        serde_json::json!({ "query": query, "variables": variables }).to_string()
    };
    let all = vec![
        Scenario { name: "units", body: body(UNITS, serde_json::json!({ "kind": "BASE" })) },
        Scenario { name: "tree", body: body(TREE, serde_json::json!({ "code": "HN" })) },
        Scenario { name: "home", body: body(home::HOME, serde_json::json!({})) },
    ];
    match std::env::var("BENCH_ONLY") {
        Ok(only) => all.into_iter().filter(|s| only.split(',').any(|o| o.trim() == s.name)).collect(),
        Err(_) => all,
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// CPU seconds (user + system) of one process, from `/proc/<pid>/stat`.
fn cpu_of(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // The command name is in parentheses and may hold spaces: count fields after it.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    ticks as f64 / 100.0 // USER_HZ
}

/// CPU seconds of every `postgres` process.
fn postgres_cpu() -> f64 {
    let mut total = 0.0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().filter(|p| p.bytes().all(|b| b.is_ascii_digit())) else { continue };
        if std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres") {
            total += cpu_of(pid);
        }
    }
    total
}

/// A `VmHWM`/`VmRSS` line of `/proc/<pid>/status`, in MB.
fn memory_of(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[derive(Clone, Copy)]
struct Cpu {
    server: f64,
    postgres: f64,
    bench: f64,
}

fn cpu_now(server: u32) -> Cpu {
    Cpu { server: cpu_of(&server.to_string()), postgres: postgres_cpu(), bench: cpu_of("self") }
}

/// One keep-alive HTTP/1.1 connection to the server.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// What one request got.
struct Answer {
    ok: bool,
    bytes: usize,
}

impl Conn {
    async fn open(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect to the server");
        stream.set_nodelay(true).expect("nodelay");
        Self { stream, buf: Vec::with_capacity(64 * 1024) }
    }

    async fn post(&mut self, token: &str, body: &str) -> Answer {
        let request = format!(
            "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Accept: application/graphql-response+json\r\nAuthorization: Bearer {token}\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream.write_all(request.as_bytes()).await.expect("send");
        let (status, body) = self.read_response().await;
        let errors = body.windows(9).any(|w| w == b"\"errors\":");
        Answer { ok: status == 200 && !errors, bytes: body.len() }
    }

    async fn get(&mut self, path: &str) -> u16 {
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        self.stream.write_all(request.as_bytes()).await.expect("send");
        self.read_response().await.0
    }

    /// Reads one response (`Content-Length` or chunked); returns its status and body.
    async fn read_response(&mut self) -> (u16, Vec<u8>) {
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
        let header = |name: &str| {
            head.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')).map(str::trim))
        };
        let mut body = Vec::new();
        if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            while self.buf.len() < head_end + len {
                self.fill().await;
            }
            body.extend_from_slice(&self.buf[head_end..head_end + len]);
            self.buf.drain(..head_end + len);
        } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            self.buf.drain(..head_end);
            loop {
                let line_end = loop {
                    if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                        break i;
                    }
                    self.fill().await;
                };
                let size_text = String::from_utf8_lossy(&self.buf[..line_end]).to_string();
                let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
                    .expect("chunk size");
                while self.buf.len() < line_end + 2 + size + 2 {
                    self.fill().await;
                }
                body.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
                self.buf.drain(..line_end + 2 + size + 2);
                if size == 0 {
                    break;
                }
            }
        } else {
            self.buf.drain(..head_end);
        }
        (status, body)
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the server closed the connection");
        self.buf.extend_from_slice(&chunk[..n]);
    }
}

/// `connections` connections sending `body` back to back for `seconds`, each request as the
/// next member; returns (answered, failed, bytes of the last answer).
async fn closed_loop(
    port: u16,
    tokens: &[String],
    body: &str,
    connections: usize,
    seconds: u64,
) -> (usize, usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for w in 0..connections {
        let tokens = tokens.to_vec();
        let body = body.to_owned();
        workers.push(tokio::spawn(async move {
            let mut conn = Conn::open(port).await;
            let (mut done, mut failed, mut bytes, mut i) = (0, 0, 0, w);
            while Instant::now() < deadline {
                let answer = conn.post(&tokens[i % tokens.len()], &body).await;
                done += 1;
                failed += usize::from(!answer.ok);
                bytes = answer.bytes;
                i += connections;
            }
            (done, failed, bytes)
        }));
    }
    let mut total = (0, 0, 0);
    for w in workers {
        let (d, f, b) = w.await.expect("worker");
        total = (total.0 + d, total.1 + f, b);
    }
    total
}

/// `rate` requests/s for `seconds` over `connections` connections (each on its own schedule);
/// returns each request's latency from when it was due, and how many failed.
async fn open_loop(
    port: u16,
    tokens: &[String],
    body: &str,
    connections: usize,
    rate: u64,
    seconds: u64,
) -> (Vec<Duration>, usize) {
    let total = (rate * seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let mut workers = Vec::new();
    for w in 0..connections {
        let tokens = tokens.to_vec();
        let body = body.to_owned();
        workers.push(tokio::spawn(async move {
            let mut conn = Conn::open(port).await;
            let (mut latencies, mut failed) = (Vec::new(), 0);
            let mut k = w;
            while k < total {
                let due = start + interval * k as u32;
                tokio::time::sleep_until(due).await;
                let answer = conn.post(&tokens[(k + 7919) % tokens.len()], &body).await;
                latencies.push(due.elapsed());
                failed += usize::from(!answer.ok);
                k += connections;
            }
            (latencies, failed)
        }));
    }
    let (mut all, mut failed) = (Vec::with_capacity(total), 0);
    for w in workers {
        let (l, f) = w.await.expect("worker");
        all.extend(l);
        failed += f;
    }
    all.sort();
    (all, failed)
}

#[derive(FromQueryResult)]
struct Session {
    id: Uuid,
    person_id: Uuid,
}

/// Sessions for the first `MEMBERS` active members, and an access token for each.
async fn member_tokens(state: &service::state::AppState) -> Vec<String> {
    let db = &state.db;
    db.execute_unprepared("DELETE FROM auth_session WHERE user_agent = 'bench-http'")
        .await
        .expect("old sessions");
    db.execute_unprepared(&format!(
        "INSERT INTO auth_session (id, person_id, created_at, last_used_at, user_agent) \
         SELECT gen_random_uuid(), person_id, now(), now(), 'bench-http' FROM membership \
         WHERE status = 'ACTIVE' ORDER BY member_number LIMIT {MEMBERS}"
    ))
    .await
    .expect("sessions");
    let sessions = Session::find_by_statement(Statement::from_string(
        sea_orm::DbBackend::Postgres,
        "SELECT id, person_id FROM auth_session WHERE user_agent = 'bench-http'",
    ))
    .all(db)
    .await
    .expect("read sessions");
    sessions
        .into_iter()
        .map(|s| {
            let person = entities::ids::PersonId::from_uuid(s.person_id);
            state.tokens.issue_access(person, s.id, TokenFlags::default()).expect("token").0
        })
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The server binary: this build's, or `BENCH_SERVER_BIN` (another build, to compare).
fn server_binary() -> String {
    std::env::var("BENCH_SERVER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_api").to_owned())
}

/// Starts the release server in production mode; its log goes to `target/bench-http-server.log`.
fn start_server(database_url: &str, redis_url: &str, port: u16) -> Child {
    let log =
        std::fs::File::create(std::env::temp_dir().join("phunu-bench-http-server.log")).expect("log file");
    Command::new(server_binary())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("APP_ENV", "production")
        .env("APP_PORT", port.to_string())
        .env("DATABASE_URL", database_url)
        .env("REDIS_URL", redis_url)
        .env("APP_REDIS_PREFIX", "bench-http:")
        .env("APP_JWT_SECRET", JWT_SECRET)
        .env("APP_REPORT_KEYS", REPORT_KEYS)
        .env("APP_SMS_PROVIDER", "http")
        .env("APP_SMS_GATEWAY_URL", "http://127.0.0.1:9/sms")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start the server binary")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let extra = [("APP_JWT_SECRET", JWT_SECRET)];
    let (state, _) = if std::env::var("BENCH_REUSE").is_ok_and(|v| v == "1") {
        existing_state_with(home::DATABASE, &extra).await
    } else {
        let (state, settings) = fresh_state_with(home::DATABASE, &extra).await;
        let Tree { city, .. } = build_tree(&state).await;
        let admin = officer(&state, "+84300000001", "UNIT_ADMIN", city.id).await;
        home::seed(&state, admin.person_id).await;
        (state, settings)
    };
    let tokens = member_tokens(&state).await;

    let server_url = std::env::var("BENCH_DATABASE_URL").unwrap();
    let (base, options) = server_url.split_once('?').map_or((server_url.as_str(), ""), |(b, o)| (b, o));
    let database_url = format!("{}/{}?{options}", base.trim_end_matches('/'), home::DATABASE);
    let redis_url = std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/9".into());
    let port = free_port();
    let mut server = start_server(&database_url, &redis_url, port);
    let pid = server.id();
    let up = Instant::now();
    loop {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)).await {
            drop(stream);
            if Conn::open(port).await.get("/readyz").await == 200 {
                break;
            }
        }
        assert!(up.elapsed() < Duration::from_secs(60), "the server did not become ready (see its log)");
        if let Ok(Some(status)) = server.try_wait() {
            panic!("the server exited: {status} (see {})", std::env::temp_dir().display());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let commit = match std::env::var("BENCH_SERVER_BIN") {
        Ok(_) => "of BENCH_SERVER_BIN".to_owned(),
        Err(_) => Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default(),
    };
    println!(
        "server: {} (commit {commit}), pid {pid}, RSS {:.0} MB at start",
        server_binary(),
        memory_of(pid, "VmRSS:")
    );

    let connections = env_or("BENCH_CONNECTIONS", 8) as usize;
    let seconds = env_or("BENCH_SECONDS", 10);
    let rate = env_or("BENCH_RATE", 150);
    let mut rows = Vec::new();
    for scenario in scenarios() {
        // Warm-up: connections, the document cache, PostgreSQL's buffers.
        closed_loop(port, &tokens, &scenario.body, connections, 2).await;

        let before = cpu_now(pid);
        let started = Instant::now();
        let (done, failed, bytes) = closed_loop(port, &tokens, &scenario.body, connections, seconds).await;
        let took = started.elapsed().as_secs_f64();
        let after = cpu_now(pid);
        let per_request = |a: f64, b: f64| (a - b) * 1000.0 / done as f64;
        let (server_ms, pg_ms, bench_ms) = (
            per_request(after.server, before.server),
            per_request(after.postgres, before.postgres),
            per_request(after.bench, before.bench),
        );
        let (latencies, open_failed) =
            open_loop(port, &tokens, &scenario.body, connections, rate, seconds).await;
        println!(
            "{:<6} {bytes:>6} B  closed loop: {:>6.0} req/s ({done} answered, {failed} failed); CPU per request: \
             server {server_ms:.3} ms, PostgreSQL {pg_ms:.3} ms, load generator {bench_ms:.3} ms; \
             {rate}/s open loop: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({open_failed} failed)",
            scenario.name,
            done as f64 / took,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            percentile(&latencies, 1.0),
        );
        rows.push(format!(
            "| {} | {bytes} | {:.0} | {server_ms:.3} | {pg_ms:.3} | {:.2} | {:.2} | {} |",
            scenario.name,
            done as f64 / took,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            failed + open_failed
        ));
    }
    let peak = memory_of(pid, "VmHWM:");
    server.kill().ok();
    server.wait().ok();
    println!();
    println!(
        "| document | bytes | req/s ({connections} connections) | server CPU/req (ms) | PostgreSQL CPU/req (ms) | p50 at {rate}/s (ms) | p99 at {rate}/s (ms) | failed |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    println!("server peak RSS: {peak:.0} MB; commit {commit}");
}
