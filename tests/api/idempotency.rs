//! Idempotent writes: every mutation takes an `Idempotency-Key` (over HTTP a header, over the
//! WebSocket `extensions.idempotencyKey`); a retry with the same request gets the first
//! response back, another request with the key is refused, concurrent retries act once, and
//! answers that did nothing and may change (outages, credentials) are not kept.

use chrono::{Duration, Utc};
use futures_util::future::join_all;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::{
    campaigns::input as campaign_input,
    fixtures::*,
    helpers::*,
    ws::{connect, next, send},
};

/// A response and whether it was a replay (the `Idempotent-Replayed` header).
struct Keyed {
    gql: Gql,
    replayed: bool,
    status: u16,
}

/// POSTs a GraphQL request with `Idempotency-Key: key`.
async fn keyed(app: &TestApp, key: &str, query: &str, variables: Value, token: Option<&str>) -> Keyed {
    let mut req = app
        .client
        .post(app.url("/graphql"))
        .header("idempotency-key", key)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let replayed = resp.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
    let body: Value = resp.json().await.expect("json body");
    if replayed {
        assert_eq!(body["extensions"]["idempotentReplayed"], true, "{body}");
    }
    Keyed { gql: Gql { status, body }, replayed, status }
}

const REQUEST: &str = "mutation($i: RequestMembershipInput!) { requestMembership(input: $i) { id status } }";
const CREATE_TRAINING: &str =
    "mutation($u: ID!, $i: TrainingInput!) { createTraining(unitId: $u, input: $i) { id status } }";

fn training(title: &str) -> Value {
    let at = |days: i64| (Utc::now() + Duration::days(days)).to_rfc3339();
    json!({
        "title": title,
        "description": "Mang theo giấy tờ tùy thân.",
        "category": "VOCATIONAL",
        "startsAt": at(10),
        "endsAt": at(11),
        "place": "Nhà văn hoá phường Bồ Đề",
    })
}

async fn membership_requests(app: &TestApp) -> u64 {
    entities::membership_request::Entity::find().count(&app.state.db).await.unwrap()
}

async fn trainings(app: &TestApp) -> u64 {
    entities::training::Entity::find().count(&app.state.db).await.unwrap()
}

#[tokio::test]
async fn a_retry_gets_the_first_answer_and_another_request_with_the_key_is_refused() {
    let app = spawn_app().await;
    let p = person(&app, Series::MEMBERSHIP, 301).await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let vars = json!({ "i": { "branchId": branch, "note": "Xin vào chi hội" } });

    let first = keyed(&app, "k-1", REQUEST, vars.clone(), Some(&p.token)).await;
    assert!(!first.replayed);
    let made = first.gql.ok();
    assert_eq!(made["requestMembership"]["status"], "PENDING");

    // Without a key the retry would be REQUEST_PENDING; with it, the first answer.
    let again = keyed(&app, "k-1", REQUEST, vars.clone(), Some(&p.token)).await;
    assert!(again.replayed);
    assert_eq!(again.gql.ok(), made);
    assert_eq!(membership_requests(&app).await, 1);

    // The same variables written in another order are the same request.
    let reordered = format!(
        r#"{{"variables":{{"i":{{"note":"Xin vào chi hội","branchId":"{branch}"}}}},"query":{}}}"#,
        serde_json::to_string(REQUEST).unwrap()
    );
    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("idempotency-key", "k-1")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", p.token))
        .body(reordered)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["idempotent-replayed"], "true");

    // The same key with another request.
    let other = json!({ "i": { "branchId": branch, "note": "Khác" } });
    let reused = keyed(&app, "k-1", REQUEST, other, Some(&p.token)).await;
    reused.gql.expect_reason("CONFLICT", "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(membership_requests(&app).await, 1);

    // A key is per caller: another person's identical key is hers alone.
    let q = person(&app, Series::MEMBERSHIP, 302).await;
    let hers = keyed(&app, "k-1", REQUEST, vars, Some(&q.token)).await;
    assert!(!hers.replayed);
    assert_ne!(hers.gql.ok()["requestMembership"]["id"], made["requestMembership"]["id"]);
    assert_eq!(membership_requests(&app).await, 2);
}

