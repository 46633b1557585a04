//! Yearly emulation ratings: the criteria the level above sets, a unit's self-assessment and
//! proposal, the review above it (once, whoever races), the lists and summaries, and the shares
//! of units rated good or better as targets.

use chrono::Datelike;
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::{
    fixtures::{Officer, Series, officer},
    helpers::*,
};

const S: Series = Series::RATINGS;

const RATING_FIELDS: &str = "id year status proposedRating rating selfAssessment changeReason returnReason \
    totalScore maxScore unit { code } criteria { id title maxScore } scores { criterion { id } score evidence } \
    submittedBy { fullName } confirmedBy { fullName }";

const SET_CRITERIA: &str = "mutation($u: ID!, $y: Int!, $c: [RatingCriterionInput!]!) { \
    setRatingCriteria(unitId: $u, year: $y, criteria: $c) { id title maxScore description } }";
const CRITERIA: &str =
    "query($u: ID!, $y: Int!) { ratingCriteria(unitId: $u, year: $y) { id title maxScore } }";
const CONFIRM: &str = "mutation($r: ID!, $l: RatingLevel!, $why: String) { \
    confirmUnitRating(ratingId: $r, rating: $l, reason: $why) { id status rating changeReason } }";
const RETURN: &str = "mutation($r: ID!, $why: String!) { returnUnitRating(ratingId: $r, reason: $why) { id status returnReason } }";
const PROGRESS: &str = "query($u: ID!, $y: Int!, $i: [ID!]) { targetProgress(unitId: $u, period: { year: $y }, indicatorIds: $i) { \
    indicator { code } total { unit { code } target actual attainment reportingUnits } \
    children { unit { code } actual reportingUnits } } }";

/// Last year: every test rates it (a year not yet begun cannot be rated).
fn last_year() -> i32 {
    chrono::Utc::now().year() - 1
}

/// A `UNIT_OFFICER` of this module's series at `code`.
async fn unit_officer(app: &TestApp, n: u32, code: &str) -> Officer {
    officer(app, S, n, code, "UNIT_OFFICER").await
}

fn criteria_input(maxes: &[i64]) -> Value {
    Value::Array(
        maxes
            .iter()
            .enumerate()
            .map(|(i, m)| json!({ "title": format!("Tiêu chí {}", i + 1), "description": "Theo hướng dẫn", "maxScore": m }))
            .collect(),
    )
}

async fn set_criteria(app: &TestApp, token: &str, code: &str, year: i32, criteria: Value) -> Gql {
    let unit = app.unit_id(code).await;
    app.gql(SET_CRITERIA, json!({ "u": unit, "y": year, "c": criteria }), Some(token)).await
}

/// The criteria `code` is rated against for `year`, as `token` reads them.
async fn criteria_of(app: &TestApp, token: &str, code: &str, year: i32) -> Vec<Value> {
    let unit = app.unit_id(code).await;
    let data = app.gql(CRITERIA, json!({ "u": unit, "y": year }), Some(token)).await.ok();
    data["ratingCriteria"].as_array().unwrap().clone()
}

async fn save(app: &TestApp, token: &str, code: &str, year: i32, input: Value) -> Gql {
    let unit = app.unit_id(code).await;
    let q = format!(
        "mutation($u: ID!, $y: Int!, $i: UnitRatingInput!) {{ saveUnitRating(unitId: $u, year: $y, input: $i) {{ {RATING_FIELDS} }} }}"
    );
    app.gql(&q, json!({ "u": unit, "y": year, "i": input }), Some(token)).await
}

/// Full marks on every criterion of `criteria`, with a proposal, submitted.
fn full_marks(criteria: &[Value], proposed: &str) -> Value {
    let scores: Vec<Value> = criteria
        .iter()
        .map(|c| json!({ "criterionId": c["id"], "score": c["maxScore"], "evidence": "Biên bản hội nghị" }))
        .collect();
    json!({ "scores": scores, "proposedRating": proposed, "selfAssessment": "Hoàn thành các chỉ tiêu.", "submit": true })
}

/// Submits the rating of `code` for `year` with full marks and `proposed`; its global id.
async fn submitted(app: &TestApp, token: &str, code: &str, year: i32, proposed: &str) -> String {
    let criteria = criteria_of(app, token, code, year).await;
    let rating =
        save(app, token, code, year, full_marks(&criteria, proposed)).await.ok()["saveUnitRating"].clone();
    assert_eq!(rating["status"], "SUBMITTED");
    s(&rating["id"])
}

async fn rating_of(app: &TestApp, token: &str, code: &str, year: i32) -> Value {
    let unit = app.unit_id(code).await;
    let q = format!("query($u: ID!, $y: Int!) {{ unitRating(unitId: $u, year: $y) {{ {RATING_FIELDS} }} }}");
    app.gql(&q, json!({ "u": unit, "y": year }), Some(token)).await.ok()["unitRating"].clone()
}

