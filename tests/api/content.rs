//! Comments and reactions: who may write them (whoever sees the target), one level of replies,
//! the edit window, deletion, counters kept with the writes (exact under concurrent writers),
//! keyset pages with a bounded number of statements, and the reply notification.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::{
    fixtures::{Member, Series, members},
    helpers::*,
};

const S: Series = Series::CONTENT;

const COMMENT_FIELDS: &str = "id targetId parentId author { displayName } mine body status moderationNote createdAt \
    editedAt editableUntil replyCount engagement { commentCount reactions { kind count } myReaction }";

fn add_q() -> String {
    format!(
        "mutation($t: ID!, $p: ID, $b: String!) {{ addComment(targetId: $t, parentId: $p, body: $b) {{ {COMMENT_FIELDS} }} }}"
    )
}

fn list_q() -> String {
    format!(
        "query($t: ID!, $first: Int, $after: String) {{ comments(targetId: $t, first: $first, after: $after) {{ \
         totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {COMMENT_FIELDS} }} }} }} }}"
    )
}

fn replies_q() -> String {
    format!(
        "query($c: ID!, $first: Int) {{ commentReplies(commentId: $c, first: $first) {{ totalCount edges {{ node {{ {COMMENT_FIELDS} }} }} }} }}"
    )
}

const REACT: &str = "mutation($t: ID!, $k: ReactionKind!) { react(targetId: $t, kind: $k) { reactions { kind count } myReaction } }";
const UNREACT: &str = "mutation($t: ID!) { unreact(targetId: $t) { reactions { kind count } myReaction } }";
const POST_ENGAGEMENT: &str = "query($id: ID!) { node(id: $id) { ... on Post { engagement { commentCount reactions { kind count } myReaction } } } }";

/// A post published by Long Biên's officer to its district; its id.
async fn district_post(app: &TestApp, code: &str, title: &str) -> String {
    let token = app.token(if code == "HN-LB" { LB_OFFICER } else { CITY_ADMIN }).await;
    let unit = app.unit_id(code).await;
    let data = app
        .gql(
            "mutation($u: ID!, $i: PostInput!) { createPost(unitId: $u, input: $i) { id status } }",
            json!({ "u": unit, "i": { "title": title, "body": "Nội dung.", "coverImageUrl": null } }),
            Some(&token),
        )
        .await
        .ok();
    s(&data["createPost"]["id"])
}

async fn comment(app: &TestApp, token: &str, target: &str, parent: Option<&str>, body: &str) -> Gql {
    app.gql(&add_q(), json!({ "t": target, "p": parent, "b": body }), Some(token)).await
}

async fn commented(app: &TestApp, token: &str, target: &str, parent: Option<&str>, body: &str) -> Value {
    comment(app, token, target, parent, body).await.ok()["addComment"].clone()
}

async fn thread(app: &TestApp, token: &str, target: &str, first: i32, after: Option<&str>) -> Value {
    app.gql(&list_q(), json!({ "t": target, "first": first, "after": after }), Some(token)).await.ok()["comments"].clone()
}

fn bodies(conn: &Value) -> Vec<Value> {
    conn["edges"].as_array().unwrap().iter().map(|e| e["node"]["body"].clone()).collect()
}

async fn engagement(app: &TestApp, token: &str, post: &str) -> Value {
    app.gql(POST_ENGAGEMENT, json!({ "id": post }), Some(token)).await.ok()["node"]["engagement"].clone()
}

