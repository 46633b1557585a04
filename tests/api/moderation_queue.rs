//! The moderators' queue: reach, order, filters and totals; decisions one by one and in bulk; mutes;
//! appeals one level up; live queue events.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::{
    fixtures::{Member, Series, members, violence_report},
    helpers::*,
    ws::{next_event, subscribe},
};

const S: Series = Series::MODERATION_QUEUE;

/// A phone number: the automatic check holds any text with it (cause `PERSONAL_DATA`).
const PHONE: &str = "0912 345 678";

const QUEUE: &str = "query($u: ID, $st: ModerationCaseStatus, $c: ModerationCause, $k: ModeratedContentKind, \
    $first: Int, $after: String) { moderationQueue(unitId: $u, status: $st, cause: $c, contentKind: $k, \
    first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { \
    id cause contentKind status unit { code } comment { id } story { id } appealOf { id } statement } } } }";

/// The page the statement count is measured on: every nested field a console reads.
const RICH_QUEUE: &str = "query($first: Int) { moderationQueue(first: $first) { totalCount edges { node { \
    id comment { id body } story { id } flags { reason count } unit { code } appeal { id } text contentStatus } } } }";

const DECIDE: &str = "mutation($ids: [ID!]!, $d: ModerationDecisionInput!) { decideModeration(caseIds: $ids, decision: $d) { \
    id ok error { code reason field } item { id status decision sanction muteDays reason contentStatus } } }";

const APPEAL: &str = "mutation($c: ID!, $s: String!) { appealModeration(caseId: $c, statement: $s) { \
    id cause status statement unit { code } appealOf { id } } }";

const MINE: &str = "{ myModerationCases(first: 100) { edges { node { id cause status decision sanction muteDays \
    reason canAppeal contentStatus comment { id } story { id } appeal { id } } } } }";

const MUTED_UNTIL: &str = "{ myMutedUntil }";

const ADD_COMMENT: &str =
    "mutation($t: ID!, $b: String!) { addComment(targetId: $t, body: $b) { id status } }";

const POST_STORY: &str = "mutation($i: StoryInput!) { postStory(input: $i) { id status } }";

const FLAG: &str = "mutation($c: ID!, $r: FlagReason!) { flagContent(contentId: $c, reason: $r) }";

const COMMENTS: &str = "query($t: ID!) { comments(targetId: $t, first: 100) { totalCount edges { node { \
    id status body moderationNote } } } }";

const COMMENT_COUNT: &str =
    "query($id: ID!) { node(id: $id) { ... on Post { engagement { commentCount } } } }";

const TRAIL: &str = "query($u: ID!) { auditTrail(unitId: $u, area: MODERATION, first: 100) { edges { node { \
    actor { id } actorRole area action unit { code } subjectId } } } }";

const EVENTS: &str =
    "subscription { moderationQueueEvents { event case { id cause unit { code } comment { id } } } }";

// ---- helpers ----

/// Members `ns` of this module's series in branch `code`, enrolled by the city's admin.
async fn branch(app: &TestApp, ns: std::ops::RangeInclusive<u32>, code: &str) -> Vec<Member> {
    let city = app.token(CITY_ADMIN).await;
    members(app, &city, S, ns, code).await
}

/// A post of Long Biên's officer to the district (its members read and comment on it); its id.
async fn district_post(app: &TestApp) -> String {
    let lb = app.token(LB_OFFICER).await;
    let unit = app.unit_id("HN-LB").await;
    let data = app
        .gql(
            "mutation($u: ID!, $i: PostInput!) { createPost(unitId: $u, input: $i) { id } }",
            json!({ "u": unit, "i": { "title": "Sinh hoạt chi hội", "body": "Nội dung.", "coverImageUrl": null } }),
            Some(&lb),
        )
        .await
        .ok();
    s(&data["createPost"]["id"])
}

/// `token` comments `body` on `target`: the comment (`id status`).
async fn comment(app: &TestApp, token: &str, target: &str, body: &str) -> Value {
    app.gql(ADD_COMMENT, json!({ "t": target, "b": body }), Some(token)).await.ok()["addComment"].clone()
}

/// A comment the automatic check holds (cause `PERSONAL_DATA`); its id.
async fn held_comment(app: &TestApp, token: &str, target: &str, body: &str) -> String {
    let c = comment(app, token, target, &format!("{body} {PHONE}")).await;
    assert_eq!(c["status"], "PENDING", "{c}");
    s(&c["id"])
}

/// A comment published as written; its id.
async fn published_comment(app: &TestApp, token: &str, target: &str, body: &str) -> String {
    let c = comment(app, token, target, body).await;
    assert_eq!(c["status"], "PUBLISHED", "{c}");
    s(&c["id"])
}

/// A story `token` posts with `body`: (id, status).
async fn story(app: &TestApp, token: &str, body: &str) -> (String, String) {
    let st =
        app.gql(POST_STORY, json!({ "i": { "body": body } }), Some(token)).await.ok()["postStory"].clone();
    (s(&st["id"]), s(&st["status"]))
}

/// `token` flags `item`: its status after the flag.
async fn flag(app: &TestApp, token: &str, item: &str) -> String {
    s(&app.gql(FLAG, json!({ "c": item, "r": "SPAM" }), Some(token)).await.ok()["flagContent"])
}

/// The author's cases (`myModerationCases`), newest first.
async fn my_cases(app: &TestApp, token: &str) -> Vec<Value> {
    nodes(&app.gql(MINE, json!({}), Some(token)).await.ok()["myModerationCases"])
}

/// The item id (comment or story) a case is about.
fn item_of(case: &Value) -> String {
    if case["comment"].is_object() { s(&case["comment"]["id"]) } else { s(&case["story"]["id"]) }
}

