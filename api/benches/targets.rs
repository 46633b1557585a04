//! `targetProgress` at Hanoi scale, on PostgreSQL: the city with its 30 districts (and a district
//! with its 14 wards), every indicator with a target, through the GraphQL schema in process.
//!
//! `BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432 cargo bench -p api --bench targets`
//!
//! It (re)creates the database `phunu_bench_targets`: the bench tree (5,040 branches), the
//! counters that 1,000,000 members joining over ten years, 3,000,000 check-ins and 120,000
//! certified households over two years leave in `unit_member_day` and `unit_activity_day` (the
//! progress query reads only those, never the members), two reported indicators with a current
//! value for every unit and some history, and targets for the city, its districts and their
//! wards. Not run by the test suite or CI.

// A measuring program: a failed step should stop it loudly, like a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use entities::ids::UnitId;
use std::time::Instant;

use chrono::{Datelike, Utc};
use common::{Runner, build_tree, fresh_state, officer, report};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const SAMPLES: usize = 300;

const PROGRESS: &str = "query($u: ID!, $p: PeriodInput!) { targetProgress(unitId: $u, period: $p) { \
    indicator { id code name } childrenTargetSum unallocated \
    total { unit { code } target actual attainment reportingUnits } \
    children { unit { code name } target actual attainment reportingUnits } } }";

fn unit_id(id: UnitId) -> String {
    service::domain::GlobalId::new(service::domain::NodeKind::OrgUnit, id).encode()
}

