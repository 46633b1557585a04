//! Merging units: two wards (one of another district) folded into a third with their branches,
//! members, activity, reports, ratings, awards, targets and roles — every roll-up of every unit
//! compared before and after; a branch merged into another with its members; the rules; and a
//! merge racing enrolments on PostgreSQL.

use chrono::{Datelike, Duration, Utc};
use futures_util::future::join_all;
use serde_json::{Value, json};
use std::collections::BTreeMap;

use crate::{
    fixtures::{Series, member, officer, violence_report},
    helpers::*,
};

const S: Series = Series::MERGE;

const MERGE: &str = "mutation($s: [ID!]!, $i: ID!, $end: [ID!]!) { mergeOrgUnits(sourceIds: $s, intoId: $i, endRoleIds: $end) { \
    into { code status } sources { code status parent { code } mergedInto { code } mergedAt } childrenMoved membershipsMoved \
    requestsMoved rolesMoved rolesEnded trainingsMoved campaignsMoved postsMoved violenceReportsMoved } }";

fn this_year() -> i32 {
    (Utc::now() + Duration::hours(7)).year()
}

/// Every ward, district and the city of the demo tree.
const UNITS: [&str; 32] = [
    "HN",
    "HN-HK",
    "HN-HK-HB",
    "HN-HK-HT",
    "HN-HK-TT",
    "HN-HK-PT",
    "HN-BD",
    "HN-BD-DB",
    "HN-BD-KM",
    "HN-BD-NH",
    "HN-BD-QT",
    "HN-DD",
    "HN-DD-VM",
    "HN-DD-QTG",
    "HN-DD-LH",
    "HN-DD-KT",
    "HN-LB",
    "HN-LB-BD",
    "HN-LB-GT",
    "HN-LB-NL",
    "HN-LB-DG",
    "HN-LB-PD",
    "HN-CG",
    "HN-CG-DV",
    "HN-CG-ND",
    "HN-CG-QH",
    "HN-CG-YH",
    "HN-TTR",
    "HN-TTR-VD",
    "HN-TTR-TTO",
    "HN-TTR-THI",
    "HN-TTR-VQ",
];

async fn merge(app: &TestApp, token: &str, sources: &[&str], into: &str, end: Value) -> Gql {
    let mut ids = Vec::new();
    for code in sources {
        ids.push(app.unit_id(code).await);
    }
    // No roles to end: the argument's default, an empty list.
    let end = if end.is_null() { json!([]) } else { end };
    app.gql(MERGE, json!({ "s": ids, "i": app.unit_id(into).await, "end": end }), Some(token)).await
}

/// The additive figures of a unit: members (now, joined and left since 2020), this year's
/// computed actuals and the summed reported indicator `clubs`.
async fn figures(app: &TestApp, token: &str, code: &str, clubs: &str) -> BTreeMap<&'static str, f64> {
    let unit = app.unit_id(code).await;
    let today = (Utc::now() + Duration::hours(7)).date_naive();
    let stats = app
        .gql(
            "query($u: ID!, $f: Date!, $t: Date!) { memberStatistics(unitId: $u, from: $f, to: $t) { total { activeMembers newMembers leavers } } }",
            json!({ "u": unit, "f": "2020-01-01", "t": today.to_string() }),
            Some(token),
        )
        .await
        .ok();
    let total = &stats["memberStatistics"]["total"];
    let progress = app
        .gql(
            "query($u: ID!, $y: Int!, $i: [ID!]) { targetProgress(unitId: $u, period: { year: $y }, indicatorIds: $i) { \
             indicator { code name } total { actual } } }",
            json!({ "u": unit, "y": this_year(), "i": ["NEW_MEMBERS", "PEOPLE_TRAINED", "HOUSEHOLDS_CERTIFIED", clubs] }),
            Some(token),
        )
        .await
        .ok();
    let mut out = BTreeMap::new();
    out.insert("active", total["activeMembers"].as_f64().unwrap());
    out.insert("joined", total["newMembers"].as_f64().unwrap());
    out.insert("left", total["leavers"].as_f64().unwrap());
    for p in progress["targetProgress"].as_array().unwrap() {
        let key = match p["indicator"]["code"].as_str().unwrap() {
            "NEW_MEMBERS" => "new members (target)",
            "PEOPLE_TRAINED" => "trained",
            "HOUSEHOLDS_CERTIFIED" => "households",
            _ => "clubs",
        };
        out.insert(key, p["total"]["actual"].as_f64().unwrap());
    }
    out
}

