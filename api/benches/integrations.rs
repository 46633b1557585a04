//! A partner's statistics query over HTTP, with its cost accounted in Redis, against the same
//! query with the buckets off (`APP_QUOTA_BUCKETS=false`), on PostgreSQL at Hanoi scale.
//!
//! `BENCH_DATABASE_URL='postgres://postgres@127.0.0.1:5432?sslmode=disable' cargo bench -p api --bench integrations`
//!
//! It (re)creates the database `phunu_bench_integrations`: the bench tree (5,040 branches), the
//! day counters that 1,000,000 members joining over ten years and 3,000,000 check-ins over two
//! leave (the statistics read only those and the units' active counts), and an integration client
//! of the whole city with `statistics:read` and a bucket too large to run dry. Then, for each
//! mode, it starts the real server (`Application`, two workers, Redis at `BENCH_REDIS_URL`,
//! `redis://127.0.0.1:6379` by default), gets a token from `POST /oauth/token`, and asks
//! `publicStatistics` of the city and its 30 districts for last month: one request at a time,
//! at a fixed rate (open loop: latency from when each request was due), and 8 at a time (a
//! caller's in-flight limit, `APP_MAX_IN_FLIGHT_PER_CALLER`) for
//! `BENCH_SECONDS` (10) — with the process's CPU time per request. `BENCH_RATE` (300) sets the
//! rate, `BENCH_REUSE=1` measures again without seeding. The client, the server and PostgreSQL
//! share the machine. Not run by the test suite or CI.

// A measuring program: a failed step should stop it loudly, like a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use api::startup::Application;
use chrono::{Datelike, NaiveDate, Utc};
use common::{Runner, build_tree, existing_state_with, fresh_state_with, ids, officer, percentile};
use entities::ids::UnitId;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use service::{config::Settings, state::AppState};

const NAME: &str = "phunu_bench_integrations";

const STATS: &str = "query($u: ID!, $m: String!) { publicStatistics(unitId: $u, month: $m) { month suppressionThreshold \
    total { unit { code name } activeMembers { value suppressed } newMembers { value suppressed } \
            leavers { value suppressed } trainingsHeld { value suppressed } attendances { value suppressed } } \
    children { unit { code name } activeMembers { value suppressed } newMembers { value suppressed } \
               leavers { value suppressed } attendances { value suppressed } } } }";

const REGISTER: &str = "mutation($i: RegisterIntegrationClientInput!) { registerIntegrationClient(input: $i) { \
    clientSecret client { clientId } } }";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Last month, `YYYY-MM`, and its first day.
fn last_month() -> (String, NaiveDate) {
    let today = (Utc::now() + chrono::Duration::hours(7)).date_naive();
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    let day = first.pred_opt().unwrap();
    (
        format!("{:04}-{:02}", day.year(), day.month()),
        NaiveDate::from_ymd_opt(day.year(), day.month(), 1).unwrap(),
    )
}

async fn seed(state: &AppState) {
    build_tree(state).await;
    let t = Instant::now();
    let year = (Utc::now() + chrono::Duration::hours(7)).year();
    let sql = format!(
        "CREATE TABLE bench_branch AS \
           SELECT id, (ROW_NUMBER() OVER (ORDER BY id) - 1)::int AS n FROM org_unit WHERE kind = 'BRANCH'; \
         CREATE INDEX ON bench_branch (n); \
         INSERT INTO unit_member_day (unit_id, day, joined, \"left\") \
           SELECT b, d, COUNT(*), COUNT(*) / 20 FROM ( \
             SELECT (SELECT id FROM bench_branch WHERE n = i % 5040) AS b, \
                    DATE '{y0}-01-01' + (hashint4(i) & 2147483647) % 3650 AS d \
             FROM generate_series(1, 1000000) i) j GROUP BY b, d; \
         INSERT INTO unit_activity_day (unit_id, metric, day, value) \
           SELECT b, 'ATTENDED', d, COUNT(*) FROM ( \
             SELECT (SELECT id FROM bench_branch WHERE n = i % 5040) AS b, \
                    DATE '{y1}-01-01' + (hashint4(i) & 2147483647) % 730 AS d \
             FROM generate_series(1, 3000000) i) a GROUP BY b, d; \
         INSERT INTO unit_member_day (unit_id, day, joined, \"left\") \
           SELECT c.ancestor_id, u.day, SUM(u.joined), SUM(u.\"left\") FROM unit_member_day u \
           JOIN org_unit_closure c ON c.descendant_id = u.unit_id AND c.depth > 0 GROUP BY c.ancestor_id, u.day; \
         INSERT INTO unit_activity_day (unit_id, metric, day, value) \
           SELECT c.ancestor_id, u.metric, u.day, SUM(u.value) FROM unit_activity_day u \
           JOIN org_unit_closure c ON c.descendant_id = u.unit_id AND c.depth > 0 GROUP BY c.ancestor_id, u.metric, u.day; \
         INSERT INTO unit_member_count (unit_id, active) \
           SELECT c.ancestor_id, 198 * COUNT(*) FROM org_unit_closure c JOIN org_unit b ON b.id = c.descendant_id \
           WHERE b.kind = 'BRANCH' GROUP BY c.ancestor_id \
           ON CONFLICT (unit_id) DO UPDATE SET active = excluded.active; \
         DROP TABLE bench_branch; ANALYZE",
        y0 = year - 9,
        y1 = year - 1,
    );
    state.db.execute_unprepared(&sql).await.expect("counters");
    println!("counters: {:.1} s", t.elapsed().as_secs_f64());
}