#[tokio::main]
async fn main() {
    let (state, settings) = fresh_state("phunu_bench_targets").await;
    let tree = build_tree(&state).await;
    let db = &state.db;
    let year = (Utc::now() + chrono::Duration::hours(7)).year();

    let t = Instant::now();
    // Branch counters: joins spread over ten years; check-ins and certifications over two.
    // Then every unit above a branch gets the sum of its subtree, as the writers keep it.
    let seed = format!(
        "INSERT INTO unit_member_day (unit_id, day, joined, \"left\") \
           SELECT b, d, COUNT(*), 0 FROM ( \
             SELECT (SELECT id FROM org_unit WHERE kind = 'BRANCH' ORDER BY id OFFSET (i % 5040) LIMIT 1) AS b, \
                    DATE '{y0}-01-01' + (hashint4(i) & 2147483647) % 3650 AS d \
             FROM generate_series(1, 1000000) i) j GROUP BY b, d; \
         INSERT INTO unit_activity_day (unit_id, metric, day, value) \
           SELECT b, m, d, COUNT(*) FROM ( \
             SELECT (SELECT id FROM org_unit WHERE kind = 'BRANCH' ORDER BY id OFFSET (i % 5040) LIMIT 1) AS b, \
                    CASE WHEN i % 25 = 0 THEN 'HOUSEHOLDS_CERTIFIED' ELSE 'ATTENDED' END AS m, \
                    DATE '{y1}-01-01' + (hashint4(i) & 2147483647) % 730 AS d \
             FROM generate_series(1, 3120000) i) a GROUP BY b, m, d; \
         INSERT INTO unit_member_day (unit_id, day, joined, \"left\") \
           SELECT c.ancestor_id, u.day, SUM(u.joined), 0 FROM unit_member_day u \
           JOIN org_unit_closure c ON c.descendant_id = u.unit_id AND c.depth > 0 GROUP BY c.ancestor_id, u.day; \
         INSERT INTO unit_activity_day (unit_id, metric, day, value) \
           SELECT c.ancestor_id, u.metric, u.day, SUM(u.value) FROM unit_activity_day u \
           JOIN org_unit_closure c ON c.descendant_id = u.unit_id AND c.depth > 0 GROUP BY c.ancestor_id, u.metric, u.day",
        y0 = year - 9,
        y1 = year - 1,
    );
    // The branch lookup per row is slow; a temporary numbering of the branches makes it a join.
    let seed = seed.replace(
        "(SELECT id FROM org_unit WHERE kind = 'BRANCH' ORDER BY id OFFSET (i % 5040) LIMIT 1)",
        "(SELECT id FROM bench_branch WHERE n = i % 5040)",
    );
    db.execute_unprepared(
        "CREATE TABLE bench_branch AS \
         SELECT id, (ROW_NUMBER() OVER (ORDER BY id) - 1)::int AS n FROM org_unit WHERE kind = 'BRANCH'; \
         CREATE INDEX ON bench_branch (n)",
    )
    .await
    .expect("branch numbering");
    db.execute_unprepared(&seed).await.expect("counters");
    db.execute_unprepared("DROP TABLE bench_branch").await.expect("drop the numbering");
    println!("counters seeded in {:.1} s", t.elapsed().as_secs_f64());

    // Two reported indicators of the city's, a current value for every unit (and a superseded one
    // for a third of them), and targets: the city's, its districts' shares, their wards' shares,
    // for this year and for the term, for every indicator.
    let admin = officer(&state, "+84900000100", "UNIT_ADMIN", tree.city.id).await;
    let city = tree.city.id;
    db.execute_unprepared(&format!(
        "INSERT INTO indicator (id, kind, name, unit_of_measure, aggregation, unit_id, created_at) VALUES \
           ('00000000-0000-7000-8000-000000000010', 'REPORTED', 'Số câu lạc bộ', 'câu lạc bộ', 'SUM', '{city}', now()), \
           ('00000000-0000-7000-8000-000000000011', 'REPORTED', 'Tỷ lệ chi hội vững mạnh', '%', 'AVERAGE', '{city}', now()); \
         INSERT INTO reported_value (id, indicator_id, unit_id, from_year, to_year, value, reported_by, reported_at, superseded_at) \
           SELECT gen_random_uuid(), i.id, u.id, p.f, p.t, (hashint4(hashtext(u.code)) & 1023) % 100, \
                  '{by}', now() - interval '1 day' * (s + 1), CASE WHEN s = 0 THEN NULL ELSE now() - interval '1 day' END \
           FROM org_unit u CROSS JOIN indicator i CROSS JOIN generate_series(0, 1) s \
           CROSS JOIN (VALUES ({year}, {year}), ({y0}, {year})) AS p(f, t) \
           WHERE i.kind = 'REPORTED' AND (s = 0 OR hashtext(u.code) % 3 = 0); \
         INSERT INTO target (id, indicator_id, unit_id, from_year, to_year, value, assigned_by_parent, set_by, set_at) \
           SELECT gen_random_uuid(), i.id, u.id, p.f, p.t, 1000.0 / (1 + u.depth * u.depth), u.depth > 0, '{by}', now() \
           FROM org_unit u CROSS JOIN indicator i \
           CROSS JOIN (VALUES ({year}, {year}), ({y0}, {year})) AS p(f, t) WHERE u.depth <= 2",
        by = admin.person_id,
        y0 = year - 5,
    ))
    .await
    .expect("indicators, values and targets");
    // As autovacuum would have left them: statistics, and the visibility map for index-only scans.
    db.execute_unprepared("VACUUM ANALYZE").await.expect("vacuum");
    let rows = |table: &'static str| {
        let db = db.clone();
        async move {
            let sql = format!("SELECT COUNT(*) AS n FROM {table}");
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<i64>("", "n").unwrap()
        }
    };
    println!(
        "rows: unit_member_day {}, unit_activity_day {}, reported_value {}, target {}",
        rows("unit_member_day").await,
        rows("unit_activity_day").await,
        rows("reported_value").await,
        rows("target").await
    );

    let runner = Runner::new(&state, &settings);
    let district = &tree.districts[7];
    let cases: [(&str, String, Value, usize); 3] = [
        ("city, 30 children, this year", unit_id(city), json!({ "year": year }), 30),
        (
            "city, 30 children, six-year term",
            unit_id(city),
            json!({ "fromYear": year - 5, "toYear": year }),
            30,
        ),
        ("district, 14 children, this year", unit_id(district.id), json!({ "year": year }), 14),
    ];
    for (name, unit, period, children) in cases {
        let vars = json!({ "u": unit, "p": period });
        let (_, data) = runner.run(admin, PROGRESS, vars.clone()).await;
        let list = data["targetProgress"].as_array().unwrap();
        assert_eq!(list.len(), 5, "five indicators with targets");
        assert!(list.iter().all(|e| e["children"].as_array().unwrap().len() == children));
        assert!(list.iter().all(|e| e["total"]["actual"].as_f64().unwrap() > 0.0), "{data}");
        let mut samples = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            samples.push(runner.run(admin, PROGRESS, vars.clone()).await.0);
        }
        report(&format!("targetProgress, {name}"), samples);
    }
}
