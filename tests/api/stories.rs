//! Members' stories: posted to her branch with her photos (GPS stripped, the photos then hers no
//! longer to reuse), read by the branch's members and the officers above it and by no one else,
//! newest first, commented and reacted to like posts, deleted by their author with their photos.

use serde_json::{Value, json};

use crate::{
    fixtures::{Member, Series, members},
    helpers::*,
};

const S: Series = Series::STORIES;

const STORY_FIELDS: &str = "id author { displayName } mine unit { code } campaignId body status publishedAt \
    photos { id width height url thumbnailUrl } engagement { commentCount reactions { kind count } myReaction }";

fn post_q() -> String {
    format!("mutation($i: StoryInput!) {{ postStory(input: $i) {{ {STORY_FIELDS} }} }}")
}

fn list_q() -> String {
    format!(
        "query($u: ID, $first: Int, $after: String) {{ stories(unitId: $u, first: $first, after: $after) {{ \
         pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {STORY_FIELDS} }} }} }} }}"
    )
}

const UPLOAD: &str = "mutation($file: Upload!) { uploadPhoto(file: $file) { id } }";

fn png(width: u32, height: u32) -> Vec<u8> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    let pixels = vec![120u8; (width * height * 3) as usize];
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&pixels, width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

async fn photo(app: &TestApp, token: &str) -> String {
    let r = app.gql_upload(UPLOAD, json!({}), png(40, 30), "a.png", "image/png", Some(token)).await.ok();
    s(&r["uploadPhoto"]["id"])
}

async fn story(app: &TestApp, token: &str, input: Value) -> Gql {
    app.gql(&post_q(), json!({ "i": input }), Some(token)).await
}