/// The `RATINGS` entries of the audit trail below `code` (by the city's admin): (action, subject).
async fn trail(app: &TestApp) -> Vec<(String, String)> {
    let city = app.token(CITY_ADMIN).await;
    let unit = app.unit_id("HN").await;
    let q = "query($u: ID!) { auditTrail(unitId: $u, area: RATINGS, first: 100) { edges { node { action subjectId } } } }";
    let data = app.gql(q, json!({ "u": unit }), Some(&city)).await.ok();
    nodes(&data["auditTrail"]).iter().map(|e| (s(&e["action"]), s(&e["subjectId"]))).collect()
}

/// The notification kinds in `token`'s inbox, newest first, with their links.
async fn inbox(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let data = app
        .gql("{ notifications(first: 50) { edges { node { kind link } } } }", json!({}), Some(token))
        .await
        .ok();
    nodes(&data["notifications"]).iter().map(|n| (s(&n["kind"]), s(&n["link"]))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn criteria_are_set_by_the_level_above_and_fixed_once_a_unit_submits() {
    let app = spawn_app().await;
    let year = last_year();
    let district = app.token(LB_OFFICER).await;
    let ward = unit_officer(&app, 1, "HN-LB-BD").await;
    let leader = app.token(BD1_LEADER).await;

    // Bad input, one field at a time.
    let bad = |field: &'static str, problem: &'static str| (field, problem);
    let too_many: Vec<i64> = vec![10; 31];
    for (criteria, y, (field, problem)) in [
        (json!([]), year, bad("criteria", "REQUIRED")),
        (criteria_input(&too_many), year, bad("criteria", "TOO_MANY")),
        (criteria_input(&[0]), year, bad("criteria.maxScore", "OUT_OF_RANGE")),
        (criteria_input(&[1001]), year, bad("criteria.maxScore", "OUT_OF_RANGE")),
        (json!([{ "title": "   ", "maxScore": 5 }]), year, bad("criteria.title", "REQUIRED")),
        (criteria_input(&[10]), 1999, bad("year", "OUT_OF_RANGE")),
        (criteria_input(&[10]), year + 3, bad("year", "OUT_OF_RANGE")),
    ] {
        let answer = set_criteria(&app, &district, "HN-LB", y, criteria).await.expect_code("BAD_USER_INPUT");
        assert_eq!((answer.field(), answer.reason()), (Some(field), Some(problem)));
    }
    // Only whoever sets the units' targets: a branch leader may not, a ward officer not above.
    set_criteria(&app, &leader, "HN-LB-BD-01", year, criteria_input(&[10])).await.expect_code("FORBIDDEN");
    set_criteria(&app, &ward.token, "HN-LB", year, criteria_input(&[10])).await.expect_code("NOT_FOUND");

    let set = set_criteria(&app, &district, "HN-LB", year, criteria_input(&[40, 30, 30])).await.ok();
    assert_eq!(set["setRatingCriteria"].as_array().unwrap().len(), 3);
    let seen = criteria_of(&app, &ward.token, "HN-LB-BD", year).await;
    assert_eq!(seen.iter().map(|c| c["maxScore"].as_i64().unwrap()).collect::<Vec<_>>(), [40, 30, 30]);
    // The district itself is rated against the city's (none), the root against nothing.
    assert!(criteria_of(&app, &district, "HN-LB", year).await.is_empty());

    // A draft's score of a criterion replaced goes with it.
    let draft = json!({ "scores": [{ "criterionId": seen[0]["id"], "score": 35 }] });
    let saved = save(&app, &ward.token, "HN-LB-BD", year, draft).await.ok()["saveUnitRating"].clone();
    assert_eq!((saved["status"].as_str(), saved["totalScore"].as_i64()), (Some("DRAFT"), Some(35)));
    set_criteria(&app, &district, "HN-LB", year, criteria_input(&[50, 50])).await.ok();
    let after = rating_of(&app, &ward.token, "HN-LB-BD", year).await;
    assert_eq!(after["scores"], json!([]));
    assert_eq!((after["totalScore"].as_i64(), after["maxScore"].as_i64()), (Some(0), Some(100)));

    // Once a ward submits, they are fixed for the year; another year is free.
    submitted(&app, &ward.token, "HN-LB-BD", year, "GOOD").await;
    set_criteria(&app, &district, "HN-LB", year, criteria_input(&[10]))
        .await
        .expect_reason("CONFLICT", "CRITERIA_IN_USE");
    assert_eq!(criteria_of(&app, &district, "HN-LB-GT", year).await.len(), 2);
    set_criteria(&app, &district, "HN-LB", year - 1, criteria_input(&[10])).await.ok();

    let actions: Vec<String> = trail(&app).await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        actions,
        ["RATING_CRITERIA_SET", "RATING_SUBMITTED", "RATING_CRITERIA_SET", "RATING_CRITERIA_SET"],
        "newest first; drafts are not in the trail"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_drafts_its_self_assessment_and_submits_it_whole() {
    let app = spawn_app().await;
    let year = last_year();
    let district = app.token(LB_OFFICER).await;
    let ward = unit_officer(&app, 1, "HN-LB-BD").await;
    let colleague = unit_officer(&app, 2, "HN-LB-BD").await;
    let case_officer = app.token(BD_CASE_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let city = app.token(CITY_ADMIN).await;

    // Nothing to assess against yet.
    save(&app, &ward.token, "HN-LB-BD", year, json!({})).await.expect_reason("CONFLICT", "NO_CRITERIA");
    set_criteria(&app, &district, "HN-LB", year, criteria_input(&[60, 40])).await.ok();
    set_criteria(&app, &ward.token, "HN-LB-BD", year, criteria_input(&[100])).await.ok();
    let criteria = criteria_of(&app, &ward.token, "HN-LB-BD", year).await;
    let (first, second) = (&criteria[0]["id"], &criteria[1]["id"]);

    // Who may: the unit's officers, its branch leader for a branch; not a case officer, not the
    // root, not a year to come.
    save(&app, &case_officer, "HN-LB-BD", year, json!({})).await.expect_code("FORBIDDEN");
    save(&app, &leader, "HN-LB-BD", year, json!({})).await.expect_code("NOT_FOUND");
    let root = save(&app, &city, "HN", year, json!({})).await.expect_code("BAD_USER_INPUT");
    assert_eq!((root.field(), root.reason()), (Some("unitId"), Some("IS_ROOT")));
    let future = save(&app, &ward.token, "HN-LB-BD", year + 2, json!({})).await.expect_code("BAD_USER_INPUT");
    assert_eq!((future.field(), future.reason()), (Some("year"), Some("OUT_OF_RANGE")));
    let branch =
        save(&app, &leader, "HN-LB-BD-01", year, json!({ "selfAssessment": "Chi hội đoàn kết." })).await.ok();
    assert_eq!(branch["saveUnitRating"]["status"], "DRAFT");

    // Bad scores, and nothing written by them.
    for (scores, field, problem) in [
        (json!([{ "criterionId": first, "score": 61 }]), "input.scores.score", "OUT_OF_RANGE"),
        (json!([{ "criterionId": first, "score": -1 }]), "input.scores.score", "OUT_OF_RANGE"),
        (json!([{ "criterionId": "not-an-id", "score": 1 }]), "input.scores.criterionId", "INVALID_ID"),
        (
            json!([{ "criterionId": uuid::Uuid::now_v7().to_string(), "score": 1 }]),
            "input.scores.criterionId",
            "INVALID_ID",
        ),
        (
            json!([{ "criterionId": first, "score": 1 }, { "criterionId": first, "score": 2 }]),
            "input.scores.criterionId",
            "INVALID_ID",
        ),
        (
            json!([{ "criterionId": first, "score": 1, "evidence": "x".repeat(2001) }]),
            "input.scores.evidence",
            "TOO_LONG",
        ),
    ] {
        let answer = save(&app, &ward.token, "HN-LB-BD", year, json!({ "scores": scores }))
            .await
            .expect_code("BAD_USER_INPUT");
        assert_eq!((answer.field(), answer.reason()), (Some(field), Some(problem)), "{scores}");
    }
    assert!(rating_of(&app, &ward.token, "HN-LB-BD", year).await.is_null(), "no draft from bad input");

    // Two first saves at once make one draft.
    let both = join_all([&ward.token, &colleague.token].map(|t| {
        let draft = json!({ "scores": [{ "criterionId": first, "score": 50, "evidence": "Sổ ghi chép" }] });
        let app = &app;
        async move { save(app, t, "HN-LB-BD", year, draft).await.ok()["saveUnitRating"]["id"].clone() }
    }))
    .await;
    assert_eq!(both[0], both[1]);

    // Submitting needs every criterion scored and a proposal; nothing changes otherwise.
    let missing =
        save(&app, &ward.token, "HN-LB-BD", year, json!({ "proposedRating": "GOOD", "submit": true }))
            .await
            .expect_code("BAD_USER_INPUT");
    assert_eq!((missing.field(), missing.reason()), (Some("input.scores"), Some("REQUIRED")));
    let draft = rating_of(&app, &ward.token, "HN-LB-BD", year).await;
    assert_eq!((draft["status"].as_str(), draft["proposedRating"].as_str()), (Some("DRAFT"), None));
    let unproposed = save(
        &app,
        &ward.token,
        "HN-LB-BD",
        year,
        json!({ "scores": [{ "criterionId": second, "score": 30 }], "submit": true }),
    )
    .await
    .expect_code("BAD_USER_INPUT");
    assert_eq!((unproposed.field(), unproposed.reason()), (Some("input.proposedRating"), Some("REQUIRED")));

    let done = save(
        &app,
        &colleague.token,
        "HN-LB-BD",
        year,
        json!({ "scores": [{ "criterionId": second, "score": 30, "evidence": "Báo cáo tổng kết" }],
                "proposedRating": "GOOD", "selfAssessment": "  Hoàn thành tốt nhiệm vụ.  \n\n\n\nĐoàn kết. ", "submit": true }),
    )
    .await
    .ok()["saveUnitRating"]
        .clone();
    assert_eq!(done["status"], "SUBMITTED");
    assert_eq!(done["proposedRating"], "GOOD");
    assert_eq!(
        done["selfAssessment"], "Hoàn thành tốt nhiệm vụ.\n\nĐoàn kết.",
        "lines kept, blank runs folded"
    );
    assert_eq!((done["totalScore"].as_i64(), done["maxScore"].as_i64()), (Some(80), Some(100)));
    let scores: Vec<(Value, i64)> = done["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["criterion"]["id"].clone(), s["score"].as_i64().unwrap()))
        .collect();
    assert_eq!(scores, [(first.clone(), 50), (second.clone(), 30)], "in the criteria's order");
    assert_eq!(done["submittedBy"]["fullName"], crate::fixtures::name(2));

    // Submitted: the unit can no longer change it.
    save(&app, &ward.token, "HN-LB-BD", year, json!({ "selfAssessment": "Sửa" }))
        .await
        .expect_reason("CONFLICT", "WRONG_STATUS");
    // Officers over the unit read it; others do not.
    assert_eq!(rating_of(&app, &district, "HN-LB-BD", year).await["id"], done["id"]);
    let outsider = unit_officer(&app, 3, "HN-LB-GT").await;
    let unit = app.unit_id("HN-LB-BD").await;
    app.gql(
        "query($u: ID!, $y: Int!) { unitRating(unitId: $u, year: $y) { id } }",
        json!({ "u": unit, "y": year }),
        Some(&outsider.token),
    )
    .await
    .expect_code("NOT_FOUND");
    app.gql("query($id: ID!) { node(id: $id) { id } }", json!({ "id": done["id"] }), Some(&outsider.token))
        .await
        .expect_code("NOT_FOUND");
    let node = app
        .gql(
            "query($id: ID!) { node(id: $id) { ... on UnitRating { status unit { code } } } }",
            json!({ "id": done["id"] }),
            Some(&district),
        )
        .await
        .ok();
    assert_eq!(node["node"], json!({ "status": "SUBMITTED", "unit": { "code": "HN-LB-BD" } }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_level_above_confirms_or_sends_back_and_decides_once() {
    let app = spawn_app().await;
    let year = last_year();
    let district = app.token(LB_OFFICER).await;
    let second_reviewer = officer(&app, S, 10, "HN-LB", "UNIT_ADMIN").await;
    let ward = unit_officer(&app, 1, "HN-LB-BD").await;
    set_criteria(&app, &district, "HN-LB", year, criteria_input(&[100])).await.ok();
    let rating = submitted(&app, &ward.token, "HN-LB-BD", year, "EXCELLENT").await;

    // Not the unit itself, not someone who only reads it.
    app.gql(CONFIRM, json!({ "r": rating, "l": "EXCELLENT" }), Some(&ward.token))
        .await
        .expect_code("FORBIDDEN");
    let case_officer = app.token(BD_CASE_OFFICER).await;
    app.gql(CONFIRM, json!({ "r": rating, "l": "EXCELLENT" }), Some(&case_officer))
        .await
        .expect_code("FORBIDDEN");
    // A different rating needs a reason.
    let unexplained = app
        .gql(CONFIRM, json!({ "r": rating, "l": "GOOD" }), Some(&district))
        .await
        .expect_code("BAD_USER_INPUT");
    assert_eq!((unexplained.field(), unexplained.reason()), (Some("reason"), Some("REQUIRED")));
    let blank = app
        .gql(RETURN, json!({ "r": rating, "why": "  " }), Some(&district))
        .await
        .expect_code("BAD_USER_INPUT");
    assert_eq!((blank.field(), blank.reason()), (Some("reason"), Some("REQUIRED")));

    // Sent back: a draft again with the reason, the submitter told; then submitted again.
    let back =
        app.gql(RETURN, json!({ "r": rating, "why": "Bổ sung minh chứng." }), Some(&district)).await.ok();
    assert_eq!(back["returnUnitRating"]["status"], "DRAFT");
    assert_eq!(back["returnUnitRating"]["returnReason"], "Bổ sung minh chứng.");
    app.gql(RETURN, json!({ "r": rating, "why": "Lần nữa." }), Some(&district))
        .await
        .expect_reason("CONFLICT", "WRONG_STATUS");
    app.gql(CONFIRM, json!({ "r": rating, "l": "GOOD", "why": "x" }), Some(&district))
        .await
        .expect_reason("CONFLICT", "WRONG_STATUS");
    assert_eq!(inbox(&app, &ward.token).await, [("RATING_RETURNED".to_owned(), rating.clone())]);
    assert_eq!(submitted(&app, &ward.token, "HN-LB-BD", year, "EXCELLENT").await, rating);

    // Confirmed with a change and its reason; final.
    let confirmed = app
        .gql(
            CONFIRM,
            json!({ "r": rating, "l": "GOOD", "why": "Chưa đạt chỉ tiêu phát triển hội viên." }),
            Some(&district),
        )
        .await
        .ok();
    assert_eq!(
        confirmed["confirmUnitRating"],
        json!({ "id": rating, "status": "CONFIRMED", "rating": "GOOD", "changeReason": "Chưa đạt chỉ tiêu phát triển hội viên." })
    );
    app.gql(CONFIRM, json!({ "r": rating, "l": "GOOD" }), Some(&second_reviewer.token))
        .await
        .expect_reason("CONFLICT", "ALREADY_DECIDED");
    app.gql(RETURN, json!({ "r": rating, "why": "Muộn." }), Some(&second_reviewer.token))
        .await
        .expect_reason("CONFLICT", "ALREADY_DECIDED");
    let kinds: Vec<String> = inbox(&app, &ward.token).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["RATING_CONFIRMED", "RATING_RETURNED"]);
    let read = rating_of(&app, &ward.token, "HN-LB-BD", year).await;
    assert_eq!(read["proposedRating"], "EXCELLENT");
    assert_eq!(read["confirmedBy"]["fullName"], "Trần Thị Cán Bộ");

    // An officer above who submitted a unit's rating herself does not confirm it.
    let own = submitted(&app, &district, "HN-LB-GT", year, "FAIR").await;
    app.gql(CONFIRM, json!({ "r": own, "l": "FAIR" }), Some(&district)).await.expect_code("FORBIDDEN");
    app.gql(CONFIRM, json!({ "r": own, "l": "FAIR" }), Some(&second_reviewer.token)).await.ok();
    // Nor one she wrote and the unit submitted: whoever saved it is out of its review.
    let gt_criteria = criteria_of(&app, &district, "HN-LB-GT", year - 1).await;
    assert!(gt_criteria.is_empty());
    set_criteria(&app, &district, "HN-LB", year - 1, criteria_input(&[100])).await.ok();
    let drafted = criteria_of(&app, &district, "HN-LB-GT", year - 1).await;
    save(
        &app,
        &district,
        "HN-LB-GT",
        year - 1,
        json!({ "scores": [{ "criterionId": drafted[0]["id"], "score": 80 }] }),
    )
    .await
    .ok();
    let gt_officer = unit_officer(&app, 12, "HN-LB-GT").await;
    let pressed = save(
        &app,
        &gt_officer.token,
        "HN-LB-GT",
        year - 1,
        json!({ "proposedRating": "GOOD", "submit": true }),
    )
    .await
    .ok()["saveUnitRating"]["id"]
        .clone();
    app.gql(CONFIRM, json!({ "r": pressed, "l": "GOOD" }), Some(&district)).await.expect_code("FORBIDDEN");
    app.gql(RETURN, json!({ "r": pressed, "why": "Xem lại." }), Some(&district))
        .await
        .expect_code("FORBIDDEN");
    app.gql(CONFIRM, json!({ "r": pressed, "l": "GOOD" }), Some(&second_reviewer.token)).await.ok();

    // Two reviewers at once, on three wards: exactly one decides each, once in the trail.
    let submitter = unit_officer(&app, 11, "HN-LB").await;
    let mut rounds = Vec::new();
    for code in ["HN-LB-NL", "HN-LB-DG", "HN-LB-PD"] {
        rounds.push(submitted(&app, &submitter.token, code, year, "GOOD").await);
    }
    for rating in &rounds {
        let answers =
            join_all([(&district, "EXCELLENT"), (&second_reviewer.token, "FAIR")].map(|(t, level)| {
                let app = &app;
                async move {
                    app.gql(
                        CONFIRM,
                        json!({ "r": rating, "l": level, "why": "Theo kết quả kiểm tra." }),
                        Some(t),
                    )
                    .await
                }
            }))
            .await;
        let won: Vec<&Gql> = answers.iter().filter(|a| !a.has_errors()).collect();
        assert_eq!(won.len(), 1, "one decision: {answers:?}");
        let lost = answers.iter().find(|a| a.has_errors()).unwrap();
        assert_eq!((lost.code(), lost.reason()), (Some("CONFLICT"), Some("ALREADY_DECIDED")));
        let stored = app
            .gql(
                "query($id: ID!) { node(id: $id) { ... on UnitRating { rating } } }",
                json!({ "id": rating }),
                Some(&district),
            )
            .await
            .ok();
        assert_eq!(stored["node"]["rating"], won[0].data()["confirmUnitRating"]["rating"]);
    }
    let confirmations = trail(&app).await.into_iter().filter(|(a, _)| a == "RATING_CONFIRMED").count();
    assert_eq!(confirmations, 3 + rounds.len(), "one entry per decision");
}

/// `targetProgress` of `code` for `year` and the indicators `codes`, by the district officer.
async fn progress(app: &TestApp, token: &str, code: &str, year: i32, codes: &[&str]) -> Vec<Value> {
    let unit = app.unit_id(code).await;
    let data = app.gql(PROGRESS, json!({ "u": unit, "y": year, "i": codes }), Some(token)).await.ok();
    data["targetProgress"].as_array().unwrap().clone()
}

fn of<'a>(progress: &'a [Value], code: &str) -> &'a Value {
    progress.iter().find(|p| p["indicator"]["code"] == code).unwrap_or_else(|| panic!("no {code}"))
}

/// (code, actual rounded to 2 places, reportingUnits) of each child.
fn children(p: &Value) -> Vec<(String, f64, i64)> {
    p["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let actual = (c["actual"].as_f64().unwrap() * 100.0).round() / 100.0;
            (s(&c["unit"]["code"]), actual, c["reportingUnits"].as_i64().unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_of_units_rated_good_are_targets_and_the_subtree_is_summed_up() {
    let app = spawn_app().await;
    let year = last_year();
    let district = app.token(LB_OFFICER).await;
    let submitter = unit_officer(&app, 1, "HN-LB").await;
    for (code, year) in [("HN-LB", year), ("HN-LB-BD", year), ("HN-LB-GT", year), ("HN-LB-BD", year - 1)] {
        set_criteria(&app, &district, code, year, criteria_input(&[70, 30])).await.ok();
    }
    // Branches: confirmed excellent, good, fair, weak, good; one waiting. Wards: one good, one
    // waiting. Last year but one: a weak branch, outside the period asked for.
    let plan: [(&str, i32, Option<&str>); 9] = [
        ("HN-LB-BD-01", year, Some("EXCELLENT")),
        ("HN-LB-BD-02", year, Some("GOOD")),
        ("HN-LB-BD-03", year, Some("FAIR")),
        ("HN-LB-BD-04", year, None),
        ("HN-LB-GT-01", year, Some("WEAK")),
        ("HN-LB-GT-02", year, Some("GOOD")),
        ("HN-LB-BD", year, Some("GOOD")),
        ("HN-LB-GT", year, None),
        ("HN-LB-BD-01", year - 1, Some("WEAK")),
    ];
    for (code, y, confirmed) in plan {
        let rating = submitted(&app, &submitter.token, code, y, confirmed.unwrap_or("GOOD")).await;
        if let Some(level) = confirmed {
            app.gql(CONFIRM, json!({ "r": rating, "l": level }), Some(&district)).await.ok();
        }
    }

    // The ward: two of its three confirmed branches are good or better.
    let ward = progress(&app, &district, "HN-LB-BD", year, &["BRANCHES_RATED_GOOD"]).await;
    let branches = of(&ward, "BRANCHES_RATED_GOOD");
    assert!((branches["total"]["actual"].as_f64().unwrap() - 200.0 / 3.0).abs() < 1e-9);
    assert_eq!(branches["total"]["reportingUnits"], 3);
    assert_eq!(
        children(branches),
        [
            ("HN-LB-BD-01".to_owned(), 100.0, 1),
            ("HN-LB-BD-02".to_owned(), 100.0, 1),
            ("HN-LB-BD-03".to_owned(), 0.0, 1),
            ("HN-LB-BD-04".to_owned(), 0.0, 0)
        ]
    );

    // A target of 90% at the district, 90% for each ward: attainment is actual over it, rolled
    // up the tree like any other indicator.
    let lb = app.unit_id("HN-LB").await;
    let mut shares = Vec::new();
    for w in ["BD", "GT", "NL", "DG", "PD"] {
        shares.push(json!({ "unitId": app.unit_id(&format!("HN-LB-{w}")).await, "value": 90.0 }));
    }
    app.gql(
        "mutation($i: SetTargetInput!) { setTarget(input: $i) { target { value } } }",
        json!({ "i": { "indicatorId": "BRANCHES_RATED_GOOD", "unitId": lb, "period": { "year": year }, "value": 90.0, "shares": shares } }),
        Some(&district),
    )
    .await
    .ok();
    let listed = progress(&app, &district, "HN-LB", year, &["BASES_RATED_GOOD"]).await;
    let branches = of(&listed, "BRANCHES_RATED_GOOD");
    assert_eq!(branches["total"]["actual"], 60.0, "3 of 5 confirmed");
    assert_eq!(branches["total"]["target"], 90.0);
    assert!((branches["total"]["attainment"].as_f64().unwrap() - 60.0 / 90.0).abs() < 1e-9);
    assert_eq!(
        children(branches),
        [
            ("HN-LB-BD".to_owned(), 66.67, 3),
            ("HN-LB-DG".to_owned(), 0.0, 0),
            ("HN-LB-GT".to_owned(), 50.0, 2),
            ("HN-LB-NL".to_owned(), 0.0, 0),
            ("HN-LB-PD".to_owned(), 0.0, 0)
        ],
        "the children by name"
    );
    let bases = of(&listed, "BASES_RATED_GOOD");
    assert_eq!(
        (bases["total"]["actual"].as_f64(), bases["total"]["reportingUnits"].as_i64()),
        (Some(100.0), Some(1))
    );
    let city = app.token(CITY_ADMIN).await;
    let whole = progress(&app, &city, "HN", year, &["BRANCHES_RATED_GOOD"]).await;
    assert_eq!(of(&whole, "BRANCHES_RATED_GOOD")["total"]["actual"], 60.0);
    let earlier = progress(&app, &city, "HN", year - 1, &["BRANCHES_RATED_GOOD"]).await;
    assert_eq!(of(&earlier, "BRANCHES_RATED_GOOD")["total"]["actual"], 0.0, "the weak one alone");
    let term = app
        .gql(
            "query($u: ID!, $f: Int!, $t: Int!) { targetProgress(unitId: $u, period: { fromYear: $f, toYear: $t }, \
             indicatorIds: [\"BRANCHES_RATED_GOOD\"]) { total { actual reportingUnits } } }",
            json!({ "u": app.unit_id("HN").await, "f": year - 1, "t": year }),
            Some(&city),
        )
        .await
        .ok();
    assert_eq!(
        term["targetProgress"][0]["total"],
        json!({ "actual": 50.0, "reportingUnits": 6 }),
        "3 of 6 over both years"
    );

    // How the district's units stand, by kind.
    let summary = app
        .gql(
            "query($u: ID!, $y: Int!) { ratingSummary(unitId: $u, year: $y) { kind units notStarted drafts submitted \
             excellent good fair weak goodOrBetterShare } }",
            json!({ "u": lb, "y": year }),
            Some(&district),
        )
        .await
        .ok();
    assert_eq!(
        summary["ratingSummary"],
        json!([
            { "kind": "BASE", "units": 5, "notStarted": 3, "drafts": 0, "submitted": 1, "excellent": 0, "good": 1,
              "fair": 0, "weak": 0, "goodOrBetterShare": 1.0 },
            { "kind": "BRANCH", "units": 20, "notStarted": 14, "drafts": 0, "submitted": 1, "excellent": 1, "good": 2,
              "fair": 1, "weak": 1, "goodOrBetterShare": 0.6 },
            { "kind": "GROUP", "units": 5, "notStarted": 5, "drafts": 0, "submitted": 0, "excellent": 0, "good": 0,
              "fair": 0, "weak": 0, "goodOrBetterShare": null },
        ])
    );

    // The list below the district, in code order, paged by keyset; a page costs the same
    // statements whatever its size.
    let list = "query($u: ID!, $y: Int!, $k: OrgUnitKind, $s: RatingStatus, $n: Int, $a: String) { \
        unitRatings(unitId: $u, year: $y, kind: $k, status: $s, first: $n, after: $a) { totalCount \
        pageInfo { hasNextPage endCursor } edges { node { unit { code } status rating totalScore maxScore \
        scores { score criterion { title } } submittedBy { fullName } } } } }";
    let page = |n: i64, after: Value, kind: Value, status: Value| {
        let app = &app;
        let district = district.clone();
        let lb = lb.clone();
        async move {
            let before = app.statements();
            let data = app
                .gql(
                    list,
                    json!({ "u": lb, "y": year, "k": kind, "s": status, "n": n, "a": after }),
                    Some(&district),
                )
                .await
                .ok();
            (data["unitRatings"].clone(), app.statements() - before)
        }
    };
    let codes = |conn: &Value| nodes(conn).iter().map(|n| s(&n["unit"]["code"])).collect::<Vec<_>>();
    let (first, small) = page(2, Value::Null, json!("BRANCH"), Value::Null).await;
    assert_eq!(codes(&first), ["HN-LB-BD-01", "HN-LB-BD-02"]);
    assert_eq!(first["totalCount"], 6);
    let (rest, _) = page(10, first["pageInfo"]["endCursor"].clone(), json!("BRANCH"), Value::Null).await;
    assert_eq!(codes(&rest), ["HN-LB-BD-03", "HN-LB-BD-04", "HN-LB-GT-01", "HN-LB-GT-02"]);
    assert_eq!(rest["pageInfo"]["hasNextPage"], false);
    let (all, large) = page(10, Value::Null, Value::Null, Value::Null).await;
    assert_eq!(
        codes(&all),
        [
            "HN-LB-BD",
            "HN-LB-BD-01",
            "HN-LB-BD-02",
            "HN-LB-BD-03",
            "HN-LB-BD-04",
            "HN-LB-GT",
            "HN-LB-GT-01",
            "HN-LB-GT-02"
        ]
    );
    assert_eq!(small, large, "statements for 2 ratings and for 8");
    assert!(large <= 10, "{large} statements for a page");
    let first_node = &nodes(&all)[1];
    assert_eq!((first_node["totalScore"].as_i64(), first_node["maxScore"].as_i64()), (Some(100), Some(100)));
    assert_eq!(first_node["scores"][0]["criterion"]["title"], "Tiêu chí 1");
    let (waiting, _) = page(10, Value::Null, Value::Null, json!("SUBMITTED")).await;
    assert_eq!(codes(&waiting), ["HN-LB-BD-04", "HN-LB-GT"]);
    assert_eq!(waiting["totalCount"], 2);

    // A branch leader reads her branch's rating, not the list of her ward.
    let leader = app.token(BD1_LEADER).await;
    assert_eq!(rating_of(&app, &leader, "HN-LB-BD-01", year).await["rating"], "EXCELLENT");
    let ward_id = app.unit_id("HN-LB-BD").await;
    app.gql(list, json!({ "u": ward_id, "y": year }), Some(&leader)).await.expect_code("NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_ward_rates_itself_and_the_district_sees_its_share() {
    let app = spawn_app_with(&[("APP_SEED_DEMO_CONTENT", "true")]).await;
    let year = (chrono::Utc::now() + chrono::Duration::hours(7)).year();
    let district = app.token(LB_OFFICER).await;
    let ward = app.token(BD_OFFICER).await;

    // Last year: four of Long Biên's five wards rated good or better, against a target of 90%.
    let last = progress(&app, &district, "HN-LB", year - 1, &["BASES_RATED_GOOD"]).await;
    let bases = &of(&last, "BASES_RATED_GOOD")["total"];
    assert_eq!((bases["actual"].as_f64(), bases["target"].as_f64()), (Some(80.0), Some(90.0)));
    assert_eq!(bases["reportingUnits"], 5);
    let summary = app
        .gql(
            "query($u: ID!, $y: Int!) { ratingSummary(unitId: $u, year: $y) { kind excellent good fair weak } }",
            json!({ "u": app.unit_id("HN-LB-BD").await, "y": year - 1 }),
            Some(&ward),
        )
        .await
        .ok();
    assert_eq!(
        summary["ratingSummary"][0],
        json!({ "kind": "BRANCH", "excellent": 1, "good": 2, "fair": 1, "weak": 0 })
    );

    // This year: Bồ Đề's officer submits, Long Biên confirms, the district's progress moves.
    let rating = submitted(&app, &ward, "HN-LB-BD", year, "EXCELLENT").await;
    let before = progress(&app, &district, "HN-LB", year, &[]).await;
    assert_eq!(of(&before, "BASES_RATED_GOOD")["total"]["reportingUnits"], 0, "waiting counts nowhere");
    app.gql(CONFIRM, json!({ "r": rating, "l": "EXCELLENT" }), Some(&district)).await.ok();
    let after = progress(&app, &district, "HN-LB", year, &[]).await;
    let bases = of(&after, "BASES_RATED_GOOD");
    assert_eq!(bases["total"]["actual"], 100.0);
    assert_eq!(bases["total"]["reportingUnits"], 1);
    assert!((bases["total"]["attainment"].as_f64().unwrap() - 100.0 / 90.0).abs() < 1e-9);
    assert_eq!(children(bases)[0], ("HN-LB-BD".to_owned(), 100.0, 1));
    let kinds: Vec<String> = inbox(&app, &ward).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["RATING_CONFIRMED"]);
}
