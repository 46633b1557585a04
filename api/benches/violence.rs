//! Domestic-violence reports at Hanoi scale, on PostgreSQL: 100,000 reports over the bench tree
//! (5,040 branches in 420 wards of 30 districts), a case officer in every district and in a
//! tenth of the wards, through the GraphQL schema in process.
//!
//! - Submission: anonymous (sealing, routing, notification and the PIN's argon2id hash) and
//!   signed in, 16 at a time: reports per second and p50/p99.
//! - The queue: a case officer's first page of 20 with `totalCount`, at a ward, a district and
//!   the city, one request at a time: p50/p99.
//!
//! `BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432?sslmode=disable cargo bench -p api --bench violence`
//! (`BENCH_REUSE=1` measures again on the database a previous run seeded). It (re)creates the
//! database `phunu_bench_violence`. Not run by the test suite or CI.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use entities::ids::{PersonId, UnitId};
use std::{sync::Arc, time::Instant};

use common::{
    Runner, Tree, as_viewer, build_tree, existing_state_with, fresh_state_with, ids, officer, report,
};
use sea_orm::ConnectionTrait;
use serde_json::json;
use service::auth::Auth;
use uuid::Uuid;

const DATABASE: &str = "phunu_bench_violence";
const REPORTS: i64 = 100_000;
const SUBMISSIONS: usize = 400;
const IN_FLIGHT: usize = 16;
const SAMPLES: usize = 200;

/// The bench submits far more than a person would: lift the limits.
const SETTINGS: &[(&str, &str)] = &[
    ("APP_REPORT_MAX_PER_ADDRESS", "1000000"),
    ("APP_REPORT_MAX_PER_ACCOUNT", "1000000"),
    ("APP_REPORT_KEYS", "1:YmVuY2gtcmVwb3J0LWtleS0wMTIzNDU2Nzg5YWJjZGU="),
];

const SUBMIT: &str =
    "mutation($i: ViolenceReportInput!) { submitViolenceReport(input: $i) { referenceCode pin } }";

const QUEUE: &str = "query { violenceReports(first: 20) { totalCount edges { node { id referenceCode status urgent \
    overdue submittedAt unit { name } } } } }";

/// Case officers: one per district, one in every tenth ward; 100,000 reports over the branches
/// and wards of the last three years (statuses by age: most old ones closed), sealed bytes in
/// place of text (the queue never opens them).
async fn seed(state: &service::state::AppState, tree: &Tree) -> (PersonId, PersonId, PersonId) {
    let t = Instant::now();
    let mut district_officer = None;
    for (i, d) in tree.districts.iter().enumerate() {
        let o = officer(state, &format!("+8491{i:07}"), "CASE_OFFICER", d.id).await;
        district_officer.get_or_insert(o.person_id);
    }
    let mut ward_officer = None;
    for (i, w) in tree.wards.iter().enumerate().filter(|(i, _)| i % 10 == 0) {
        let o = officer(state, &format!("+8492{i:07}"), "CASE_OFFICER", *w).await;
        ward_officer.get_or_insert(o.person_id);
    }
    let city_officer = officer(state, "+84930000000", "CASE_OFFICER", tree.city.id).await.person_id;
    state
        .db
        .execute_unprepared(&format!(
            "CREATE TABLE bench_place AS SELECT id, (ROW_NUMBER() OVER (ORDER BY id) - 1)::int AS n FROM org_unit \
               WHERE kind IN ('BRANCH', 'BASE'); \
             CREATE INDEX ON bench_place (n); \
             INSERT INTO violence_report (id, reference_code, unit_id, routed_unit_id, reporter_id, pin_hash, \
               pin_failures, pin_locked_at, affected, age_group, kinds, immediate_danger, children_involved, urgent, \
               description, address, contact, may_contact, may_share, status, close_reason, assigned_to, version, \
               escalation_level, escalate_at, idempotency_key, input_digest, submitted_at, acknowledged_at, \
               closed_at, updated_at) \
             SELECT gen_random_uuid(), 'BL-' || lpad(j::text, 8, '0'), p.id, \
               (SELECT c.ancestor_id FROM org_unit_closure c WHERE c.descendant_id = p.id AND c.depth = \
                  CASE WHEN (SELECT kind FROM org_unit WHERE id = p.id) = 'BRANCH' THEN 2 ELSE 1 END), \
               NULL, NULL, 0, NULL, 'SELF', 'ADULT', 'PHYSICAL', j % 10 = 0, j % 7 = 0, j % 10 = 0, \
               decode(md5(j::text), 'hex'), NULL, NULL, true, false, \
               CASE WHEN j % 100 < 3 THEN 'SUBMITTED' WHEN j % 100 < 8 THEN 'IN_PROGRESS' \
                    WHEN j % 100 < 10 THEN 'REFERRED' WHEN j % 100 < 40 THEN 'RESOLVED' ELSE 'CLOSED' END, \
               CASE WHEN j % 100 >= 40 THEN 'RESOLVED' END, NULL, 3, 0, \
               CASE WHEN j % 100 < 3 THEN now() + interval '1 hour' END, md5('k' || j::text), md5('d' || j::text), \
               now() - interval '1 minute' * (j % 1576800), now(), NULL, now() \
             FROM generate_series(1, {REPORTS}) j JOIN bench_place p ON p.n = j % (SELECT count(*) FROM bench_place); \
             DROP TABLE bench_place"
        ))
        .await
        .expect("reports");
    // As autovacuum would have left them: statistics, and the visibility map.
    state.db.execute_unprepared("VACUUM ANALYZE").await.expect("vacuum");
    println!("seed: {REPORTS} reports in {:.1} s", t.elapsed().as_secs_f64());
    (ward_officer.unwrap(), district_officer.unwrap(), city_officer)
}