fn add(
    a: &BTreeMap<&'static str, f64>,
    b: &BTreeMap<&'static str, f64>,
    sign: f64,
) -> BTreeMap<&'static str, f64> {
    a.iter().map(|(k, v)| (*k, v + sign * b[k])).collect()
}

/// The city-wide figures that do not add up unit by unit: averages, shares, counts of ratings
/// and awards, violence-report counts.
async fn city_wide(app: &TestApp, token: &str, avg: &str) -> Value {
    let hn = app.unit_id("HN").await;
    let last = this_year() - 1;
    let q = "query($u: ID!, $y: Int!, $l: Int!, $i: [ID!]) { \
        now: targetProgress(unitId: $u, period: { year: $y }, indicatorIds: $i) { indicator { code name } total { actual reportingUnits } } \
        then: targetProgress(unitId: $u, period: { year: $l }, indicatorIds: [\"BASES_RATED_GOOD\", \"BRANCHES_RATED_GOOD\"]) { indicator { code } total { actual reportingUnits } } \
        ratingSummary(unitId: $u, year: $l) { kind units excellent good fair weak submitted drafts } \
        awardStatistics(unitId: $u, year: $l) { collective individual women } \
        violenceReportCounts(unitId: $u) { total open } }";
    app.gql(q, json!({ "u": hn, "y": this_year(), "l": last, "i": [avg] }), Some(token)).await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wards_merge_with_everything_in_them_and_every_roll_up_adds_up() {
    let app = spawn_app().await;
    let city = app.token(CITY_ADMIN).await;
    let district = app.token(LB_OFFICER).await;
    let sysadmin = app.token(SYSADMIN).await;
    let year = this_year();
    let last = year - 1;
    let hn = app.unit_id("HN").await;

    // Members: three per branch of five wards (imported), two more who then leave.
    let mut csv = String::from("Họ và tên,Số điện thoại,Mã chi hội\n");
    let mut n = 0;
    for ward in ["HN-LB-BD", "HN-LB-GT", "HN-LB-NL", "HN-DD-VM", "HN-DD-KT"] {
        for b in 1..=4 {
            for _ in 0..3 {
                n += 1;
                csv.push_str(&format!("{},{},{ward}-{b:02}\n", crate::fixtures::name(n), S.phone(n)));
            }
        }
    }
    let imported = app
        .gql(
            "mutation($c: String!) { importMembers(csv: $c) { imported rejected { line reason } } }",
            json!({ "c": csv }),
            Some(&city),
        )
        .await
        .ok();
    assert_eq!(imported["importMembers"]["imported"], 60, "{imported}");
    for (k, branch) in [(100, "HN-LB-GT-02"), (101, "HN-DD-VM-03")] {
        let m = member(&app, &city, S, k, branch).await;
        app.gql("mutation { leaveUnion(reason: \"Chuyển nơi ở\") { status } }", json!({}), Some(&m.token))
            .await
            .ok();
    }
    // Activity: check-ins and certified households, counted where they happened.
    let day = (Utc::now() + Duration::hours(7)).date_naive();
    for (code, metric, count) in [
        ("HN-LB-GT-01", service::campaigns::activity::Metric::Attended, 5),
        ("HN-LB-GT", service::campaigns::activity::Metric::Attended, 2),
        ("HN-DD-VM", service::campaigns::activity::Metric::HouseholdsCertified, 3),
        ("HN-LB-BD-02", service::campaigns::activity::Metric::Attended, 4),
        ("HN-LB-NL", service::campaigns::activity::Metric::HouseholdsCertified, 1),
    ] {
        let unit = entities::ids::UnitId(uuid_of(&app.unit_id(code).await));
        service::campaigns::activity::record(&app.state.db, unit, metric, day, count).await.unwrap();
    }
    // A training of Gia Thụy, a campaign of Văn Miếu.
    crate::fixtures::published_training(
        &app,
        &district,
        "HN-LB-GT",
        json!({ "title": "Tập huấn kỹ năng số", "description": "Sử dụng điện thoại thông minh.", "category": "DIGITAL_SKILLS",
                "startsAt": (Utc::now() + Duration::days(10)).to_rfc3339(), "endsAt": (Utc::now() + Duration::days(10) + Duration::hours(3)).to_rfc3339(),
                "place": "Nhà văn hóa phường" }),
    )
    .await;
    crate::fixtures::launched_campaign(
        &app,
        &city,
        "HN-DD-VM",
        json!({ "kind": "CAMPAIGN", "title": "Phụ nữ Văn Miếu sống xanh", "summary": "Phân loại rác.", "body": "Phân loại rác tại nguồn.",
                "termStart": format!("{year}-01-01"), "termEnd": format!("{year}-12-31") }),
    )
    .await;
    // Violence reports: at both sources, at a branch of one, at the target.
    for code in ["HN-LB-GT", "HN-LB-GT-01", "HN-DD-VM", "HN-LB-BD"] {
        violence_report(&app, None, code, false, "Hàng xóm bị chồng đánh nhiều lần.").await;
    }
    // Reported indicators defined at the city: a count and a rate, each ward's own value.
    let define =
        "mutation($u: ID!, $i: CreateIndicatorInput!) { createIndicator(unitId: $u, input: $i) { id } }";
    let clubs = s(&app
        .gql(define, json!({ "u": hn, "i": { "name": "Số câu lạc bộ", "unitOfMeasure": "câu lạc bộ", "aggregation": "SUM" } }), Some(&city))
        .await
        .ok()["createIndicator"]["id"]);
    let rate = s(&app
        .gql(define, json!({ "u": hn, "i": { "name": "Tỷ lệ hộ dùng nước sạch", "unitOfMeasure": "%", "aggregation": "AVERAGE" } }), Some(&city))
        .await
        .ok()["createIndicator"]["id"]);
    let report = "mutation($i: ReportIndicatorValueInput!) { reportIndicatorValue(input: $i) { value } }";
    for (code, c, r) in
        [("HN-LB-BD", 5.0, 80.0), ("HN-LB-GT", 3.0, 60.0), ("HN-DD-VM", 4.0, 70.0), ("HN-LB-NL", 2.0, 90.0)]
    {
        let u = app.unit_id(code).await;
        for (ind, v) in [(&clubs, c), (&rate, r)] {
            app.gql(
                report,
                json!({ "i": { "indicatorId": ind, "unitId": u, "period": { "year": year }, "value": v } }),
                Some(&city),
            )
            .await
            .ok();
        }
    }
    // This year's households targets of the three wards.
    let set = "mutation($i: SetTargetInput!) { setTarget(input: $i) { target { value } } }";
    for (parent, shares) in
        [("HN-LB", vec![("HN-LB-BD", 40.0), ("HN-LB-GT", 40.0)]), ("HN-DD", vec![("HN-DD-VM", 30.0)])]
    {
        let mut list = Vec::new();
        for (code, v) in shares {
            list.push(json!({ "unitId": app.unit_id(code).await, "value": v }));
        }
        app.gql(
            set,
            json!({ "i": { "indicatorId": "HOUSEHOLDS_CERTIFIED", "unitId": app.unit_id(parent).await,
                                     "period": { "year": year }, "value": 100.0, "shares": list } }),
            Some(&city),
        )
        .await
        .ok();
    }
    // Population figures: the target's and a source's.
    for (code, women) in [("HN-LB-BD", 1000), ("HN-LB-GT", 500)] {
        app.gql(
            "mutation($i: SetPopulationFigureInput!) { setPopulationFigure(input: $i) }",
            json!({ "i": { "unitId": app.unit_id(code).await, "year": year, "adultWomen": women } }),
            Some(&city),
        )
        .await
        .ok();
    }
    // Last year's ratings of the three wards, and an award to a branch of a source.
    let criteria = json!([{ "title": "Công tác Hội", "maxScore": 100 }]);
    let set_criteria = "mutation($u: ID!, $y: Int!, $c: [RatingCriterionInput!]!) { setRatingCriteria(unitId: $u, year: $y, criteria: $c) { id } }";
    let mut criterion = BTreeMap::new();
    for parent in ["HN-LB", "HN-DD"] {
        let data = app
            .gql(
                set_criteria,
                json!({ "u": app.unit_id(parent).await, "y": last, "c": criteria }),
                Some(&city),
            )
            .await
            .ok();
        criterion.insert(parent, data["setRatingCriteria"][0]["id"].clone());
    }
    let save = "mutation($u: ID!, $y: Int!, $i: UnitRatingInput!) { saveUnitRating(unitId: $u, year: $y, input: $i) { id } }";
    let confirm =
        "mutation($r: ID!, $l: RatingLevel!) { confirmUnitRating(ratingId: $r, rating: $l) { status } }";
    for (code, parent, level) in
        [("HN-LB-BD", "HN-LB", "EXCELLENT"), ("HN-LB-GT", "HN-LB", "GOOD"), ("HN-DD-VM", "HN-DD", "FAIR")]
    {
        let input = json!({ "scores": [{ "criterionId": criterion[parent], "score": 90 }], "proposedRating": level, "submit": true });
        let rating = app
            .gql(save, json!({ "u": app.unit_id(code).await, "y": last, "i": input }), Some(&city))
            .await
            .ok();
        app.gql(confirm, json!({ "r": rating["saveUnitRating"]["id"], "l": level }), Some(&sysadmin))
            .await
            .ok();
    }
    let kind = app
        .gql("mutation($u: ID!) { createAwardKind(unitId: $u, input: { name: \"Giấy khen\", issuer: \"Hội LHPN quận Long Biên\", recipients: BOTH }) { id } }",
             json!({ "u": app.unit_id("HN-LB").await }), Some(&district))
        .await
        .ok()["createAwardKind"]["id"]
        .clone();
    let nominated = app
        .gql(
            "mutation($i: NominationInput!) { nominateForAward(input: $i) { id } }",
            json!({ "i": { "kindId": kind, "year": last, "nominatingUnitId": app.unit_id("HN-LB-GT").await,
                            "unitId": app.unit_id("HN-LB-GT-01").await, "citation": "Chi hội vững mạnh." } }),
            Some(&city),
        )
        .await
        .ok()["nominateForAward"]["id"]
        .clone();
    app.gql("mutation($n: ID!, $d: Date!) { approveNomination(nominationId: $n, decisionNumber: \"7/QĐ\", decisionDate: $d) { status } }",
            json!({ "n": nominated, "d": format!("{last}-12-30") }), Some(&district))
        .await
        .ok();
    // Officers of the sources: one moves with her ward, one's role ends.
    let gt_officer = officer(&app, S, 200, "HN-LB-GT", "UNIT_OFFICER").await;
    let vm_case = officer(&app, S, 201, "HN-DD-VM", "CASE_OFFICER").await;
    let roles = app.gql("{ me { roles { id } } }", json!({}), Some(&vm_case.token)).await.ok();
    let ended_role = roles["me"]["roles"][0]["id"].clone();

    // Before.
    let mut before = BTreeMap::new();
    for code in UNITS {
        before.insert(code, figures(&app, &city, code, &clubs).await);
    }
    let city_before = city_wide(&app, &city, &rate).await;

    // Merge Gia Thụy (same district) and Văn Miếu (another) into Bồ Đề.
    let merged = merge(&app, &city, &["HN-LB-GT", "HN-DD-VM"], "HN-LB-BD", json!([ended_role])).await.ok();
    let m = &merged["mergeOrgUnits"];
    assert_eq!(m["into"], json!({ "code": "HN-LB-BD", "status": "ACTIVE" }));
    for (i, code) in ["HN-LB-GT", "HN-DD-VM"].iter().enumerate() {
        let source = &m["sources"][i];
        assert_eq!(source["code"], *code);
        assert_eq!(source["status"], "MERGED");
        assert_eq!(source["parent"]["code"], "HN-LB-BD");
        assert_eq!(source["mergedInto"]["code"], "HN-LB-BD");
        assert!(source["mergedAt"].is_string());
    }
    assert_eq!(
        [
            &m["childrenMoved"],
            &m["membershipsMoved"],
            &m["rolesMoved"],
            &m["rolesEnded"],
            &m["trainingsMoved"],
            &m["campaignsMoved"],
            &m["violenceReportsMoved"]
        ],
        [&json!(8), &json!(0), &json!(1), &json!(1), &json!(1), &json!(1), &json!(2)]
    );

    // After: every unit's figures are what they were, but the target's (its own plus the
    // sources'), the sources' (nothing of their own left but their reported values) and the
    // districts one ward moved between.
    let mut expected = before.clone();
    let (gt, vm) = (before["HN-LB-GT"].clone(), before["HN-DD-VM"].clone());
    expected.insert("HN-LB-BD", add(&add(&before["HN-LB-BD"], &gt, 1.0), &vm, 1.0));
    expected.insert("HN-LB", add(&before["HN-LB"], &vm, 1.0));
    expected.insert("HN-DD", add(&before["HN-DD"], &vm, -1.0));
    for (code, was) in [("HN-LB-GT", &gt), ("HN-DD-VM", &vm)] {
        expected.insert(code, was.iter().map(|(k, v)| (*k, if *k == "clubs" { *v } else { 0.0 })).collect());
    }
    for code in UNITS {
        assert_eq!(figures(&app, &city, code, &clubs).await, expected[code], "{code}");
    }
    assert_eq!(
        city_wide(&app, &city, &rate).await,
        city_before,
        "the city's averages, shares, ratings, awards, reports"
    );
    assert!(
        before["HN-LB-GT"]["active"] > 0.0
            && before["HN-DD-VM"]["trained"] + before["HN-DD-VM"]["households"] > 0.0
    );

    // The tree: the sources are found by code, not listed; the branches hang below the target.
    let by_code =
        "query($c: String!) { orgUnit(code: $c) { code status mergedInto { code } parent { code } } }";
    let gt_unit = app.gql(by_code, json!({ "c": "HN-LB-GT-01" }), None).await.ok();
    assert_eq!(gt_unit["orgUnit"]["parent"]["code"], "HN-LB-BD");
    let old = app.gql(by_code, json!({ "c": "HN-DD-VM" }), None).await.ok();
    assert_eq!(
        old["orgUnit"],
        json!({ "code": "HN-DD-VM", "status": "MERGED", "mergedInto": { "code": "HN-LB-BD" }, "parent": { "code": "HN-LB-BD" } })
    );
    let children =
        "query($c: String!) { orgUnit(code: $c) { children(first: 50) { edges { node { code } } } } }";
    let listed =
        |data: Value| nodes(&data["orgUnit"]["children"]).iter().map(|n| s(&n["code"])).collect::<Vec<_>>();
    let lb_children = listed(app.gql(children, json!({ "c": "HN-LB" }), None).await.ok());
    assert!(
        !lb_children.contains(&"HN-LB-GT".to_owned()) && lb_children.contains(&"HN-LB-BD".to_owned()),
        "{lb_children:?}"
    );
    let bd_children = listed(app.gql(children, json!({ "c": "HN-LB-BD" }), None).await.ok());
    assert_eq!(bd_children.len(), 12, "four branches of each ward, not the merged wards: {bd_children:?}");

    // Targets and population folded; history kept on the sources.
    let target = app
        .gql("query($u: ID!, $y: Int!) { targetProgress(unitId: $u, period: { year: $y }, indicatorIds: [\"HOUSEHOLDS_CERTIFIED\"]) { total { target } } }",
             json!({ "u": app.unit_id("HN-LB-BD").await, "y": year }), Some(&city))
        .await
        .ok();
    assert_eq!(target["targetProgress"][0]["total"]["target"], 110.0);
    let women = app
        .gql("query($u: ID!, $f: Date!, $t: Date!) { memberStatistics(unitId: $u, from: $f, to: $t) { total { adultWomen } } }",
             json!({ "u": app.unit_id("HN-LB-BD").await, "f": format!("{year}-01-01"), "t": format!("{year}-12-31") }), Some(&city))
        .await
        .ok();
    assert_eq!(women["memberStatistics"]["total"]["adultWomen"], 1500);
    let rating = app
        .gql(
            "query($u: ID!, $y: Int!) { unitRating(unitId: $u, year: $y) { rating criteria { title } } }",
            json!({ "u": app.unit_id("HN-LB-GT").await, "y": last }),
            Some(&district),
        )
        .await
        .ok();
    assert_eq!(rating["unitRating"], json!({ "rating": "GOOD", "criteria": [{ "title": "Công tác Hội" }] }));
    let awards = app
        .gql(
            "query($c: String!) { orgUnit(code: $c) { awards { decisionNumber } } }",
            json!({ "c": "HN-LB-GT-01" }),
            None,
        )
        .await
        .ok();
    assert_eq!(awards["orgUnit"]["awards"], json!([{ "decisionNumber": "7/QĐ" }]));

    // Roles: moved to the target, or ended.
    let moved = app.gql("{ me { roles { unit { code } } } }", json!({}), Some(&gt_officer.token)).await.ok();
    assert_eq!(moved["me"]["roles"], json!([{ "unit": { "code": "HN-LB-BD" } }]));
    let gone = app.gql("{ me { roles { id } } }", json!({}), Some(&vm_case.token)).await.ok();
    assert_eq!(gone["me"]["roles"], json!([]));

    // A merged unit is read, not changed; a report for it lands at the target.
    let create = "mutation($u: ID!) { createTraining(unitId: $u, input: { title: \"Lớp mới\", description: \"Mô tả\", \
        category: LEGAL, startsAt: \"2030-01-01T08:00:00Z\", endsAt: \"2030-01-01T10:00:00Z\", place: \"Hội trường\" }) { id } }";
    app.gql(create, json!({ "u": app.unit_id("HN-LB-GT").await }), Some(&gt_officer.token))
        .await
        .expect_reason("CONFLICT", "UNIT_MERGED");
    merge(&app, &city, &["HN-LB-GT"], "HN-LB-NL", Value::Null).await.expect_reason("CONFLICT", "UNIT_MERGED");
    let counts = "query($u: ID!) { violenceReportCounts(unitId: $u) { total } }";
    let bd = app.unit_id("HN-LB-BD").await;
    let case_officer = app.token(BD_CASE_OFFICER).await;
    let at_bd =
        app.gql(counts, json!({ "u": bd }), Some(&case_officer)).await.ok()["violenceReportCounts"]["total"]
            .clone();
    violence_report(&app, None, "HN-DD-VM", true, "Có người đang gặp nguy hiểm.").await;
    let after =
        app.gql(counts, json!({ "u": bd }), Some(&case_officer)).await.ok()["violenceReportCounts"]["total"]
            .clone();
    assert_eq!(after.as_i64().unwrap(), at_bd.as_i64().unwrap() + 1);

    // In the audit trail, once per source.
    let trail = app
        .gql("query($u: ID!) { auditTrail(unitId: $u, area: STRUCTURE, first: 50) { edges { node { action unit { code } } } } }",
             json!({ "u": hn }), Some(&city))
        .await
        .ok();
    let merges: Vec<String> = nodes(&trail["auditTrail"])
        .iter()
        .filter(|e| e["action"] == "UNIT_MERGED")
        .map(|e| s(&e["unit"]["code"]))
        .collect();
    assert_eq!(merges.len(), 2, "{merges:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_merges_with_its_members_and_is_closed_to_new_ones() {
    let app = spawn_app().await;
    let city = app.token(CITY_ADMIN).await;
    let moving =
        [member(&app, &city, S, 1, "HN-LB-BD-04").await, member(&app, &city, S, 2, "HN-LB-BD-04").await];
    let staying = member(&app, &city, S, 3, "HN-LB-BD-03").await;
    let stats = "query($u: ID!, $f: Date!, $t: Date!) { memberStatistics(unitId: $u, from: $f, to: $t) { total { activeMembers newMembers } } }";
    let today = (Utc::now() + Duration::hours(7)).date_naive();
    let of = |code: &'static str| {
        let app = &app;
        let city = city.clone();
        async move {
            let data = app
                .gql(
                    stats,
                    json!({ "u": app.unit_id(code).await, "f": today.to_string(), "t": today.to_string() }),
                    Some(&city),
                )
                .await
                .ok();
            data["memberStatistics"]["total"].clone()
        }
    };
    let ward_before = of("HN-LB-BD").await;
    // The same household label pledged at both branches: two households, both kept.
    let year = this_year();
    let campaign = crate::fixtures::launched_campaign(
        &app,
        &city,
        "HN",
        json!({ "kind": "CAMPAIGN", "title": "Gia đình 5 không 3 sạch", "termStart": format!("{year}-01-01"), "termEnd": format!("{year}-12-31") }),
    )
    .await;
    let pledge = "mutation($c: ID!, $i: PledgeInput!) { submitPledge(campaignId: $c, input: $i) { id } }";
    for m in [&moving[0], &staying] {
        app.gql(pledge, json!({ "c": campaign["id"], "i": { "kind": "HOUSEHOLD", "year": year, "householdLabel": "Hộ bà Nguyễn Thị Lan", "householdSize": 4 } }), Some(&m.token))
            .await
            .ok();
    }
    // A rating of the branch waiting for the ward when it is merged: still decided after.
    let bd_officer = app.token(BD_OFFICER).await;
    let ward_id = app.unit_id("HN-LB-BD").await;
    let criteria = app
        .gql("mutation($u: ID!, $y: Int!) { setRatingCriteria(unitId: $u, year: $y, criteria: [{ title: \"Công tác Hội\", maxScore: 10 }]) { id } }",
             json!({ "u": ward_id, "y": year - 1 }), Some(&city))
        .await
        .ok();
    let rating = app
        .gql("mutation($u: ID!, $y: Int!, $i: UnitRatingInput!) { saveUnitRating(unitId: $u, year: $y, input: $i) { id } }",
             json!({ "u": app.unit_id("HN-LB-BD-04").await, "y": year - 1,
                     "i": { "scores": [{ "criterionId": criteria["setRatingCriteria"][0]["id"], "score": 9 }], "proposedRating": "GOOD", "submit": true } }),
             Some(&city))
        .await
        .ok()["saveUnitRating"]["id"]
        .clone();

    let merged = merge(&app, &city, &["HN-LB-BD-04"], "HN-LB-BD-03", Value::Null).await.ok();
    assert_eq!(merged["mergeOrgUnits"]["membershipsMoved"], 2);
    assert_eq!(of("HN-LB-BD-03").await, json!({ "activeMembers": 3, "newMembers": 3 }));
    assert_eq!(of("HN-LB-BD-04").await, json!({ "activeMembers": 0, "newMembers": 0 }));
    assert_eq!(of("HN-LB-BD").await, ward_before, "the ward counts the same members");

    // Her membership is at the new branch, with the merge in its history.
    let mine = "{ me { membership { branch { code } events { kind fromBranch { code } toBranch { code } reason } } } }";
    let data = app.gql(mine, json!({}), Some(&moving[0].token)).await.ok();
    let membership = &data["me"]["membership"];
    assert_eq!(membership["branch"]["code"], "HN-LB-BD-03");
    let last_event = membership["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last_event,
        json!({ "kind": "TRANSFERRED", "fromBranch": { "code": "HN-LB-BD-04" }, "toBranch": { "code": "HN-LB-BD-03" }, "reason": "Sáp nhập đơn vị" })
    );
    let unchanged = app.gql(mine, json!({}), Some(&staying.token)).await.ok();
    assert_eq!(unchanged["me"]["membership"]["events"].as_array().unwrap().len(), 1);

    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let at_target = entities::pledge::Entity::find()
        .filter(
            entities::pledge::Column::BranchId
                .eq(entities::ids::UnitId(uuid_of(&app.unit_id("HN-LB-BD-03").await))),
        )
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(at_target, 2, "two households of one label, both at the target");
    let confirmed = app
        .gql(
            "mutation($r: ID!) { confirmUnitRating(ratingId: $r, rating: GOOD) { status } }",
            json!({ "r": rating }),
            Some(&bd_officer),
        )
        .await
        .ok();
    assert_eq!(confirmed["confirmUnitRating"]["status"], "CONFIRMED", "history is finished, not frozen");
    // Nor is a merged unit nominated: the one it was merged into is.
    let kind = app
        .gql("mutation($u: ID!) { createAwardKind(unitId: $u, input: { name: \"Giấy khen\", issuer: \"Phường\", recipients: BOTH }) { id } }",
             json!({ "u": ward_id }), Some(&bd_officer))
        .await
        .ok()["createAwardKind"]["id"]
        .clone();
    app.gql("mutation($i: NominationInput!) { nominateForAward(input: $i) { id } }",
            json!({ "i": { "kindId": kind, "year": year - 1, "nominatingUnitId": ward_id, "unitId": app.unit_id("HN-LB-BD-04").await, "citation": "Tốt." } }),
            Some(&bd_officer))
        .await
        .expect_reason("CONFLICT", "UNIT_MERGED");

    // Nobody joins or is enrolled there any more.
    let outsider = crate::fixtures::person(&app, S, 10).await;
    let join = "mutation($b: ID!) { requestMembership(input: { branchId: $b }) { id } }";
    let old = app.unit_id("HN-LB-BD-04").await;
    app.gql(join, json!({ "b": old }), Some(&outsider.token)).await.expect_reason("CONFLICT", "UNIT_MERGED");
    crate::fixtures::try_enrol(&app, &city, "Lê Thị Mới", &S.phone(11), None, "HN-LB-BD-04")
        .await
        .expect_reason("CONFLICT", "UNIT_MERGED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_over_every_unit_merge_units_of_one_kind() {
    let app = spawn_app().await;
    let city = app.token(CITY_ADMIN).await;
    let lb_admin = officer(&app, S, 1, "HN-LB", "UNIT_ADMIN").await;
    let district = app.token(LB_OFFICER).await;

    // Not an officer, not an admin of the other district, not the ward's own parent's.
    merge(&app, &district, &["HN-LB-GT"], "HN-LB-BD", Value::Null).await.expect_code("FORBIDDEN");
    merge(&app, &lb_admin.token, &["HN-DD-VM"], "HN-LB-BD", Value::Null).await.expect_code("NOT_FOUND");
    let ward_admin = officer(&app, S, 2, "HN-LB-GT", "UNIT_ADMIN").await;
    merge(&app, &ward_admin.token, &["HN-LB-GT-01"], "HN-LB-GT-02", Value::Null).await.ok();

    for (sources, into, field, problem) in [
        (vec!["HN-LB-GT"], "HN-LB-BD-01", "sourceIds", "INVALID_KIND"),
        (vec!["HN-LB-BD"], "HN-LB-BD", "sourceIds", "CONFLICTING"),
        (vec!["HN-LB-GT", "HN-LB-GT"], "HN-LB-BD", "sourceIds", "INVALID_ID"),
    ] {
        let answer = merge(&app, &city, &sources, into, Value::Null).await.expect_code("BAD_USER_INPUT");
        assert_eq!((answer.field(), answer.reason()), (Some(field), Some(problem)));
    }
    let empty = app
        .gql(MERGE, json!({ "s": [], "i": app.unit_id("HN-LB-BD").await, "end": [] }), Some(&city))
        .await
        .expect_code("BAD_USER_INPUT");
    assert_eq!((empty.field(), empty.reason()), (Some("sourceIds"), Some("REQUIRED")));
    // A role to end must be held at a source.
    let roles = app.gql("{ me { roles { id } } }", json!({}), Some(&district)).await.ok();
    let elsewhere = roles["me"]["roles"][0]["id"].clone();
    let answer =
        merge(&app, &city, &["HN-LB-GT"], "HN-LB-BD", json!([elsewhere])).await.expect_code("BAD_USER_INPUT");
    assert_eq!((answer.field(), answer.reason()), (Some("endRoleIds"), Some("INVALID_ID")));
    // Nothing changed by the refusals.
    let gt = app
        .gql("query { orgUnit(code: \"HN-LB-GT\") { status parent { code } } }", json!({}), None)
        .await
        .ok();
    assert_eq!(gt["orgUnit"], json!({ "status": "ACTIVE", "parent": { "code": "HN-LB" } }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolments_racing_a_merge_are_each_counted_once_or_refused() {
    let app = spawn_app().await;
    let city = app.token(CITY_ADMIN).await;
    let count_active = || async {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        entities::membership::Entity::find()
            .filter(entities::membership::Column::Status.eq("ACTIVE"))
            .count(&app.state.db)
            .await
            .unwrap() as i64
    };
    let city_active = || async {
        let today = (Utc::now() + Duration::hours(7)).date_naive();
        let data = app
            .gql(
                "query($u: ID!, $f: Date!, $t: Date!) { memberStatistics(unitId: $u, from: $f, to: $t) { total { activeMembers } } }",
                json!({ "u": app.unit_id("HN").await, "f": today.to_string(), "t": today.to_string() }),
                Some(&city),
            )
            .await
            .ok();
        data["memberStatistics"]["total"]["activeMembers"].as_i64().unwrap()
    };
    // Each round, a branch merged into its neighbour while eight enrolments into it run.
    for round in 0..3u32 {
        let ward = ["DV", "ND", "QH"][round as usize];
        let (source, into) = (format!("HN-CG-{ward}-01"), format!("HN-CG-{ward}-02"));
        let before = count_active().await;
        let enrolments = (0..8).map(|k| {
            let app = &app;
            let city = city.clone();
            let branch = source.clone();
            async move {
                crate::fixtures::try_enrol(
                    app,
                    &city,
                    &crate::fixtures::name(100 + round * 10 + k),
                    &S.phone(100 + round * 10 + k),
                    None,
                    &branch,
                )
                .await
            }
        });
        let merging = async { merge(&app, &city, &[source.as_str()], &into, Value::Null).await };
        let (answers, merged) = tokio::join!(join_all(enrolments), merging);
        merged.ok();
        let accepted = answers.iter().filter(|a| !a.has_errors()).count() as i64;
        for refused in answers.iter().filter(|a| a.has_errors()) {
            assert_eq!(
                (refused.code(), refused.reason()),
                (Some("CONFLICT"), Some("UNIT_MERGED")),
                "{refused:?}"
            );
        }
        // Every acknowledged enrolment is there, once, at a live branch, and counted.
        assert_eq!(count_active().await, before + accepted, "round {round}");
        assert_eq!(city_active().await, count_active().await, "round {round}: the city's counter");
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let stranded = entities::membership::Entity::find()
            .filter(
                entities::membership::Column::BranchId.is_in(
                    entities::org_unit::Entity::find()
                        .filter(entities::org_unit::Column::Status.eq("MERGED"))
                        .all(&app.state.db)
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|u| u.id),
                ),
            )
            .count(&app.state.db)
            .await
            .unwrap();
        assert_eq!(stranded, 0, "round {round}: no membership left at a merged branch");
    }
}
