//! The home screen's data at Hanoi scale (shared by the `home` and `http` benchmarks): the
//! bench tree with 1,000,000 members, campaigns, posts, trainings, pledges, notifications and
//! this year's targets, written by a few large statements.

use chrono::Datelike;
use entities::ids::PersonId;
use sea_orm::ConnectionTrait;
use std::time::Instant;

pub const DATABASE: &str = "phunu_bench_home";
pub const MEMBERS: i64 = 1_000_000;
pub const CAMPAIGNS: i64 = 2_000;
pub const POSTS: i64 = 50_000;
pub const TRAININGS: i64 = 30_000;
pub const PER_TRAINING: i64 = 10;

/// The member app's home screen, as the app asks for it.
pub const HOME: &str = "query Home { \
  me { fullName membership { memberNumber status branch { id name parent { name } } } } \
  unreadNotificationCount \
  feed(first: 5) { edges { node { id title coverImageUrl publishedAt unit { name } } } } \
  campaigns(first: 10) { edges { node { id kind title summary coverImageUrl termEnd unit { name } myPledges { kind status } } } } \
  trainings(first: 5) { edges { node { id title category startsAt place seatsLeft registrationOpen unit { name } myRegistration { status waitlistPosition } } } } \
}";

/// Where the generated rows of a level-mixed table go: 2% at the city, 10% at districts, 38%
/// at wards, half at branches (`j` is the row number; statuses are drawn from `j / 50`, so
/// every level gets its share of each).
const SPREAD: &str = "(j % 50 = 0 AND u.kind = 'CITY') \
   OR (j % 50 BETWEEN 1 AND 5 AND u.kind = 'DISTRICT' AND u.rn = j % 30) \
   OR (j % 50 BETWEEN 6 AND 24 AND u.kind = 'BASE' AND u.rn = j % 420) \
   OR (j % 50 >= 25 AND u.kind = 'BRANCH' AND u.rn = j % 5040)";

