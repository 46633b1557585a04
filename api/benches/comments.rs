//! A news post's comments at 10,000, on PostgreSQL, through the GraphQL schema in process: the
//! first page of 20 top-level comments (author, counters, the reader's own reaction), a page deep
//! in the thread (after the 9,000th), the same with `totalCount`, and the statements a page
//! issues; then 200 comments written one at a time (the counter kept with each).
//!
//! `BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432?sslmode=disable cargo bench -p api --bench comments`
//! It (re)creates the database `phunu_bench_comments`. Not run by the test suite or CI.

#![allow(clippy::expect_used, clippy::unwrap_used)]
// The schema's root future is deep; computing its layout in this crate needs more than 128.
#![recursion_limit = "256"]

mod common;

use std::time::Instant;

use common::{Runner, as_viewer, build_tree, fresh_state, officer, report};
use sea_orm::ConnectionTrait;
use serde_json::json;
use service::domain::{GlobalId, NodeKind};
use uuid::Uuid;

const DATABASE: &str = "phunu_bench_comments";
const COMMENTS: i64 = 10_000;
const REPLIES: i64 = 2_000;
const AUTHORS: usize = 50;
const SAMPLES: usize = 300;

const PAGE: &str = "query($t: ID!, $after: String) { comments(targetId: $t, first: 20, after: $after) { \
    pageInfo { hasNextPage endCursor } edges { node { id body createdAt editedAt replyCount mine \
    author { displayName } engagement { commentCount reactions { kind count } myReaction } } } } }";
const PAGE_COUNTED: &str =
    "query($t: ID!) { comments(targetId: $t, first: 20) { totalCount edges { node { id body } } } }";
const ADD: &str = "mutation($t: ID!, $b: String!) { addComment(targetId: $t, body: $b) { id } }";

#[tokio::main]
async fn main() {
    let (state, settings) = fresh_state(DATABASE).await;
    let tree = build_tree(&state).await;
    let reader = officer(&state, "+84940000000", "UNIT_ADMIN", tree.city.id).await;
    let mut authors = Vec::new();
    for i in 0..AUTHORS {
        authors.push(officer(&state, &format!("+8495{i:07}"), "UNIT_OFFICER", tree.city.id).await.person_id);
    }
    let post = Uuid::now_v7();
    let t = Instant::now();
    let author_list = authors.iter().map(|a| format!("'{a}'::uuid")).collect::<Vec<_>>().join(", ");
    state
        .db
        .execute_unprepared(&format!(
            "INSERT INTO post (id, unit_id, campaign_id, title, body, cover_image_url, status, published_at, \
               unpublished_at, created_by, created_at, updated_at) \
             VALUES ('{post}', '{city}', NULL, 'Ngày hội', 'Nội dung', NULL, 'PUBLISHED', now(), NULL, '{reader}', now(), now()); \
             CREATE TEMP TABLE bench_author AS SELECT a, (ROW_NUMBER() OVER () - 1)::int AS n FROM unnest(ARRAY[{author_list}]) a; \
             INSERT INTO comment (id, target_kind, target_id, parent_id, author_id, unit_id, body, status, moderation_note, \
               flag_count, reply_count, created_at, edited_at) \
             SELECT gen_random_uuid(), 'POST', '{post}', NULL, b.a, '{city}', \
               'Ý kiến số ' || j || ': chị em mình cùng tham gia ngày hội nhé.', 'PUBLISHED', NULL, 0, \
               CASE WHEN j % 5 = 0 THEN 1 ELSE 0 END, now() - interval '1 second' * ({COMMENTS} - j), NULL \
             FROM generate_series(1, {COMMENTS}) j JOIN bench_author b ON b.n = j % {AUTHORS}; \
             INSERT INTO comment (id, target_kind, target_id, parent_id, author_id, unit_id, body, status, moderation_note, \
               flag_count, reply_count, created_at, edited_at) \
             SELECT gen_random_uuid(), 'POST', '{post}', c.id, c.author_id, '{city}', 'Đồng ý!', 'PUBLISHED', NULL, 0, 0, \
               c.created_at + interval '1 minute', NULL \
             FROM comment c WHERE c.target_id = '{post}' AND c.reply_count = 1; \
             INSERT INTO reaction (target_id, person_id, target_kind, kind, created_at) \
             SELECT c.id, b.a, 'COMMENT', CASE WHEN b.n % 2 = 0 THEN 'LIKE' ELSE 'LOVE' END, now() \
             FROM comment c JOIN bench_author b ON b.n < 10 WHERE c.target_id = '{post}' AND c.parent_id IS NULL; \
             INSERT INTO reaction (target_id, person_id, target_kind, kind, created_at) \
             SELECT c.id, '{reader}', 'COMMENT', 'CARE', now() FROM comment c \
             WHERE c.target_id = '{post}' AND c.parent_id IS NULL AND (EXTRACT(EPOCH FROM c.created_at)::bigint % 3) = 0; \
             INSERT INTO engagement (target_id, counter, value) \
             SELECT target_id, kind, count(*) FROM reaction GROUP BY target_id, kind; \
             INSERT INTO engagement (target_id, counter, value) VALUES ('{post}', 'COMMENTS', {COMMENTS} + {REPLIES})",
            city = tree.city.id,
            reader = reader.person_id,
        ))
        .await
        .expect("seed");
    // As autovacuum would have left them: statistics, and the visibility map.
    state.db.execute_unprepared("VACUUM ANALYZE").await.expect("vacuum");
    println!(
        "seed: {COMMENTS} comments, {REPLIES} replies and their reactions in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let runner = Runner::new(&state, &settings);
    let target = GlobalId::new(NodeKind::Post, post).encode();
    let (_, first) = runner.run(reader, PAGE, json!({ "t": target })).await;
    // The cursor after the 9,000th comment.
    let mut after = first["comments"]["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    let mut deep = None;
    for page in 1..450 {
        let (_, data) = runner.run(reader, PAGE, json!({ "t": target, "after": after })).await;
        after = data["comments"]["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        if page == 449 {
            deep = after.clone();
        }
    }

    for (label, query, vars) in [
        ("comment page, first 20 of 10,000", PAGE, json!({ "t": target })),
        ("comment page, 20 after the 9,000th", PAGE, json!({ "t": target, "after": deep })),
        ("comment page, first 20 with totalCount", PAGE_COUNTED, json!({ "t": target })),
    ] {
        let before = state.stats.statements();
        runner.run(reader, query, vars.clone()).await;
        let statements = state.stats.statements() - before;
        let mut samples = Vec::new();
        for _ in 0..SAMPLES {
            samples.push(runner.run(reader, query, vars.clone()).await.0);
        }
        report(&format!("{label} ({statements} statements)"), samples);
    }

    let mut samples = Vec::new();
    for i in 0..200 {
        let writer = as_viewer(authors[i % AUTHORS]);
        samples
            .push(runner.run(writer, ADD, json!({ "t": target, "b": format!("Bình luận mới {i}") })).await.0);
    }
    report("addComment at 12,000 comments", samples);
}
