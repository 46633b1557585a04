//! Merging units at Hanoi scale, on PostgreSQL: three wards of the bench tree with 30,000
//! members between them (and a million more elsewhere) merged into one, three times over
//! different wards; the time, how long the tree lock and the units' rows were held, and the
//! SQL statements. Each merge is checked against every unit's roll-ups (active members, joins,
//! leaves, check-ins) read before it: all as they were, but the target's (its own plus the
//! sources') and the sources' (none left).
//!
//! `BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432 cargo bench -p api --bench merge`
//!
//! It (re)creates the database `phunu_bench_merge`: the bench tree (5,040 branches), 200 members
//! in every branch and 833 in each branch of the wards to merge (30,000 per three wards), their
//! member counters per branch and per unit by day, as the writers keep them, and two years of
//! check-ins counted in those wards. Each merge is checked: the city's active members before
//! and after, and the target's equal to the three wards'. Not run by the test suite or CI.

// A measuring program: a failed step should stop it loudly, like a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::{collections::HashMap, time::Instant};

use common::{build_tree, fresh_state, officer};
use entities::ids::UnitId;
use sea_orm::{ConnectionTrait, FromQueryResult, Statement};
use service::{RequestMeta, auth::Auth, org::merge::merge_units};

const PER_BRANCH: i64 = 200;
const PER_MERGED_BRANCH: i64 = 833;

#[derive(FromQueryResult)]
struct Active {
    n: i64,
}

#[derive(FromQueryResult)]
struct Rollup {
    unit_id: uuid::Uuid,
    active: i64,
    joined: i64,
    left: i64,
    activity: i64,
}

/// Every unit's roll-ups: active members, joins and leaves over all days, check-ins.
async fn rollups(state: &service::state::AppState) -> HashMap<UnitId, [i64; 4]> {
    Rollup::find_by_statement(Statement::from_string(
        sea_orm::DbBackend::Postgres,
        "SELECT u.id AS unit_id, COALESCE(c.active, 0)::bigint AS active, COALESCE(d.j, 0)::bigint AS joined, \
           COALESCE(d.l, 0)::bigint AS \"left\", COALESCE(a.v, 0)::bigint AS activity FROM org_unit u \
         LEFT JOIN unit_member_count c ON c.unit_id = u.id \
         LEFT JOIN (SELECT unit_id, sum(joined) AS j, sum(\"left\") AS l FROM unit_member_day GROUP BY unit_id) d ON d.unit_id = u.id \
         LEFT JOIN (SELECT unit_id, sum(value) AS v FROM unit_activity_day GROUP BY unit_id) a ON a.unit_id = u.id",
    ))
    .all(&state.db)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (UnitId(r.unit_id), [r.active, r.joined, r.left, r.activity]))
    .collect()
}

async fn active(state: &service::state::AppState, unit: UnitId) -> i64 {
    Active::find_by_statement(Statement::from_string(
        sea_orm::DbBackend::Postgres,
        format!(
            "SELECT COALESCE((SELECT active FROM unit_member_count WHERE unit_id = '{}'), 0) AS n",
            unit.uuid()
        ),
    ))
    .one(&state.db)
    .await
    .unwrap()
    .unwrap()
    .n
}

