//! Membership at Hanoi scale, on PostgreSQL: seeds 1,000,000 members across ~5,000 branches,
//! then reports the CSV import rate and the p50/p99 latency of a member-directory page and of
//! the city-level statistics query, executed through the GraphQL schema in process (the HTTP
//! layer adds a constant on top).
//!
//! `BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432 cargo bench -p api --bench membership`
//!
//! It (re)creates the database `phunu_bench` on that server. Not run by the test suite or CI.

// A measuring program: a failed step should stop it loudly, like a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::time::Instant;

use chrono::{Datelike, Utc};
use common::{
    BRANCHES_PER_WARD, DISTRICTS, Runner, Tree, WARDS_PER_DISTRICT, build_tree, fresh_state, officer, report,
};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use service::{domain::fold_for_search, membership::import_members};

const MEMBERS: i64 = 1_000_000;
const SAMPLES: usize = 300;

/// Family names of Vietnamese women with their approximate share per mille (the long tail
/// shares the rest), so the name index has the clusters of a real city: a third are Nguyễn.
const FAMILY_SHARES: &[(&str, usize)] = &[
    ("Nguyễn", 380),
    ("Trần", 110),
    ("Lê", 95),
    ("Phạm", 70),
    ("Hoàng", 40),
    ("Huỳnh", 11),
    ("Phan", 45),
    ("Vũ", 30),
    ("Võ", 9),
    ("Đặng", 21),
    ("Bùi", 20),
    ("Đỗ", 14),
    ("Hồ", 13),
    ("Ngô", 13),
    ("Dương", 10),
    ("Lý", 5),
    ("Đào", 4),
    ("Đinh", 4),
    ("Mai", 3),
    ("Trịnh", 4),
    ("Lương", 3),
    ("Cao", 3),
    ("Tạ", 3),
    ("Lưu", 3),
    ("Kiều", 2),
    ("Chu", 3),
    ("Quách", 2),
    ("Tô", 3),
    ("Hà", 3),
    ("Lâm", 3),
    ("Thái", 2),
    ("Vương", 2),
    ("Phùng", 3),
    ("Đoàn", 3),
    ("Khuất", 2),
    ("Triệu", 2),
    ("Nghiêm", 2),
    ("Văn", 2),
    ("La", 2),
    ("Tăng", 2),
    ("Âu", 2),
    ("Bạch", 2),
    ("Giang", 2),
    ("Khúc", 2),
    ("Lục", 2),
    ("Mạc", 2),
    ("Ninh", 2),
    ("Quan", 2),
    ("Thân", 2),
    ("Tống", 2),
    ("Từ", 2),
    ("Ứng", 1),
    ("An", 2),
    ("Kim", 2),
];
/// Middle names: most women are "Thị".
const MIDDLE_SHARES: &[(&str, usize)] = &[
    ("Thị", 700),
    ("Ngọc", 50),
    ("Thu", 40),
    ("Thanh", 35),
    ("Minh", 25),
    ("Hồng", 25),
    ("Kim", 20),
    ("Phương", 15),
    ("Thúy", 15),
    ("Bích", 10),
    ("Hải", 10),
    ("Diệu", 10),
    ("Mai", 10),
    ("Khánh", 10),
    ("Quỳnh", 10),
    ("Hoài", 5),
    ("Bảo", 5),
    ("Lan", 5),
];
/// Given names, equally likely.
const GIVEN_NAMES: &[&str] = &[
    "An",
    "Anh",
    "Ánh",
    "Bích",
    "Bình",
    "Châu",
    "Chi",
    "Cúc",
    "Dung",
    "Duyên",
    "Giang",
    "Hà",
    "Hạnh",
    "Hằng",
    "Hiền",
    "Hoa",
    "Hòa",
    "Hồng",
    "Huệ",
    "Hương",
    "Hường",
    "Huyền",
    "Khánh",
    "Lan",
    "Liên",
    "Liễu",
    "Linh",
    "Loan",
    "Ly",
    "Mai",
    "Mơ",
    "My",
    "Nga",
    "Ngân",
    "Ngọc",
    "Nguyệt",
    "Nhàn",
    "Nhung",
    "Oanh",
    "Phương",
    "Quyên",
    "Quỳnh",
    "Sen",
    "Tâm",
    "Thanh",
    "Thảo",
    "Thơ",
    "Thu",
    "Thủy",
    "Thúy",
    "Thư",
    "Tiên",
    "Trang",
    "Trâm",
    "Tuyết",
    "Uyên",
    "Vân",
    "Vy",
    "Xuân",
    "Yến",
    "Diệp",
    "Đào",
    "Gấm",
    "Hải",
    "Hậu",
    "Kiều",
    "Lài",
    "Lệ",
    "Lụa",
    "Minh",
    "Na",
    "Nhi",
    "Nhị",
    "Phúc",
    "Quế",
    "Sương",
    "Thắm",
    "Thêu",
    "Thoa",
    "Thương",
    "Trinh",
    "Tú",
    "Tuyền",
    "Vui",
    "Xoan",
    "Hạ",
    "Huế",
    "Lam",
    "Lý",
    "Mận",
    "Nương",
    "Phượng",
    "Thi",
    "Thục",
    "Trà",
    "Tươi",
    "Vinh",
    "Ý",
    "Yên",
    "Dịu",
];

