//! The officer console at Hanoi scale, over HTTP against the real server on PostgreSQL: a bulk
//! approval of 100 membership requests, the member directory of a district exported as CSV and
//! as XLSX (rows per second, the server process's peak memory), and what an `Idempotency-Key`
//! adds to a mutation.
//!
//! `BENCH_DATABASE_URL='postgres://postgres@127.0.0.1:5432?sslmode=disable' cargo bench -p api --bench console`
//!
//! It (re)creates the database `phunu_bench_console`: the bench tree (5,040 branches) and
//! 1,000,000 members spread over the branches (a district holds about 33,000), a district
//! officer (`UNIT_OFFICER` of the first district) with a password. Then it starts the server
//! (`Application`, two workers, in this process), signs the officer in, and measures:
//!
//! - `BENCH_ROUNDS` (5) rounds of: 100 people ask to join branches of the district (not timed),
//!   then one `approveMembershipRequests` of the 100 — its latency and SQL statements;
//! - the district's directory as `GET /exports/members.csv` and `.xlsx`: time, rows per second,
//!   bytes, and the process's resident memory before and at its peak (`VmHWM`, reset before each
//!   export through `/proc/self/clear_refs`);
//! - `BENCH_MUTATIONS` (300) `markAllNotificationsRead` one after another without a key and
//!   with a fresh key each: p50 and p99, and the statements each adds.
//!
//! The client, the server and PostgreSQL share the machine. Not run by the test suite or CI.

// A measuring program: a failed step should stop it loudly, like a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use api::startup::Application;
use common::{build_tree, fresh_state_with, percentile};
use entities::ids::UnitId;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use service::{domain::GlobalId, state::AppState};

const NAME: &str = "phunu_bench_console";
const MEMBERS: u64 = 1_000_000;
const PASSWORD: &str = "ban-dieu-hanh-2026";
const OFFICER_PHONE: &str = "+84390000001";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A line of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resets the peak resident size (`VmHWM`) to the current one.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("clear_refs");
}

async fn seed(state: &AppState) -> UnitId {
    let tree = build_tree(state).await;
    let t = Instant::now();
    let hash = service::auth::hash_password(PASSWORD.to_owned()).await.expect("hash");
    let district = tree.districts[0].id;
    let sql = format!(
        "CREATE TABLE bench_branch AS SELECT id, (ROW_NUMBER() OVER (ORDER BY code) - 1)::int AS n \
           FROM org_unit WHERE kind = 'BRANCH'; \
         CREATE INDEX ON bench_branch (n); \
         INSERT INTO person (id, phone, full_name, name_search, is_system_admin, language, created_at, updated_at) \
           SELECT gen_random_uuid(), '+849' || lpad(i::text, 8, '0'), 'Nguyễn Thị Hội Viên ' || i, \
                  'nguyen thi hoi vien ' || i, false, 'vi', now(), now() FROM generate_series(1, {MEMBERS}) i; \
         INSERT INTO membership (id, person_id, name_search, branch_id, member_number, status, joined_at, created_at, updated_at) \
           SELECT gen_random_uuid(), p.id, p.name_search, b.id, 'HN' || lpad(s.n::text, 7, '0'), 'ACTIVE', \
                  now() - (s.n % 3650) * interval '1 day', now(), now() \
           FROM (SELECT id, CAST(substr(phone, 5) AS bigint) AS n FROM person) s \
           JOIN person p ON p.id = s.id JOIN bench_branch b ON b.n = s.n % 5040; \
         UPDATE counter SET next_value = {next} WHERE name = 'member_number'; \
         INSERT INTO person (id, phone, full_name, name_search, password_hash, is_system_admin, language, created_at, updated_at) \
           VALUES (gen_random_uuid(), '{OFFICER_PHONE}', 'Cán Bộ Quận', 'can bo quan', '{hash}', false, 'vi', now(), now()); \
         INSERT INTO officer_role (id, person_id, unit_id, role, granted_at) \
           SELECT gen_random_uuid(), id, '{district}', 'UNIT_OFFICER', now() FROM person WHERE phone = '{OFFICER_PHONE}'; \
         DROP TABLE bench_branch; ANALYZE",
        next = MEMBERS + 1,
    );
    state.db.execute_unprepared(&sql).await.expect("members");
    println!("members: {MEMBERS} in {:.1} s", t.elapsed().as_secs_f64());
    district
}

/// The count a `SELECT COUNT(*) AS n …` answers.
async fn count(state: &AppState, sql: &str) -> u64 {
    let row = state
        .db
        .query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql))
        .await
        .expect("count")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n") as u64
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn gql(&self, query: &str, variables: Value, token: Option<&str>, key: Option<&str>) -> Value {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let body: Value = req.send().await.expect("request").json().await.expect("json");
        assert!(body.get("errors").is_none(), "{body}");
        body["data"].clone()
    }
}

fn line(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let (p50, p99) = (percentile(&samples, 0.50), percentile(&samples, 0.99));
    println!("{name:<44} p50 {p50:>8.2} ms   p99 {p99:>8.2} ms   ({} samples)", samples.len());
}

