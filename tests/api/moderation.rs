//! Flags, automatic checks at write time, per-unit moderation settings and story pre-moderation.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::{
    fixtures::{Member, Series, members},
    helpers::*,
};

const S: Series = Series::MODERATION;

const COMMENT_FIELDS: &str = "id body status";
const STORY_FIELDS: &str = "id body status publishedAt";

const FLAG: &str = "mutation($c: ID!, $r: FlagReason!) { flagContent(contentId: $c, reason: $r) }";
const SETTINGS: &str = "query($u: ID!) { contentSettings(unitId: $u) { flagThreshold storyPremoderation } }";
const SET_SETTINGS: &str = "mutation($u: ID!, $i: ContentSettingsInput!) { setContentSettings(unitId: $u, input: $i) \
    { flagThreshold storyPremoderation } }";
const QUEUE: &str = "query($u: ID, $s: ModerationCaseStatus, $c: ModerationCause, $k: ModeratedContentKind) { \
    moderationQueue(unitId: $u, status: $s, cause: $c, contentKind: $k, first: 100) { totalCount edges { node { \
    id contentKind cause status decision contentStatus text unit { code } flags { reason count } \
    comment { id } story { id } } } } }";
const MY_CASES: &str = "{ myModerationCases(first: 50) { edges { node { id cause status decision comment { id } story { id } } } } }";
const DECIDE: &str = "mutation($ids: [ID!]!, $d: ModerationDecisionInput!) { decideModeration(caseIds: $ids, decision: $d) \
    { id ok error { code reason field } item { id status decision contentStatus } } }";
const TARGET: &str =
    "query($id: ID!) { node(id: $id) { ... on Story { status engagement { commentCount } } } }";

/// Members `ns` of this module's series in branch `code`.
async fn branch(app: &TestApp, ns: std::ops::RangeInclusive<u32>, code: &str) -> Vec<Member> {
    let city = app.token(CITY_ADMIN).await;
    members(app, &city, S, ns, code).await
}

async fn post_story(app: &TestApp, token: &str, body: &str) -> Value {
    let q = format!("mutation($i: StoryInput!) {{ postStory(input: $i) {{ {STORY_FIELDS} }} }}");
    app.gql(&q, json!({ "i": { "body": body } }), Some(token)).await.ok()["postStory"].clone()
}

/// The stories of the caller's branch, as she reads them.
async fn branch_stories(app: &TestApp, token: &str) -> Vec<Value> {
    let q = format!("{{ stories(first: 50) {{ edges {{ node {{ {STORY_FIELDS} }} }} }} }}");
    nodes(&app.gql(&q, json!({}), Some(token)).await.ok()["stories"])
}

async fn my_stories(app: &TestApp, token: &str) -> Vec<Value> {
    let q = format!("{{ myStories(first: 50) {{ edges {{ node {{ {STORY_FIELDS} }} }} }} }}");
    nodes(&app.gql(&q, json!({}), Some(token)).await.ok()["myStories"])
}

async fn add_comment(app: &TestApp, token: &str, target: &str, body: &str) -> Value {
    let q = format!(
        "mutation($t: ID!, $b: String!) {{ addComment(targetId: $t, body: $b) {{ {COMMENT_FIELDS} }} }}"
    );
    app.gql(&q, json!({ "t": target, "b": body }), Some(token)).await.ok()["addComment"].clone()
}

/// The top-level comments on `target` the caller reads.
async fn comments(app: &TestApp, token: &str, target: &str) -> Vec<Value> {
    let q = format!(
        "query($t: ID!) {{ comments(targetId: $t, first: 50) {{ edges {{ node {{ {COMMENT_FIELDS} }} }} }} }}"
    );
    nodes(&app.gql(&q, json!({ "t": target }), Some(token)).await.ok()["comments"])
}

/// The ids of `list`.
fn ids(list: &[Value]) -> Vec<Value> {
    list.iter().map(|v| v["id"].clone()).collect()
}

/// The published-comment count of the story `target`, as `token` reads it.
async fn comment_count(app: &TestApp, token: &str, target: &str) -> i64 {
    let data = app.gql(TARGET, json!({ "id": target }), Some(token)).await.ok();
    data["node"]["engagement"]["commentCount"].as_i64().expect("a count")
}