/// Each name repeated by its share: the n-th element is the name of the n-th slot.
fn weighted(shares: &[(&'static str, usize)]) -> Vec<&'static str> {
    shares.iter().flat_map(|&(name, n)| std::iter::repeat_n(name, n)).collect()
}

/// A name drawn by `k` from the same distribution as the seeded members.
fn sample_name(k: usize) -> (String, String, String) {
    let (f, m) = (weighted(FAMILY_SHARES), weighted(MIDDLE_SHARES));
    let family = f[(k * 7919) % f.len()].to_owned();
    let middle = m[(k * 104_729) % m.len()].to_owned();
    let given = GIVEN_NAMES[(k * 31) % GIVEN_NAMES.len()].to_owned();
    (family, middle, given)
}

fn sql_array(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{}'", s.replace('\'', "''"))).collect();
    format!("ARRAY[{}]", quoted.join(","))
}

#[tokio::main]
async fn main() {
    let (state, settings) = fresh_state("phunu_bench").await;
    let db = &state.db;
    let Tree { city, districts, wards: ward_ids, .. } = build_tree(&state).await;

    // One million people and memberships, generated in the database: family, middle and given
    // name drawn independently (by hashes of the row number) from the shares above.
    let t = Instant::now();
    let folded = |names: &[&str]| names.iter().map(|n| fold_for_search(n)).collect::<Vec<_>>();
    let (fam, mid) = (weighted(FAMILY_SHARES), weighted(MIDDLE_SHARES));
    let (fam_f, mid_f, giv_f) = (folded(&fam), folded(&mid), folded(GIVEN_NAMES));
    let refs = |v: &[String]| sql_array(&v.iter().map(String::as_str).collect::<Vec<_>>());
    let seed_sql = format!(
        "INSERT INTO person (id, phone, full_name, name_search, password_hash, is_system_admin, language, gender, created_at, updated_at) \
         SELECT gen_random_uuid(), '+849' || lpad(i::text, 8, '0'), \
           ({fam})[f] || ' ' || ({mid})[m] || ' ' || ({giv})[g], \
           ({fam_f})[f] || ' ' || ({mid_f})[m] || ' ' || ({giv_f})[g], \
           NULL, false, 'vi', 'FEMALE', now(), now() \
         FROM (SELECT i, \
             1 + ((hashint4(i)::bigint + 2147483648) % {nf}) AS f, \
             1 + ((hashint4(i + 7000000)::bigint + 2147483648) % {nm}) AS m, \
             1 + ((hashint4(i + 13000000)::bigint + 2147483648) % {ng}) AS g \
           FROM generate_series(1, {MEMBERS}) AS i) picks",
        fam = sql_array(&fam),
        mid = sql_array(&mid),
        giv = sql_array(GIVEN_NAMES),
        fam_f = refs(&fam_f),
        mid_f = refs(&mid_f),
        giv_f = refs(&giv_f),
        nf = fam.len(),
        nm = mid.len(),
        ng = GIVEN_NAMES.len()
    );
    db.execute_unprepared(&seed_sql).await.expect("people");
    db.execute_unprepared(
        "CREATE TABLE bench_branch AS SELECT id, row_number() OVER (ORDER BY code) - 1 AS rn FROM org_unit WHERE kind = 'BRANCH'",
    )
    .await
    .expect("branches");
    db.execute_unprepared(
        "INSERT INTO membership (id, person_id, name_search, branch_id, member_number, status, joined_at, left_at, created_at, updated_at) \
         SELECT gen_random_uuid(), p.id, p.name_search, b.id, 'HN' || lpad(s.n::text, 7, '0'), \
           CASE WHEN s.n % 20 = 0 THEN 'LEFT' ELSE 'ACTIVE' END, \
           now() - (s.n % 1825) * interval '1 day', \
           CASE WHEN s.n % 20 = 0 THEN now() - (s.n % 300) * interval '1 day' END, now(), now() \
         FROM (SELECT id, CAST(substr(phone, 5) AS bigint) AS n FROM person) s \
         JOIN person p ON p.id = s.id \
         JOIN bench_branch b ON b.rn = s.n % (SELECT count(*) FROM bench_branch)"
    )
    .await
    .expect("memberships");
    db.execute_unprepared(&format!(
        "UPDATE counter SET next_value = {} WHERE name = 'member_number'",
        MEMBERS + 1
    ))
    .await
    .expect("counter");
    db.execute_unprepared(
        "INSERT INTO branch_member_count (branch_id, active) \
         SELECT branch_id, count(*) FILTER (WHERE status = 'ACTIVE') FROM membership GROUP BY branch_id",
    )
    .await
    .expect("counts");
    db.execute_unprepared(
        "INSERT INTO branch_member_day (branch_id, day, joined, \"left\") \
         SELECT branch_id, day, sum(j), sum(l) FROM ( \
           SELECT branch_id, (joined_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS day, 1 AS j, 0 AS l FROM membership \
           UNION ALL SELECT branch_id, (left_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, 0, 1 FROM membership WHERE left_at IS NOT NULL \
         ) x GROUP BY branch_id, day",
    )
    .await
    .expect("days");
    db.execute_unprepared(
        "INSERT INTO unit_member_count (unit_id, active) \
         SELECT c.ancestor_id, SUM(b.active) FROM org_unit_closure c \
         JOIN branch_member_count b ON b.branch_id = c.descendant_id GROUP BY c.ancestor_id",
    )
    .await
    .expect("unit counts");
    db.execute_unprepared(
        "INSERT INTO unit_member_day (unit_id, day, joined, \"left\") \
         SELECT c.ancestor_id, d.day, SUM(d.joined), SUM(d.\"left\") FROM org_unit_closure c \
         JOIN branch_member_day d ON d.branch_id = c.descendant_id GROUP BY c.ancestor_id, d.day",
    )
    .await
    .expect("unit days");
    db.execute_unprepared(
        "INSERT INTO membership_name_key (name_key, membership_id) \
         SELECT array_to_string(m.w[i:], ' '), m.id \
         FROM (SELECT id, string_to_array(name_search, ' ') AS w FROM membership) m, \
           generate_subscripts(m.w, 1) AS i WHERE i > 1",
    )
    .await
    .expect("name keys");
    db.execute_unprepared("DROP TABLE bench_branch").await.expect("drop helper table");
    // What autovacuum would have done by now: statistics, and the visibility map that lets an
    // index walk skip the table.
    db.execute_unprepared("VACUUM ANALYZE").await.expect("vacuum");
    println!("seed: {MEMBERS} people and memberships in {:.1} s", t.elapsed().as_secs_f64());

    // The city's administrator, who sees everything.
    let viewer = officer(&state, "+84300000001", "UNIT_ADMIN", city.id).await;
    let runner = Runner::new(&state, &settings);
    let run = |query: &'static str, variables: serde_json::Value| {
        let runner = runner.clone();
        async move { runner.run(viewer, query, variables).await.0 }
    };

    let directory = "query($s: String, $u: ID) { members(filter: {search: $s, unitId: $u}, first: 20) { \
        edges { node { memberNumber fullName phone status joinedAt branch { name } } } pageInfo { hasNextPage endCursor } } }";
    let city_gid = service::domain::GlobalId::new(service::domain::NodeKind::OrgUnit, city.id).encode();
    let gid = |id: entities::ids::UnitId| service::domain::GlobalId::of(id).encode();
    // (label, search, unit) — each search several ways a console officer types it.
    type Case = (&'static str, fn(usize) -> String, fn(usize) -> Option<usize>);
    let cases: [Case; 7] = [
        (
            "search: full name, city",
            |i| {
                let (f, m, g) = sample_name(i);
                format!("{f} {m} {g}")
            },
            |_| None,
        ),
        (
            "search: family + middle + initial, city",
            |i| {
                let (f, m, g) = sample_name(i);
                format!("{f} {m} {}", g.chars().next().unwrap_or('a'))
            },
            |_| None,
        ),
        ("search: given name only, city", |i| sample_name(i).2, |_| None),
        (
            "search: middle + given, city",
            |i| {
                let (_, m, g) = sample_name(i);
                format!("{m} {g}")
            },
            |_| None,
        ),
        ("search: family name only, city", |i| sample_name(i).0, |_| None),
        (
            "search: full name, a district",
            |i| {
                let (f, m, g) = sample_name(i);
                format!("{f} {m} {g}")
            },
            Some,
        ),
        ("search: family name, a ward", |i| sample_name(i).0, |i| Some(1000 + i)),
    ];
    for (label, search, unit) in cases {
        let mut samples = Vec::new();
        for i in 0..SAMPLES {
            let u = match unit(i) {
                None => Value::Null,
                Some(n) if n >= 1000 => json!(gid(ward_ids[(n - 1000) * 7 % ward_ids.len()])),
                Some(n) => json!(gid(districts[n % districts.len()].id)),
            };
            samples.push(run(directory, json!({ "s": search(i), "u": u })).await);
        }
        report(label, samples);
    }
    let mut unit_samples = Vec::new();
    for i in 0..SAMPLES {
        let district = &districts[i % districts.len()];
        unit_samples.push(run(directory, json!({ "u": gid(district.id) })).await);
    }
    report("browse: a district's members, first 20", unit_samples);

    let stats = "query($u: ID!, $f: Date!, $t: Date!) { memberStatistics(unitId: $u, from: $f, to: $t) { \
        total { activeMembers newMembers leavers attractionRate } children { unit { name } activeMembers newMembers leavers } } }";
    let today = Utc::now().date_naive();
    let year_start = today.with_ordinal(1).unwrap_or(today);
    let mut stats_samples = Vec::new();
    for _ in 0..SAMPLES {
        stats_samples.push(
            run(stats, json!({ "u": city_gid, "f": year_start.to_string(), "t": today.to_string() })).await,
        );
    }
    report("statistics: the city, this year, 30 children", stats_samples);

    // Import: 50,000 new people into the city's branches.
    let mut csv = String::from("\u{feff}Họ và tên;Số điện thoại;Ngày sinh;Mã chi hội\n");
    for i in 0..50_000u32 {
        let (family, middle, given) = sample_name(i as usize);
        let branch = format!(
            "HN-D{:02}-W{:02}-B{:02}",
            i as usize % DISTRICTS,
            (i as usize / 3) % WARDS_PER_DISTRICT,
            (i as usize / 5) % BRANCHES_PER_WARD
        );
        csv.push_str(&format!(
            "{family} {middle} {given};07{i:08};{:02}/{:02}/19{:02};{branch}\n",
            1 + i % 28,
            1 + i % 12,
            50 + i % 50
        ));
    }
    let t = Instant::now();
    let (auth, meta) = (service::auth::Auth::Signed(viewer), service::RequestMeta::default());
    let call = service::Call { state: &state, auth: &auth, meta: &meta };
    let imported = import_members(call, csv.as_bytes(), false).await.expect("import");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "import: {} rows ({} imported, {} rejected) in {secs:.1} s = {:.0} rows/s",
        imported.total_rows,
        imported.imported,
        imported.rejected.len(),
        imported.total_rows as f64 / secs
    );
}
