//! The member app's home screen at Hanoi scale, on PostgreSQL: 1,000,000 members in 5,040 branches, 2,000 campaigns, 50,000 news posts, 30,000
//! trainings (300,000 registrations), 200,000 household pledges, 2,000,000 notifications and
//! this year's targets (`targetProgress` has its own bench, `targets`). Executed through the GraphQL schema in process (the HTTP layer adds a
//! constant on top).
//!
//! - The home screen — her branch, unread count, the latest 5 posts, the active campaigns with
//!   her pledge status, her next 5 trainings with seats left — in one query, each request as a
//!   different member, sent at a fixed rate (open loop: latency is measured from the moment a
//!   request was due, so a slow answer delays nobody's clock), then as fast as it goes.
//!
//! `BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432 cargo bench -p api --bench home`
//! (optional: `BENCH_RATE` requests/s, default 500; `BENCH_SECONDS`, default 20;
//! `BENCH_REUSE=1` measures again on the database a previous run seeded).
//!
//! It (re)creates the database `phunu_bench_home`. Not run by the test suite or CI.

// A measuring program: a failed step should stop it loudly, like a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use entities::ids::PersonId;
use std::time::{Duration, Instant};

use common::{
    Runner, Tree, as_viewer, build_tree, existing_state, fresh_state,
    home::{DATABASE, HOME, seed},
    ids, officer, report,
};
use serde_json::json;

const SAMPLES: usize = 300;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Sends `rate` home-screen requests per second for `seconds`, each as the next member, and
/// reports latency from each request's due time, and the rate achieved.
async fn fixed_rate(runner: &Runner, members: &[PersonId], rate: u64, seconds: u64) {
    let total = (rate * seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + interval * i as u32;
        let runner = runner.clone();
        let member = members[i % members.len()];
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(due).await;
            runner.run(as_viewer(member), HOME, json!({})).await;
            due.elapsed()
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for t in tasks {
        latencies.push(t.await.expect("request task"));
    }
    let took = start.elapsed().as_secs_f64();
    report(&format!("home screen at {rate}/s for {seconds} s"), latencies);
    println!("  {total} requests in {took:.1} s = {:.0} requests/s", total as f64 / took);
}

#[tokio::main]
async fn main() {
    let (state, settings) = if std::env::var("BENCH_REUSE").is_ok_and(|v| v == "1") {
        existing_state(DATABASE).await
    } else {
        let (state, settings) = fresh_state(DATABASE).await;
        let Tree { city, .. } = build_tree(&state).await;
        let admin = officer(&state, "+84300000001", "UNIT_ADMIN", city.id).await;
        seed(&state, admin.person_id).await;
        (state, settings)
    };
    let runner = Runner::new(&state, &settings);

    let members = ids(
        &state,
        "SELECT m.person_id AS id FROM membership m WHERE m.status = 'ACTIVE' ORDER BY m.member_number LIMIT 20000",
    )
    .await;
    // One request first, to show what a home screen holds.
    let (_, data) = runner.run(as_viewer(members[5]), HOME, json!({})).await;
    let count = |k: &str| data[k]["edges"].as_array().map_or(0, Vec::len);
    println!(
        "a home screen: {} posts, {} campaigns, {} trainings, {} unread",
        count("feed"),
        count("campaigns"),
        count("trainings"),
        data["unreadNotificationCount"]
    );

    // Warm-up, then the sequential latency of one request at a time.
    let mut samples = Vec::new();
    for &m in members.iter().take(SAMPLES) {
        samples.push(runner.run(as_viewer(m), HOME, json!({})).await.0);
    }
    report("home screen, one at a time", samples);

    let rate = env_or("BENCH_RATE", 500);
    let seconds = env_or("BENCH_SECONDS", 20);
    fixed_rate(&runner, &members[SAMPLES..], rate, seconds).await;

    // Throughput: 32 in flight for ten seconds.
    let started = Instant::now();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..32 {
        let (runner, done, members) = (runner.clone(), done.clone(), members.clone());
        workers.push(tokio::spawn(async move {
            let mut i = w;
            while started.elapsed() < Duration::from_secs(10) {
                runner.run(as_viewer(members[i % members.len()]), HOME, json!({})).await;
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                i += 32;
            }
        }));
    }
    for w in workers {
        w.await.expect("worker");
    }
    let n = done.load(std::sync::atomic::Ordering::Relaxed);
    println!("home screen, 32 in flight: {n} requests in 10 s = {:.0} requests/s", n as f64 / 10.0);
}