async fn stories(app: &TestApp, token: &str, unit: Option<&str>) -> Vec<Value> {
    let data = app.gql(&list_q(), json!({ "u": unit, "first": 50 }), Some(token)).await.ok();
    data["stories"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect()
}

async fn branch(app: &TestApp, ns: std::ops::RangeInclusive<u32>, code: &str) -> Vec<Member> {
    let leader = app.token(CITY_ADMIN).await;
    members(app, &leader, S, ns, code).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_posts_a_story_with_photos_to_her_branch() {
    let app = spawn_app().await;
    let bd1 = branch(&app, 1..=2, "HN-LB-BD-01").await;
    let bd2 = branch(&app, 3..=3, "HN-LB-BD-02").await;
    let (an, binh) = (&bd1[0].token, &bd1[1].token);
    let photos = [photo(&app, an).await, photo(&app, an).await];
    let posted = story(&app, an, json!({ "body": "Nhà em phân loại rác tại nguồn.", "photoIds": photos }))
        .await
        .ok()["postStory"]
        .clone();
    assert_eq!(
        (posted["status"].as_str(), posted["unit"]["code"].as_str()),
        (Some("PUBLISHED"), Some("HN-LB-BD-01"))
    );
    let shown: Vec<_> = posted["photos"].as_array().unwrap().iter().map(|p| s(&p["id"])).collect();
    assert_eq!(shown, photos, "in the order given");

    // Her branch's members and the officers above read it; another branch's member does not.
    for reader in
        [binh.clone(), app.token(BD1_LEADER).await, app.token(LB_OFFICER).await, app.token(CITY_ADMIN).await]
    {
        let unit = if reader == *binh { None } else { Some(app.unit_id("HN-LB-BD-01").await) };
        let list = stories(&app, &reader, unit.as_deref()).await;
        assert_eq!(list.len(), 1, "{reader}");
        let url = list[0]["photos"][0]["url"].as_str().unwrap();
        assert_eq!(reqwest::get(app.url(url)).await.unwrap().status(), 200);
    }
    let stranger = &bd2[0].token;
    assert!(stories(&app, stranger, None).await.is_empty());
    app.gql(&list_q(), json!({ "u": app.unit_id("HN-LB-BD-01").await }), Some(stranger))
        .await
        .expect_code("NOT_FOUND");
    app.gql("query($id: ID!) { node(id: $id) { id } }", json!({ "id": posted["id"] }), Some(stranger))
        .await
        .expect_code("NOT_FOUND");
    // A district's officers read its branches' stories by the district.
    assert_eq!(stories(&app, &app.token(LB_OFFICER).await, Some(&app.unit_id("HN-LB").await)).await.len(), 1);

    // A photo taken by a story is not hers to give to another.
    story(&app, an, json!({ "body": "Lần nữa", "photoIds": [photos[0]] }))
        .await
        .expect_reason("BAD_USER_INPUT", "INVALID_ID");
    // Nor is someone else's.
    let hers = photo(&app, binh).await;
    let r = story(&app, an, json!({ "body": "Ảnh của bạn", "photoIds": [hers] }))
        .await
        .expect_reason("BAD_USER_INPUT", "INVALID_ID");
    assert_eq!(r.field(), Some("input.photoIds"));
    let five: Vec<String> = (0..5).map(|_| hers.clone()).collect();
    story(&app, binh, json!({ "body": "Nhiều ảnh", "photoIds": five }))
        .await
        .expect_reason("BAD_USER_INPUT", "TOO_MANY");
    // A campaign she cannot see, or one not running, is not what a story can be about.
    let city = app.token(CITY_ADMIN).await;
    let elsewhere = crate::fixtures::launched_campaign(
        &app,
        &city,
        "HN-HK",
        crate::campaigns::input("Hoàn Kiếm", json!({})),
    )
    .await;
    let r = story(&app, an, json!({ "body": "Về chiến dịch", "campaignId": elsewhere["id"] }))
        .await
        .expect_reason("BAD_USER_INPUT", "INVALID_ID");
    assert_eq!(r.field(), Some("input.campaignId"));
    let lb = app.token(LB_OFFICER).await;
    let ours = crate::fixtures::launched_campaign(
        &app,
        &lb,
        "HN-LB",
        crate::campaigns::input("Ứng xử đẹp", json!({})),
    )
    .await;
    let about = story(&app, an, json!({ "body": "Nhà em thực hiện", "campaignId": ours["id"] })).await.ok()["postStory"].clone();
    assert_eq!(about["campaignId"], ours["id"]);
    // Someone without a branch has none to post to.
    story(&app, &app.token(MEMBER).await, json!({ "body": "Xin chào" })).await.expect_code("FORBIDDEN");

    // Commented and reacted to like a post, by those who read it.
    let comment = "mutation($t: ID!, $b: String!) { addComment(targetId: $t, body: $b) { id } }";
    app.gql(comment, json!({ "t": posted["id"], "b": "Hay quá chị ơi!" }), Some(binh)).await.ok();
    app.gql(comment, json!({ "t": posted["id"], "b": "?" }), Some(stranger)).await.expect_code("NOT_FOUND");
    app.gql(
        "mutation($t: ID!) { react(targetId: $t, kind: CLAP) { myReaction } }",
        json!({ "t": posted["id"] }),
        Some(binh),
    )
    .await
    .ok();
    let list = stories(&app, an, None).await;
    let first = list.iter().find(|s| s["id"] == posted["id"]).unwrap();
    assert_eq!(first["engagement"]["commentCount"], 1);
    assert_eq!(first["engagement"]["reactions"][3], json!({ "kind": "CLAP", "count": 1 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stories_are_newest_first_and_leave_with_their_photos() {
    let app = spawn_app_with(&[("APP_MEDIA_POLL_INTERVAL_MS", "3600000")]).await;
    let bd1 = branch(&app, 4..=4, "HN-LB-BD-01").await;
    let an = &bd1[0].token;
    for i in 0..5 {
        story(&app, an, json!({ "body": format!("Chuyện {i}") })).await.ok();
    }
    let bodies: Vec<Value> = stories(&app, an, None).await.iter().map(|s| s["body"].clone()).collect();
    assert_eq!(bodies, ["Chuyện 4", "Chuyện 3", "Chuyện 2", "Chuyện 1", "Chuyện 0"].map(|b| json!(b)));
    let page = app.gql(&list_q(), json!({ "first": 2 }), Some(an)).await.ok()["stories"].clone();
    let next = app
        .gql(&list_q(), json!({ "first": 2, "after": page["pageInfo"]["endCursor"] }), Some(an))
        .await
        .ok();
    assert_eq!(next["stories"]["edges"][0]["node"]["body"], "Chuyện 2");

    let p = photo(&app, an).await;
    let with_photo =
        story(&app, an, json!({ "body": "Có ảnh", "photoIds": [p] })).await.ok()["postStory"].clone();
    let url = s(&with_photo["photos"][0]["url"]);
    let delete = "mutation($id: ID!) { deleteStory(id: $id) }";
    app.gql(delete, json!({ "id": with_photo["id"] }), Some(&app.token(LB_OFFICER).await))
        .await
        .expect_code("NOT_FOUND");
    assert_eq!(app.gql(delete, json!({ "id": with_photo["id"] }), Some(an)).await.ok()["deleteStory"], true);
    app.gql(delete, json!({ "id": with_photo["id"] }), Some(an)).await.expect_code("NOT_FOUND");
    assert_eq!(stories(&app, an, None).await.len(), 5);
    assert_eq!(reqwest::get(app.url(&url)).await.unwrap().status(), 404, "the photo went with it");
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(entities::media::Entity::find().count(&app.state.db).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_takes_her_stories_and_photos_with_it() {
    let app = spawn_app().await;
    let bd1 = branch(&app, 5..=6, "HN-LB-BD-01").await;
    let (leaving, staying) = (&bd1[0].token, &bd1[1].token);
    let attached = photo(&app, leaving).await;
    photo(&app, leaving).await;
    let posted = story(&app, leaving, json!({ "body": "Nhà em ở ngõ 5", "photoIds": [attached] })).await.ok()
        ["postStory"]
        .clone();
    let url = s(&posted["photos"][0]["url"]);
    story(&app, staying, json!({ "body": "Của em" })).await.ok();
    let delete = "mutation($p: String!) { deleteMyAccount(password: $p) }";
    app.gql(delete, json!({ "p": crate::fixtures::PASSWORD }), Some(leaving)).await.ok();
    let left: Vec<Value> = stories(&app, staying, None).await.iter().map(|s| s["body"].clone()).collect();
    assert_eq!(left, [json!("Của em")]);
    assert_eq!(reqwest::get(app.url(&url)).await.unwrap().status(), 404);
    use sea_orm::EntityTrait;
    let media = entities::media::Entity::find().all(&app.state.db).await.unwrap();
    assert!(media.is_empty(), "her attached and pending photos are gone: {media:?}");
    let texts: Vec<String> = entities::story::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.body)
        .collect();
    assert!(!texts.iter().any(|t| t.contains("ngõ 5")));
}
