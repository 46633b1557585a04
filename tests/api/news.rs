//! News posts: publishing and its permissions, validation, campaign links, the member's feed
//! (visibility, order, paging, statement count), `node(Post)` and the console's list.

use chrono::{NaiveDate, Utc};
use entities::ids::{CampaignId, PersonId, UnitId};
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{Series, member, officer};
use crate::helpers::*;

/// This module's test people.
const S: Series = Series::NEWS;

const FIELDS: &str = "id title body coverImageUrl campaignId status publishedAt unpublishedAt unit { code }";

fn create_q() -> String {
    format!("mutation($u: ID!, $i: PostInput!) {{ createPost(unitId: $u, input: $i) {{ {FIELDS} }} }}")
}

fn update_q() -> String {
    format!("mutation($id: ID!, $i: PostInput!) {{ updatePost(id: $id, input: $i) {{ {FIELDS} }} }}")
}

fn status_q(mutation: &str) -> String {
    format!("mutation($id: ID!) {{ {mutation}(id: $id) {{ {FIELDS} }} }}")
}

fn node_q() -> String {
    format!("query($id: ID!) {{ node(id: $id) {{ ... on Post {{ {FIELDS} }} }} }}")
}

const FEED: &str = "query($first: Int, $after: String) { feed(first: $first, after: $after) { pageInfo { hasNextPage endCursor } edges { cursor node { id title status unit { code } } } } }";
const POSTS: &str = "query($f: PostFilterInput!, $first: Int, $after: String) { posts(filter: $f, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id title status unit { code } } } } }";

// ---- helpers ----

async fn spawn() -> TestApp {
    spawn_app_with(&[("APP_REGISTER_MAX_PER_ADDRESS", "1000")]).await
}

