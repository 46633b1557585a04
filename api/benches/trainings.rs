//! Trainings at Hanoi scale, on PostgreSQL: 300,000 members across 5,040 branches, 30,000
//! trainings at every level of the tree (a year back and a year ahead) and 3,000,000
//! registrations. Reports the p50/p99 of a member's `trainings` page, and registration
//! throughput and latency when everyone registers for one training at once and when
//! registrations spread over twenty, all through the GraphQL schema in process.
//!
//! `BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432 cargo bench -p api --bench trainings`
//!
//! It (re)creates the database `phunu_bench_trainings`. Not run by the test suite or CI.

// A measuring program: a failed step should stop it loudly, like a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use entities::ids::PersonId;
use std::time::{Duration, Instant};

use common::{Runner, Tree, as_viewer, build_tree, fresh_state, ids, officer, report};
use futures_util::{StreamExt, stream};
use sea_orm::ConnectionTrait;
use serde_json::json;

const PEOPLE: i64 = 300_000;
const TRAININGS: i64 = 30_000;
const PER_TRAINING: i64 = 100;
const SAMPLES: usize = 300;
/// Registrations in flight at once in the contention runs (the pool has 8 connections).
const IN_FLIGHT: usize = 32;

#[tokio::main]
async fn main() {
    let (state, settings) = fresh_state("phunu_bench_trainings").await;
    let db = &state.db;
    let Tree { city, .. } = build_tree(&state).await;
    let admin = officer(&state, "+84300000001", "UNIT_OFFICER", city.id).await;

    let t = Instant::now();
    for sql in [
        "CREATE TABLE bench_unit AS SELECT id, kind, row_number() OVER (PARTITION BY kind ORDER BY code) - 1 AS rn FROM org_unit".to_owned(),
        format!(
            "INSERT INTO person (id, phone, full_name, name_search, is_system_admin, language, gender, created_at, updated_at) \
             SELECT gen_random_uuid(), '+849' || lpad(i::text, 8, '0'), 'Hội Viên ' || i, 'hoi vien ' || i, false, 'vi', \
               CASE WHEN i % 10 = 0 THEN NULL ELSE 'FEMALE' END, now(), now() FROM generate_series(1, {PEOPLE}) i"
        ),
        "CREATE TABLE bench_person AS SELECT id, CAST(substr(phone, 5) AS bigint) AS rn FROM person WHERE phone LIKE '+849%'".to_owned(),
        "CREATE UNIQUE INDEX ON bench_person (rn)".to_owned(),
        "INSERT INTO membership (id, person_id, name_search, branch_id, member_number, status, joined_at, created_at, updated_at) \
         SELECT gen_random_uuid(), p.id, 'hoi vien ' || p.rn, u.id, 'HN' || lpad(p.rn::text, 7, '0'), 'ACTIVE', now(), now(), now() \
         FROM bench_person p JOIN bench_unit u ON u.kind = 'BRANCH' AND u.rn = p.rn % 5040".to_owned(),
        // 1% at the city, 10% at districts, 39% at wards, half at branches; a year back and a
        // year ahead; past ones completed (some cancelled), future ones published (some drafts).
        format!(
            "INSERT INTO training (id, unit_id, title, title_search, description, category, starts_at, ends_at, place, \
               capacity, audience, status, created_by, published_at, created_at, updated_at) \
             SELECT gen_random_uuid(), u.id, 'Lớp ' || j, 'lop ' || j, '', \
               (ARRAY['VOCATIONAL','DIGITAL_SKILLS','LEGAL','HEALTH','ENTREPRENEURSHIP','UNION_WORK','OTHER'])[1 + j % 7], \
               s.at, s.at + interval '3 hours', 'Nhà văn hóa', \
               CASE WHEN j % 5 = 0 THEN NULL ELSE 30 + j % 100 END, \
               CASE WHEN j % 10 = 3 THEN 'OFFICERS' ELSE 'MEMBERS' END, \
               CASE WHEN s.at < now() THEN (CASE WHEN j % 20 = 0 THEN 'CANCELLED' ELSE 'COMPLETED' END) \
                    ELSE (CASE WHEN j % 50 = 0 THEN 'DRAFT' ELSE 'PUBLISHED' END) END, \
               '{admin}', now(), now(), now() \
             FROM generate_series(1, {TRAININGS}) j \
             CROSS JOIN LATERAL (SELECT now() + ((j % 730) - 365) * interval '1 day' + (j % 24) * interval '1 hour' AS at) s \
             JOIN bench_unit u ON \
               (j % 100 = 0 AND u.kind = 'CITY') \
               OR (j % 100 BETWEEN 1 AND 10 AND u.kind = 'DISTRICT' AND u.rn = j % 30) \
               OR (j % 100 BETWEEN 11 AND 49 AND u.kind = 'BASE' AND u.rn = j % 420) \
               OR (j % 100 >= 50 AND u.kind = 'BRANCH' AND u.rn = j % 5040)",
            admin = admin.person_id
        ),
        "CREATE TABLE bench_training AS SELECT id, capacity, status, row_number() OVER (ORDER BY id) AS rn FROM training".to_owned(),
        // 100 distinct people per training.
        format!(
            "INSERT INTO training_registration (id, training_id, person_id, status, queue_no, registered_at, confirmed_at, attended_at, updated_at) \
             SELECT gen_random_uuid(), t.id, p.id, \
               CASE WHEN t.status = 'COMPLETED' THEN (CASE WHEN k % 4 = 0 THEN 'NO_SHOW' ELSE 'ATTENDED' END) \
                    WHEN t.capacity IS NULL OR k < t.capacity THEN 'CONFIRMED' ELSE 'WAITLISTED' END, \
               k + 1, now(), now(), CASE WHEN t.status = 'COMPLETED' AND k % 4 <> 0 THEN now() END, now() \
             FROM bench_training t CROSS JOIN generate_series(0, {PER_TRAINING} - 1) k \
             JOIN bench_person p ON p.rn = 1 + (t.rn * 7919 + k * 104729) % {PEOPLE}"
        ),
        "UPDATE training t SET confirmed_count = c.confirmed, waitlist_count = c.waitlisted, next_queue_no = c.n + 1 \
         FROM (SELECT training_id, count(*) FILTER (WHERE status = 'CONFIRMED') AS confirmed, \
                 count(*) FILTER (WHERE status = 'WAITLISTED') AS waitlisted, count(*) AS n \
               FROM training_registration GROUP BY training_id) c WHERE c.training_id = t.id".to_owned(),
        "DROP TABLE bench_unit, bench_training".to_owned(),
        "VACUUM ANALYZE".to_owned(),
    ] {
        db.execute_unprepared(&sql).await.unwrap_or_else(|e| panic!("{e}: {sql}"));
    }
    println!(
        "seed: {PEOPLE} members, {TRAININGS} trainings, {} registrations in {:.1} s",
        TRAININGS * PER_TRAINING,
        t.elapsed().as_secs_f64()
    );
    let runner = Runner::new(&state, &settings);

    // A member's list, as the app's trainings tab asks for it.
    let members =
        ids(&state, &format!("SELECT id FROM bench_person WHERE rn % 997 = 1 LIMIT {SAMPLES}")).await;
    let page = "{ trainings(first: 20) { totalCount edges { node { id title category startsAt endsAt place \
        seatsLeft registrationOpen unit { name } myRegistration { status waitlistPosition } } } \
        pageInfo { hasNextPage endCursor } } }";
    let mut samples = Vec::new();
    let mut seen = 0;
    for &m in &members {
        let (took, data) = runner.run(as_viewer(m), page, json!({})).await;
        seen += data["trainings"]["edges"].as_array().map_or(0, Vec::len);
        samples.push(took);
    }
    report("a member's upcoming trainings, first 20", samples);
    println!("  ({:.1} trainings per page on average)", seen as f64 / members.len() as f64);
    let page_no_total = page.replacen("totalCount ", "", 1);
    let mut samples = Vec::new();
    for &m in &members {
        samples.push(runner.run(as_viewer(m), &page_no_total, json!({})).await.0);
    }
    report("the same without totalCount", samples);

    // Contention: 1,000 people register at once for one 50-seat city training, then 2,000 over
    // twenty trainings (100 each).
    let create = "mutation($u: ID!, $i: TrainingInput!) { createTraining(unitId: $u, input: $i) { id } }";
    let publish = "mutation($id: ID!) { publishTraining(id: $id) { id } }";
    let city_gid = service::domain::GlobalId::new(service::domain::NodeKind::OrgUnit, city.id).encode();
    let start = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let end = (chrono::Utc::now() + chrono::Duration::days(30) + chrono::Duration::hours(3)).to_rfc3339();
    let new_training = async |n: usize| -> String {
        let input = json!({ "title": format!("Đăng ký đồng thời {n}"), "category": "DIGITAL_SKILLS",
            "startsAt": start, "endsAt": end, "place": "Cung Văn hóa", "capacity": 50 });
        let (_, data) = runner.run(admin, create, json!({ "u": city_gid, "i": input })).await;
        let id = data["createTraining"]["id"].as_str().unwrap().to_owned();
        runner.run(admin, publish, json!({ "id": id })).await;
        id
    };
    let register = "mutation($t: ID!) { registerForTraining(trainingId: $t) { status } }";
    let people = ids(&state, "SELECT id FROM bench_person WHERE rn % 97 = 5 LIMIT 3000").await;
    for (label, trainings, per) in
        [("one training, 1,000 at once", 1, 1000), ("twenty trainings, 100 each", 20, 100)]
    {
        let mut targets = Vec::new();
        for n in 0..trainings {
            targets.push(new_training(n).await);
        }
        let jobs: Vec<(PersonId, String)> = (0..trainings * per)
            .map(|i| (people[i % people.len()], targets[i % trainings].clone()))
            .collect();
        let started = Instant::now();
        let latencies: Vec<Duration> = stream::iter(jobs)
            .map(|(person, training)| {
                let runner = runner.clone();
                async move { runner.run(as_viewer(person), register, json!({ "t": training })).await.0 }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        let secs = started.elapsed().as_secs_f64();
        let n = latencies.len();
        report(&format!("register: {label}"), latencies);
        println!(
            "  {n} registrations in {secs:.2} s = {:.0} registrations/s ({IN_FLIGHT} in flight)",
            n as f64 / secs
        );
        for t in &targets {
            let (_, data) = runner
                .run(
                    admin,
                    "query($id: ID!) { node(id: $id) { ... on Training { confirmedCount waitlistCount } } }",
                    json!({ "id": t }),
                )
                .await;
            let node = &data["node"];
            assert_eq!(node["confirmedCount"], 50, "capacity held");
            assert_eq!(node["waitlistCount"].as_u64().unwrap() as usize, per - 50);
        }
    }
}