/// Registers a client of the whole city that reads statistics, with a bucket that never runs
/// dry: its id and secret.
async fn register(state: &AppState, settings: &Settings, city: UnitId) -> (String, String) {
    // A new admin on each run (a reused database holds the earlier ones).
    let phone = format!("+84390{:06}", uuid::Uuid::now_v7().as_u128() % 1_000_000);
    let admin = officer(state, &phone, "UNIT_ADMIN", city).await;
    let runner = Runner::new(state, settings);
    let unit = service::domain::GlobalId::new(service::domain::NodeKind::OrgUnit, city).encode();
    let input = json!({ "name": "Bảng số liệu (bench)", "contact": "bench", "unitId": unit,
                        "scopes": ["STATISTICS_READ"], "bucket": { "capacity": 1_000_000, "perSec": 1_000_000 } });
    let (_, data) = runner.run(admin, REGISTER, json!({ "i": input })).await;
    let r = &data["registerIntegrationClient"];
    (r["client"]["clientId"].as_str().unwrap().to_owned(), r["clientSecret"].as_str().unwrap().to_owned())
}

/// The process's CPU time so far (user + system), from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_secs_f64(ticks as f64 / 100.0)
}

/// Redis's CPU time so far (`INFO cpu`: user + system).
async fn redis_cpu(url: &str) -> Duration {
    let client = redis::Client::open(url).expect("redis url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    let info: String = redis::cmd("INFO").arg("cpu").query_async(&mut conn).await.expect("INFO cpu");
    let secs: f64 = info
        .lines()
        .filter_map(|l| l.strip_prefix("used_cpu_user:").or_else(|| l.strip_prefix("used_cpu_sys:")))
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .sum();
    Duration::from_secs_f64(secs)
}

struct Partner {
    http: reqwest::Client,
    url: String,
    token: String,
    body: Arc<Value>,
}

impl Partner {
    async fn ask(&self) -> Duration {
        let started = Instant::now();
        let resp = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .json(self.body.as_ref())
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status().as_u16(), 200);
        let body: Value = resp.json().await.expect("json");
        assert!(body.get("errors").is_none(), "{body}");
        started.elapsed()
    }
}

fn line(name: &str, mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let (p50, p99) = (percentile(&samples, 0.50), percentile(&samples, 0.99));
    println!("{name:<52} p50 {p50:>7.2} ms   p99 {p99:>7.2} ms   ({} requests)", samples.len());
    (p50, p99)
}