/// The author's case about `item` with `cause`, as she reads it.
async fn case_about(app: &TestApp, author: &str, item: &str, cause: &str) -> Value {
    let found: Vec<Value> = my_cases(app, author)
        .await
        .into_iter()
        .filter(|c| item_of(c) == item && c["cause"] == cause)
        .collect();
    assert_eq!(found.len(), 1, "one {cause} case about {item}: {found:?}");
    found[0].clone()
}

/// The id of the open (not appeal) case about `item`, as its author finds it.
async fn open_case(app: &TestApp, author: &str, item: &str) -> String {
    let found: Vec<Value> = my_cases(app, author)
        .await
        .into_iter()
        .filter(|c| item_of(c) == item && c["status"] == "OPEN" && c["cause"] != "APPEAL")
        .collect();
    assert_eq!(found.len(), 1, "one open case about {item}: {found:?}");
    s(&found[0]["id"])
}

/// `moderationQueue` as `token` with `vars`: the raw answer.
async fn try_queue(app: &TestApp, token: &str, vars: Value) -> Gql {
    app.gql(QUEUE, vars, Some(token)).await
}

/// `moderationQueue` as `token` with `vars` (first 100 unless told): the connection.
async fn queue(app: &TestApp, token: &str, mut vars: Value) -> Value {
    if vars.get("first").is_none() {
        vars["first"] = json!(100);
    }
    try_queue(app, token, vars).await.ok()["moderationQueue"].clone()
}

/// The case ids of the queue as `token` reads it with `vars`; asserts `totalCount` matches.
async fn queue_ids(app: &TestApp, token: &str, vars: Value) -> Vec<String> {
    let conn = queue(app, token, vars).await;
    let ids: Vec<String> = nodes(&conn).iter().map(|n| s(&n["id"])).collect();
    assert_eq!(conn["totalCount"], ids.len(), "totalCount matches: {conn}");
    assert_eq!(conn["pageInfo"]["hasNextPage"], false);
    ids
}

/// `decideModeration` of `ids` with `decision`, as `token`: the raw answer.
async fn decide(app: &TestApp, token: &str, ids: &[&str], decision: Value) -> Gql {
    app.gql(DECIDE, json!({ "ids": ids, "d": decision }), Some(token)).await
}

/// Decides one case, which must succeed: the case as it now stands.
async fn decided(app: &TestApp, token: &str, id: &str, decision: Value) -> Value {
    let data = decide(app, token, &[id], decision).await.ok();
    let outcome = &data["decideModeration"][0];
    assert_eq!(outcome["ok"], true, "{outcome}");
    outcome["item"].clone()
}

/// The one outcome of deciding one case: (code, reason) of its error, or `None` when done.
async fn refusal(app: &TestApp, token: &str, id: &str, decision: Value) -> Option<(String, String)> {
    let data = decide(app, token, &[id], decision).await.ok();
    let outcome = &data["decideModeration"][0];
    if outcome["ok"] == true {
        return None;
    }
    Some((s(&outcome["error"]["code"]), outcome["error"]["reason"].as_str().unwrap_or("").to_owned()))
}

fn hide(reason: &str) -> Value {
    json!({ "action": "HIDE", "reason": reason })
}

fn approve() -> Value {
    json!({ "action": "APPROVE" })
}

/// (kind, link) of every notification of `token`, newest first.
async fn notices(app: &TestApp, token: &str) -> Vec<(String, Option<String>)> {
    let data = app
        .gql("{ notifications(first: 100) { edges { node { kind link } } } }", json!({}), Some(token))
        .await
        .ok();
    nodes(&data["notifications"])
        .iter()
        .map(|n| (s(&n["kind"]), n["link"].as_str().map(str::to_owned)))
        .collect()
}

/// The comments of `post` as `token` reads them.
async fn thread(app: &TestApp, token: &str, post: &str) -> Vec<Value> {
    nodes(&app.gql(COMMENTS, json!({ "t": post }), Some(token)).await.ok()["comments"])
}

/// The comment `id` of `post` as `token` reads it, if she does.
async fn seen(app: &TestApp, token: &str, post: &str, id: &str) -> Option<Value> {
    thread(app, token, post).await.into_iter().find(|c| c["id"] == id)
}

/// The post's count of published comments.
async fn comment_count(app: &TestApp, token: &str, post: &str) -> i64 {
    let data = app.gql(COMMENT_COUNT, json!({ "id": post }), Some(token)).await.ok();
    data["node"]["engagement"]["commentCount"].as_i64().unwrap()
}

/// The city's moderation trail, newest first.
async fn trail(app: &TestApp) -> Vec<Value> {
    let city = app.token(CITY_ADMIN).await;
    let data = app.gql(TRAIL, json!({ "u": app.unit_id("HN").await }), Some(&city)).await.ok();
    nodes(&data["auditTrail"])
}

/// The trail's entries about case `id`.
fn entries_about<'a>(entries: &'a [Value], id: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["subjectId"] == id).collect()
}

/// `myMutedUntil` of `token`.
async fn muted_until(app: &TestApp, token: &str) -> Option<DateTime<Utc>> {
    let data = app.gql(MUTED_UNTIL, json!({}), Some(token)).await.ok();
    data["myMutedUntil"].as_str().map(|t| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc))
}

fn png() -> Vec<u8> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    let pixels = vec![90u8; 20 * 20 * 3];
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&pixels, 20, 20, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// The next queue event of a console: (event, case id, commented item id).
async fn next_queue_event(ws: &mut crate::ws::Ws) -> (String, String, Option<String>) {
    let msg = next_event(ws).await;
    assert_eq!(msg["type"], "next", "{msg}");
    let e = &msg["payload"]["data"]["moderationQueueEvents"];
    (s(&e["event"]), s(&e["case"]["id"]), e["case"]["comment"]["id"].as_str().map(str::to_owned))
}