#[tokio::main]
async fn main() {
    let extra = [("APP_MFA_REQUIRED_ROLES", "none"), ("APP_REGISTER_MAX_PER_ADDRESS", "1000000")];
    let (state, settings) = fresh_state_with(NAME, &extra).await;
    let district = seed(&state).await;

    let mut settings = settings.clone();
    settings.port = 0;
    settings.workers = 2;
    settings.max_in_flight_per_caller = 256;
    let app = Application::build(settings).await.expect("server");
    let base = format!("http://127.0.0.1:{}", app.port());
    // The server's own state: its statement counter is the one to read.
    let served = app.state().clone();
    let (stop, stopped) = tokio::sync::mpsc::unbounded_channel();
    let server = tokio::spawn(app.run_until(stopped));
    let http = reqwest::Client::builder().pool_max_idle_per_host(16).build().unwrap();
    let mut client = Client { http, base, token: String::new() };
    let login = client
        .gql(
            "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
            json!({ "i": { "phone": OFFICER_PHONE, "password": PASSWORD } }),
            None,
            None,
        )
        .await;
    client.token = login["login"]["accessToken"].as_str().unwrap().to_owned();
    let district_gid = GlobalId::new(service::domain::NodeKind::OrgUnit, district).encode();

    // ---- bulk approval ----
    let branches: Vec<String> = common::ids::<UnitId>(
        &state,
        &format!(
            "SELECT u.id FROM org_unit u JOIN org_unit_closure c ON c.descendant_id = u.id \
             WHERE c.ancestor_id = '{district}' AND u.kind = 'BRANCH' ORDER BY u.code LIMIT 100"
        ),
    )
    .await
    .into_iter()
    .map(|b| GlobalId::new(service::domain::NodeKind::OrgUnit, b).encode())
    .collect();
    let rounds = env_num("BENCH_ROUNDS", 5);
    let mut approvals = Vec::new();
    let mut statements = Vec::new();
    for round in 0..rounds {
        let mut ids = Vec::new();
        for i in 0..100u64 {
            // A signed-in applicant: a session straight from the token keys.
            let phone = format!("+84391{:06}", round * 100 + i);
            state
                .db
                .execute_unprepared(&format!(
                    "INSERT INTO person (id, phone, full_name, name_search, password_hash, is_system_admin, language, created_at, updated_at) \
                     VALUES (gen_random_uuid(), '{phone}', 'Người Xin {i}', 'nguoi xin {i}', (SELECT password_hash FROM person WHERE phone = '{OFFICER_PHONE}'), false, 'vi', now(), now())"
                ))
                .await
                .expect("applicant");
            let token = client
                .gql(
                    "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
                    json!({ "i": { "phone": phone, "password": PASSWORD } }),
                    None,
                    None,
                )
                .await["login"]["accessToken"]
                .as_str()
                .unwrap()
                .to_owned();
            let made = client
                .gql(
                    "mutation($i: RequestMembershipInput!) { requestMembership(input: $i) { id } }",
                    json!({ "i": { "branchId": branches[i as usize % branches.len()] } }),
                    Some(&token),
                    None,
                )
                .await;
            ids.push(made["requestMembership"]["id"].as_str().unwrap().to_owned());
        }
        let before = served.stats.statements();
        let started = Instant::now();
        let done = client
            .gql(
                "mutation($ids: [ID!]!) { approveMembershipRequests(ids: $ids) { ok } }",
                json!({ "ids": ids }),
                Some(&client.token),
                None,
            )
            .await;
        approvals.push(started.elapsed());
        statements.push(served.stats.statements() - before);
        let ok =
            done["approveMembershipRequests"].as_array().unwrap().iter().filter(|o| o["ok"] == true).count();
        assert_eq!(ok, 100);
    }
    line("approveMembershipRequests (100 requests)", approvals);
    println!("  SQL statements per bulk approval: {statements:?}");

    // ---- the district's directory, exported ----
    for format in ["csv", "xlsx"] {
        let rss_before = status_kib("VmRSS:");
        reset_peak();
        let started = Instant::now();
        let mut resp = client
            .http
            .get(format!("{}/exports/members.{format}?unitId={district_gid}", client.base))
            .bearer_auth(&client.token)
            .send()
            .await
            .expect("export");
        assert_eq!(resp.status().as_u16(), 200);
        let first_byte = started.elapsed();
        let mut bytes = 0usize;
        while let Some(chunk) = resp.chunk().await.expect("chunk") {
            bytes += chunk.len();
        }
        let took = started.elapsed();
        let peak = status_kib("VmHWM:");
        let rows = count(
            &state,
            &format!(
                "SELECT COUNT(*) AS n FROM membership m JOIN org_unit_closure c ON c.descendant_id = m.branch_id \
                 WHERE c.ancestor_id = '{district}'"
            ),
        )
        .await;
        println!(
            "export members.{format:<4} {rows} rows in {:.2} s ({:.0} rows/s), first byte after {:.2} s, {:.1} MB; \
             RSS {} MB before, peak {} MB",
            took.as_secs_f64(),
            rows as f64 / took.as_secs_f64(),
            first_byte.as_secs_f64(),
            bytes as f64 / 1e6,
            rss_before / 1024,
            peak / 1024,
        );
    }

    // ---- what an idempotency key adds ----
    let n = env_num("BENCH_MUTATIONS", 300);
    let mutation = "mutation { markAllNotificationsRead }";
    for keyed in [false, true] {
        let mut samples = Vec::new();
        let before = served.stats.statements();
        for i in 0..n {
            let key = keyed.then(|| format!("bench-{}-{i}", uuid::Uuid::now_v7()));
            let started = Instant::now();
            client.gql(mutation, json!({}), Some(&client.token), key.as_deref()).await;
            samples.push(started.elapsed());
        }
        let per = (served.stats.statements() - before) as f64 / n as f64;
        line(
            if keyed {
                "markAllNotificationsRead, a fresh key each"
            } else {
                "markAllNotificationsRead, no key"
            },
            samples,
        );
        println!("  SQL statements per mutation: {per:.1}");
    }

    stop.send(()).ok();
    server.await.ok();
}