fn submission(unit: UnitId) -> serde_json::Value {
    json!({
        "unitId": service::domain::GlobalId::new(service::domain::NodeKind::OrgUnit, unit).encode(),
        "affected": "FAMILY_MEMBER",
        "ageGroup": "ADULT",
        "kinds": ["PHYSICAL", "ECONOMIC"],
        "immediateDanger": true,
        "childrenInvolved": true,
        "description": "Tối qua chồng chị ấy lại say rượu và đánh chị ấy, các cháu rất sợ. ".repeat(8),
        "address": "Ngõ 12, tổ 3",
        "contact": { "phone": "0912345678", "safeTimes": "Sáng các ngày trong tuần", "channel": "CALL" },
        "mayContact": true,
        "mayShareWithAuthorities": true,
        "sensitiveDataConsent": true,
        "idempotencyKey": format!("bench-{}", Uuid::new_v4()),
    })
}

/// `SUBMISSIONS` submissions, `IN_FLIGHT` at a time, as `auth(i)`.
async fn submissions(runner: &Runner, places: &[UnitId], label: &str, auth: impl Fn(usize) -> Auth) {
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (runner, next, places) = (runner.clone(), next.clone(), places.to_vec());
        let auths: Vec<Auth> = (0..SUBMISSIONS).map(&auth).collect();
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= SUBMISSIONS {
                    return samples;
                }
                let input = submission(places[i % places.len()]);
                samples.push(runner.run_as(auths[i], SUBMIT, json!({ "i": input })).await.0);
            }
        }));
    }
    let mut samples = Vec::new();
    for w in workers {
        samples.extend(w.await.expect("worker"));
    }
    let took = started.elapsed().as_secs_f64();
    report(label, samples);
    println!("  {SUBMISSIONS} reports in {took:.1} s = {:.0} reports/s", SUBMISSIONS as f64 / took);
}

#[tokio::main]
async fn main() {
    let reuse = std::env::var("BENCH_REUSE").is_ok_and(|v| v == "1");
    let (state, settings) = if reuse {
        existing_state_with(DATABASE, SETTINGS).await
    } else {
        fresh_state_with(DATABASE, SETTINGS).await
    };
    let officers = if reuse {
        let first = |sql: &str| {
            let state = state.clone();
            let sql = sql.to_owned();
            async move { ids(&state, &sql).await[0] }
        };
        (
            first("SELECT person_id AS id FROM officer_role r JOIN org_unit u ON u.id = r.unit_id WHERE u.kind = 'BASE' ORDER BY u.code LIMIT 1").await,
            first("SELECT person_id AS id FROM officer_role r JOIN org_unit u ON u.id = r.unit_id WHERE u.kind = 'DISTRICT' ORDER BY u.code LIMIT 1").await,
            first("SELECT person_id AS id FROM officer_role r JOIN org_unit u ON u.id = r.unit_id WHERE u.kind = 'CITY' LIMIT 1").await,
        )
    } else {
        let tree = build_tree(&state).await;
        seed(&state, &tree).await
    };
    let runner = Runner::new(&state, &settings);
    let places = ids(&state, "SELECT id FROM org_unit WHERE kind = 'BRANCH' ORDER BY id").await;
    let members = ids(&state, "SELECT id FROM person ORDER BY id LIMIT 400").await;

    for (label, officer) in [("ward", officers.0), ("district", officers.1), ("city", officers.2)] {
        let (_, data) = runner.run(as_viewer(officer), QUEUE, json!({})).await;
        let total = &data["violenceReports"]["totalCount"];
        let mut samples = Vec::new();
        for _ in 0..SAMPLES {
            samples.push(runner.run(as_viewer(officer), QUEUE, json!({})).await.0);
        }
        report(&format!("queue, first 20 of {total} ({label})"), samples);
    }

    submissions(&runner, &places, "submission, anonymous (16 in flight)", |_| Auth::Anonymous).await;
    submissions(&runner, &places, "submission, signed in (16 in flight)", |i| {
        Auth::Signed(as_viewer(members[i % members.len()]))
    })
    .await;
}