async fn measure(settings: &Settings, buckets: bool, city: UnitId, client: &(String, String)) -> [f64; 7] {
    let mut settings = settings.clone();
    settings.port = 0;
    settings.workers = 2;
    settings.quota.buckets = buckets;
    // The open-loop phase may briefly have more requests running than a caller is allowed
    // (8); the guard is not what is measured here.
    settings.max_in_flight_per_caller = 256;
    let redis_url = settings.redis_url.clone().expect("REDIS_URL");
    let app = Application::build(settings).await.expect("server");
    let port = app.port();
    let (stop, stopped) = tokio::sync::mpsc::unbounded_channel();
    let server = tokio::spawn(app.run_until(stopped));
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
    let token: Value = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(&client.0, Some(&client.1))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (month, _) = last_month();
    let unit = service::domain::GlobalId::new(service::domain::NodeKind::OrgUnit, city).encode();
    let partner = Arc::new(Partner {
        http,
        url: format!("{base}/graphql"),
        token: token["access_token"].as_str().expect("a token").to_owned(),
        body: Arc::new(json!({ "query": STATS, "variables": { "u": unit, "m": month } })),
    });
    let mode = if buckets { "buckets in Redis" } else { "no buckets" };
    for _ in 0..300 {
        partner.ask().await;
    }

    let mut one = Vec::new();
    for _ in 0..1000 {
        one.push(partner.ask().await);
    }
    let (p50, p99) = line(&format!("{mode}: one at a time"), one);

    let (rate, secs) = (env_num("BENCH_RATE", 300), env_num("BENCH_SECONDS", 10));
    let start = Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::new();
    for i in 0..rate * secs {
        let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
        let partner = partner.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(due.into()).await;
            partner.ask().await;
            due.elapsed()
        }));
    }
    let mut paced = Vec::new();
    for t in tasks {
        paced.push(t.await.unwrap());
    }
    let (rp50, rp99) = line(&format!("{mode}: {rate} requests/s"), paced);

    let deadline = Instant::now() + Duration::from_secs(secs);
    let (cpu, redis_before) = (cpu_time(), redis_cpu(&redis_url).await);
    let mut loops = Vec::new();
    for _ in 0..8 {
        let partner = partner.clone();
        loops.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                partner.ask().await;
                n += 1;
            }
            n
        }));
    }
    let mut done = 0;
    for l in loops {
        done += l.await.unwrap();
    }
    let per_sec = done as f64 / secs as f64;
    let cpu_ms = (cpu_time() - cpu).as_secs_f64() * 1000.0 / done as f64;
    let redis_us = (redis_cpu(&redis_url).await - redis_before).as_secs_f64() * 1e6 / done as f64;
    println!(
        "{:<52} {per_sec:>7.0} requests/s   {cpu_ms:.2} ms CPU a request (server and client), Redis {redis_us:.0} µs",
        format!("{mode}: 8 at a time")
    );

    for _ in 0..3 {
        let _ = stop.send(());
    }
    let _ = server.await;
    [p50, p99, rp50, rp99, per_sec, cpu_ms, redis_us]
}

#[tokio::main]
async fn main() {
    let redis = std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("bench:{}:", uuid::Uuid::now_v7().simple());
    let extra = [("REDIS_URL", redis.as_str()), ("APP_REDIS_PREFIX", prefix.as_str())];
    let reuse = std::env::var("BENCH_REUSE").is_ok_and(|v| v == "1");
    let (state, settings) =
        if reuse { existing_state_with(NAME, &extra).await } else { fresh_state_with(NAME, &extra).await };
    if !reuse {
        seed(&state).await;
    }
    let city: UnitId = ids(&state, "SELECT id FROM org_unit WHERE parent_id IS NULL").await[0];
    let client = register(&state, &settings, city).await;

    // Alternated, three times each, so a drift of the shared machine weighs on both alike.
    let mut with = Vec::new();
    let mut without = Vec::new();
    for _ in 0..3 {
        with.push(measure(&settings, true, city, &client).await);
        without.push(measure(&settings, false, city, &client).await);
    }
    let mean = |runs: &[[f64; 7]], i: usize| runs.iter().map(|r| r[i]).sum::<f64>() / runs.len() as f64;
    println!(
        "overhead of the buckets (means of the runs): one at a time p50 {:+.2} ms, p99 {:+.2} ms; \
         at the fixed rate p50 {:+.2} ms, p99 {:+.2} ms; {:+.1}% requests/s; {:+.3} ms CPU a request here and {:+.0} µs in Redis",
        mean(&with, 0) - mean(&without, 0),
        mean(&with, 1) - mean(&without, 1),
        mean(&with, 2) - mean(&without, 2),
        mean(&with, 3) - mean(&without, 3),
        (mean(&with, 4) / mean(&without, 4) - 1.0) * 100.0,
        mean(&with, 5) - mean(&without, 5),
        mean(&with, 6) - mean(&without, 6),
    );
}