async fn branch_members(app: &TestApp, ns: std::ops::RangeInclusive<u32>, code: &str) -> Vec<Member> {
    let leader = app.token(if code.starts_with("HN-LB-BD-01") { BD1_LEADER } else { CITY_ADMIN }).await;
    members(app, &leader, S, ns, code).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_comment_on_what_they_see_and_reply_one_level() {
    let app = spawn_app().await;
    let people = branch_members(&app, 1..=2, "HN-LB-BD-01").await;
    let (an, binh) = (&people[0].token, &people[1].token);
    let post = district_post(&app, "HN-LB", "Ngày hội phụ nữ Long Biên").await;

    let first = commented(&app, an, &post, None, "  Chị em Bồ Đề sẽ tham gia!\n\n\n\nHẹn gặp nhé. ").await;
    assert_eq!(first["body"], "Chị em Bồ Đề sẽ tham gia!\n\nHẹn gặp nhé.");
    assert_eq!(
        (first["status"].as_str(), first["mine"].as_bool(), first["targetId"].as_str()),
        (Some("PUBLISHED"), Some(true), Some(post.as_str()))
    );
    assert!(
        first["author"]["displayName"].as_str().is_some_and(|n| !n.contains(' ')),
        "a given name only: {}",
        first["author"]
    );
    let reply = commented(&app, binh, &post, first["id"].as_str(), "Mình cũng đi.").await;
    assert_eq!(reply["parentId"], first["id"]);
    // One level: a reply to a reply is refused.
    comment(&app, an, &post, reply["id"].as_str(), "Tuyệt!")
        .await
        .expect_reason("BAD_USER_INPUT", "INVALID_ID");
    commented(&app, an, &post, None, "Cảm ơn Hội quận.").await;

    let list = thread(&app, binh, &post, 10, None).await;
    assert_eq!(list["totalCount"], 2);
    assert_eq!(
        bodies(&list),
        [json!("Chị em Bồ Đề sẽ tham gia!\n\nHẹn gặp nhé."), json!("Cảm ơn Hội quận.")]
    );
    let top = &list["edges"][0]["node"];
    assert_eq!((top["replyCount"].as_i64(), top["mine"].as_bool()), (Some(1), Some(false)));
    assert!(top["editableUntil"].is_null(), "only the author may edit");
    let replies =
        app.gql(&replies_q(), json!({ "c": first["id"] }), Some(an)).await.ok()["commentReplies"].clone();
    assert_eq!(bodies(&replies), [json!("Mình cũng đi.")]);
    assert_eq!(replies["totalCount"], 1);
    assert_eq!(top["engagement"]["commentCount"], 1, "a comment's count is its replies");
    assert_eq!(engagement(&app, an, &post).await["commentCount"], 3);

    // The reply notified the comment's author, neutrally; her own comments notify no one.
    let notes = app.gql("{ notifications { edges { node { kind link } } } }", json!({}), Some(an)).await.ok();
    let kinds: Vec<_> =
        notes["notifications"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect();
    assert_eq!(kinds, [json!({ "kind": "COMMENT_REPLIED", "link": first["id"] })]);

    // Another district's post is not hers to read, so not to comment on either.
    let hoan_kiem = district_post(&app, "HN-HK", "Tin Hoàn Kiếm").await;
    comment(&app, an, &hoan_kiem, None, "Xin chào").await.expect_code("NOT_FOUND");
    app.gql(&list_q(), json!({ "t": hoan_kiem }), Some(an)).await.expect_code("NOT_FOUND");
    app.gql(REACT, json!({ "t": hoan_kiem, "k": "LIKE" }), Some(an)).await.expect_code("NOT_FOUND");
    app.gql(&add_q(), json!({ "t": post, "b": "x" }), None).await.expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_are_checked_and_closed_targets_take_none() {
    let app = spawn_app().await;
    let member = &branch_members(&app, 3..=3, "HN-LB-BD-01").await[0].token;
    let post = district_post(&app, "HN-LB", "Kiểm tra").await;
    let bad = |r: Gql, field: &str, reason: &str| {
        let r = r.expect_reason("BAD_USER_INPUT", reason);
        assert_eq!(r.field(), Some(field));
    };
    bad(comment(&app, member, &post, None, " \n\t ").await, "body", "REQUIRED");
    bad(comment(&app, member, &post, None, &"á".repeat(2001)).await, "body", "TOO_LONG");
    comment(&app, member, &post, None, &"á".repeat(2000)).await.ok();
    bad(comment(&app, member, &app.unit_id("HN-LB").await, None, "x").await, "targetId", "INVALID_ID");
    bad(comment(&app, member, "not-an-id", None, "x").await, "targetId", "INVALID_ID");
    bad(
        comment(&app, member, &post, Some(&global_id("Comment", uuid::Uuid::now_v7())), "x").await,
        "parentId",
        "INVALID_ID",
    );

    // A post taken down takes no comments (its managers still see it).
    let lb = app.token(LB_OFFICER).await;
    app.gql("mutation($id: ID!) { unpublishPost(id: $id) { status } }", json!({ "id": post }), Some(&lb))
        .await
        .ok();
    comment(&app, &lb, &post, None, "Đã gỡ").await.expect_reason("CONFLICT", "WRONG_STATUS");
    comment(&app, member, &post, None, "x").await.expect_code("NOT_FOUND");

    // A launched campaign takes comments from the members of its subtree.
    let campaign = crate::fixtures::launched_campaign(
        &app,
        &lb,
        "HN-LB",
        crate::campaigns::input("Ứng xử đẹp", json!({})),
    )
    .await;
    let c = commented(&app, member, campaign["id"].as_str().unwrap(), None, "Nhà em đăng ký!").await;
    assert_eq!(c["targetId"], campaign["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authors_edit_within_the_window_and_delete_their_own() {
    let app = spawn_app_with(&[("APP_COMMENT_EDIT_WINDOW_SECS", "2")]).await;
    let people = branch_members(&app, 4..=5, "HN-LB-BD-01").await;
    let (an, binh) = (&people[0].token, &people[1].token);
    let post = district_post(&app, "HN-LB", "Sửa và xoá").await;
    let c = commented(&app, an, &post, None, "Viết vội").await;
    let edit = "mutation($id: ID!, $b: String!) { editComment(id: $id, body: $b) { body editedAt } }";
    let edited = app.gql(edit, json!({ "id": c["id"], "b": "Viết lại cho rõ" }), Some(an)).await.ok();
    assert_eq!(edited["editComment"]["body"], "Viết lại cho rõ");
    assert!(edited["editComment"]["editedAt"].is_string());
    // Someone else's is not hers to edit or delete.
    app.gql(edit, json!({ "id": c["id"], "b": "x" }), Some(binh)).await.expect_code("NOT_FOUND");
    let delete = "mutation($id: ID!) { deleteComment(id: $id) }";
    app.gql(delete, json!({ "id": c["id"] }), Some(binh)).await.expect_code("NOT_FOUND");
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    app.gql(edit, json!({ "id": c["id"], "b": "Quá muộn" }), Some(an))
        .await
        .expect_reason("CONFLICT", "EDIT_WINDOW_CLOSED");

    // Deleting: a comment with a reply stays as an empty placeholder; one without leaves.
    let reply = commented(&app, binh, &post, c["id"].as_str(), "Trả lời").await;
    let lone = commented(&app, binh, &post, None, "Một mình").await;
    assert_eq!(engagement(&app, an, &post).await["commentCount"], 3);
    assert_eq!(app.gql(delete, json!({ "id": c["id"] }), Some(an)).await.ok()["deleteComment"], true);
    app.gql(delete, json!({ "id": c["id"] }), Some(an)).await.expect_code("NOT_FOUND");
    app.gql(delete, json!({ "id": lone["id"] }), Some(binh)).await.ok();
    let list = thread(&app, an, &post, 10, None).await;
    assert_eq!(list["totalCount"], 1);
    let placeholder = &list["edges"][0]["node"];
    assert_eq!((placeholder["status"].as_str(), placeholder["body"].is_null()), (Some("REMOVED"), true));
    assert_eq!(engagement(&app, an, &post).await["commentCount"], 1, "only the reply is left");
    // A placeholder takes no reaction and no reply, and names no one.
    app.gql(REACT, json!({ "t": c["id"], "k": "LIKE" }), Some(binh))
        .await
        .expect_reason("CONFLICT", "WRONG_STATUS");
    comment(&app, binh, &post, c["id"].as_str(), "Còn ai không?")
        .await
        .expect_reason("BAD_USER_INPUT", "INVALID_ID");
    assert_eq!(placeholder["author"]["displayName"], "Hội viên");
    // Deleting the reply too takes the placeholder away.
    app.gql(delete, json!({ "id": reply["id"] }), Some(binh)).await.ok();
    assert_eq!(thread(&app, an, &post, 10, None).await["totalCount"], 0);
    assert_eq!(engagement(&app, an, &post).await["commentCount"], 0);
    // The stored text is gone, not hidden.
    use sea_orm::EntityTrait;
    let rows = entities::comment::Entity::find().all(&app.state.db).await.unwrap();
    assert!(rows.iter().all(|r| r.body.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_oldest_first_by_keyset_with_a_bounded_number_of_statements() {
    let app = spawn_app().await;
    let people = branch_members(&app, 6..=8, "HN-LB-BD-01").await;
    let small = district_post(&app, "HN-LB", "Ít bình luận").await;
    let big = district_post(&app, "HN-LB", "Nhiều bình luận").await;
    for i in 0..3 {
        commented(&app, &people[i % 3].token, &small, None, &format!("Ý kiến {i}")).await;
    }
    for i in 0..25 {
        let c = commented(&app, &people[i % 3].token, &big, None, &format!("Ý kiến {i:02}")).await;
        app.gql(REACT, json!({ "t": c["id"], "k": "LOVE" }), Some(&people[(i + 1) % 3].token)).await.ok();
    }
    let reader = &people[0].token;
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = thread(&app, reader, &big, 10, after.as_deref()).await;
        seen.extend(bodies(&page));
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    let expected: Vec<Value> = (0..25).map(|i| json!(format!("Ý kiến {i:02}"))).collect();
    assert_eq!(seen, expected);

    // Authors, counters and the reader's own reactions for the whole page: the same statements
    // for 3 comments as for 25.
    let before = app.statements();
    thread(&app, reader, &small, 25, None).await;
    let few = app.statements() - before;
    let before = app.statements();
    let page = thread(&app, reader, &big, 25, None).await;
    let many = app.statements() - before;
    assert_eq!(few, many, "statements grow with the page");
    assert!(many <= 10, "{many} statements for a page of comments");
    let loved = page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["engagement"]["myReaction"] == "LOVE")
        .count();
    assert_eq!(loved, 8, "the reader's own reactions, read with the page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reaction_counts_once_per_person_and_switches_kinds() {
    let app = spawn_app().await;
    let people = branch_members(&app, 9..=18, "HN-LB-BD-01").await;
    let post = district_post(&app, "HN-LB", "Thả tim").await;
    let an = &people[0].token;
    let r = app.gql(REACT, json!({ "t": post, "k": "LIKE" }), Some(an)).await.ok()["react"].clone();
    assert_eq!(r["myReaction"], "LIKE");
    let r = app.gql(REACT, json!({ "t": post, "k": "LOVE" }), Some(an)).await.ok()["react"].clone();
    assert_eq!(
        r["reactions"],
        json!([
            { "kind": "LIKE", "count": 0 }, { "kind": "LOVE", "count": 1 }, { "kind": "CARE", "count": 0 }, { "kind": "CLAP", "count": 0 }
        ])
    );
    // Ten taps at once by one person count once; ten people at once count ten.
    join_all((0..10).map(|_| app.gql(REACT, json!({ "t": post, "k": "CLAP" }), Some(an))))
        .await
        .into_iter()
        .for_each(|r| {
            r.ok();
        });
    join_all(people[1..].iter().map(|p| app.gql(REACT, json!({ "t": post, "k": "CARE" }), Some(&p.token))))
        .await
        .into_iter()
        .for_each(|r| {
            r.ok();
        });
    let e = engagement(&app, an, &post).await;
    assert_eq!(
        e["reactions"],
        json!([
            { "kind": "LIKE", "count": 0 }, { "kind": "LOVE", "count": 0 }, { "kind": "CARE", "count": 9 }, { "kind": "CLAP", "count": 1 }
        ])
    );
    assert_eq!(e["myReaction"], "CLAP");
    // Taking it back, twice at once, counts once.
    join_all((0..5).map(|_| app.gql(UNREACT, json!({ "t": post }), Some(an)))).await.into_iter().for_each(
        |r| {
            r.ok();
        },
    );
    let e = engagement(&app, an, &post).await;
    assert_eq!((e["reactions"][3]["count"].as_i64(), e["myReaction"].is_null()), (Some(0), true));
    // The counter agrees with the rows.
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(entities::reaction::Entity::find().count(&app.state.db).await.unwrap(), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_takes_its_comments_and_reactions_out_of_every_count() {
    let app = spawn_app().await;
    let people = branch_members(&app, 19..=20, "HN-LB-BD-01").await;
    let (leaving, staying) = (&people[0].token, &people[1].token);
    let post = district_post(&app, "HN-LB", "Tạm biệt").await;
    let hers = commented(&app, leaving, &post, None, "Nhà em trồng rau sạch").await;
    commented(&app, staying, &post, hers["id"].as_str(), "Chào chị").await;
    commented(&app, leaving, &post, None, "Lời cuối").await;
    app.gql(REACT, json!({ "t": post, "k": "LOVE" }), Some(leaving)).await.ok();
    app.gql(REACT, json!({ "t": post, "k": "LOVE" }), Some(staying)).await.ok();
    let delete = "mutation($p: String!) { deleteMyAccount(password: $p) }";
    app.gql(delete, json!({ "p": crate::fixtures::PASSWORD }), Some(leaving)).await.ok();

    let e = engagement(&app, staying, &post).await;
    assert_eq!(e["commentCount"], 1, "only the other member's reply");
    assert_eq!(e["reactions"][1], json!({ "kind": "LOVE", "count": 1 }));
    let list = thread(&app, staying, &post, 10, None).await;
    // Her comment with a reply stays as an empty placeholder; the other one is gone.
    assert_eq!(list["totalCount"], 1);
    assert!(list["edges"][0]["node"]["body"].is_null());
    use sea_orm::EntityTrait;
    let texts: Vec<String> = entities::comment::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.body)
        .collect();
    assert!(!texts.iter().any(|t| t.contains("rau sạch") || t.contains("Lời cuối")), "{texts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_deletes_and_replies_keep_the_counts_exact() {
    let app = spawn_app().await;
    let people = branch_members(&app, 21..=22, "HN-LB-BD-01").await;
    let (an, binh) = (&people[0].token, &people[1].token);
    let post = district_post(&app, "HN-LB", "Đồng thời").await;
    let delete = "mutation($id: ID!) { deleteComment(id: $id) }";
    // Five deletes of one comment at once: one succeeds, the count drops by one.
    let c = commented(&app, an, &post, None, "Xoá năm lần").await;
    commented(&app, binh, &post, None, "Ở lại").await;
    let results = join_all((0..5).map(|_| app.gql(delete, json!({ "id": c["id"] }), Some(an)))).await;
    let done = results.iter().filter(|r| r.body["data"]["deleteComment"] == true).count();
    assert_eq!(done, 1, "{:?}", results.iter().map(|r| r.code()).collect::<Vec<_>>());
    assert!(
        results
            .iter()
            .filter(|r| r.body["data"]["deleteComment"] != true)
            .all(|r| r.code() == Some("NOT_FOUND"))
    );
    assert_eq!(engagement(&app, an, &post).await["commentCount"], 1);
    // Replies racing their parent's deletion: each lands before it (and keeps the placeholder)
    // or is refused; the counts agree with the rows either way.
    let parent = commented(&app, an, &post, None, "Sắp xoá").await;
    let texts: Vec<String> = (0..5).map(|i| format!("Trả lời {i}")).collect();
    let replying = texts.iter().map(|t| comment(&app, binh, &post, parent["id"].as_str(), t));
    let (replies, deleted) =
        tokio::join!(join_all(replying), app.gql(delete, json!({ "id": parent["id"] }), Some(an)));
    deleted.ok();
    let landed = replies.iter().filter(|r| r.body["data"]["addComment"].is_object()).count();
    assert!(
        replies
            .iter()
            .filter(|r| !r.body["data"]["addComment"].is_object())
            .all(|r| r.code() == Some("BAD_USER_INPUT"))
    );
    assert_eq!(engagement(&app, an, &post).await["commentCount"], 1 + landed as i64);
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let parent_row = entities::comment::Entity::find_by_id(uuid_of(parent["id"].as_str().unwrap()))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parent_row.reply_count as usize, landed);
    let published = entities::comment::Entity::find()
        .filter(entities::comment::Column::Status.eq("PUBLISHED"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(published.len(), 1 + landed);
}