#[tokio::main]
async fn main() {
    let (state, _settings) = fresh_state("phunu_bench_merge").await;
    let tree = build_tree(&state).await;
    let db = &state.db;
    // Three triples of wards of district 0 (wards 0–8): each triple merged into its first.
    let triples: Vec<[UnitId; 3]> =
        (0..3).map(|t| [tree.wards[3 * t], tree.wards[3 * t + 1], tree.wards[3 * t + 2]]).collect();
    let merged_wards: Vec<String> = triples.iter().flatten().map(|w| format!("'{}'", w.uuid())).collect();

    let t = Instant::now();
    db.execute_unprepared(&format!(
        "CREATE TABLE bench_slot AS \
           SELECT b.id AS branch_id, gs.k FROM org_unit b \
           JOIN LATERAL generate_series(1, CASE WHEN b.parent_id IN ({wards}) THEN {big} ELSE {small} END) AS gs(k) ON true \
           WHERE b.kind = 'BRANCH'; \
         CREATE TABLE bench_member AS SELECT gen_random_uuid() AS person_id, gen_random_uuid() AS membership_id, branch_id, \
           row_number() OVER () AS n FROM bench_slot; \
         INSERT INTO person (id, phone, full_name, name_search, is_system_admin, language, gender, created_at, updated_at) \
           SELECT person_id, '+848' || lpad(n::text, 8, '0'), 'Nguyễn Thị ' || n, 'nguyen thi ' || n, false, 'vi', 'FEMALE', now(), now() \
           FROM bench_member; \
         INSERT INTO membership (id, person_id, name_search, branch_id, member_number, status, joined_at, left_at, created_at, updated_at) \
           SELECT membership_id, person_id, 'nguyen thi ' || n, branch_id, 'HN' || lpad(n::text, 8, '0'), 'ACTIVE', \
             now() - (n % 1825) * interval '1 day', NULL, now(), now() FROM bench_member; \
         INSERT INTO branch_member_count (branch_id, active) SELECT branch_id, count(*) FROM membership GROUP BY branch_id; \
         INSERT INTO branch_member_day (branch_id, day, joined, \"left\") \
           SELECT branch_id, (joined_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, count(*), 0 FROM membership GROUP BY 1, 2; \
         INSERT INTO unit_member_count (unit_id, active) \
           SELECT c.ancestor_id, sum(b.active) FROM branch_member_count b \
           JOIN org_unit_closure c ON c.descendant_id = b.branch_id GROUP BY c.ancestor_id; \
         INSERT INTO unit_member_day (unit_id, day, joined, \"left\") \
           SELECT c.ancestor_id, d.day, sum(d.joined), 0 FROM branch_member_day d \
           JOIN org_unit_closure c ON c.descendant_id = d.branch_id GROUP BY c.ancestor_id, d.day; \
         INSERT INTO unit_activity_day (unit_id, metric, day, value) \
           SELECT c.ancestor_id, 'ATTENDED', DATE '2025-01-01' + (hashint4(i) & 2147483647) % 730, count(*) \
           FROM generate_series(1, 200000) i \
           JOIN org_unit b ON b.id = (SELECT id FROM org_unit WHERE parent_id IN ({wards}) ORDER BY id OFFSET i % 108 LIMIT 1) \
           JOIN org_unit_closure c ON c.descendant_id = b.id GROUP BY 1, 2, 3; \
         UPDATE counter SET next_value = (SELECT count(*) + 1 FROM membership) WHERE name = 'member_number'; \
         ANALYZE",
        wards = merged_wards.join(","),
        big = PER_MERGED_BRANCH,
        small = PER_BRANCH,
    ))
    .await
    .expect("seed");
    println!("seed: members and counters in {:.1} s", t.elapsed().as_secs_f64());

    let admin = officer(&state, "+84899000001", "UNIT_ADMIN", tree.city.id).await;
    let auth = Auth::Signed(admin);
    let meta = RequestMeta::default();
    for [into, a, b] in triples {
        let city_before = active(&state, tree.city.id).await;
        let expected = active(&state, into).await + active(&state, a).await + active(&state, b).await;
        let before = rollups(&state).await;
        let statements = state.stats.statements();
        let started = Instant::now();
        let call = service::Call { state: &state, auth: &auth, meta: &meta };
        let merged = merge_units(call, &[a, b], into, &[]).await.expect("merge");
        let took = started.elapsed();
        let statements = state.stats.statements() - statements;
        assert_eq!(active(&state, tree.city.id).await, city_before, "the city's members");
        assert_eq!(active(&state, into).await, expected, "the target's members");
        // Every roll-up of every unit: as before, but the target's (its own and the sources')
        // and the sources' (nothing left).
        let after = rollups(&state).await;
        let sum = |x: [i64; 4], y: [i64; 4]| [x[0] + y[0], x[1] + y[1], x[2] + y[2], x[3] + y[3]];
        for (unit, was) in &before {
            let want = if *unit == into {
                sum(sum(*was, before[&a]), before[&b])
            } else if *unit == a || *unit == b {
                [0; 4]
            } else {
                *was
            };
            assert_eq!(after[unit], want, "unit {unit:?}");
        }
        println!(
            "merge 3 wards ({expected} members, {} branches moved): {:.0} ms, lock held {:.0} ms, {statements} statements; \
             the roll-ups of all {} units as expected",
            merged.moved.children,
            took.as_secs_f64() * 1000.0,
            merged.held.as_secs_f64() * 1000.0,
            before.len(),
        );
    }
}