// ---- tests ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_is_the_moderators_reach_oldest_first() {
    let app = spawn_app().await;
    let bd1 = branch(&app, 1..=2, "HN-LB-BD-01").await;
    let bd2 = branch(&app, 3..=3, "HN-LB-BD-02").await;
    let hk = branch(&app, 4..=4, "HN-HK-HB-01").await;
    let (an, binh, chi, dung) = (&bd1[0].token, &bd1[1].token, &bd2[0].token, &hk[0].token);
    let post = district_post(&app).await;

    // Oldest first: a (BD-01 comment, personal data), b (BD-02 comment, personal data),
    // c (BD-01 story, offensive words), d (Hoàn Kiếm story, personal data), e (BD-02 comment
    // flagged once, still published).
    let a = held_comment(&app, an, &post, "Gọi chị nhé").await;
    let b = held_comment(&app, chi, &post, "Số của em").await;
    let (c, c_status) = story(&app, an, "Hôm nay mệt vcl").await;
    assert_eq!(c_status, "PENDING");
    let (d, d_status) = story(&app, dung, &format!("Liên hệ {PHONE}")).await;
    assert_eq!(d_status, "PENDING");
    let e = published_comment(&app, chi, &post, "Mua hàng giảm giá ở đây").await;
    assert_eq!(flag(&app, binh, &e).await, "PUBLISHED", "one flag opens a case, below the threshold");
    let [ca, cb, cc, cd, ce] = [
        open_case(&app, an, &a).await,
        open_case(&app, chi, &b).await,
        open_case(&app, an, &c).await,
        open_case(&app, dung, &d).await,
        open_case(&app, chi, &e).await,
    ];

    let leader = app.token(BD1_LEADER).await;
    let lb = app.token(LB_OFFICER).await;
    let city = app.token(CITY_ADMIN).await;
    let bd02 = app.unit_id("HN-LB-BD-02").await;

    // The branch leader: her branch's items only, oldest first, as she reads them.
    let mine = queue(&app, &leader, json!({})).await;
    let got: Vec<(String, String, String, String)> = nodes(&mine)
        .iter()
        .map(|n| (s(&n["id"]), s(&n["cause"]), s(&n["contentKind"]), s(&n["unit"]["code"])))
        .collect();
    let bd =
        |id: &str, cause: &str, kind: &str| (id.to_owned(), cause.into(), kind.into(), "HN-LB-BD-01".into());
    assert_eq!(got, [bd(&ca, "PERSONAL_DATA", "COMMENT"), bd(&cc, "OFFENSIVE_WORDS", "STORY")]);
    assert_eq!(mine["totalCount"], 2);
    assert_eq!(nodes(&mine).iter().map(item_of).collect::<Vec<_>>(), [a.clone(), c.clone()]);
    // The district's officer: both branches, oldest first across them; not Hoàn Kiếm.
    assert_eq!(queue_ids(&app, &lb, json!({})).await, [&*ca, &*cb, &*cc, &*ce]);
    // The city's admin: everything.
    assert_eq!(queue_ids(&app, &city, json!({})).await, [&*ca, &*cb, &*cc, &*cd, &*ce]);

    // Filters, each with its total.
    assert_eq!(queue_ids(&app, &lb, json!({ "c": "PERSONAL_DATA" })).await, [&*ca, &*cb]);
    assert_eq!(queue_ids(&app, &lb, json!({ "c": "OFFENSIVE_WORDS" })).await, [&*cc]);
    assert_eq!(queue_ids(&app, &lb, json!({ "c": "FLAGS" })).await, [&*ce]);
    assert!(queue_ids(&app, &lb, json!({ "c": "APPEAL" })).await.is_empty());
    assert_eq!(queue_ids(&app, &lb, json!({ "k": "STORY" })).await, [&*cc]);
    assert_eq!(queue_ids(&app, &lb, json!({ "k": "COMMENT" })).await, [&*ca, &*cb, &*ce]);
    assert_eq!(queue_ids(&app, &city, json!({ "k": "STORY" })).await, [&*cc, &*cd]);
    assert_eq!(queue_ids(&app, &lb, json!({ "u": bd02 })).await, [&*cb, &*ce]);
    assert_eq!(queue_ids(&app, &lb, json!({ "u": bd02, "c": "PERSONAL_DATA" })).await, [&*cb]);
    assert_eq!(queue_ids(&app, &lb, json!({ "u": bd02, "k": "STORY" })).await, Vec::<String>::new());
    assert!(queue_ids(&app, &lb, json!({ "st": "DECIDED" })).await.is_empty());

    // One at a time, the cursor walks them all in order, the total on every page.
    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = queue(&app, &lb, json!({ "first": 1, "after": after })).await;
        assert_eq!(page["totalCount"], 4);
        let got = nodes(&page);
        assert_eq!(got.len(), 1, "{page}");
        walked.push(s(&got[0]["id"]));
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = Some(s(&page["pageInfo"]["endCursor"]));
        assert!(walked.len() < 10, "the walk does not end");
    }
    assert_eq!(walked, [&*ca, &*cb, &*cc, &*ce]);

    // A plain member has no queue; a leader has none below another branch.
    try_queue(&app, an, json!({})).await.expect_code("FORBIDDEN");
    try_queue(&app, &app.token(MEMBER).await, json!({})).await.expect_code("FORBIDDEN");
    try_queue(&app, &leader, json!({ "u": bd02 })).await.expect_code("NOT_FOUND");

    // A page of 20 costs the same statements for 5 items as for 20, whatever each reads
    // (comments and stories, flags, units, appeals, texts).
    held_comment(&app, an, &post, "Thêm một").await;
    let flagged = published_comment(&app, an, &post, "Quảng cáo").await;
    flag(&app, binh, &flagged).await;
    flag(&app, chi, &flagged).await;
    held_comment(&app, an, &post, "Thêm hai").await;
    app.gql(RICH_QUEUE, json!({ "first": 20 }), Some(&leader)).await.ok();
    let before = app.statements();
    let five = app.gql(RICH_QUEUE, json!({ "first": 20 }), Some(&leader)).await.ok();
    let few = app.statements() - before;
    assert_eq!(nodes(&five["moderationQueue"]).len(), 5);
    for i in 0..15 {
        held_comment(&app, an, &post, &format!("Lần {i}")).await;
    }
    app.gql(RICH_QUEUE, json!({ "first": 20 }), Some(&leader)).await.ok();
    let before = app.statements();
    let twenty = app.gql(RICH_QUEUE, json!({ "first": 20 }), Some(&leader)).await.ok();
    let many = app.statements() - before;
    let page = nodes(&twenty["moderationQueue"]);
    assert_eq!(page.len(), 20);
    assert_eq!(twenty["moderationQueue"]["totalCount"], 20);
    let flags: Vec<&Value> = page.iter().filter(|n| n["flags"] != json!([])).collect();
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0]["flags"], json!([{ "reason": "SPAM", "count": 2 }]));
    assert!(page.iter().all(|n| n["text"].is_string() && n["unit"]["code"] == "HN-LB-BD-01"));
    assert_eq!(few, many, "statements grow with the page");
    assert!(many <= 15, "{many} statements for a page of the queue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_hide_delete_approve_and_tell_the_author() {
    let app = spawn_app().await;
    let people = branch(&app, 20..=21, "HN-LB-BD-01").await;
    let (an, binh) = (&people[0].token, &people[1].token);
    let post = district_post(&app).await;
    let leader = app.token(BD1_LEADER).await;
    let leader_id = app.person_id(BD1_LEADER).await;

    let h = held_comment(&app, an, &post, "Chị gọi em nhé").await;
    let case_h = open_case(&app, an, &h).await;

    // Refused whole, deciding nothing.
    let bad = |r: Gql, reason: &str, field: &str| {
        let r = r.expect_reason("BAD_USER_INPUT", reason);
        assert_eq!(r.field(), Some(field), "{}", r.body);
    };
    bad(decide(&app, &leader, &[&*case_h], json!({ "action": "HIDE" })).await, "REQUIRED", "decision.reason");
    bad(
        decide(&app, &leader, &[&*case_h], json!({ "action": "DELETE", "reason": "  " })).await,
        "REQUIRED",
        "decision.reason",
    );
    bad(
        decide(&app, &leader, &[&*case_h], json!({ "action": "APPROVE", "warnAuthor": true })).await,
        "CONFLICTING",
        "decision.warnAuthor",
    );
    for days in [0, 400, -1] {
        bad(
            decide(&app, &leader, &[&*case_h], json!({ "action": "HIDE", "reason": "x", "muteDays": days }))
                .await,
            "OUT_OF_RANGE",
            "decision.muteDays",
        );
    }
    assert_eq!(queue_ids(&app, &leader, json!({})).await, [&*case_h]);
    assert_eq!(muted_until(&app, an).await, None);

    // Hidden, with a reason only its author reads.
    let item = decided(&app, &leader, &case_h, hide("Lộ số điện thoại")).await;
    assert_eq!(
        (item["status"].as_str(), item["decision"].as_str(), item["contentStatus"].as_str()),
        (Some("DECIDED"), Some("HIDDEN"), Some("HIDDEN"))
    );
    assert_eq!(item["reason"], "Lộ số điện thoại");
    let hers = seen(&app, an, &post, &h).await.expect("its author still sees it");
    assert_eq!(
        (hers["status"].as_str(), hers["moderationNote"].as_str()),
        (Some("HIDDEN"), Some("Lộ số điện thoại"))
    );
    assert!(seen(&app, binh, &post, &h).await.is_none());
    let case = case_about(&app, an, &h, "PERSONAL_DATA").await;
    assert_eq!(
        (case["decision"].as_str(), case["reason"].as_str(), case["canAppeal"].as_bool()),
        (Some("HIDDEN"), Some("Lộ số điện thoại"), Some(true))
    );
    assert!(notices(&app, an).await.contains(&("CONTENT_MODERATED".into(), Some(case_h.clone()))));
    assert!(queue_ids(&app, &leader, json!({})).await.is_empty());
    assert_eq!(queue_ids(&app, &leader, json!({ "st": "DECIDED" })).await, [&*case_h]);

    // Deleted: out of every list and count.
    let d = published_comment(&app, an, &post, "Mua hàng ở đây").await;
    assert_eq!(flag(&app, binh, &d).await, "PUBLISHED");
    let case_d = open_case(&app, an, &d).await;
    assert_eq!(comment_count(&app, binh, &post).await, 1);
    let item = decided(&app, &leader, &case_d, json!({ "action": "DELETE", "reason": "Quảng cáo" })).await;
    assert_eq!(
        (item["decision"].as_str(), item["contentStatus"].as_str()),
        (Some("DELETED"), Some("REMOVED"))
    );
    assert!(seen(&app, binh, &post, &d).await.is_none());
    assert!(seen(&app, an, &post, &d).await.is_none());
    assert_eq!(comment_count(&app, binh, &post).await, 0);
    assert!(queue_ids(&app, &leader, json!({})).await.is_empty());
    assert_eq!(case_about(&app, an, &d, "FLAGS").await["decision"], "DELETED");

    // Approved: a held comment is published and counted.
    let g = held_comment(&app, an, &post, "Liên hệ").await;
    assert_eq!(comment_count(&app, binh, &post).await, 0, "a held comment is not counted");
    assert!(seen(&app, binh, &post, &g).await.is_none());
    let case_g = open_case(&app, an, &g).await;
    let item = decided(&app, &leader, &case_g, approve()).await;
    assert_eq!(
        (item["decision"].as_str(), item["contentStatus"].as_str()),
        (Some("APPROVED"), Some("PUBLISHED"))
    );
    assert_eq!(seen(&app, binh, &post, &g).await.expect("published")["status"], "PUBLISHED");
    assert_eq!(comment_count(&app, binh, &post).await, 1);
    assert_eq!(case_about(&app, an, &g, "PERSONAL_DATA").await["canAppeal"], false);

    // Each decision is one entry of the trail, by the leader as branch leader; the refusals none.
    let entries = trail(&app).await;
    assert_eq!(entries.len(), 3, "{entries:#?}");
    for (id, action) in
        [(&case_h, "CONTENT_HIDDEN"), (&case_d, "CONTENT_DELETED"), (&case_g, "CONTENT_APPROVED")]
    {
        let found = entries_about(&entries, id);
        assert_eq!(found.len(), 1, "{id}: {entries:#?}");
        let e = found[0];
        assert_eq!(
            (e["action"].as_str(), e["area"].as_str(), e["actorRole"].as_str(), e["unit"]["code"].as_str()),
            (Some(action), Some("MODERATION"), Some("BRANCH_LEADER"), Some("HN-LB-BD-01"))
        );
        assert_eq!(e["actor"]["id"], leader_id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_decisions_answer_each_item() {
    let app = spawn_app().await;
    let an = branch(&app, 30..=30, "HN-LB-BD-01").await.remove(0).token;
    let chi = branch(&app, 31..=31, "HN-LB-BD-02").await.remove(0).token;
    let post = district_post(&app).await;
    let leader = app.token(BD1_LEADER).await;

    let x = held_comment(&app, &an, &post, "Một").await;
    let y = held_comment(&app, &an, &post, "Hai").await;
    let w = held_comment(&app, &an, &post, "Ba").await;
    let z = held_comment(&app, &chi, &post, "Bốn").await;
    let [cx, cy, cw, cz] = [
        open_case(&app, &an, &x).await,
        open_case(&app, &an, &y).await,
        open_case(&app, &an, &w).await,
        open_case(&app, &chi, &z).await,
    ];
    decided(&app, &leader, &cy, hide("Lộ số")).await;

    let sent = [cx.as_str(), cy.as_str(), cz.as_str(), "not-an-id", cw.as_str()];
    let data = decide(&app, &leader, &sent, hide("Lộ thông tin")).await.ok();
    let outcomes = data["decideModeration"].as_array().unwrap().clone();
    assert_eq!(outcomes.len(), 5);
    for (o, id) in outcomes.iter().zip(sent) {
        assert_eq!(o["id"], id, "outcomes in the order sent");
    }
    let error = |o: &Value| (o["ok"].clone(), o["error"]["code"].clone(), o["error"]["reason"].clone());
    for done in [&outcomes[0], &outcomes[4]] {
        assert_eq!(done["ok"], true, "{done}");
        assert!(done["error"].is_null());
        assert_eq!(
            (
                done["item"]["decision"].as_str(),
                done["item"]["contentStatus"].as_str(),
                done["item"]["reason"].as_str()
            ),
            (Some("HIDDEN"), Some("HIDDEN"), Some("Lộ thông tin"))
        );
        assert_eq!(done["item"]["id"], done["id"]);
    }
    assert_eq!(error(&outcomes[1]), (json!(false), json!("CONFLICT"), json!("ALREADY_DECIDED")));
    assert_eq!(error(&outcomes[2]).0, json!(false));
    assert_eq!(outcomes[2]["error"]["code"], "NOT_FOUND");
    assert_eq!(outcomes[3]["ok"], false);
    assert_eq!(outcomes[3]["error"]["code"], "BAD_USER_INPUT");
    assert_eq!(outcomes[3]["error"]["field"], "caseIds");
    assert!(outcomes[1..4].iter().all(|o| o["item"].is_null()));

    // The first decision stands; the other branch's item waits for its own moderators.
    assert_eq!(case_about(&app, &an, &y, "PERSONAL_DATA").await["reason"], "Lộ số");
    let lb = app.token(LB_OFFICER).await;
    assert_eq!(queue_ids(&app, &lb, json!({})).await, [&*cz]);
    assert_eq!(case_about(&app, &chi, &z, "PERSONAL_DATA").await["status"], "OPEN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_moderators_deciding_together_decide_once() {
    let app = spawn_app().await;
    let an = branch(&app, 40..=40, "HN-LB-BD-01").await.remove(0).token;
    let post = district_post(&app).await;
    let leader = app.token(BD1_LEADER).await;
    let lb = app.token(LB_OFFICER).await;
    let (leader_id, lb_id) = (app.person_id(BD1_LEADER).await, app.person_id(LB_OFFICER).await);

    for round in 0..4 {
        let item = held_comment(&app, &an, &post, &format!("Vòng {round}")).await;
        let case = open_case(&app, &an, &item).await;
        let ids = [case.as_str()];
        let (hid, approved) =
            tokio::join!(decide(&app, &leader, &ids, hide("Lộ số")), decide(&app, &lb, &ids, approve()));
        let (hid, approved) =
            (hid.ok()["decideModeration"][0].clone(), approved.ok()["decideModeration"][0].clone());
        let wins = [&hid, &approved].iter().filter(|o| o["ok"] == true).count();
        assert_eq!(wins, 1, "round {round}: {hid} / {approved}");
        let lost = if hid["ok"] == true { &approved } else { &hid };
        assert_eq!(
            (lost["error"]["code"].as_str(), lost["error"]["reason"].as_str()),
            (Some("CONFLICT"), Some("ALREADY_DECIDED")),
            "{lost}"
        );
        let (decision, status, action, actor) = if hid["ok"] == true {
            ("HIDDEN", "HIDDEN", "CONTENT_HIDDEN", &leader_id)
        } else {
            ("APPROVED", "PUBLISHED", "CONTENT_APPROVED", &lb_id)
        };
        let now = case_about(&app, &an, &item, "PERSONAL_DATA").await;
        assert_eq!((now["decision"].as_str(), now["contentStatus"].as_str()), (Some(decision), Some(status)));
        let entries = trail(&app).await;
        let about = entries_about(&entries, &case);
        assert_eq!(about.len(), 1, "round {round}: {about:#?}");
        assert_eq!((about[0]["action"].as_str(), &about[0]["actor"]["id"]), (Some(action), &json!(actor)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_muted_member_reads_and_reports_but_cannot_write() {
    let app = spawn_app().await;
    let people = branch(&app, 50..=52, "HN-LB-BD-01").await;
    let (an, binh, chi) = (&people[0].token, &people[1].token, &people[2].token);
    let post = district_post(&app).await;
    let leader = app.token(BD1_LEADER).await;
    let hers = published_comment(&app, binh, &post, "Chào cả nhà").await;

    let h = held_comment(&app, an, &post, "Gọi em").await;
    let case = open_case(&app, an, &h).await;
    let item =
        decided(&app, &leader, &case, json!({ "action": "HIDE", "reason": "Lộ số", "muteDays": 7 })).await;
    assert_eq!((item["sanction"].as_str(), item["muteDays"].as_i64()), (Some("MUTED"), Some(7)));
    let until = muted_until(&app, an).await.expect("she is muted");
    let expected = Utc::now() + Duration::days(7);
    assert!((until - expected).num_seconds().abs() < 120, "{until} vs {expected}");
    assert_eq!(muted_until(&app, binh).await, None);
    let got = notices(&app, an).await;
    assert!(got.contains(&("AUTHOR_MUTED".into(), Some(case.clone()))), "{got:?}");
    assert!(got.contains(&("CONTENT_MODERATED".into(), Some(case.clone()))), "{got:?}");

    // She writes nothing.
    app.gql(ADD_COMMENT, json!({ "t": post, "b": "Em xin lỗi" }), Some(an))
        .await
        .expect_reason("CONFLICT", "MUTED");
    app.gql(POST_STORY, json!({ "i": { "body": "Chuyện nhà em" } }), Some(an))
        .await
        .expect_reason("CONFLICT", "MUTED");
    app.gql_upload(
        "mutation($file: Upload!) { uploadPhoto(file: $file) { id } }",
        json!({}),
        png(),
        "a.png",
        "image/png",
        Some(an),
    )
    .await
    .expect_reason("CONFLICT", "MUTED");
    assert_eq!(thread(&app, binh, &post).await.len(), 1, "nothing of hers landed");

    // She reads, reacts, flags and reports.
    assert!(seen(&app, an, &post, &hers).await.is_some());
    let react = "mutation($t: ID!) { react(targetId: $t, kind: LIKE) { myReaction } }";
    assert_eq!(app.gql(react, json!({ "t": post }), Some(an)).await.ok()["react"]["myReaction"], "LIKE");
    assert_eq!(app.gql(react, json!({ "t": hers }), Some(an)).await.ok()["react"]["myReaction"], "LIKE");
    assert_eq!(flag(&app, an, &hers).await, "PUBLISHED");
    let receipt = violence_report(&app, Some(an), "HN-LB-BD-01", false, "Em bị chồng đánh.").await;
    assert!(receipt["referenceCode"].is_string(), "{receipt}");

    // A warning tells her and mutes nothing.
    let w = held_comment(&app, chi, &post, "Số em").await;
    let warned = open_case(&app, chi, &w).await;
    let item =
        decided(&app, &leader, &warned, json!({ "action": "HIDE", "reason": "Lộ số", "warnAuthor": true }))
            .await;
    assert_eq!((item["sanction"].as_str(), item["muteDays"].as_i64()), (Some("WARNED"), None));
    let got = notices(&app, chi).await;
    assert!(got.contains(&("MODERATION_WARNING".into(), Some(warned.clone()))), "{got:?}");
    assert!(!got.iter().any(|(k, _)| k == "AUTHOR_MUTED"), "{got:?}");
    assert_eq!(muted_until(&app, chi).await, None);
    published_comment(&app, chi, &post, "Em rút kinh nghiệm").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appeal_goes_one_level_up_once() {
    let app = spawn_app().await;
    let people = branch(&app, 60..=61, "HN-LB-BD-01").await;
    let (an, binh) = (&people[0].token, &people[1].token);
    let post = district_post(&app).await;
    let leader = app.token(BD1_LEADER).await;
    let lb = app.token(LB_OFFICER).await;
    let city = app.token(CITY_ADMIN).await;

    let h = held_comment(&app, an, &post, "Gọi em").await;
    let original = open_case(&app, an, &h).await;
    decided(&app, &leader, &original, json!({ "action": "HIDE", "reason": "Lộ số", "muteDays": 3 })).await;
    assert!(muted_until(&app, an).await.is_some());

    // Refused before anything: an empty statement, someone else's case.
    let r = app.gql(APPEAL, json!({ "c": original, "s": "  \n " }), Some(an)).await;
    assert_eq!(r.expect_reason("BAD_USER_INPUT", "REQUIRED").field(), Some("statement"));
    app.gql(APPEAL, json!({ "c": original, "s": "Em không sai" }), Some(binh)).await.expect_code("NOT_FOUND");

    // Her appeal: a case of the ward above the branch.
    let appeal = app
        .gql(APPEAL, json!({ "c": original, "s": "Đó là số của hội, không phải số riêng." }), Some(an))
        .await
        .ok()["appealModeration"]
        .clone();
    assert_eq!(
        (appeal["cause"].as_str(), appeal["status"].as_str(), appeal["unit"]["code"].as_str()),
        (Some("APPEAL"), Some("OPEN"), Some("HN-LB-BD"))
    );
    assert_eq!(appeal["appealOf"]["id"], original);
    assert_eq!(appeal["statement"], "Đó là số của hội, không phải số riêng.");
    let appeal_id = s(&appeal["id"]);
    let first = case_about(&app, an, &h, "PERSONAL_DATA").await;
    assert_eq!((first["canAppeal"].as_bool(), &first["appeal"]["id"]), (Some(false), &json!(appeal_id)));
    app.gql(APPEAL, json!({ "c": original, "s": "Lần nữa" }), Some(an))
        .await
        .expect_reason("CONFLICT", "ALREADY_APPEALED");

    // Not the branch leader's to see or decide; the district's officer's.
    assert!(!queue_ids(&app, &leader, json!({})).await.contains(&appeal_id));
    assert_eq!(
        refusal(&app, &leader, &appeal_id, approve()).await,
        Some(("NOT_FOUND".into(), String::new()))
    );
    let listed = queue(&app, &lb, json!({ "c": "APPEAL" })).await;
    let listed = nodes(&listed);
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (&listed[0]["id"], &listed[0]["appealOf"]["id"], listed[0]["unit"]["code"].as_str()),
        (&json!(appeal_id), &json!(original), Some("HN-LB-BD"))
    );

    // Upheld: published again, the mute lifted, she is told; one entry.
    let upheld = decided(&app, &lb, &appeal_id, approve()).await;
    assert_eq!(
        (upheld["decision"].as_str(), upheld["contentStatus"].as_str()),
        (Some("APPROVED"), Some("PUBLISHED"))
    );
    assert_eq!(seen(&app, binh, &post, &h).await.expect("published again")["status"], "PUBLISHED");
    assert_eq!(comment_count(&app, binh, &post).await, 1);
    assert_eq!(muted_until(&app, an).await, None);
    published_comment(&app, an, &post, "Cảm ơn chị").await;
    assert!(notices(&app, an).await.contains(&("APPEAL_DECIDED".into(), Some(appeal_id.clone()))));
    let entries = trail(&app).await;
    let about = entries_about(&entries, &appeal_id);
    assert_eq!(about.len(), 1, "{entries:#?}");
    assert_eq!(
        (about[0]["action"].as_str(), about[0]["actorRole"].as_str(), about[0]["unit"]["code"].as_str()),
        (Some("APPEAL_UPHELD"), Some("UNIT_OFFICER"), Some("HN-LB-BD"))
    );
    // An appeal's decision is final.
    assert_eq!(
        refusal(&app, &city, &appeal_id, hide("x")).await,
        Some(("CONFLICT".into(), "ALREADY_DECIDED".into()))
    );

    // A decision that was not against her is not hers to appeal.
    let g = held_comment(&app, an, &post, "Số hội").await;
    let approved = open_case(&app, an, &g).await;
    decided(&app, &leader, &approved, approve()).await;
    app.gql(APPEAL, json!({ "c": approved, "s": "?" }), Some(an))
        .await
        .expect_reason("CONFLICT", "WRONG_STATUS");

    // Whoever decided the original does not decide its appeal; the city's admin may.
    let k = held_comment(&app, an, &post, "Lần hai").await;
    let by_lb = open_case(&app, an, &k).await;
    decided(&app, &lb, &by_lb, hide("Lộ số lần hai")).await;
    let second =
        app.gql(APPEAL, json!({ "c": by_lb, "s": "Xin xem lại" }), Some(an)).await.ok()["appealModeration"]
            .clone();
    assert_eq!(second["unit"]["code"], "HN-LB-BD");
    let second_id = s(&second["id"]);
    assert_eq!(refusal(&app, &lb, &second_id, approve()).await, Some(("FORBIDDEN".into(), String::new())));
    assert_eq!(queue_ids(&app, &city, json!({ "c": "APPEAL" })).await, [&*second_id], "still open");
    let dismissed = decided(&app, &city, &second_id, hide("Quyết định giữ nguyên")).await;
    assert_eq!(
        (dismissed["decision"].as_str(), dismissed["contentStatus"].as_str()),
        (Some("HIDDEN"), Some("HIDDEN"))
    );
    assert_eq!(seen(&app, an, &post, &k).await.expect("hers")["status"], "HIDDEN");
    assert!(seen(&app, binh, &post, &k).await.is_none());
    let entries = trail(&app).await;
    let about = entries_about(&entries, &second_id);
    assert_eq!(about.len(), 1, "{entries:#?}");
    assert_eq!(
        (about[0]["action"].as_str(), about[0]["actorRole"].as_str()),
        (Some("APPEAL_DISMISSED"), Some("UNIT_ADMIN"))
    );
    // An appeal is not appealed.
    app.gql(APPEAL, json!({ "c": second_id, "s": "Lần ba" }), Some(an))
        .await
        .expect_reason("CONFLICT", "WRONG_STATUS");
    let mine = my_cases(&app, an).await;
    let dismissed_case = mine.iter().find(|c| c["id"] == second_id).expect("her appeal");
    assert_eq!(dismissed_case["canAppeal"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_hears_the_queue_live() {
    let app = spawn_app().await;
    let an = branch(&app, 70..=70, "HN-LB-BD-01").await.remove(0).token;
    let bd2 = branch(&app, 71..=72, "HN-LB-BD-02").await;
    let (chi, leader2) = (&bd2[0].token, &bd2[1]);
    app.grant(&leader2.phone, "HN-LB-BD-02", "BRANCH_LEADER").await;
    let post = district_post(&app).await;
    let lb = app.token(LB_OFFICER).await;

    let mut console = subscribe(&app, &lb, EVENTS, None).await;
    let mut other = subscribe(&app, &leader2.token, EVENTS, None).await;
    tokio::time::sleep(StdDuration::from_millis(500)).await;

    // A comment held in HN-LB-BD-01: opened, then decided, on the district's console.
    let c1 = held_comment(&app, &an, &post, "Gọi em").await;
    let case1 = open_case(&app, &an, &c1).await;
    assert_eq!(next_queue_event(&mut console).await, ("OPENED".into(), case1.clone(), Some(c1.clone())));
    decided(&app, &app.token(BD1_LEADER).await, &case1, hide("Lộ số")).await;
    assert_eq!(next_queue_event(&mut console).await, ("DECIDED".into(), case1.clone(), Some(c1.clone())));

    // The other branch's leader heard none of it: her first event is her branch's.
    let c2 = held_comment(&app, chi, &post, "Số em").await;
    let case2 = open_case(&app, chi, &c2).await;
    assert_eq!(next_queue_event(&mut other).await, ("OPENED".into(), case2.clone(), Some(c2.clone())));
    assert_eq!(next_queue_event(&mut console).await, ("OPENED".into(), case2, Some(c2)));

    // A plain member has no console.
    let mut member = subscribe(&app, &an, EVENTS, None).await;
    let msg = next_event(&mut member).await;
    let errors = if msg["type"] == "error" { &msg["payload"] } else { &msg["payload"]["errors"] };
    assert_eq!(errors[0]["extensions"]["code"], "FORBIDDEN", "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_moderates_herself_and_a_reply_waits_for_its_parent() {
    let app = spawn_app().await;
    let people = branch(&app, 80..=81, "HN-LB-BD-01").await;
    let (an, binh) = (&people[0].token, &people[1].token);
    let post = district_post(&app).await;

    // The district officer's own held comment sits in her district's queue, yet not for her.
    let lb = app.token(LB_OFFICER).await;
    let hers = held_comment(&app, &lb, &post, "Liên hệ cán bộ").await;
    let case = open_case(&app, &lb, &hers).await;
    assert_eq!(refusal(&app, &lb, &case, approve()).await, Some(("FORBIDDEN".into(), String::new())));
    let city = app.token(CITY_ADMIN).await;
    assert_eq!(decided(&app, &city, &case, hide("Số điện thoại")).await["decision"], "HIDDEN");

    // A held reply is approved only while the comment it answers is published.
    let parent = published_comment(&app, an, &post, "Chị em mình tham gia nhé").await;
    let reply = app
        .gql(
            "mutation($t: ID!, $p: ID, $b: String!) { addComment(targetId: $t, parentId: $p, body: $b) { id status } }",
            json!({ "t": post, "p": parent, "b": format!("Gọi em {PHONE}") }),
            Some(binh),
        )
        .await
        .ok()["addComment"]
        .clone();
    assert_eq!(reply["status"], "PENDING");
    let reply_case = open_case(&app, binh, &s(&reply["id"])).await;
    app.gql("mutation($id: ID!) { deleteComment(id: $id) }", json!({ "id": parent }), Some(an)).await.ok();
    let leader = app.token(BD1_LEADER).await;
    assert_eq!(
        refusal(&app, &leader, &reply_case, approve()).await,
        Some(("CONFLICT".into(), "WRONG_STATUS".into()))
    );
    assert_eq!(comment_count(&app, binh, &post).await, 0, "nothing was counted");
    // Still open: hiding it works.
    assert_eq!(
        decided(&app, &leader, &reply_case, hide("Trả lời bình luận đã xoá")).await["decision"],
        "HIDDEN"
    );

    // The branch leader's decided queue reads its appeal as absent (it sits at the ward), not as
    // an error.
    let held = held_comment(&app, an, &post, "Nhà em").await;
    let held_case = open_case(&app, an, &held).await;
    decided(&app, &leader, &held_case, hide("Số điện thoại")).await;
    app.gql(APPEAL, json!({ "c": held_case, "s": "Em xin xem lại" }), Some(an)).await.ok();
    let q = "query { moderationQueue(status: DECIDED, first: 100) { edges { node { id appeal { id } } } } }";
    let page = nodes(&app.gql(q, json!({}), Some(&leader)).await.ok()["moderationQueue"]);
    let row = page.iter().find(|c| s(&c["id"]) == held_case).expect("her decided case");
    assert!(row["appeal"].is_null(), "{row}");
    let lb_page = nodes(&app.gql(q, json!({}), Some(&lb)).await.ok()["moderationQueue"]);
    let seen_above = lb_page.iter().find(|c| s(&c["id"]) == held_case).expect("the district reads it");
    assert!(seen_above["appeal"]["id"].is_string(), "the district reads the appeal: {seen_above}");
}