async fn flag(app: &TestApp, token: &str, item: &str, reason: &str) -> Gql {
    app.gql(FLAG, json!({ "c": item, "r": reason }), Some(token)).await
}

/// `flagContent`'s answer: the item's status after the flag.
async fn flagged(app: &TestApp, token: &str, item: &str, reason: &str) -> String {
    s(&flag(app, token, item, reason).await.ok()["flagContent"])
}

/// The moderation queue as `token` reads it with `vars`: (totalCount, cases).
async fn queue(app: &TestApp, token: &str, vars: Value) -> (i64, Vec<Value>) {
    let data = app.gql(QUEUE, vars, Some(token)).await.ok();
    let q = &data["moderationQueue"];
    (q["totalCount"].as_i64().expect("totalCount"), nodes(q))
}

/// The cases among `cases` about the comment or story `item`.
fn about<'a>(cases: &'a [Value], item: &Value) -> Vec<&'a Value> {
    cases.iter().filter(|c| c["comment"]["id"] == *item || c["story"]["id"] == *item).collect()
}

/// The one open case about `item` in BD1_LEADER's queue.
async fn open_case(app: &TestApp, item: &Value) -> Value {
    let leader = app.token(BD1_LEADER).await;
    let (_, cases) = queue(app, &leader, json!({})).await;
    let found = about(&cases, item);
    assert_eq!(found.len(), 1, "open cases about {item}: {cases:#?}");
    found[0].clone()
}