#[tokio::test]
async fn a_stored_answer_is_kept_sealed() {
    let app = spawn_app().await;
    let officer = app.token(LB_OFFICER).await;
    let unit = app.unit_id("HN-LB-BD").await;
    let made =
        keyed(&app, "sealed-1", CREATE_TRAINING, json!({ "u": unit, "i": training("Kín") }), Some(&officer))
            .await
            .gql
            .ok();
    let id = made["createTraining"]["id"].as_str().unwrap().to_owned();
    let rows = entities::idempotency_key::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    let stored = rows[0].response.clone().expect("a response is kept");
    assert!(!stored.windows(id.len()).any(|w| w == id.as_bytes()), "the response is sealed");
    assert_eq!(rows[0].state, entities::idempotency_key::KeyState::Done);
}

/// Twenty copies of one request with one key, sent at once: one effect, twenty equal answers.
async fn twenty_at_once(app: &TestApp, key: &str, query: &str, vars: Value, token: Option<&str>) -> Value {
    let sent = join_all((0..20).map(|_| keyed(app, key, query, vars.clone(), token))).await;
    let mut answers = Vec::new();
    let mut replays = 0;
    for k in sent {
        replays += usize::from(k.replayed);
        answers.push(k.gql.ok());
    }
    assert_eq!(replays, 19, "one ran, nineteen were replayed");
    assert!(answers.iter().all(|a| *a == answers[0]), "every retry got the first answer: {answers:?}");
    answers.swap_remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_retries_of_each_write_make_one_effect() {
    let app = spawn_app().await;
    let officer = app.token(LB_OFFICER).await;

    // An officer creates a training (without a key, each copy would make one).
    let before = trainings(&app).await;
    let unit = app.unit_id("HN-LB-BD").await;
    let made = twenty_at_once(
        &app,
        "t-1",
        CREATE_TRAINING,
        json!({ "u": unit, "i": training("Một lần") }),
        Some(&officer),
    )
    .await;
    assert_eq!(trainings(&app).await, before + 1);
    let training_id = made["createTraining"]["id"].clone();
    app.gql(
        "mutation($id: ID!) { publishTraining(id: $id) { status } }",
        json!({ "id": training_id }),
        Some(&officer),
    )
    .await
    .ok();

    // A member registers for it.
    let m = member(&app, &officer, Series::MEMBERSHIP, 311, "HN-LB-BD-01").await;
    let reg = twenty_at_once(
        &app,
        "r-1",
        "mutation($id: ID!) { registerForTraining(trainingId: $id) { id status } }",
        json!({ "id": training_id }),
        Some(&m.token),
    )
    .await;
    assert_eq!(reg["registerForTraining"]["status"], "CONFIRMED");
    assert_eq!(entities::training_registration::Entity::find().count(&app.state.db).await.unwrap(), 1);

    // A person asks to join a branch.
    let p = person(&app, Series::MEMBERSHIP, 312).await;
    let before = membership_requests(&app).await;
    let branch = app.unit_id("HN-LB-BD-02").await;
    twenty_at_once(&app, "j-1", REQUEST, json!({ "i": { "branchId": branch } }), Some(&p.token)).await;
    assert_eq!(membership_requests(&app).await, before + 1);

    // The member pledges in a campaign.
    let campaign = launched_campaign(&app, &officer, "HN-LB", campaign_input("Một cam kết", json!({}))).await;
    let pledges = entities::pledge::Entity::find().count(&app.state.db).await.unwrap();
    twenty_at_once(
        &app,
        "p-1",
        "mutation($c: ID!, $i: PledgeInput!) { submitPledge(campaignId: $c, input: $i) { id status } }",
        json!({ "c": campaign["id"], "i": { "kind": "PERSONAL", "year": Utc::now().format("%Y").to_string().parse::<i32>().unwrap() } }),
        Some(&m.token),
    )
    .await;
    assert_eq!(entities::pledge::Entity::find().count(&app.state.db).await.unwrap(), pledges + 1);

    // An officer enrols a member.
    let memberships = entities::membership::Entity::find().count(&app.state.db).await.unwrap();
    twenty_at_once(
        &app,
        "e-1",
        "mutation($i: EnrolMemberInput!) { enrolMember(input: $i) { membership { id } } }",
        json!({ "i": { "fullName": name(313), "phone": Series::MEMBERSHIP.phone(313), "branchId": app.unit_id("HN-LB-BD-01").await } }),
        Some(&officer),
    )
    .await;
    assert_eq!(entities::membership::Entity::find().count(&app.state.db).await.unwrap(), memberships + 1);

    // Anyone (signed out) reports a concern.
    let reports = entities::violence_report::Entity::find().count(&app.state.db).await.unwrap();
    twenty_at_once(
        &app,
        "9b0d7a52-1f7e-4c1e-9a53-2f2d1c6c0a11",
        SUBMIT_VIOLENCE,
        json!({ "i": violence_input(&app.unit_id("HN-LB-BD").await, false, "Hàng xóm bị đánh") }),
        None,
    )
    .await;
    assert_eq!(entities::violence_report::Entity::find().count(&app.state.db).await.unwrap(), reports + 1);
}

#[tokio::test]
async fn an_answer_that_did_nothing_and_may_change_is_not_kept() {
    let app = spawn_app().await;
    let p = person(&app, Series::MEMBERSHIP, 321).await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let req =
        keyed(&app, "join", REQUEST, json!({ "i": { "branchId": branch } }), Some(&p.token)).await.gql.ok();
    let approve = "mutation($id: ID!) { approveMembershipRequest(id: $id) { status } }";
    let vars = json!({ "id": req["requestMembership"]["id"] });

    // A case officer sees the request but may not decide it: refused, and not kept, so the
    // same key runs again once she may.
    let case_officer = app.token(BD_CASE_OFFICER).await;
    let unit = app.unit_id("HN-LB-BD").await;
    let input = training("Chưa được phép");
    let refused =
        keyed(&app, "t-forbidden", CREATE_TRAINING, json!({ "u": unit, "i": input }), Some(&case_officer))
            .await;
    refused.gql.expect_code("FORBIDDEN");
    app.grant(BD_CASE_OFFICER, "HN-LB-BD", "UNIT_OFFICER").await;
    let allowed =
        keyed(&app, "t-forbidden", CREATE_TRAINING, json!({ "u": unit, "i": input }), Some(&case_officer))
            .await;
    assert!(!allowed.replayed);
    assert!(allowed.gql.ok()["createTraining"]["id"].is_string());

    // A decision the officer makes is kept, refusals included: a business answer is final.
    let officer = app.token(BD1_LEADER).await;
    let decided = keyed(&app, "decide", approve, vars.clone(), Some(&officer)).await;
    assert_eq!(decided.gql.ok()["approveMembershipRequest"]["status"], "APPROVED");
    let again = keyed(&app, "decide", approve, vars.clone(), Some(&officer)).await;
    assert!(again.replayed);

    // A signed-out caller's request is refused, not kept: the same key runs again once signed in.
    let anon_key = "c4f1d7e2-decide-2-0000-000000000000";
    let anon = keyed(&app, anon_key, approve, vars.clone(), None).await;
    anon.gql.expect_code("UNAUTHENTICATED");
    let anon_again = keyed(&app, anon_key, approve, vars.clone(), None).await;
    assert!(!anon_again.replayed);
    // Signed-out callers share one namespace: their keys must be long enough not to collide.
    let short = keyed(&app, "k-7", approve, vars.clone(), None).await;
    assert_eq!(short.gql.expect_reason("BAD_USER_INPUT", "TOO_SHORT").field(), Some("Idempotency-Key"));

    // A conflict is an answer: kept.
    let late = keyed(&app, "decide-3", approve, vars.clone(), Some(&officer)).await;
    late.gql.expect_reason("CONFLICT", "ALREADY_DECIDED");
    let late_again = keyed(&app, "decide-3", approve, vars, Some(&officer)).await;
    assert!(late_again.replayed);
    late_again.gql.expect_reason("CONFLICT", "ALREADY_DECIDED");
}

#[tokio::test]
async fn queries_ignore_the_key_and_bad_keys_are_refused_before_anything_runs() {
    let app = spawn_app().await;
    let officer = app.token(LB_OFFICER).await;
    let unit = app.unit_id("HN-LB-BD").await;
    let me = keyed(&app, "q-1", "{ me { phone } }", json!({}), Some(&officer)).await;
    assert!(!me.replayed);
    assert!(!keyed(&app, "q-1", "{ me { phone } }", json!({}), Some(&officer)).await.replayed);
    // The key a query carried is free for a mutation.
    let made = keyed(
        &app,
        "q-1",
        CREATE_TRAINING,
        json!({ "u": unit, "i": training("Sau truy vấn") }),
        Some(&officer),
    )
    .await;
    assert!(made.gql.data()["createTraining"]["id"].is_string(), "{}", made.gql.body);

    let before = trainings(&app).await;
    for (key, reason) in [("hai từ", "INVALID_CHARACTERS"), (&*"k".repeat(256), "TOO_LONG"), ("", "REQUIRED")]
    {
        let bad = keyed(
            &app,
            key,
            CREATE_TRAINING,
            json!({ "u": unit, "i": training("Khóa sai") }),
            Some(&officer),
        )
        .await;
        assert_eq!(bad.status, 200);
        let bad = bad.gql.expect_reason("BAD_USER_INPUT", reason);
        assert_eq!(bad.field(), Some("Idempotency-Key"));
    }
    assert_eq!(trainings(&app).await, before);
}

#[tokio::test]
async fn a_retry_to_another_instance_gets_the_first_answer() {
    let app = spawn_app().await;
    let peer = app.spawn_peer().await;
    let officer = app.token(LB_OFFICER).await;
    let unit = app.unit_id("HN-LB-BD").await;
    let vars = json!({ "u": unit, "i": training("Hai máy") });
    let before = trainings(&app).await;
    let first = keyed(&app, "x-1", CREATE_TRAINING, vars.clone(), Some(&officer)).await.gql.ok();
    let again = keyed(&peer, "x-1", CREATE_TRAINING, vars, Some(&officer)).await;
    assert!(again.replayed);
    assert_eq!(again.gql.ok(), first);
    assert_eq!(trainings(&app).await, before + 1);
}

#[tokio::test]
async fn a_key_is_kept_for_a_day() {
    let app = spawn_app().await;
    let officer = app.token(LB_OFFICER).await;
    let unit = app.unit_id("HN-LB-BD").await;
    let vars = json!({ "u": unit, "i": training("Một ngày") });
    let before = trainings(&app).await;
    keyed(&app, "d-1", CREATE_TRAINING, vars.clone(), Some(&officer)).await.gql.ok();
    app.state.clock.advance(Duration::hours(23));
    assert!(keyed(&app, "d-1", CREATE_TRAINING, vars.clone(), Some(&officer)).await.replayed);
    assert_eq!(trainings(&app).await, before + 1);

    // A day on, the key is forgotten: the sweep deletes it, and the request runs again.
    app.state.clock.advance(Duration::hours(2));
    let officer = app.token(LB_OFFICER).await;
    let swept = service::idempotency::sweep(&app.state, app.state.clock.now()).await.unwrap();
    assert_eq!(swept, 1);
    assert!(!keyed(&app, "d-1", CREATE_TRAINING, vars, Some(&officer)).await.replayed);
    assert_eq!(trainings(&app).await, before + 2);
}

/// The row a request holding `key` for `caller` would have, for the lease tests.
async fn hold(app: &TestApp, caller: &str, key: &str, request: async_graphql::Request, lease: Duration) {
    use sea_orm::{ActiveModelTrait, Set};
    let now = app.state.clock.now();
    let keys = &app.state.report_keys;
    entities::idempotency_key::ActiveModel {
        caller: Set(caller.to_owned()),
        key: Set(key.to_owned()),
        fingerprint: Set(keys.digest(&api::http::idempotency::identity(&request)).to_vec()),
        digest_key: Set(i32::from(keys.current_key_id())),
        owner: Set(uuid::Uuid::new_v4()),
        state: Set(entities::idempotency_key::KeyState::Running),
        lease_until: Set(now + lease),
        response: Set(None),
        created_at: Set(now),
        expires_at: Set(now + Duration::hours(24)),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_key_held_by_a_running_request_is_waited_for_and_a_dead_holder_loses_it() {
    let app = spawn_app().await;
    let officer = app.token(LB_OFFICER).await;
    let person = uuid_of(&app.person_id(LB_OFFICER).await);
    let unit = app.unit_id("HN-LB-BD").await;
    let vars = json!({ "u": unit, "i": training("Đang chạy") });
    let request = || {
        async_graphql::Request::new(CREATE_TRAINING)
            .variables(async_graphql::Variables::from_json(vars.clone()))
    };
    let before = trainings(&app).await;

    // Another request holds the key (on some instance) and keeps running past the wait.
    hold(&app, &format!("p:{person}"), "busy", request(), Duration::minutes(1)).await;
    let waited = keyed(&app, "busy", CREATE_TRAINING, vars.clone(), Some(&officer)).await;
    assert_eq!(waited.status, 200);
    let waited = waited.gql.expect_reason("CONFLICT", "REQUEST_IN_PROGRESS");
    assert_eq!(waited.body["errors"][0]["extensions"]["retryAfter"], 1);
    assert_eq!(trainings(&app).await, before);

    // A holder whose lease ran out (its instance died) loses the key to the retry.
    hold(&app, &format!("p:{person}"), "dead", request(), Duration::seconds(-1)).await;
    let taken = keyed(&app, "dead", CREATE_TRAINING, vars.clone(), Some(&officer)).await;
    assert!(!taken.replayed);
    taken.gql.ok();
    assert_eq!(trainings(&app).await, before + 1);
    assert!(keyed(&app, "dead", CREATE_TRAINING, vars, Some(&officer)).await.replayed);
}

#[tokio::test]
async fn a_mutation_over_the_socket_takes_its_key_in_the_extensions() {
    let app = spawn_app().await;
    let officer = app.token(LB_OFFICER).await;
    let unit = app.unit_id("HN-LB-BD").await;
    let before = trainings(&app).await;
    let mut ws = connect(&app).await;
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {officer}") } }),
    )
    .await;
    assert_eq!(next(&mut ws).await.unwrap()["type"], "connection_ack");
    let input = training("Qua socket");
    let op = |id: &str, key: Value| {
        json!({ "id": id, "type": "subscribe", "payload": {
            "query": CREATE_TRAINING,
            "variables": { "u": unit, "i": input },
            "extensions": { "idempotencyKey": key },
        } })
    };
    send(&mut ws, op("1", json!("ws-1"))).await;
    let first = next(&mut ws).await.unwrap();
    assert_eq!(first["type"], "next", "{first}");
    assert_eq!(next(&mut ws).await.unwrap()["type"], "complete");
    send(&mut ws, op("2", json!("ws-1"))).await;
    let again = next(&mut ws).await.unwrap();
    assert_eq!(again["payload"]["extensions"]["idempotentReplayed"], true, "{again}");
    assert_eq!(again["payload"]["data"], first["payload"]["data"]);
    assert_eq!(next(&mut ws).await.unwrap()["type"], "complete");
    assert_eq!(trainings(&app).await, before + 1);

    // The same key over HTTP is the same key.
    let http = keyed(&app, "ws-1", CREATE_TRAINING, json!({ "u": unit, "i": input }), Some(&officer)).await;
    assert!(http.replayed);

    // A key that is not a string is refused.
    send(&mut ws, op("3", json!(7))).await;
    let bad = next(&mut ws).await.unwrap();
    assert_eq!(bad["payload"]["errors"][0]["extensions"]["field"], "Idempotency-Key", "{bad}");
    assert_eq!(trainings(&app).await, before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_gives_up_still_gets_the_answer_when_it_retries() {
    let app = spawn_app_with(&[("APP_REGISTER_MAX_PER_ADDRESS", "1000")]).await;
    let leader = app.token(BD1_LEADER).await;
    let mut ids = Vec::new();
    for n in 950..1000 {
        ids.push(crate::bulk::join_request(&app, n, "HN-LB-BD-01").await);
    }
    let approve = "mutation($ids: [ID!]!) { approveMembershipRequests(ids: $ids) { ok } }";
    // A phone on a bad network: it gives up long before fifty approvals are done.
    let impatient = reqwest::Client::builder().timeout(std::time::Duration::from_millis(30)).build().unwrap();
    let gave_up = impatient
        .post(app.url("/graphql"))
        .header("idempotency-key", "slow-1")
        .header("authorization", format!("Bearer {leader}"))
        .json(&json!({ "query": approve, "variables": { "ids": ids } }))
        .send()
        .await;
    assert!(gave_up.is_err_and(|e| e.is_timeout()), "the client timed out");

    // The server finished anyway and kept the answer: the retry gets it, nothing runs twice.
    for _ in 0..200 {
        let done = entities::idempotency_key::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap()
            .iter()
            .any(|k| k.key == "slow-1" && k.state == entities::idempotency_key::KeyState::Done);
        if done {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let retry = keyed(&app, "slow-1", approve, json!({ "ids": ids }), Some(&leader)).await;
    assert!(retry.replayed);
    let outcomes = retry.gql.ok()["approveMembershipRequests"].as_array().unwrap().clone();
    assert_eq!(outcomes.len(), 50);
    assert!(
        outcomes.iter().all(|o| o["ok"] == true),
        "every approval in the first run, none refused as decided"
    );
}

#[tokio::test]
async fn a_running_request_renews_its_lease_and_one_that_lost_its_key_cannot() {
    use service::idempotency::{self, Begin};
    let app = spawn_app().await;
    let (auth, meta) = (service::auth::Auth::Anonymous, service::RequestMeta::default());
    let call = service::Call { state: &app.state, auth: &auth, meta: &meta };
    let key = "0f2a4c5e-renewal-0000-000000000000";
    let Some(Begin::Run(first)) = idempotency::begin(call, key, b"request").await.unwrap() else {
        panic!("the first request runs");
    };
    assert!(idempotency::renew(call, &first).await.unwrap());
    let row = || async {
        let rows = entities::idempotency_key::Entity::find().all(&app.state.db).await.unwrap();
        rows.into_iter().find(|k| k.key == key).unwrap()
    };
    assert!(row().await.lease_until > app.state.clock.now() + Duration::seconds(100));

    // Its instance "dies": the lease runs out and a day has nearly passed; a retry takes over.
    app.state.clock.advance(Duration::hours(23) + Duration::minutes(59));
    let Some(Begin::Run(second)) = idempotency::begin(call, key, b"request").await.unwrap() else {
        panic!("the retry takes the key over");
    };
    // The key is kept a full day from the takeover, and the first holder cannot renew it.
    assert!(row().await.expires_at > app.state.clock.now() + Duration::hours(23));
    assert!(!idempotency::renew(call, &first).await.unwrap());
    idempotency::finish(call, second, b"answer").await.unwrap();
    let Some(Begin::Replay(answer)) = idempotency::begin(call, key, b"request").await.unwrap() else {
        panic!("the answer is kept");
    };
    assert_eq!(answer, b"answer");
}
