//! Commendations: kinds of award per level, nominations of units and people, the awarding
//! level's decision (once, whoever races), awards on a unit's page and a member's profile, and
//! the year's figures.

use chrono::{Datelike, Duration, Utc};
use futures_util::future::join_all;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::{
    fixtures::{Member, Series, member, officer},
    helpers::*,
};

const S: Series = Series::AWARDS;

const KIND_FIELDS: &str = "id name issuer recipients active unit { code }";
const NOMINATION_FIELDS: &str = "id year status citation decisionNumber decisionDate declineReason \
    kind { name } nominatingUnit { code } unit { code } person { fullName } nominatedBy { fullName } decidedBy { fullName }";
const APPROVE: &str = "mutation($n: ID!, $no: String!, $d: Date!) { approveNomination(nominationId: $n, \
    decisionNumber: $no, decisionDate: $d) { id status decisionNumber decisionDate } }";
const DECLINE: &str = "mutation($n: ID!, $why: String!) { declineNomination(nominationId: $n, reason: $why) { id status declineReason } }";

fn last_year() -> i32 {
    Utc::now().year() - 1
}

/// A decision date inside last year.
fn last_years_date() -> String {
    format!("{}-12-20", last_year())
}

async fn create_kind(
    app: &TestApp,
    token: &str,
    code: &str,
    name: &str,
    issuer: &str,
    recipients: &str,
) -> Gql {
    let unit = app.unit_id(code).await;
    let q = format!(
        "mutation($u: ID!, $i: AwardKindInput!) {{ createAwardKind(unitId: $u, input: $i) {{ {KIND_FIELDS} }} }}"
    );
    app.gql(
        &q,
        json!({ "u": unit, "i": { "name": name, "issuer": issuer, "recipients": recipients } }),
        Some(token),
    )
    .await
}

async fn kind(app: &TestApp, token: &str, code: &str, name: &str, recipients: &str) -> String {
    let issuer = format!("Hội LHPN {code}");
    s(&create_kind(app, token, code, name, &issuer, recipients).await.ok()["createAwardKind"]["id"])
}

async fn nominate(app: &TestApp, token: &str, input: Value) -> Gql {
    let q =
        format!("mutation($i: NominationInput!) {{ nominateForAward(input: $i) {{ {NOMINATION_FIELDS} }} }}");
    app.gql(&q, json!({ "i": input }), Some(token)).await
}

/// Nominates the unit `nominee` (by `from`) for `kind`, last year: the nomination's id.
async fn nominate_unit(app: &TestApp, token: &str, kind: &str, from: &str, nominee: &str) -> String {
    let input = json!({ "kindId": kind, "year": last_year(), "nominatingUnitId": app.unit_id(from).await,
                        "unitId": app.unit_id(nominee).await, "citation": "Dẫn đầu phong trào thi đua." });
    s(&nominate(app, token, input).await.ok()["nominateForAward"]["id"])
}

/// Nominates the person `person` (a global id, by `from`) for `kind`, last year.
async fn nominate_person(app: &TestApp, token: &str, kind: &str, from: &str, person: &str) -> Gql {
    let input = json!({ "kindId": kind, "year": last_year(), "nominatingUnitId": app.unit_id(from).await,
                        "personId": person, "citation": "Hoàn thành xuất sắc nhiệm vụ." });
    nominate(app, token, input).await
}