/// The sum of a case's flag counts.
fn flag_sum(case: &Value) -> i64 {
    case["flags"].as_array().unwrap().iter().map(|f| f["count"].as_i64().unwrap()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_are_once_per_reader_and_hold_the_item_at_the_threshold() {
    let app = spawn_app().await;
    let bd1 = branch(&app, 1..=5, "HN-LB-BD-01").await;
    let outsider = &branch(&app, 6..=6, "HN-LB-BD-02").await[0].token;
    let (teller, author, b, c, d) =
        (&bd1[0].token, &bd1[1].token, &bd1[2].token, &bd1[3].token, &bd1[4].token);
    let story = s(&post_story(&app, teller, "Chi hội em ra quân làm sạch ngõ xóm.").await["id"]);
    let comment = add_comment(&app, author, &story, "Chị em mình giỏi quá!").await;
    let id = s(&comment["id"]);
    assert_eq!(comment["status"], "PUBLISHED");
    assert_eq!(comment_count(&app, b, &story).await, 1);

    // Not her own; not by someone who cannot read it.
    flag(&app, author, &id, "SPAM").await.expect_code("FORBIDDEN");
    flag(&app, outsider, &id, "SPAM").await.expect_code("NOT_FOUND");
    let leader = app.token(BD1_LEADER).await;
    assert_eq!(queue(&app, &leader, json!({})).await.0, 0, "refused flags open no case");

    // The first flag opens a case; the item stays published.
    assert_eq!(flagged(&app, b, &id, "SPAM").await, "PUBLISHED");
    let case = open_case(&app, &comment["id"]).await;
    assert_eq!(
        (
            &case["cause"],
            &case["contentKind"],
            &case["contentStatus"],
            &case["status"],
            &case["unit"]["code"]
        ),
        (&json!("FLAGS"), &json!("COMMENT"), &json!("PUBLISHED"), &json!("OPEN"), &json!("HN-LB-BD-01"))
    );
    assert_eq!(case["flags"], json!([{ "reason": "SPAM", "count": 1 }]));
    // Once per reader, whatever the reason.
    flag(&app, b, &id, "SPAM").await.expect_reason("CONFLICT", "ALREADY_FLAGGED");
    flag(&app, b, &id, "OFFENSIVE").await.expect_reason("CONFLICT", "ALREADY_FLAGGED");
    assert_eq!(flagged(&app, c, &id, "OFFENSIVE").await, "PUBLISHED");
    assert_eq!(comment_count(&app, b, &story).await, 1, "two flags of three hold nothing");
    assert_eq!(ids(&comments(&app, b, &story).await), [comment["id"].clone()]);

    // The third distinct flag (the default threshold) holds it.
    assert_eq!(flagged(&app, d, &id, "SPAM").await, "PENDING");
    assert!(comments(&app, b, &story).await.is_empty(), "held: out of the others' list");
    assert!(comments(&app, teller, &story).await.is_empty());
    assert_eq!(comment_count(&app, b, &story).await, 0, "and out of the count");
    let hers = comments(&app, author, &story).await;
    assert_eq!(
        hers.iter().map(|c| (c["id"].clone(), c["status"].clone())).collect::<Vec<_>>(),
        [(comment["id"].clone(), json!("PENDING"))],
        "its author still sees it, held"
    );
    // Still one case, now holding the item, its flags counted by reason.
    let (total, _) = queue(&app, &leader, json!({})).await;
    assert_eq!(total, 1);
    let case = open_case(&app, &comment["id"]).await;
    assert_eq!((&case["cause"], &case["contentStatus"]), (&json!("FLAGS"), &json!("PENDING")));
    assert_eq!(
        case["flags"],
        json!([{ "reason": "OFFENSIVE", "count": 1 }, { "reason": "SPAM", "count": 2 }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_arriving_together_hold_the_item_once() {
    let app = spawn_app().await;
    let bd1 = branch(&app, 11..=21, "HN-LB-BD-01").await;
    let (author, flaggers) = (&bd1[0].token, &bd1[1..]);
    let story = s(&post_story(&app, author, "Buổi sinh hoạt chi hội tháng này.").await["id"]);
    let comment = add_comment(&app, author, &story, "Mời chị em đến đông đủ.").await;
    add_comment(&app, &flaggers[0].token, &story, "Em sẽ đến.").await;
    let reader = &flaggers[0].token;
    assert_eq!(comment_count(&app, reader, &story).await, 2);

    // Ten readers flag the comment at the same moment (threshold 3).
    let id = s(&comment["id"]);
    let answers = join_all(flaggers.iter().map(|m| flag(&app, &m.token, &id, "OFFENSIVE"))).await;
    let accepted = check_answers(&answers);
    let case = open_case(&app, &comment["id"]).await;
    assert_eq!(flag_sum(&case), accepted, "each accepted flag counted once: {case}");
    assert_eq!(case["contentStatus"], "PENDING");
    let leader = app.token(BD1_LEADER).await;
    let unit = app.unit_id("HN-LB-BD-01").await;
    let (total, _) = queue(&app, &leader, json!({ "u": unit, "k": "COMMENT" })).await;
    assert_eq!(total, 1, "one case for the item");
    assert_eq!(comment_count(&app, reader, &story).await, 1, "held once: the count dropped by exactly one");
    assert_eq!(ids(&comments(&app, reader, &story).await).len(), 1);
    let own = comments(&app, author, &story).await;
    assert!(own.iter().any(|c| c["id"] == comment["id"] && c["status"] == "PENDING"), "{own:?}");

    // The same for a story.
    let told = post_story(&app, author, "Chuyện nhà em.").await;
    let id = s(&told["id"]);
    let answers = join_all(flaggers.iter().map(|m| flag(&app, &m.token, &id, "SPAM"))).await;
    let accepted = check_answers(&answers);
    let case = open_case(&app, &told["id"]).await;
    assert_eq!(flag_sum(&case), accepted, "{case}");
    assert_eq!((&case["contentKind"], &case["contentStatus"]), (&json!("STORY"), &json!("PENDING")));
    let (total, _) = queue(&app, &leader, json!({ "u": unit, "k": "STORY" })).await;
    assert_eq!(total, 1);
    assert!(!ids(&branch_stories(&app, reader).await).contains(&told["id"]));
    let mine = my_stories(&app, author).await;
    assert!(mine.iter().any(|s| s["id"] == told["id"] && s["status"] == "PENDING"), "{mine:?}");
}

/// Checks the answers to flags sent together: each is the item's status then (`PUBLISHED` before
/// the threshold, `PENDING` from it), or `NOT_FOUND` for a flag that arrived once the item was
/// held (no longer the reader's to read). Returns how many were accepted (at least the
/// threshold, 3).
fn check_answers(answers: &[Gql]) -> i64 {
    let mut accepted = 0;
    for a in answers {
        if a.has_errors() {
            assert_eq!(a.code(), Some("NOT_FOUND"), "{}", a.body);
        } else {
            let status = &a.body["data"]["flagContent"];
            assert!(status == "PUBLISHED" || status == "PENDING", "{}", a.body);
            accepted += 1;
        }
    }
    let pending = answers.iter().filter(|a| a.body["data"]["flagContent"] == "PENDING").count();
    let published = answers.iter().filter(|a| a.body["data"]["flagContent"] == "PUBLISHED").count();
    assert_eq!(published, 2, "the two flags below the threshold leave it published");
    assert!(pending >= 1);
    accepted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_sets_the_flag_threshold_for_its_subtree() {
    let app = spawn_app().await;
    let bd1 = branch(&app, 31..=33, "HN-LB-BD-01").await;
    let (author, b, c) = (&bd1[0].token, &bd1[1].token, &bd1[2].token);
    let (lb, leader, city) =
        (app.token(LB_OFFICER).await, app.token(BD1_LEADER).await, app.token(CITY_ADMIN).await);
    let (district, ward, bd1_id, bd2_id) = (
        app.unit_id("HN-LB").await,
        app.unit_id("HN-LB-BD").await,
        app.unit_id("HN-LB-BD-01").await,
        app.unit_id("HN-LB-BD-02").await,
    );
    let set = |token: String, unit: String, input: Value| {
        let app = &app;
        async move { app.gql(SET_SETTINGS, json!({ "u": unit, "i": input }), Some(&token)).await }
    };
    let threshold = |token: String, unit: String| {
        let app = &app;
        async move {
            let data = app.gql(SETTINGS, json!({ "u": unit }), Some(&token)).await.ok();
            data["contentSettings"]["flagThreshold"].as_i64().expect("a threshold")
        }
    };
    assert_eq!(threshold(leader.clone(), bd1_id.clone()).await, 3, "the service's default");

    // The district sets 1: its branches inherit it.
    let answer = set(lb.clone(), district.clone(), json!({ "flagThreshold": 1 })).await.ok();
    assert_eq!(answer["setContentSettings"], json!({ "flagThreshold": 1, "storyPremoderation": false }));
    assert_eq!(threshold(leader.clone(), bd1_id.clone()).await, 1);
    // A branch sets its own, for itself only.
    let answer = set(leader.clone(), bd1_id.clone(), json!({ "flagThreshold": 2 })).await.ok();
    assert_eq!(answer["setContentSettings"]["flagThreshold"], 2);
    assert_eq!(threshold(leader.clone(), bd1_id.clone()).await, 2);
    assert_eq!(threshold(lb.clone(), bd2_id.clone()).await, 1);
    assert_eq!(threshold(lb.clone(), district.clone()).await, 1);
    // null clears it: the branch follows the district again.
    let answer = set(leader.clone(), bd1_id.clone(), json!({ "flagThreshold": null })).await.ok();
    assert_eq!(answer["setContentSettings"]["flagThreshold"], 1);
    assert_eq!(threshold(leader.clone(), bd1_id.clone()).await, 1);

    // Who may not: a plain member (no role anywhere over it), a branch leader above her branch
    // (her role is below the ward, none over it).
    set(author.clone(), bd1_id.clone(), json!({ "flagThreshold": 5 })).await.expect_code("NOT_FOUND");
    app.gql(SETTINGS, json!({ "u": bd1_id }), Some(author)).await.expect_code("NOT_FOUND");
    set(leader.clone(), ward.clone(), json!({ "flagThreshold": 5 })).await.expect_code("NOT_FOUND");
    app.gql(SETTINGS, json!({ "u": ward }), Some(&leader)).await.expect_code("NOT_FOUND");
    set(leader.clone(), bd2_id.clone(), json!({ "flagThreshold": 5 })).await.expect_code("NOT_FOUND");
    // 1 to 100.
    for bad in [0, -1, 101] {
        let r = set(leader.clone(), bd1_id.clone(), json!({ "flagThreshold": bad }))
            .await
            .expect_reason("BAD_USER_INPUT", "OUT_OF_RANGE");
        assert_eq!(r.field(), Some("input.flagThreshold"), "{bad}");
    }
    assert_eq!(threshold(leader.clone(), bd1_id.clone()).await, 1, "refusals changed nothing");

    // The threshold in force is the one honoured: 1 inherited from the district…
    let story = s(&post_story(&app, author, "Lớp học nấu ăn của chi hội.").await["id"]);
    let first = add_comment(&app, author, &story, "Hay quá.").await;
    assert_eq!(flagged(&app, b, &s(&first["id"]), "SPAM").await, "PENDING");
    // …then the branch's own 2.
    set(leader.clone(), bd1_id.clone(), json!({ "flagThreshold": 2 })).await.ok();
    let second = add_comment(&app, author, &story, "Tuần sau học tiếp nhé.").await;
    let id = s(&second["id"]);
    assert_eq!(flagged(&app, b, &id, "SPAM").await, "PUBLISHED");
    assert_eq!(comment_count(&app, c, &story).await, 1);
    assert_eq!(flagged(&app, c, &id, "OTHER").await, "PENDING");
    assert_eq!(comment_count(&app, c, &story).await, 0);

    // Every change is in the trail; no refusal is.
    let trail = "query($u: ID!) { auditTrail(unitId: $u, area: MODERATION, first: 100) { edges { node { \
        actor { id } area action unit { code } subjectKind changes { field before after } } } } }";
    let hn = app.unit_id("HN").await;
    let entries = nodes(&app.gql(trail, json!({ "u": hn }), Some(&city)).await.ok()["auditTrail"]);
    let set_entries: Vec<&Value> =
        entries.iter().rev().filter(|e| e["action"] == "CONTENT_SETTINGS_SET").collect();
    let units: Vec<&Value> = set_entries.iter().map(|e| &e["unit"]["code"]).collect();
    assert_eq!(units, ["HN-LB", "HN-LB-BD-01", "HN-LB-BD-01", "HN-LB-BD-01"], "{entries:#?}");
    let threshold_change =
        |e: &Value| e["changes"].as_array().unwrap().iter().find(|c| c["field"] == "flagThreshold").cloned();
    let changes: Vec<Option<Value>> = set_entries.iter().map(|e| threshold_change(e)).collect();
    assert_eq!(
        changes,
        [
            Some(json!({ "field": "flagThreshold", "before": null, "after": "1" })),
            Some(json!({ "field": "flagThreshold", "before": null, "after": "2" })),
            Some(json!({ "field": "flagThreshold", "before": "2", "after": null })),
            Some(json!({ "field": "flagThreshold", "before": null, "after": "2" })),
        ]
    );
    assert_eq!(set_entries[0]["actor"]["id"], json!(app.person_id(LB_OFFICER).await));
    assert_eq!(set_entries[1]["actor"]["id"], json!(app.person_id(BD1_LEADER).await));
    assert!(set_entries.iter().all(|e| e["area"] == "MODERATION"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_and_offensive_words_are_held_at_write_time() {
    let app = spawn_app().await;
    let bd1 = branch(&app, 41..=42, "HN-LB-BD-01").await;
    let (author, reader) = (&bd1[0].token, &bd1[1].token);
    let story = s(&post_story(&app, reader, "Hội thi nấu ăn ngon.").await["id"]);

    let held = [
        ("Gọi em 0912 345 678 nhé", "PERSONAL_DATA"),
        ("CCCD 001234567890", "PERSONAL_DATA"),
        ("nhà em số nhà 12 ngõ 34 phố Huế", "PERSONAL_DATA"),
        ("địt mẹ", "OFFENSIVE_WORDS"),
        ("dit me", "OFFENSIVE_WORDS"),
    ];
    let mut written = Vec::new();
    for (body, _) in held {
        let c = add_comment(&app, author, &story, body).await;
        assert_eq!(c["status"], "PENDING", "{body}");
        written.push(c);
    }
    let clean =
        add_comment(&app, author, &story, "Chi hội tổ dân phố số 5 nuôi con lợn đất lớn, em góp lon sữa.")
            .await;
    assert_eq!(clean["status"], "PUBLISHED");

    // Held: out of the others' list and out of the count; each in the queue with its cause.
    assert_eq!(ids(&comments(&app, reader, &story).await), [clean["id"].clone()]);
    assert_eq!(comment_count(&app, reader, &story).await, 1);
    assert_eq!(comments(&app, author, &story).await.len(), 6, "its author sees them all");
    let leader = app.token(BD1_LEADER).await;
    let (total, cases) = queue(&app, &leader, json!({})).await;
    assert_eq!(total, 5);
    for (c, (body, cause)) in written.iter().zip(held) {
        let found = about(&cases, &c["id"]);
        assert_eq!(found.len(), 1, "{body}");
        assert_eq!(
            (&found[0]["cause"], &found[0]["contentStatus"], &found[0]["text"], &found[0]["flags"]),
            (&json!(cause), &json!("PENDING"), &json!(body), &json!([])),
            "{body}"
        );
    }
    assert!(about(&cases, &clean["id"]).is_empty());
    let (offensive, _) = queue(&app, &leader, json!({ "c": "OFFENSIVE_WORDS" })).await;
    assert_eq!(offensive, 2);

    // An edit that adds a phone number takes a published comment back to the moderators.
    let edited = add_comment(&app, author, &story, "Em đăng ký tham gia.").await;
    assert_eq!(comment_count(&app, reader, &story).await, 2);
    let q = format!(
        "mutation($id: ID!, $b: String!) {{ editComment(id: $id, body: $b) {{ {COMMENT_FIELDS} }} }}"
    );
    let answer = app
        .gql(&q, json!({ "id": edited["id"], "b": "Em đăng ký, số em 0987.654.321" }), Some(author))
        .await
        .ok();
    assert_eq!(answer["editComment"]["status"], "PENDING");
    assert_eq!(comment_count(&app, reader, &story).await, 1);
    assert_eq!(ids(&comments(&app, reader, &story).await), [clean["id"].clone()]);
    let case = open_case(&app, &edited["id"]).await;
    assert_eq!((&case["cause"], &case["contentStatus"]), (&json!("PERSONAL_DATA"), &json!("PENDING")));

    // A story with a phone number: held, never published, only its author's.
    let mine = post_story(&app, author, "Ai cần rau sạch gọi em 0912345678").await;
    assert_eq!((&mine["status"], &mine["publishedAt"]), (&json!("PENDING"), &Value::Null));
    assert!(!ids(&branch_stories(&app, reader).await).contains(&mine["id"]));
    let own = my_stories(&app, author).await;
    assert!(own.iter().any(|s| s["id"] == mine["id"] && s["status"] == "PENDING"), "{own:?}");
    let case = open_case(&app, &mine["id"]).await;
    assert_eq!((&case["cause"], &case["contentKind"]), (&json!("PERSONAL_DATA"), &json!("STORY")));
    // A clean story is published at once.
    let fine = post_story(&app, author, "Tổ 12 trồng rau sạch, năm 2024 được mùa.").await;
    assert_eq!(fine["status"], "PUBLISHED");
    assert!(ids(&branch_stories(&app, reader).await).contains(&fine["id"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_with_premoderation_holds_stories_until_approved() {
    let app = spawn_app().await;
    let bd1 = branch(&app, 51..=52, "HN-LB-BD-01").await;
    let elsewhere = &branch(&app, 53..=53, "HN-LB-BD-02").await[0].token;
    let (author, reader) = (&bd1[0].token, &bd1[1].token);
    let leader = app.token(BD1_LEADER).await;
    let bd1_id = app.unit_id("HN-LB-BD-01").await;
    let set = app
        .gql(SET_SETTINGS, json!({ "u": bd1_id, "i": { "storyPremoderation": true } }), Some(&leader))
        .await
        .ok();
    assert_eq!(set["setContentSettings"], json!({ "flagThreshold": 3, "storyPremoderation": true }));

    let body = "Chị em tổ 5 cùng nhau dọn vệ sinh khu phố.";
    let story = post_story(&app, author, body).await;
    assert_eq!((&story["status"], &story["publishedAt"]), (&json!("PENDING"), &Value::Null));
    assert!(branch_stories(&app, reader).await.is_empty());
    let (total, cases) = queue(&app, &leader, json!({ "c": "PREMODERATION", "k": "STORY" })).await;
    assert_eq!(total, 1);
    let case = &cases[0];
    assert_eq!(
        (&case["cause"], &case["contentKind"], &case["story"]["id"], &case["text"], &case["contentStatus"]),
        (&json!("PREMODERATION"), &json!("STORY"), &story["id"], &json!(body), &json!("PENDING"))
    );
    assert!(case["comment"].is_null());

    // Approved: published, with its publishing time, for the branch to read.
    let outcomes = app
        .gql(DECIDE, json!({ "ids": [case["id"]], "d": { "action": "APPROVE" } }), Some(&leader))
        .await
        .ok()["decideModeration"]
        .clone();
    assert_eq!(outcomes[0]["ok"], true, "{outcomes}");
    assert_eq!(
        outcomes[0]["item"],
        json!({ "id": case["id"], "status": "DECIDED", "decision": "APPROVED", "contentStatus": "PUBLISHED" })
    );
    let listed = branch_stories(&app, reader).await;
    assert_eq!(ids(&listed), [story["id"].clone()]);
    assert_eq!(listed[0]["status"], "PUBLISHED");
    assert!(listed[0]["publishedAt"].is_string(), "{listed:?}");
    assert_eq!(queue(&app, &leader, json!({})).await.0, 0);
    // Its author was told.
    let notes = app
        .gql("{ notifications(first: 50) { edges { node { kind link } } } }", json!({}), Some(author))
        .await
        .ok();
    let notes = nodes(&notes["notifications"]);
    assert!(notes.iter().any(|n| n["kind"] == "CONTENT_MODERATED" && n["link"] == case["id"]), "{notes:#?}");
    // Every later story of the branch waits too.
    let next = post_story(&app, reader, "Em cũng kể một chuyện.").await;
    assert_eq!(next["status"], "PENDING");

    // A branch without pre-moderation publishes at once.
    let there = post_story(&app, elsewhere, "Chi hội Bồ Đề 2 tập dưỡng sinh.").await;
    assert_eq!(there["status"], "PUBLISHED");
    assert!(there["publishedAt"].is_string());
    assert_eq!(ids(&branch_stories(&app, elsewhere).await), [there["id"].clone()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_item_withdraws_its_case() {
    let app = spawn_app().await;
    let bd1 = branch(&app, 61..=62, "HN-LB-BD-01").await;
    let (author, other) = (&bd1[0].token, &bd1[1].token);
    let leader = app.token(BD1_LEADER).await;
    let target = s(&post_story(&app, other, "Góp ý cho buổi họp.").await["id"]);
    let comment = add_comment(&app, author, &target, "Chị gọi em 0912 345 678 nhé").await;
    let story = post_story(&app, author, "Nhà em ở số nhà 12 ngõ 34 phố Huế").await;
    let stays = add_comment(&app, other, &target, "Số em đây 0987 654 321").await;
    for item in [&comment, &story, &stays] {
        assert_eq!(item["status"], "PENDING");
    }
    assert_eq!(queue(&app, &leader, json!({})).await.0, 3);
    let mine = |token: String| {
        let app = &app;
        async move { nodes(&app.gql(MY_CASES, json!({}), Some(&token)).await.ok()["myModerationCases"]) }
    };
    let items =
        |cases: Vec<Value>| -> Vec<Value> {
            cases
                .iter()
                .map(|c| {
                    if c["comment"].is_null() { c["story"]["id"].clone() } else { c["comment"]["id"].clone() }
                })
                .collect()
        };
    let before = items(mine(author.clone()).await);
    assert_eq!(before.len(), 2);
    assert!(before.contains(&comment["id"]) && before.contains(&story["id"]), "{before:?}");

    // Someone else cannot delete it, so cannot withdraw its case either.
    let delete_comment = "mutation($id: ID!) { deleteComment(id: $id) }";
    let delete_story = "mutation($id: ID!) { deleteStory(id: $id) }";
    app.gql(delete_comment, json!({ "id": comment["id"] }), Some(other)).await.expect_code("NOT_FOUND");
    app.gql(delete_story, json!({ "id": story["id"] }), Some(other)).await.expect_code("NOT_FOUND");
    assert_eq!(queue(&app, &leader, json!({})).await.0, 3);

    // Its author deletes it: the case leaves the queue and her list.
    assert_eq!(
        app.gql(delete_comment, json!({ "id": comment["id"] }), Some(author)).await.ok()["deleteComment"],
        true
    );
    let (total, cases) = queue(&app, &leader, json!({})).await;
    assert_eq!(total, 2);
    assert!(about(&cases, &comment["id"]).is_empty());
    assert_eq!(items(mine(author.clone()).await), [story["id"].clone()]);
    assert_eq!(
        app.gql(delete_story, json!({ "id": story["id"] }), Some(author)).await.ok()["deleteStory"],
        true
    );
    let (total, cases) = queue(&app, &leader, json!({})).await;
    assert_eq!(total, 1);
    assert_eq!(about(&cases, &stays["id"]).len(), 1, "the other member's case stays");
    assert!(mine(author.clone()).await.is_empty());
    // Closed as withdrawn, not decided by anyone.
    let (_, closed) = queue(&app, &leader, json!({ "s": "DECIDED" })).await;
    let decisions: Vec<&Value> = closed.iter().map(|c| &c["decision"]).collect();
    assert_eq!(decisions, [&json!("WITHDRAWN"), &json!("WITHDRAWN")], "{closed:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_leaves_no_flag_mute_or_appeal_statement() {
    use entities::{content_flag, member_mute, moderation_case};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn_app().await;
    let bd1 = branch(&app, 71..=72, "HN-LB-BD-01").await;
    let (leaving, other) = (&bd1[0], &bd1[1]);
    let story = post_story(&app, &other.token, "Chi hội mình đi thăm hộ nghèo.").await;
    flag(&app, &leaving.token, s(&story["id"]).as_str(), "OTHER").await.ok();
    // Her held comment, hidden with a mute, then appealed.
    let held = add_comment(&app, &leaving.token, s(&story["id"]).as_str(), "Gọi em 0912 345 678").await;
    let removed = add_comment(&app, &leaving.token, s(&story["id"]).as_str(), "Số nhà em 12 ngõ 34").await;
    let leader = app.token(BD1_LEADER).await;
    let queue = app.gql(QUEUE, json!({ "c": "PERSONAL_DATA" }), Some(&leader)).await.ok();
    let case = nodes(&queue["moderationQueue"])
        .into_iter()
        .find(|c| c["comment"]["id"] == held["id"])
        .expect("her held comment is in the queue");
    let d = json!({ "action": "HIDE", "reason": "Số điện thoại", "muteDays": 5 });
    app.gql(DECIDE, json!({ "ids": [case["id"]], "d": d }), Some(&leader)).await.ok();
    let appeal = "mutation($c: ID!, $s: String!) { appealModeration(caseId: $c, statement: $s) { id } }";
    let made =
        app.gql(appeal, json!({ "c": case["id"], "s": "Em xin lỗi" }), Some(&leaving.token)).await.ok();
    let appeal_id = uuid_of(&s(&made["appealModeration"]["id"]));

    // Another, deleted by the moderator: its text is kept while it may be appealed...
    let queue = app.gql(QUEUE, json!({ "c": "PERSONAL_DATA" }), Some(&leader)).await.ok();
    let removed_case = nodes(&queue["moderationQueue"])
        .into_iter()
        .find(|c| c["comment"]["id"] == removed["id"])
        .expect("her second held comment is in the queue");
    let d = json!({ "action": "DELETE", "reason": "Địa chỉ nhà" });
    app.gql(DECIDE, json!({ "ids": [removed_case["id"]], "d": d }), Some(&leader)).await.ok();
    let removed_id = uuid_of(&s(&removed["id"]));
    let kept = entities::comment::Entity::find_by_id(removed_id).one(&app.state.db).await.unwrap().unwrap();
    assert!(kept.body.contains("ngõ 34"), "kept for the appeal: {kept:?}");

    let delete = "mutation($p: String!) { deleteMyAccount(password: $p) }";
    app.gql(delete, json!({ "p": crate::fixtures::PASSWORD }), Some(&leaving.token)).await.ok();

    let db = &app.state.db;
    // ...and not past her account.
    let gone = entities::comment::Entity::find_by_id(removed_id).one(db).await.unwrap().unwrap();
    assert_eq!((gone.body.as_str(), gone.moderation_note), ("", None));
    let person: entities::ids::PersonId = id_of(&leaving.person_id);
    let flags =
        content_flag::Entity::find().filter(content_flag::Column::PersonId.eq(person)).all(db).await.unwrap();
    assert!(flags.is_empty(), "{flags:?}");
    assert!(member_mute::Entity::find_by_id(person).one(db).await.unwrap().is_none());
    let appeal_row = moderation_case::Entity::find_by_id(appeal_id).one(db).await.unwrap().unwrap();
    assert_eq!(appeal_row.statement, None);
    assert_eq!(
        (appeal_row.status, appeal_row.decision),
        (moderation_case::CaseStatus::Decided, Some(moderation_case::ModerationDecision::Withdrawn)),
        "her open appeal is withdrawn with her account"
    );
    // The appeal left the district's queue.
    let lb = app.token(LB_OFFICER).await;
    let open = app.gql(QUEUE, json!({ "c": "APPEAL" }), Some(&lb)).await.ok();
    assert!(!nodes(&open["moderationQueue"]).iter().any(|c| uuid_of(&s(&c["id"])) == appeal_id));
}