fn input(title: &str) -> Value {
    json!({ "title": title, "body": "Nội dung bài viết.\n\n- ý một\n- ý hai", "coverImageUrl": null })
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

async fn create(app: &TestApp, token: &str, code: &str, input: Value) -> Gql {
    let unit = app.unit_id(code).await;
    app.gql(&create_q(), json!({ "u": unit, "i": input }), Some(token)).await
}

/// Publishes a post titled `title` at `code`; returns its id.
async fn post(app: &TestApp, token: &str, code: &str, title: &str) -> String {
    let p = create(app, token, code, input(title)).await.ok()["createPost"].clone();
    assert_eq!(p["status"], "PUBLISHED");
    s(&p["id"])
}

async fn update(app: &TestApp, token: &str, id: &str, input: Value) -> Gql {
    app.gql(&update_q(), json!({ "id": id, "i": input }), Some(token)).await
}

async fn unpublish(app: &TestApp, token: &str, id: &str) -> Gql {
    app.gql(&status_q("unpublishPost"), json!({ "id": id }), Some(token)).await
}

async fn republish(app: &TestApp, token: &str, id: &str) -> Gql {
    app.gql(&status_q("republishPost"), json!({ "id": id }), Some(token)).await
}

async fn view(app: &TestApp, token: &str, id: &str) -> Gql {
    app.gql(&node_q(), json!({ "id": id }), Some(token)).await
}

/// Titles of the caller's whole feed, newest first, walked in pages of `size`.
async fn feed_titles(app: &TestApp, token: &str, size: i64) -> Vec<String> {
    let mut titles = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..200 {
        let data = app.gql(FEED, json!({ "first": size, "after": after }), Some(token)).await.ok();
        let feed = &data["feed"];
        let page = nodes(feed);
        assert!(page.len() as i64 <= size);
        titles.extend(page.iter().map(|n| s(&n["title"])));
        if feed["pageInfo"]["hasNextPage"] != true {
            return titles;
        }
        assert_eq!(page.len() as i64, size, "a page short of its size before the end");
        after = Some(s(&feed["pageInfo"]["endCursor"]));
    }
    panic!("the feed never ended");
}

async fn feed(app: &TestApp, token: &str) -> Vec<String> {
    feed_titles(app, token, 100).await
}

async fn posts(app: &TestApp, token: &str, filter: Value) -> Gql {
    app.gql(POSTS, json!({ "f": filter, "first": 100 }), Some(token)).await
}

/// (titles, totalCount) of the console's list with `filter`.
async fn listed(app: &TestApp, token: &str, filter: Value) -> (Vec<String>, u64) {
    let data = posts(app, token, filter).await.ok();
    let titles = nodes(&data["posts"]).iter().map(|n| s(&n["title"])).collect();
    (titles, data["posts"]["totalCount"].as_u64().expect("totalCount"))
}

async fn post_rows(app: &TestApp) -> u64 {
    entities::post::Entity::find().count(&app.state.db).await.unwrap()
}

/// A campaign row run by `code` (written directly: campaigns have their own tests).
async fn campaign(app: &TestApp, code: &str, title: &str) -> String {
    let unit = id_of::<UnitId>(&app.unit_id(code).await);
    let creator = id_of::<PersonId>(&app.person_id(CITY_ADMIN).await);
    let now = Utc::now();
    let row = entities::campaign::ActiveModel {
        id: Set(CampaignId::new()),
        unit_id: Set(unit),
        kind: Set("CAMPAIGN".parse().unwrap()),
        title: Set(title.to_owned()),
        title_search: Set(title.to_lowercase()),
        summary: Set("Tóm tắt".to_owned()),
        body: Set("Nội dung".to_owned()),
        body_format: Set("PLAIN".parse().unwrap()),
        cover_image_url: Set(None),
        term_start: Set(NaiveDate::from_ymd_opt(2021, 1, 1).unwrap()),
        term_end: Set(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()),
        status: Set("ACTIVE".parse().unwrap()),
        created_by: Set(creator),
        launched_at: Set(Some(now)),
        ended_at: Set(None),
        listed_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    global_id("Campaign", row.id)
}

// ---- publishing ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_publishes_edits_unpublishes_and_republishes_a_post() {
    let app = spawn().await;
    let lb = app.token(LB_OFFICER).await;
    let body = "# Thông báo\n\nHội viên **chú ý**:\n\n1. Họp chi hội\n2. Đóng hội phí";
    let p = create(
        &app,
        &lb,
        "HN-LB",
        json!({ "title": "  Họp   tháng 12 ", "body": format!("\n{body}\n  "), "coverImageUrl": "https://cdn.example.vn/a.jpg" }),
    )
    .await
    .ok()["createPost"]
        .clone();
    assert_eq!(p["status"], "PUBLISHED");
    assert_eq!(p["title"], "Họp tháng 12");
    assert_eq!(p["body"], body, "Markdown line breaks are kept; only the ends are trimmed");
    assert_eq!(p["coverImageUrl"], "https://cdn.example.vn/a.jpg");
    assert_eq!(p["campaignId"], Value::Null);
    assert_eq!(p["unit"]["code"], "HN-LB");
    assert_eq!(p["unpublishedAt"], Value::Null);
    let published_at = s(&p["publishedAt"]);
    let id = s(&p["id"]);

    let e =
        update(&app, &lb, &id, json!({ "title": "Họp tháng 12 (dời lịch)", "body": "Dời sang thứ bảy." }))
            .await
            .ok()["updatePost"]
            .clone();
    assert_eq!(e["title"], "Họp tháng 12 (dời lịch)");
    assert_eq!(e["body"], "Dời sang thứ bảy.");
    assert_eq!(e["coverImageUrl"], Value::Null, "an edit takes the whole input");
    assert_eq!(e["publishedAt"], published_at.as_str());

    let u = unpublish(&app, &lb, &id).await.ok()["unpublishPost"].clone();
    assert_eq!(u["status"], "UNPUBLISHED");
    assert!(u["unpublishedAt"].is_string());
    unpublish(&app, &lb, &id).await.expect_reason("CONFLICT", "WRONG_STATUS");
    // An unpublished post can still be edited.
    update(&app, &lb, &id, input("Sửa khi đã gỡ")).await.ok();

    let r = republish(&app, &lb, &id).await.ok()["republishPost"].clone();
    assert_eq!(r["status"], "PUBLISHED");
    assert_eq!(r["publishedAt"], published_at.as_str(), "republishing keeps the original date");
    assert_eq!(r["unpublishedAt"], Value::Null);
    assert_eq!(r["title"], "Sửa khi đã gỡ");
    republish(&app, &lb, &id).await.expect_reason("CONFLICT", "WRONG_STATUS");

    // Ids of another kind are refused; unknown posts are not found.
    let unit = app.unit_id("HN-LB").await;
    unpublish(&app, &lb, &unit).await.expect_reason("BAD_USER_INPUT", "INVALID_ID");
    unpublish(&app, &lb, &global_id("Post", Uuid::now_v7())).await.expect_code("NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_officers_admins_and_branch_leaders_with_reach_publish() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let case = app.token(BD_CASE_OFFICER).await;
    let hk = officer(&app, S, 900, "HN-HK", "UNIT_OFFICER").await.token;
    let bd_member = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let hk_member = member(&app, &city, S, 2, "HN-HK-HB-01").await.token;

    // An officer or admin at or above the unit, a branch leader for her branch.
    post(&app, &lb, "HN-LB-GT-01", "Quận gửi chi hội").await;
    post(&app, &city, "HN-LB", "Thành phố gửi quận").await;
    post(&app, &leader, "HN-LB-BD-01", "Chi hội").await;
    let made = post_rows(&app).await;
    assert_eq!(made, 3);

    // A branch leader has no reach over the ward above her or a sibling branch, and leads no
    // group below her branch.
    create(&app, &leader, "HN-LB-BD", input("x")).await.expect_code("NOT_FOUND");
    create(&app, &leader, "HN-LB-BD-02", input("x")).await.expect_code("NOT_FOUND");
    create(&app, &leader, "HN-LB-BD-01-T1", input("x")).await.expect_code("FORBIDDEN");
    // In reach without a managing role.
    create(&app, &case, "HN-LB-BD", input("x")).await.expect_code("FORBIDDEN");
    // Members have no reach, even over their own branch; nor has another district's officer.
    create(&app, &bd_member, "HN-LB-BD-01", input("x")).await.expect_code("NOT_FOUND");
    create(&app, &app.token(MEMBER).await, "HN-LB", input("x")).await.expect_code("NOT_FOUND");
    create(&app, &hk, "HN-LB", input("x")).await.expect_code("NOT_FOUND");
    create(&app, &lb, "HN-HK", input("x")).await.expect_code("NOT_FOUND");
    let unit = app.unit_id("HN-LB").await;
    app.gql(&create_q(), json!({ "u": unit, "i": input("x") }), None).await.expect_code("UNAUTHENTICATED");
    assert_eq!(post_rows(&app).await, made, "a refused create wrote a row");

    // Managing a district post: readers of it are FORBIDDEN, everybody else NOT_FOUND.
    let id = post(&app, &lb, "HN-LB", "Bài của quận").await;
    for token in [&bd_member, &leader, &case] {
        update(&app, token, &id, input("x")).await.expect_code("FORBIDDEN");
        unpublish(&app, token, &id).await.expect_code("FORBIDDEN");
    }
    for token in [&hk, &hk_member] {
        update(&app, token, &id, input("x")).await.expect_code("NOT_FOUND");
        unpublish(&app, token, &id).await.expect_code("NOT_FOUND");
    }
    // The city's admin manages it; once unpublished its readers no longer see it at all.
    unpublish(&app, &city, &id).await.ok();
    for token in [&bd_member, &leader, &case, &hk] {
        republish(&app, token, &id).await.expect_code("NOT_FOUND");
    }
    republish(&app, &lb, &id).await.ok();
    // A branch leader manages her branch's posts, whoever wrote them.
    let branch_post = post(&app, &lb, "HN-LB-BD-01", "Quận viết cho chi hội").await;
    unpublish(&app, &leader, &branch_post).await.ok();
    let title = view(&app, &lb, &id).await.ok()["node"]["title"].clone();
    assert_eq!(title, "Bài của quận", "refused edits changed the post");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_input_is_validated() {
    let app = spawn().await;
    let lb = app.token(LB_OFFICER).await;
    let unit_id = app.unit_id("HN-LB").await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({ "title": "   " }), "input.title", "REQUIRED"),
        (json!({ "title": "a".repeat(201) }), "input.title", "TOO_LONG"),
        (json!({ "body": " \n\t " }), "input.body", "REQUIRED"),
        (json!({ "body": "a".repeat(20_001) }), "input.body", "TOO_LONG"),
        (json!({ "coverImageUrl": "cdn.example.vn/a.jpg" }), "input.coverImageUrl", "INVALID_FORMAT"),
        (json!({ "coverImageUrl": "javascript:alert(1)" }), "input.coverImageUrl", "INVALID_FORMAT"),
        (json!({ "coverImageUrl": "https://" }), "input.coverImageUrl", "INVALID_FORMAT"),
        (
            json!({ "coverImageUrl": "https://cdn.example.vn/a b.jpg" }),
            "input.coverImageUrl",
            "INVALID_FORMAT",
        ),
        (
            json!({ "coverImageUrl": format!("https://cdn.example.vn/{}", "a".repeat(480)) }),
            "input.coverImageUrl",
            "TOO_LONG",
        ),
        (json!({ "campaignId": unit_id }), "input.campaignId", "INVALID_ID"),
        (json!({ "campaignId": global_id("Campaign", Uuid::now_v7()) }), "input.campaignId", "INVALID_ID"),
    ];
    for (extra, field, reason) in &cases {
        let r = create(&app, &lb, "HN-LB", with(input("Bài"), extra.clone())).await;
        assert_eq!(
            (r.code(), r.field(), r.reason()),
            (Some("BAD_USER_INPUT"), Some(*field), Some(*reason)),
            "{extra}: {}",
            r.body
        );
    }
    assert_eq!(post_rows(&app).await, 0);

    // The limits themselves are allowed; an empty cover is none.
    let max = with(
        input(&"a".repeat(200)),
        json!({ "body": "b".repeat(20_000), "coverImageUrl": format!("http://x.vn/{}", "c".repeat(488)) }),
    );
    let p = create(&app, &lb, "HN-LB", max).await.ok()["createPost"].clone();
    let id = s(&p["id"]);
    let p = create(&app, &lb, "HN-LB", with(input("Bài"), json!({ "coverImageUrl": "  " }))).await.ok();
    assert_eq!(p["createPost"]["coverImageUrl"], Value::Null);

    // Edits are checked the same way, and a refused edit changes nothing.
    for (extra, field, reason) in &cases {
        let r = update(&app, &lb, &id, with(input("Bài"), extra.clone())).await;
        assert_eq!(
            (r.code(), r.field(), r.reason()),
            (Some("BAD_USER_INPUT"), Some(*field), Some(*reason)),
            "{extra}: {}",
            r.body
        );
    }
    assert_eq!(view(&app, &lb, &id).await.ok()["node"]["title"], "a".repeat(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_links_a_campaign_run_above_its_unit_or_in_reach() {
    let app = spawn().await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let city_campaign = campaign(&app, "HN", "Phụ nữ Thủ đô").await;
    let ward_campaign = campaign(&app, "HN-LB-BD", "Năm không ba sạch").await;
    let other_ward = campaign(&app, "HN-LB-GT", "Phường Gia Thụy").await;
    let other_district = campaign(&app, "HN-HK", "Hoàn Kiếm").await;

    // Run at or above the post's unit.
    let link = |c: &str| with(input("Có chiến dịch"), json!({ "campaignId": c }));
    let p = create(&app, &leader, "HN-LB-BD-01", link(&city_campaign)).await.ok()["createPost"].clone();
    assert_eq!(p["campaignId"], city_campaign.as_str());
    create(&app, &leader, "HN-LB-BD-01", link(&ward_campaign)).await.ok();
    // In the caller's reach, though not above the unit.
    let q = create(&app, &lb, "HN-LB-BD-01", link(&other_ward)).await.ok()["createPost"].clone();
    assert_eq!(q["campaignId"], other_ward.as_str());
    // Neither: one answer, whether it exists or not.
    create(&app, &leader, "HN-LB-BD-01", link(&other_ward))
        .await
        .expect_reason("BAD_USER_INPUT", "INVALID_ID");
    create(&app, &lb, "HN-LB", link(&other_district)).await.expect_reason("BAD_USER_INPUT", "INVALID_ID");
    let r = update(&app, &leader, &s(&p["id"]), link(&other_district)).await;
    assert_eq!(r.field(), Some("input.campaignId"));
    // An edit can drop the link.
    let e = update(&app, &leader, &s(&p["id"]), input("Không còn chiến dịch")).await.ok();
    assert_eq!(e["updatePost"]["campaignId"], Value::Null);

    let (titles, total) = listed(&app, &lb, json!({ "campaignId": ward_campaign })).await;
    assert_eq!((titles, total), (vec!["Có chiến dịch".to_owned()], 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_a_post_notifies_nobody() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let m = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    app.gql(
        "mutation($t: String!) { registerPushToken(token: $t, platform: ANDROID) }",
        json!({ "t": "device-token-1" }),
        Some(&m),
    )
    .await
    .ok();
    let db = &app.state.db;
    let notes = entities::notification::Entity::find().count(db).await.unwrap();
    let pushes = entities::push_outbox::Entity::find().count(db).await.unwrap();
    post(&app, &city, "HN", "Thông báo toàn thành phố").await;
    post(&app, &app.token(BD1_LEADER).await, "HN-LB-BD-01", "Thông báo chi hội").await;
    assert_eq!(feed(&app, &m).await.len(), 2);
    assert_eq!(entities::notification::Entity::find().count(db).await.unwrap(), notes);
    assert_eq!(entities::push_outbox::Entity::find().count(db).await.unwrap(), pushes);
    let unread = app.gql("{ unreadNotificationCount }", json!({}), Some(&m)).await.ok();
    assert_eq!(unread["unreadNotificationCount"], 0);
}

// ---- the feed ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_sees_posts_of_her_branch_and_every_ancestor_newest_first() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let hk = officer(&app, S, 900, "HN-HK", "UNIT_OFFICER").await.token;
    let m = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let hk_member = member(&app, &city, S, 2, "HN-HK-HB-01").await.token;

    post(&app, &city, "HN", "thành phố").await;
    post(&app, &lb, "HN-LB", "Long Biên").await;
    post(&app, &hk, "HN-HK", "Hoàn Kiếm").await;
    post(&app, &lb, "HN-LB-BD", "Bồ Đề").await;
    post(&app, &lb, "HN-LB-GT", "Gia Thụy").await;
    let branch = post(&app, &leader, "HN-LB-BD-01", "chi hội 01").await;
    post(&app, &lb, "HN-LB-BD-02", "chi hội 02").await;
    post(&app, &lb, "HN-LB-BD-01-T1", "tổ 1").await;
    post(&app, &hk, "HN-HK-HB-01", "chi hội Hàng Bạc").await;

    assert_eq!(feed(&app, &m).await, ["chi hội 01", "Bồ Đề", "Long Biên", "thành phố"]);
    assert_eq!(feed(&app, &hk_member).await, ["chi hội Hàng Bạc", "Hoàn Kiếm", "thành phố"]);
    // Officers read the units at or above their roles (their own reach is the console's list).
    assert_eq!(feed(&app, &lb).await, ["Long Biên", "thành phố"]);
    assert_eq!(feed(&app, &leader).await, ["chi hội 01", "Bồ Đề", "Long Biên", "thành phố"]);
    assert_eq!(feed(&app, &city).await, ["thành phố"]);
    // Neither a member nor an officer: an empty feed.
    assert!(feed(&app, &app.token(MEMBER).await).await.is_empty());
    app.gql(FEED, json!({}), None).await.expect_code("UNAUTHENTICATED");

    // Unpublished posts leave the feed; republished ones come back at their place.
    unpublish(&app, &leader, &branch).await.ok();
    assert_eq!(feed(&app, &m).await, ["Bồ Đề", "Long Biên", "thành phố"]);
    post(&app, &lb, "HN-LB", "Long Biên mới").await;
    republish(&app, &leader, &branch).await.ok();
    assert_eq!(feed(&app, &m).await, ["Long Biên mới", "chi hội 01", "Bồ Đề", "Long Biên", "thành phố"]);

    // A member who leaves reads no branch any more.
    app.gql(
        "mutation($r: String!) { leaveUnion(reason: $r) { status } }",
        json!({ "r": "Chuyển đi nơi khác" }),
        Some(&m),
    )
    .await
    .ok();
    assert!(feed(&app, &m).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_pages_walk_every_post_once_newest_first() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let m = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let codes = ["HN", "HN-LB", "HN-LB-BD", "HN-LB-BD-01", "HN-LB-GT"];
    let mut expected = Vec::new();
    for n in 0..23 {
        let code = codes[n % codes.len()];
        let token = if code == "HN" { &city } else { &lb };
        let title = format!("bài {n:02} {code}");
        post(&app, token, code, &title).await;
        if code != "HN-LB-GT" {
            expected.push(title);
        }
    }
    // Posts published at the same instant are ordered by id (written directly: the API stamps
    // each with its own time).
    let unit = id_of::<UnitId>(&app.unit_id("HN-LB-BD").await);
    let author = id_of::<PersonId>(&app.person_id(LB_OFFICER).await);
    let at = Utc::now();
    for n in 0..3 {
        let title = format!("cùng lúc {n}");
        entities::post::ActiveModel {
            id: Set(Uuid::now_v7()),
            unit_id: Set(unit),
            campaign_id: Set(None),
            title: Set(title.clone()),
            body: Set("x".to_owned()),
            cover_image_url: Set(None),
            status: Set(entities::post::PostStatus::Published),
            published_at: Set(at),
            unpublished_at: Set(None),
            created_by: Set(author),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(&app.state.db)
        .await
        .unwrap();
        expected.push(title);
    }
    expected.reverse();
    assert_eq!(expected.len(), 22);
    for size in [1, 4, 7, 22, 100] {
        assert_eq!(feed_titles(&app, &m, size).await, expected, "pages of {size}");
    }
    // A page ends exactly at the last post: no next page.
    let data = app.gql(FEED, json!({ "first": 22 }), Some(&m)).await.ok();
    assert_eq!(data["feed"]["pageInfo"]["hasNextPage"], false);
    app.gql(FEED, json!({ "first": 101 }), Some(&m)).await.expect_reason("BAD_USER_INPUT", "OUT_OF_RANGE");
    app.gql(FEED, json!({ "after": "not-a-cursor" }), Some(&m))
        .await
        .expect_reason("BAD_USER_INPUT", "INVALID_FORMAT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_shows_a_post_to_its_managers_and_its_readers_only() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let case = app.token(BD_CASE_OFFICER).await;
    let hk = officer(&app, S, 900, "HN-HK", "UNIT_OFFICER").await.token;
    let m = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let other_branch = member(&app, &city, S, 2, "HN-LB-BD-02").await.token;
    let id = post(&app, &leader, "HN-LB-BD-01", "chi hội 01").await;

    // Managers, and readers of the branch (its members, its leader).
    for token in [&city, &lb, &leader, &m] {
        assert_eq!(view(&app, token, &id).await.ok()["node"]["title"], "chi hội 01");
    }
    // Not in their feed: a sibling branch's member, a ward case officer, another district.
    for token in [&other_branch, &case, &hk, &app.token(MEMBER).await] {
        view(&app, token, &id).await.expect_code("NOT_FOUND");
    }
    app.gql(&node_q(), json!({ "id": id }), None).await.expect_code("UNAUTHENTICATED");

    // Unpublished: its managers only.
    unpublish(&app, &lb, &id).await.ok();
    assert_eq!(view(&app, &leader, &id).await.ok()["node"]["status"], "UNPUBLISHED");
    assert_eq!(view(&app, &city, &id).await.ok()["node"]["status"], "UNPUBLISHED");
    view(&app, &m, &id).await.expect_code("NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_lists_the_posts_its_caller_manages() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let sys = app.token(SYSADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let case = app.token(BD_CASE_OFFICER).await;
    let hk = officer(&app, S, 900, "HN-HK", "UNIT_OFFICER").await.token;
    let m = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    post(&app, &city, "HN", "thành phố").await;
    post(&app, &lb, "HN-LB", "Long Biên").await;
    let gone = post(&app, &lb, "HN-LB-BD", "Bồ Đề").await;
    post(&app, &leader, "HN-LB-BD-01", "chi hội 01").await;
    post(&app, &lb, "HN-LB-BD-01-T1", "tổ 1").await;
    post(&app, &hk, "HN-HK", "Hoàn Kiếm").await;
    unpublish(&app, &lb, &gone).await.ok();

    let all = ["Hoàn Kiếm", "tổ 1", "chi hội 01", "Bồ Đề", "Long Biên", "thành phố"].map(String::from);
    assert_eq!(listed(&app, &city, json!({})).await, (all.to_vec(), 6));
    assert_eq!(listed(&app, &sys, json!({})).await, (all.to_vec(), 6));
    let lb_all = ["tổ 1", "chi hội 01", "Bồ Đề", "Long Biên"].map(String::from).to_vec();
    assert_eq!(listed(&app, &lb, json!({})).await, (lb_all, 4));
    assert_eq!(listed(&app, &hk, json!({})).await, (vec!["Hoàn Kiếm".to_owned()], 1));
    // A branch leader manages her branch's posts, not those of the group below it.
    assert_eq!(listed(&app, &leader, json!({})).await, (vec!["chi hội 01".to_owned()], 1));
    // No managing role: nothing.
    assert_eq!(listed(&app, &case, json!({})).await, (vec![], 0));
    assert_eq!(listed(&app, &m, json!({})).await, (vec![], 0));

    // Filters.
    let bd = app.unit_id("HN-LB-BD").await;
    let bd_posts = ["tổ 1", "chi hội 01", "Bồ Đề"].map(String::from).to_vec();
    assert_eq!(listed(&app, &lb, json!({ "unitId": bd })).await, (bd_posts, 3));
    assert_eq!(listed(&app, &lb, json!({ "status": "UNPUBLISHED" })).await, (vec!["Bồ Đề".to_owned()], 1));
    assert_eq!(listed(&app, &city, json!({ "unitId": bd, "status": "PUBLISHED" })).await.1, 2);
    // A filter unit must be in reach.
    let hk_unit = app.unit_id("HN-HK").await;
    posts(&app, &lb, json!({ "unitId": hk_unit })).await.expect_code("NOT_FOUND");
    posts(&app, &case, json!({ "unitId": bd })).await.expect_code("FORBIDDEN");
    posts(&app, &m, json!({ "unitId": bd })).await.expect_code("NOT_FOUND");
    posts(&app, &lb, json!({ "unitId": gone })).await.expect_reason("BAD_USER_INPUT", "INVALID_ID");

    // Pages by cursor.
    let first = app.gql(POSTS, json!({ "f": {}, "first": 4 }), Some(&city)).await.ok();
    assert_eq!(first["posts"]["pageInfo"]["hasNextPage"], true);
    let after = s(&first["posts"]["pageInfo"]["endCursor"]);
    let rest = app.gql(POSTS, json!({ "f": {}, "first": 4, "after": after }), Some(&city)).await.ok();
    let titles: Vec<String> =
        nodes(&first["posts"]).iter().chain(nodes(&rest["posts"]).iter()).map(|n| s(&n["title"])).collect();
    assert_eq!(titles, all.to_vec());
    assert_eq!(rest["posts"]["pageInfo"]["hasNextPage"], false);
}

// ---- statement counts ----

async fn statements_for_feed_page(app: &TestApp, token: &str, n: usize) -> u64 {
    let q = "query($n: Int) { feed(first: $n) { edges { node { id title unit { name } campaignId } } } }";
    let before = app.statements();
    let data = app.gql(q, json!({ "n": n }), Some(token)).await.ok();
    let after = app.statements();
    let rows = nodes(&data["feed"]);
    assert_eq!(rows.len(), n);
    assert!(rows.iter().all(|r| r["unit"]["name"].is_string()));
    after - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_page_issues_a_bounded_number_of_statements() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let m = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let codes = ["HN", "HN-LB", "HN-LB-BD", "HN-LB-BD-01", "HN-HK"];
    // 52 posts in her feed, 13 in another district's.
    for n in 0..65 {
        post(&app, &city, codes[n % codes.len()], &format!("bài {n}")).await;
    }
    let (mut small, mut large) = (u64::MAX, u64::MAX);
    for _ in 0..5 {
        small = small.min(statements_for_feed_page(&app, &m, 5).await);
        large = large.min(statements_for_feed_page(&app, &m, 50).await);
    }
    assert_eq!(small, large, "statements grow with the page size");
    assert!(large <= 3, "{large} statements for one page: her units, the posts, their units");
}