async fn inbox(app: &TestApp, token: &str) -> Vec<String> {
    let data = app
        .gql("{ notifications(first: 50) { edges { node { kind } } } }", json!({}), Some(token))
        .await
        .ok();
    nodes(&data["notifications"]).iter().map(|n| s(&n["kind"])).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinds_are_defined_where_they_are_decided_and_used_below() {
    let app = spawn_app().await;
    let city = app.token(CITY_ADMIN).await;
    let district = app.token(LB_OFFICER).await;
    let ward = app.token(BD_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;

    let giay =
        create_kind(&app, &district, "HN-LB", "Giấy khen", "Ban Thường vụ Hội LHPN quận Long Biên", "BOTH")
            .await
            .ok()["createAwardKind"]
            .clone();
    assert_eq!(giay["unit"]["code"], "HN-LB");
    assert_eq!((giay["recipients"].as_str(), giay["active"].as_bool()), (Some("BOTH"), Some(true)));
    let city_kind = kind(&app, &city, "HN", "Bằng khen", "COLLECTIVE").await;
    let central = kind(&app, &city, "HN", "Bằng khen Trung ương Hội", "INDIVIDUAL").await;
    // Only whoever decides there: not a branch leader, not a ward officer for her district.
    create_kind(&app, &leader, "HN-LB-BD-01", "Giấy khen", "Chi hội", "BOTH").await.expect_code("FORBIDDEN");
    create_kind(&app, &ward, "HN-LB", "Giấy khen", "Quận", "BOTH").await.expect_code("NOT_FOUND");
    for (name, issuer, field, problem) in [
        ("  ", "Quận", "input.name", "REQUIRED"),
        ("Giấy khen", "", "input.issuer", "REQUIRED"),
        ("Giấy khen", &*"a".repeat(301), "input.issuer", "TOO_LONG"),
    ] {
        let answer =
            create_kind(&app, &district, "HN-LB", name, issuer, "BOTH").await.expect_code("BAD_USER_INPUT");
        assert_eq!((answer.field(), answer.reason()), (Some(field), Some(problem)));
    }

    // Usable at a unit: those of the unit and above it, the highest level first.
    let kinds =
        "query($u: ID!, $all: Boolean) { awardKinds(unitId: $u, all: $all) { id name unit { code } } }";
    let at = |token: String, code: &'static str, all: bool| {
        let app = &app;
        async move {
            let data =
                app.gql(kinds, json!({ "u": app.unit_id(code).await, "all": all }), Some(&token)).await.ok();
            data["awardKinds"].as_array().unwrap().iter().map(|k| s(&k["id"])).collect::<Vec<_>>()
        }
    };
    let giay = s(&giay["id"]);
    assert_eq!(
        at(leader.clone(), "HN-LB-BD-01", false).await,
        [city_kind.clone(), central.clone(), giay.clone()]
    );
    let hk = officer(&app, S, 1, "HN-HK", "UNIT_OFFICER").await;
    assert_eq!(at(hk.token.clone(), "HN-HK", false).await, [city_kind.clone(), central.clone()]);
    app.gql("query($id: ID!) { node(id: $id) { id } }", json!({ "id": giay }), Some(&hk.token))
        .await
        .expect_code("NOT_FOUND");

    // Switched off: no new nominations, the list keeps it only when asked for all.
    let off = "mutation($k: ID!, $a: Boolean!) { setAwardKindActive(kindId: $k, active: $a) { active } }";
    app.gql(off, json!({ "k": giay, "a": false }), Some(&ward)).await.expect_code("NOT_FOUND");
    assert_eq!(
        app.gql(off, json!({ "k": giay, "a": false }), Some(&district)).await.ok()["setAwardKindActive"]["active"],
        false
    );
    assert_eq!(at(leader.clone(), "HN-LB-BD-01", false).await.len(), 2);
    assert_eq!(at(leader.clone(), "HN-LB-BD-01", true).await.len(), 3);
    let input = json!({ "kindId": giay, "year": last_year(), "nominatingUnitId": app.unit_id("HN-LB-BD").await,
                        "unitId": app.unit_id("HN-LB-BD-02").await, "citation": "Tốt." });
    nominate(&app, &ward, input).await.expect_reason("CONFLICT", "WRONG_STATUS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nominations_name_units_and_people_of_the_nominating_subtree() {
    let app = spawn_app().await;
    let city = app.token(CITY_ADMIN).await;
    let district = app.token(LB_OFFICER).await;
    let ward = app.token(BD_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let giay = kind(&app, &district, "HN-LB", "Giấy khen", "BOTH").await;
    let collective_only = kind(&app, &city, "HN", "Bằng khen", "COLLECTIVE").await;
    let hk_kind = kind(&app, &city, "HN-HK", "Giấy khen Hoàn Kiếm", "BOTH").await;
    let hers: Member = member(&app, &city, S, 1, "HN-LB-BD-01").await;
    let elsewhere: Member = member(&app, &city, S, 2, "HN-LB-BD-02").await;
    let ward_officer_id = app.person_id(BD_OFFICER).await;
    let leader_id = app.person_id(BD1_LEADER).await;

    // A unit of her subtree, once while it is live.
    let first = nominate_unit(&app, &ward, &giay, "HN-LB-BD", "HN-LB-BD-01").await;
    let again = json!({ "kindId": giay, "year": last_year(), "nominatingUnitId": app.unit_id("HN-LB-BD").await,
                        "unitId": app.unit_id("HN-LB-BD-01").await, "citation": "Lần hai." });
    nominate(&app, &ward, again.clone()).await.expect_reason("CONFLICT", "ALREADY_NOMINATED");
    // Another year is another nomination; the ward may propose itself.
    let mut other_year = again.clone();
    other_year["year"] = json!(last_year() - 1);
    nominate(&app, &ward, other_year).await.ok();
    nominate_unit(&app, &ward, &giay, "HN-LB-BD", "HN-LB-BD").await;

    // People: a member of a branch of the nominating unit, an officer holding a role in it.
    let member_nomination = nominate_person(&app, &leader, &giay, "HN-LB-BD-01", &hers.person_id).await.ok();
    assert_eq!(member_nomination["nominateForAward"]["person"]["fullName"], crate::fixtures::name(1));
    assert_eq!(member_nomination["nominateForAward"]["status"], "PROPOSED");
    nominate_person(&app, &ward, &giay, "HN-LB-BD", &leader_id).await.ok();
    // Not out of her subtree: another branch's member, the ward's officer, the ward itself.
    nominate_person(&app, &leader, &giay, "HN-LB-BD-01", &elsewhere.person_id).await.expect_code("NOT_FOUND");
    nominate_person(&app, &leader, &giay, "HN-LB-BD-01", &ward_officer_id).await.expect_code("NOT_FOUND");
    let up = json!({ "kindId": giay, "year": last_year(), "nominatingUnitId": app.unit_id("HN-LB-BD-01").await,
                     "unitId": app.unit_id("HN-LB-BD").await, "citation": "Tốt." });
    nominate(&app, &leader, up).await.expect_code("NOT_FOUND");
    // Not a kind of another district; not someone who may not nominate there.
    let foreign = json!({ "kindId": hk_kind, "year": last_year(), "nominatingUnitId": app.unit_id("HN-LB-BD").await,
                          "unitId": app.unit_id("HN-LB-BD-02").await, "citation": "Tốt." });
    nominate(&app, &ward, foreign).await.expect_code("NOT_FOUND");
    let case_officer = app.token(BD_CASE_OFFICER).await;
    nominate_person(&app, &case_officer, &giay, "HN-LB-BD", &leader_id).await.expect_code("FORBIDDEN");

    // Bad input, each on its field.
    let base = json!({ "kindId": giay, "year": last_year(), "nominatingUnitId": app.unit_id("HN-LB-BD").await,
                       "unitId": app.unit_id("HN-LB-BD-03").await, "citation": "Tốt." });
    let with = |key: &str, value: Value| {
        let mut v = base.clone();
        v[key] = value;
        v
    };
    let mut both = base.clone();
    both["personId"] = json!(leader_id);
    let mut neither = base.clone();
    neither.as_object_mut().unwrap().remove("unitId");
    for (input, field, problem) in [
        (with("year", json!(Utc::now().year() + 1)), "input.year", "OUT_OF_RANGE"),
        (with("year", json!(1999)), "input.year", "OUT_OF_RANGE"),
        (with("citation", json!(" \n ")), "input.citation", "REQUIRED"),
        (with("citation", json!("a".repeat(2001))), "input.citation", "TOO_LONG"),
        (both, "input.unitId", "EXACTLY_ONE"),
        (neither, "input.unitId", "EXACTLY_ONE"),
        (with("unitId", json!("not-an-id")), "input.unitId", "INVALID_ID"),
        (with("kindId", json!(app.unit_id("HN").await)), "input.kindId", "INVALID_ID"),
    ] {
        let answer = nominate(&app, &ward, input).await.expect_code("BAD_USER_INPUT");
        assert_eq!((answer.field(), answer.reason()), (Some(field), Some(problem)));
    }
    let person_for_units = nominate_person(&app, &ward, &collective_only, "HN-LB-BD", &leader_id)
        .await
        .expect_code("BAD_USER_INPUT");
    assert_eq!(
        (person_for_units.field(), person_for_units.reason()),
        (Some("input.personId"), Some("INVALID_KIND"))
    );

    // The console: what the subtree proposed, oldest first, by status and kind, with a total;
    // a page costs the same statements whatever its size.
    let list = "query($u: ID!, $y: Int, $k: ID, $n: Int) { awardNominations(unitId: $u, year: $y, kindId: $k, first: $n) { \
        totalCount edges { node { id status unit { code } person { fullName } kind { name } nominatingUnit { code } } } } }";
    let page = |token: String, code: &'static str, n: i64| {
        let app = &app;
        let giay = giay.clone();
        async move {
            let before = app.statements();
            let data = app
                .gql(
                    list,
                    json!({ "u": app.unit_id(code).await, "y": last_year(), "k": giay, "n": n }),
                    Some(&token),
                )
                .await
                .ok();
            (data["awardNominations"].clone(), app.statements() - before)
        }
    };
    let (all, large) = page(district.clone(), "HN-LB", 10).await;
    assert_eq!(all["totalCount"], 4);
    assert_eq!(s(&nodes(&all)[0]["id"]), first);
    // Three: units and a person, like the four.
    let (three, small) = page(district.clone(), "HN-LB", 3).await;
    assert_eq!(nodes(&three).len(), 3);
    assert_eq!(small, large, "statements for 3 nominations and for 4");
    assert!(large <= 8, "{large} statements");
    let (branch, _) = page(leader.clone(), "HN-LB-BD-01", 10).await;
    assert_eq!(branch["totalCount"], 1, "a branch leader sees her branch's own");
    let outsider = officer(&app, S, 3, "HN-LB-GT", "UNIT_OFFICER").await;
    app.gql(list, json!({ "u": app.unit_id("HN-LB-BD").await }), Some(&outsider.token))
        .await
        .expect_code("NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_awarding_level_decides_once_and_the_awardees_are_told() {
    let app = spawn_app().await;
    let city = app.token(CITY_ADMIN).await;
    let district = app.token(LB_OFFICER).await;
    let district_admin = officer(&app, S, 10, "HN-LB", "UNIT_ADMIN").await;
    let ward = app.token(BD_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let giay = kind(&app, &district, "HN-LB", "Giấy khen", "BOTH").await;
    let hers: Member = member(&app, &city, S, 1, "HN-LB-BD-01").await;

    let unit_award = nominate_unit(&app, &ward, &giay, "HN-LB-BD", "HN-LB-BD-01").await;
    let her_award = s(
        &nominate_person(&app, &leader, &giay, "HN-LB-BD-01", &hers.person_id).await.ok()["nominateForAward"]
            ["id"],
    );

    // Not the nominating level, not a bad decision.
    app.gql(APPROVE, json!({ "n": unit_award, "no": "12/QĐ", "d": last_years_date() }), Some(&ward))
        .await
        .expect_code("FORBIDDEN");
    let today = (Utc::now() + Duration::hours(7)).date_naive();
    for (number, date, field, problem) in [
        ("  ", last_years_date(), "decisionNumber", "REQUIRED"),
        (&*"1".repeat(51), last_years_date(), "decisionNumber", "TOO_LONG"),
        ("12/QĐ", format!("{}-12-31", last_year() - 1), "decisionDate", "OUT_OF_RANGE"),
        ("12/QĐ", (today + Duration::days(2)).to_string(), "decisionDate", "OUT_OF_RANGE"),
    ] {
        let answer = app
            .gql(APPROVE, json!({ "n": unit_award, "no": number, "d": date }), Some(&district))
            .await
            .expect_code("BAD_USER_INPUT");
        assert_eq!((answer.field(), answer.reason()), (Some(field), Some(problem)));
    }

    // Approved: the number and date kept, the unit's officers and the member told.
    let approved = app
        .gql(
            APPROVE,
            json!({ "n": unit_award, "no": " 125/QĐ-HPN ", "d": last_years_date() }),
            Some(&district),
        )
        .await
        .ok();
    assert_eq!(
        approved["approveNomination"],
        json!({ "id": unit_award, "status": "APPROVED", "decisionNumber": "125/QĐ-HPN", "decisionDate": last_years_date() })
    );
    app.gql(APPROVE, json!({ "n": her_award, "no": "126/QĐ-HPN", "d": last_years_date() }), Some(&district))
        .await
        .ok();
    app.gql(DECLINE, json!({ "n": her_award, "why": "Muộn" }), Some(&district_admin.token))
        .await
        .expect_reason("CONFLICT", "ALREADY_DECIDED");
    assert_eq!(inbox(&app, &leader).await, ["AWARD_GRANTED"], "the branch's leader, for her branch");
    assert_eq!(inbox(&app, &hers.token).await, ["AWARD_GRANTED"]);

    // On the unit's page, for anyone; on her profile, for her and her branch's leader.
    let page = "query($id: ID!) { node(id: $id) { ... on OrgUnit { awards { kind { name issuer } year decisionNumber decisionDate citation } } } }";
    let unit = app.gql(page, json!({ "id": app.unit_id("HN-LB-BD-01").await }), None).await.ok();
    assert_eq!(
        unit["node"]["awards"],
        json!([{ "kind": { "name": "Giấy khen", "issuer": "Hội LHPN HN-LB" }, "year": last_year(),
                 "decisionNumber": "125/QĐ-HPN", "decisionDate": last_years_date(), "citation": "Dẫn đầu phong trào thi đua." }])
    );
    let empty = app.gql(page, json!({ "id": app.unit_id("HN-LB-BD-02").await }), None).await.ok();
    assert_eq!(empty["node"]["awards"], json!([]));
    let mine =
        app.gql("{ myAwards { decisionNumber kind { name } } }", json!({}), Some(&hers.token)).await.ok();
    assert_eq!(
        mine["myAwards"],
        json!([{ "decisionNumber": "126/QĐ-HPN", "kind": { "name": "Giấy khen" } }])
    );
    let profile = "query($id: ID!) { node(id: $id) { ... on Membership { awards { decisionNumber } } } }";
    let seen = app.gql(profile, json!({ "id": hers.membership_id }), Some(&leader)).await.ok();
    assert_eq!(seen["node"]["awards"], json!([{ "decisionNumber": "126/QĐ-HPN" }]));
    let outsider = officer(&app, S, 3, "HN-LB-GT", "UNIT_OFFICER").await;
    app.gql(profile, json!({ "id": hers.membership_id }), Some(&outsider.token))
        .await
        .expect_code("NOT_FOUND");
    // The awardee reads her award's record; other members do not.
    app.gql("query($id: ID!) { node(id: $id) { id } }", json!({ "id": her_award }), Some(&hers.token))
        .await
        .ok();
    let stranger = app.token(MEMBER).await;
    app.gql("query($id: ID!) { node(id: $id) { id } }", json!({ "id": her_award }), Some(&stranger))
        .await
        .expect_code("NOT_FOUND");

    // Declined with a reason the nominator reads; the nominee may be proposed again.
    let declined = nominate_unit(&app, &ward, &giay, "HN-LB-BD", "HN-LB-BD-02").await;
    let blank = app
        .gql(DECLINE, json!({ "n": declined, "why": " " }), Some(&district))
        .await
        .expect_code("BAD_USER_INPUT");
    assert_eq!((blank.field(), blank.reason()), (Some("reason"), Some("REQUIRED")));
    let answer =
        app.gql(DECLINE, json!({ "n": declined, "why": "Chưa đủ thành tích." }), Some(&district)).await.ok();
    assert_eq!(answer["declineNomination"]["status"], "DECLINED");
    assert_eq!(inbox(&app, &ward).await, ["NOMINATION_DECLINED"]);
    nominate_unit(&app, &ward, &giay, "HN-LB-BD", "HN-LB-BD-02").await;

    // Nobody decides her own award, proposed by someone else.
    let district_id = app.person_id(LB_OFFICER).await;
    let hers_to_decide = s(&nominate_person(&app, &district_admin.token, &giay, "HN-LB", &district_id)
        .await
        .ok()["nominateForAward"]["id"]);
    app.gql(APPROVE, json!({ "n": hers_to_decide, "no": "1", "d": last_years_date() }), Some(&district))
        .await
        .expect_code("FORBIDDEN");
    app.gql(APPROVE, json!({ "n": hers_to_decide, "no": "1", "d": last_years_date() }), Some(&city))
        .await
        .ok();

    // Nobody decides what she proposed.
    let own = nominate_unit(&app, &district, &giay, "HN-LB", "HN-LB-GT").await;
    app.gql(APPROVE, json!({ "n": own, "no": "1", "d": last_years_date() }), Some(&district))
        .await
        .expect_code("FORBIDDEN");

    // Two deciders at once: exactly one decision each, one audit entry each.
    let mut racing = vec![own];
    for code in ["HN-LB-BD-03", "HN-LB-BD-04"] {
        racing.push(nominate_unit(&app, &ward, &giay, "HN-LB-BD", code).await);
    }
    for nomination in &racing {
        let answers = join_all([(&district, true), (&district_admin.token, false)].map(|(t, approve)| {
            let app = &app;
            async move {
                if approve {
                    app.gql(
                        APPROVE,
                        json!({ "n": nomination, "no": "200/QĐ", "d": last_years_date() }),
                        Some(t),
                    )
                    .await
                } else {
                    app.gql(DECLINE, json!({ "n": nomination, "why": "Không đủ điều kiện." }), Some(t)).await
                }
            }
        }))
        .await;
        let won = answers.iter().filter(|a| !a.has_errors()).count();
        let codes: Vec<_> = answers.iter().filter_map(|a| a.reason().map(str::to_owned)).collect();
        // The district officer proposed the first herself: only the admin decides it.
        if nomination == &racing[0] {
            assert_eq!(won, 1, "{answers:?}");
            assert_eq!(answers[0].code(), Some("FORBIDDEN"));
        } else {
            assert_eq!(
                (won, codes.as_slice()),
                (1, ["ALREADY_DECIDED".to_owned()].as_slice()),
                "{answers:?}"
            );
        }
    }
    let trail =
        "query($u: ID!) { auditTrail(unitId: $u, area: AWARDS, first: 100) { edges { node { action } } } }";
    let data = app.gql(trail, json!({ "u": app.unit_id("HN").await }), Some(&city)).await.ok();
    let decisions = nodes(&data["auditTrail"])
        .iter()
        .filter(|e| e["action"] == "AWARD_APPROVED" || e["action"] == "NOMINATION_DECLINED")
        .count();
    assert_eq!(decisions, 4 + racing.len(), "one entry per decision");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_years_figures_count_by_kind_with_the_share_of_women() {
    let app = spawn_app().await;
    let city = app.token(CITY_ADMIN).await;
    let district = app.token(LB_OFFICER).await;
    let ward = app.token(BD_OFFICER).await;
    let giay = kind(&app, &district, "HN-LB", "Giấy khen", "BOTH").await;
    let bang = kind(&app, &city, "HN", "Bằng khen", "BOTH").await;
    let women: Vec<Member> =
        vec![member(&app, &city, S, 1, "HN-LB-BD-01").await, member(&app, &city, S, 2, "HN-LB-BD-02").await];
    let man = member(&app, &city, S, 3, "HN-LB-BD-03").await;
    app.gql("mutation { updateProfile(input: { gender: MALE }) { id } }", json!({}), Some(&man.token))
        .await
        .ok();

    let mut approve = Vec::new();
    approve.push(nominate_unit(&app, &ward, &giay, "HN-LB-BD", "HN-LB-BD-01").await);
    approve.push(nominate_unit(&app, &ward, &bang, "HN-LB-BD", "HN-LB-BD").await);
    for person in women.iter().chain([&man]) {
        approve.push(s(
            &nominate_person(&app, &ward, &giay, "HN-LB-BD", &person.person_id).await.ok()["nominateForAward"]
                ["id"],
        ));
    }
    // Waiting and declined ones count nowhere.
    nominate_unit(&app, &ward, &giay, "HN-LB-BD", "HN-LB-BD-02").await;
    let declined = nominate_unit(&app, &ward, &giay, "HN-LB-BD", "HN-LB-BD-03").await;
    app.gql(DECLINE, json!({ "n": declined, "why": "Chưa đạt." }), Some(&district)).await.ok();
    for (i, n) in approve.iter().enumerate() {
        let decider = if i == 1 { &city } else { &district };
        app.gql(APPROVE, json!({ "n": n, "no": format!("{i}/QĐ"), "d": last_years_date() }), Some(decider))
            .await
            .ok();
    }

    let q = "query($u: ID!, $y: Int!) { awardStatistics(unitId: $u, year: $y) { collective individual women womenShare \
        kinds { kind { name unit { code } } collective individual women } } }";
    let figures =
        app.gql(q, json!({ "u": app.unit_id("HN-LB").await, "y": last_year() }), Some(&district)).await.ok();
    assert_eq!(
        figures["awardStatistics"],
        json!({ "collective": 2, "individual": 3, "women": 2, "womenShare": 2.0 / 3.0, "kinds": [
            { "kind": { "name": "Bằng khen", "unit": { "code": "HN" } }, "collective": 1, "individual": 0, "women": 0 },
            { "kind": { "name": "Giấy khen", "unit": { "code": "HN-LB" } }, "collective": 1, "individual": 3, "women": 2 },
        ] })
    );
    // A branch counts what it received; another district nothing; another year nothing.
    let branch = app
        .gql(q, json!({ "u": app.unit_id("HN-LB-BD-01").await, "y": last_year() }), Some(&city))
        .await
        .ok();
    assert_eq!(
        (branch["awardStatistics"]["collective"].as_i64(), branch["awardStatistics"]["individual"].as_i64()),
        (Some(1), Some(0))
    );
    let hk = app.gql(q, json!({ "u": app.unit_id("HN-HK").await, "y": last_year() }), Some(&city)).await.ok();
    assert_eq!(hk["awardStatistics"]["kinds"], json!([]));
    assert_eq!(hk["awardStatistics"]["womenShare"], Value::Null);
    let before =
        app.gql(q, json!({ "u": app.unit_id("HN").await, "y": last_year() - 1 }), Some(&city)).await.ok();
    assert_eq!(before["awardStatistics"]["individual"], 0);

    // A woman who deletes her account stays counted, without her citation.
    let delete = "mutation($p: String!) { deleteMyAccount(password: $p) }";
    app.gql(delete, json!({ "p": crate::fixtures::PASSWORD }), Some(&women[0].token)).await.ok();
    let after =
        app.gql(q, json!({ "u": app.unit_id("HN-LB").await, "y": last_year() }), Some(&district)).await.ok();
    assert_eq!(after["awardStatistics"]["women"], 2);
    let row = entities::award_nomination::Entity::find_by_id(uuid_of(&approve[2]))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.citation, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_shows_last_years_awards_and_a_nomination_waiting() {
    let app = spawn_app_with(&[("APP_SEED_DEMO_CONTENT", "true")]).await;
    let year = (Utc::now() + Duration::hours(7)).year() - 1;
    let page = "query($id: ID!) { node(id: $id) { ... on OrgUnit { awards { kind { name issuer } year decisionNumber } } } }";
    let bd = app.gql(page, json!({ "id": app.unit_id("HN-LB-BD").await }), None).await.ok();
    assert_eq!(
        bd["node"]["awards"],
        json!([{ "kind": { "name": "Bằng khen", "issuer": "Ban Chấp hành Hội LHPN Thành phố Hà Nội" }, "year": year,
                 "decisionNumber": "45/QĐ-HPNTP" }])
    );
    let member = app.token(DEMO_MEMBER).await;
    let mine = app.gql("{ myAwards { kind { name } year } }", json!({}), Some(&member)).await.ok();
    assert_eq!(mine["myAwards"], json!([{ "kind": { "name": "Giấy khen" }, "year": year }]));
    let district = app.token(LB_OFFICER).await;
    let q =
        "query($u: ID!, $y: Int!) { awardStatistics(unitId: $u, year: $y) { collective individual women } }";
    let figures =
        app.gql(q, json!({ "u": app.unit_id("HN-LB").await, "y": year }), Some(&district)).await.ok();
    assert_eq!(figures["awardStatistics"], json!({ "collective": 2, "individual": 2, "women": 2 }));
    let waiting = "query($u: ID!) { awardNominations(unitId: $u, status: PROPOSED) { totalCount edges { node { unit { code } } } } }";
    let data = app.gql(waiting, json!({ "u": app.unit_id("HN-LB").await }), Some(&district)).await.ok();
    assert_eq!(data["awardNominations"]["totalCount"], 1);
    assert_eq!(nodes(&data["awardNominations"])[0]["unit"]["code"], "HN-LB-BD-02");
}