pub async fn seed(state: &service::state::AppState, admin: PersonId) {
    let db = &state.db;
    let year = chrono::Utc::now().year();
    let t = Instant::now();
    let statements = [
        "CREATE TABLE bench_unit AS SELECT id, kind, row_number() OVER (PARTITION BY kind ORDER BY code) - 1 AS rn FROM org_unit".to_owned(),
        format!(
            "INSERT INTO person (id, phone, full_name, name_search, is_system_admin, language, gender, created_at, updated_at) \
             SELECT gen_random_uuid(), '+849' || lpad(i::text, 8, '0'), 'Hội Viên ' || i, 'hoi vien ' || i, false, 'vi', 'FEMALE', now(), now() \
             FROM generate_series(1, {MEMBERS}) i"
        ),
        "CREATE TABLE bench_person AS SELECT id, CAST(substr(phone, 5) AS bigint) AS rn FROM person WHERE phone LIKE '+849%'".to_owned(),
        "CREATE UNIQUE INDEX ON bench_person (rn)".to_owned(),
        // Members joined over the last five years; one in twenty has left.
        "INSERT INTO membership (id, person_id, name_search, branch_id, member_number, status, joined_at, left_at, created_at, updated_at) \
         SELECT gen_random_uuid(), p.id, 'hoi vien ' || p.rn, u.id, 'HN' || lpad(p.rn::text, 7, '0'), \
           CASE WHEN p.rn % 20 = 0 THEN 'LEFT' ELSE 'ACTIVE' END, now() - (p.rn % 1825) * interval '1 day', \
           CASE WHEN p.rn % 20 = 0 THEN now() - (p.rn % 300) * interval '1 day' END, now(), now() \
         FROM bench_person p JOIN bench_unit u ON u.kind = 'BRANCH' AND u.rn = p.rn % 5040".to_owned(),
        format!("UPDATE counter SET next_value = {} WHERE name = 'member_number'", MEMBERS + 1),
        "INSERT INTO branch_member_count (branch_id, active) \
         SELECT branch_id, count(*) FILTER (WHERE status = 'ACTIVE') FROM membership GROUP BY branch_id".to_owned(),
        "INSERT INTO branch_member_day (branch_id, day, joined, \"left\") \
         SELECT branch_id, day, sum(j), sum(l) FROM ( \
           SELECT branch_id, (joined_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS day, 1 AS j, 0 AS l FROM membership \
           UNION ALL SELECT branch_id, (left_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, 0, 1 FROM membership WHERE left_at IS NOT NULL \
         ) x GROUP BY branch_id, day".to_owned(),
        "INSERT INTO unit_member_count (unit_id, active) \
         SELECT c.ancestor_id, SUM(b.active) FROM org_unit_closure c \
         JOIN branch_member_count b ON b.branch_id = c.descendant_id GROUP BY c.ancestor_id".to_owned(),
        "INSERT INTO unit_member_day (unit_id, day, joined, \"left\") \
         SELECT c.ancestor_id, d.day, SUM(d.joined), SUM(d.\"left\") FROM org_unit_closure c \
         JOIN branch_member_day d ON d.branch_id = c.descendant_id GROUP BY c.ancestor_id, d.day".to_owned(),
        // Campaigns: mostly active, some ended, a few drafts; one in ten with eight criteria.
        format!(
            "INSERT INTO campaign (id, unit_id, kind, title, title_search, summary, body, body_format, term_start, term_end, \
               status, created_by, launched_at, listed_at, created_at, updated_at) \
             SELECT gen_random_uuid(), u.id, (ARRAY['EMULATION_MOVEMENT','CAMPAIGN','PROGRAMME'])[1 + j % 3], \
               'Cuộc vận động ' || j, 'cuoc van dong ' || j, 'Tóm tắt ' || j, 'Nội dung', 'MARKDOWN', \
               DATE '2021-01-01', DATE '2026-12-31', \
               CASE WHEN (j / 50) % 10 = 0 THEN 'DRAFT' WHEN (j / 50) % 10 < 3 THEN 'ENDED' ELSE 'ACTIVE' END, '{admin}', \
               now() - (j % 1500) * interval '1 day', now() - (j % 1500) * interval '1 day', now(), now() \
             FROM generate_series(1, {CAMPAIGNS}) j JOIN bench_unit u ON {SPREAD}"
        ),
        "INSERT INTO campaign_criterion (id, campaign_id, position, text) \
         SELECT gen_random_uuid(), c.id, k, 'Tiêu chí ' || k FROM \
           (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM campaign) c CROSS JOIN generate_series(1, 8) k \
         WHERE c.rn % 10 = 1".to_owned(),
        format!(
            "INSERT INTO post (id, unit_id, title, body, status, published_at, created_by, created_at, updated_at) \
             SELECT gen_random_uuid(), u.id, 'Tin ' || j, 'Nội dung tin ' || j, \
               CASE WHEN j % 20 = 0 THEN 'UNPUBLISHED' ELSE 'PUBLISHED' END, \
               now() - (j % 1095) * interval '1 day' - (j % 24) * interval '1 hour', '{admin}', now(), now() \
             FROM generate_series(1, {POSTS}) j JOIN bench_unit u ON {SPREAD}"
        ),
        format!(
            "INSERT INTO training (id, unit_id, title, title_search, description, category, starts_at, ends_at, place, \
               capacity, audience, status, created_by, published_at, created_at, updated_at) \
             SELECT gen_random_uuid(), u.id, 'Lớp ' || j, 'lop ' || j, '', \
               (ARRAY['VOCATIONAL','DIGITAL_SKILLS','LEGAL','HEALTH','ENTREPRENEURSHIP','UNION_WORK','OTHER'])[1 + j % 7], \
               s.at, s.at + interval '3 hours', 'Nhà văn hóa', CASE WHEN j % 5 = 0 THEN NULL ELSE 30 + j % 100 END, \
               CASE WHEN j % 10 = 3 THEN 'OFFICERS' ELSE 'MEMBERS' END, \
               CASE WHEN s.at < now() THEN (CASE WHEN (j / 50) % 20 = 0 THEN 'CANCELLED' ELSE 'COMPLETED' END) \
                    ELSE (CASE WHEN (j / 50) % 50 = 0 THEN 'DRAFT' ELSE 'PUBLISHED' END) END, \
               '{admin}', now(), now(), now() \
             FROM generate_series(1, {TRAININGS}) j \
             CROSS JOIN LATERAL (SELECT now() + ((j % 730) - 365) * interval '1 day' + (j % 24) * interval '1 hour' AS at) s \
             JOIN bench_unit u ON {SPREAD}"
        ),
        "CREATE TABLE bench_training AS SELECT id, capacity, status, starts_at, row_number() OVER (ORDER BY id) AS rn FROM training".to_owned(),
        format!(
            "INSERT INTO training_registration (id, training_id, person_id, status, queue_no, registered_at, confirmed_at, attended_at, updated_at) \
             SELECT gen_random_uuid(), t.id, p.id, \
               CASE WHEN t.status = 'COMPLETED' THEN (CASE WHEN k % 4 = 0 THEN 'NO_SHOW' ELSE 'ATTENDED' END) ELSE 'CONFIRMED' END, \
               k + 1, now(), now(), CASE WHEN t.status = 'COMPLETED' AND k % 4 <> 0 THEN t.starts_at END, now() \
             FROM bench_training t CROSS JOIN generate_series(0, {PER_TRAINING} - 1) k \
             JOIN bench_person p ON p.rn = 1 + (t.rn * 7919 + k * 104729) % {MEMBERS}"
        ),
        "UPDATE training t SET confirmed_count = c.confirmed, next_queue_no = c.n + 1 \
         FROM (SELECT training_id, count(*) FILTER (WHERE status = 'CONFIRMED') AS confirmed, count(*) AS n \
               FROM training_registration GROUP BY training_id) c WHERE c.training_id = t.id".to_owned(),
        // One member in five has pledged her household to a city campaign; half are certified.
        format!(
            "INSERT INTO pledge (id, campaign_id, person_id, branch_id, kind, household_label, household_key, household_size, \
               year, status, submitted_at, reviewed_at, created_at, updated_at) \
             SELECT gen_random_uuid(), c.id, m.person_id, m.branch_id, 'HOUSEHOLD', 'Hộ ' || p.rn, 'ho ' || p.rn, 4, {year}, \
               CASE WHEN p.rn % 2 = 0 THEN 'CERTIFIED' ELSE 'SUBMITTED' END, now() - (p.rn % 300) * interval '1 day', \
               CASE WHEN p.rn % 2 = 0 THEN now() - (p.rn % 200) * interval '1 day' END, now(), now() \
             FROM bench_person p JOIN membership m ON m.person_id = p.id \
             JOIN (SELECT c.id, row_number() OVER (ORDER BY c.id) - 1 AS rn FROM campaign c \
                   JOIN org_unit o ON o.id = c.unit_id WHERE o.kind = 'CITY' AND c.status = 'ACTIVE') c \
               ON c.rn = p.rn % (SELECT count(*) FROM campaign c JOIN org_unit o ON o.id = c.unit_id \
                                 WHERE o.kind = 'CITY' AND c.status = 'ACTIVE') \
             WHERE p.rn % 5 = 0"
        ),
        // Two notifications per member, the older one read.
        "INSERT INTO notification (id, person_id, kind, params, created_at, read_at) \
         SELECT gen_random_uuid(), p.id, 'REQUEST_APPROVED', '{\"branch\":\"Chi hội\"}', now() - k * interval '1 day', \
           CASE WHEN k = 1 THEN now() END FROM bench_person p CROSS JOIN generate_series(0, 1) k".to_owned(),
        // The activity counters, as check-ins and certifications would have kept them.
        "INSERT INTO unit_activity_day (unit_id, metric, day, value) \
         SELECT c.ancestor_id, 'ATTENDED', (r.attended_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, count(*) \
         FROM training_registration r JOIN training t ON t.id = r.training_id \
         JOIN org_unit_closure c ON c.descendant_id = t.unit_id WHERE r.attended_at IS NOT NULL GROUP BY 1, 3".to_owned(),
        "INSERT INTO unit_activity_day (unit_id, metric, day, value) \
         SELECT c.ancestor_id, 'HOUSEHOLDS_CERTIFIED', (p.reviewed_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, count(*) \
         FROM pledge p JOIN org_unit_closure c ON c.descendant_id = p.branch_id \
         WHERE p.status = 'CERTIFIED' GROUP BY 1, 3".to_owned(),
        // This year's targets of the three computed indicators at the city and each district,
        // and a reported indicator every ward filled in.
        format!(
            "INSERT INTO target (id, indicator_id, unit_id, from_year, to_year, value, assigned_by_parent, set_by, set_at) \
             SELECT gen_random_uuid(), i.id, u.id, {year}, {year}, \
               CASE WHEN u.kind = 'CITY' THEN 30000 ELSE 1000 END, u.kind <> 'CITY', '{admin}', now() \
             FROM indicator i CROSS JOIN bench_unit u WHERE i.kind = 'COMPUTED' AND u.kind IN ('CITY', 'DISTRICT')"
        ),
        // And the whole term's.
        format!(
            "INSERT INTO target (id, indicator_id, unit_id, from_year, to_year, value, assigned_by_parent, set_by, set_at) \
             SELECT gen_random_uuid(), i.id, u.id, 2021, 2026, CASE WHEN u.kind = 'CITY' THEN 150000 ELSE 5000 END, \
               u.kind <> 'CITY', '{admin}', now() \
             FROM indicator i CROSS JOIN bench_unit u WHERE i.kind = 'COMPUTED' AND u.kind IN ('CITY', 'DISTRICT')"
        ),
        "INSERT INTO indicator (id, kind, name, unit_of_measure, aggregation, unit_id, created_at) \
         SELECT '00000000-0000-0000-0000-0000000000aa', 'REPORTED', 'Tỷ lệ cơ sở Hội xếp loại tốt', '%', 'AVERAGE', id, now() \
         FROM org_unit WHERE kind = 'CITY'".to_owned(),
        format!(
            "INSERT INTO target (id, indicator_id, unit_id, from_year, to_year, value, assigned_by_parent, set_by, set_at) \
             SELECT gen_random_uuid(), '00000000-0000-0000-0000-0000000000aa', id, {year}, {year}, 80, false, '{admin}', now() \
             FROM org_unit WHERE kind = 'CITY'"
        ),
        format!(
            "INSERT INTO reported_value (id, indicator_id, unit_id, from_year, to_year, value, reported_by, reported_at) \
             SELECT gen_random_uuid(), '00000000-0000-0000-0000-0000000000aa', id, {year}, {year}, 60 + rn % 40, '{admin}', now() \
             FROM bench_unit WHERE kind = 'BASE'"
        ),
        "DROP TABLE bench_unit, bench_training".to_owned(),
        "VACUUM ANALYZE".to_owned(),
    ];
    for sql in statements {
        db.execute_unprepared(&sql).await.unwrap_or_else(|e| panic!("{e}: {sql}"));
    }
    println!(
        "seed: {MEMBERS} members, {CAMPAIGNS} campaigns, {POSTS} posts, {TRAININGS} trainings in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}
