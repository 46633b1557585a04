//! Computed indicators against the figures they come from, a moved ward, and the statement
//! count of `targetProgress`.

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_members_match_member_statistics() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let nm = computed(1);
    // Enrolled in branches of three wards of Long Biên and one of Hoàn Kiếm, and one who asked
    // to join a Ngọc Lâm branch and was approved.
    for (n, code) in
        [(1, "HN-LB-BD-01"), (2, "HN-LB-BD-01"), (3, "HN-LB-BD-02"), (4, "HN-LB-GT-01"), (5, "HN-HK-HB-01")]
    {
        enrol(&app, &city, S, n, code).await;
    }
    joined(&app, &lb, S, 6, "HN-LB-NL-01").await;
    let (y, from, to) = this_year();
    set(&app, &lb, &nm, "HN-LB", year(y), Some(10.0), &[]).await;

    for code in ["HN", "HN-LB", "HN-LB-BD", "HN-LB-BD-01"] {
        let p = progress(&app, &city, code, year(y), &[&nm]).await;
        let e = entry(&p, &nm);
        let stats = app
            .gql(MEMBER_STATS, json!({ "u": app.unit_id(code).await, "f": from, "t": to }), Some(&city))
            .await
            .ok();
        let stats = &stats["memberStatistics"];
        assert_eq!(f(&e["total"]["actual"]), f(&stats["total"]["newMembers"]), "{code}");
        let children = stats["children"].as_array().unwrap();
        assert_eq!(codes(e).len(), children.len());
        for c in children {
            let code = s(&c["unit"]["code"]);
            assert_eq!(f(&child(e, &code)["actual"]), f(&c["newMembers"]), "{code}");
        }
    }
    let e = progress(&app, &lb, "HN-LB", year(y), &[]).await[0].clone();
    assert_eq!(e["total"]["actual"], 5.0);
    assert!(close(f(&e["total"]["attainment"]), 0.5), "{e}");
    assert_eq!(child(&e, "HN-LB-BD")["actual"], 3.0);
    assert_eq!(child(&e, "HN-LB-NL")["actual"], 1.0);
    assert_eq!(child(&e, "HN-LB-DG")["actual"], 0.0);
    assert_eq!(progress(&app, &city, "HN", year(y), &[&nm]).await[0]["total"]["actual"], 6.0);
    // Nobody joined last year.
    assert_eq!(progress(&app, &city, "HN", year(y - 1), &[&nm]).await[0]["total"]["actual"], 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_trained_match_training_attendances_and_households_the_activity_counters() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let sysadmin = app.token(SYSADMIN).await;
    let pt = computed(2);
    let hh = computed(3);
    let (y, from, to) = this_year();

    // Trainings of a ward, a branch of another ward, the district, and another district's ward.
    let training = |title: &str| {
        let starts = Utc::now() + Duration::hours(1);
        json!({
            "title": title, "category": "LEGAL", "place": "Nhà văn hoá",
            "startsAt": starts.to_rfc3339(), "endsAt": (starts + Duration::hours(3)).to_rfc3339(),
        })
    };
    let mut next = 10;
    let mut trainings = Vec::new();
    for (token, unit, people) in [
        (&lb, "HN-LB-BD", vec!["HN-LB-BD-01", "HN-LB-BD-02", "HN-LB-BD-02"]),
        (&lb, "HN-LB-GT-01", vec!["HN-LB-GT-01"]),
        (&lb, "HN-LB", vec!["HN-LB-NL-01", "HN-LB-BD-03"]),
        (&sysadmin, "HN-HK-HB", vec!["HN-HK-HB-02"]),
    ] {
        let created = app
            .gql(
                "mutation($u: ID!, $i: TrainingInput!) { createTraining(unitId: $u, input: $i) { id } }",
                json!({ "u": app.unit_id(unit).await, "i": training(unit) }),
                Some(token),
            )
            .await
            .ok();
        let id = s(&created["createTraining"]["id"]);
        app.gql("mutation($id: ID!) { publishTraining(id: $id) { id } }", json!({ "id": id }), Some(token))
            .await
            .ok();
        for branch in people {
            let who = member(&app, &city, S, next, branch).await.token;
            next += 1;
            let reg = app
                .gql(
                    "mutation($id: ID!) { registerForTraining(trainingId: $id) { id } }",
                    json!({ "id": id }),
                    Some(&who),
                )
                .await
                .ok();
            app.gql(
                "mutation($r: ID!) { checkInManually(registrationId: $r) { alreadyCheckedIn } }",
                json!({ "r": reg["registerForTraining"]["id"] }),
                Some(token),
            )
            .await
            .ok();
        }
        trainings.push(id);
    }
    // Households certified: through the activity counters (see `certify_households`).
    let today = hanoi_today();
    certify_households(&app, "HN-LB-BD-01", today, 3).await;
    certify_households(&app, "HN-LB-GT-02", today, 2).await;
    certify_households(&app, "HN-HK-HB-01", today, 5).await;
    certify_households(&app, "HN-LB-BD-01", NaiveDate::from_ymd_opt(y - 1, 6, 1).unwrap(), 7).await;

    let check = |label: &'static str| {
        let (app, city, pt, from, to) = (&app, &city, &pt, &from, &to);
        async move {
            for code in ["HN", "HN-LB", "HN-LB-BD"] {
                let p = progress(app, city, code, year(y), &[pt]).await;
                let e = entry(&p, pt);
                let stats = app
                    .gql(
                        TRAINING_STATS,
                        json!({ "u": app.unit_id(code).await, "f": from, "t": to }),
                        Some(city),
                    )
                    .await
                    .ok();
                let stats = &stats["trainingStatistics"];
                assert_eq!(f(&e["total"]["actual"]), f(&stats["total"]["attendances"]), "{label} {code}");
                for c in stats["children"].as_array().unwrap() {
                    let code = s(&c["unit"]["code"]);
                    assert_eq!(f(&child(e, &code)["actual"]), f(&c["attendances"]), "{label} {code}");
                }
            }
        }
    };
    check("held").await;
    let p = progress(&app, &city, "HN-LB", year(y), &[&pt, &hh]).await;
    assert_eq!(entry(&p, &pt)["total"]["actual"], 6.0);
    assert_eq!(
        child(entry(&p, &pt), "HN-LB-BD")["actual"],
        3.0,
        "the district's training counts above the ward only"
    );
    let households = entry(&p, &hh);
    assert_eq!(households["total"]["actual"], 5.0);
    assert_eq!(child(households, "HN-LB-BD")["actual"], 3.0);
    assert_eq!(child(households, "HN-LB-GT")["actual"], 2.0);
    let p = progress(&app, &city, "HN", year(y), &[&hh]).await;
    assert_eq!(
        (p[0]["total"]["actual"].clone(), child(&p[0], "HN-HK")["actual"].clone()),
        (json!(10.0), json!(5.0))
    );
    let p = progress(&app, &city, "HN", year(y - 1), &[&hh]).await;
    assert_eq!(p[0]["total"]["actual"], 7.0, "last year's households count in last year");
    let term = json!({ "fromYear": y - 1, "toYear": y });
    assert_eq!(progress(&app, &city, "HN", term, &[&hh]).await[0]["total"]["actual"], 17.0);

    // A cancelled training trains nobody, in both.
    app.gql(
        "mutation($id: ID!) { cancelTraining(id: $id, reason: \"Trùng lịch\") { status } }",
        json!({ "id": trainings[0] }),
        Some(&lb),
    )
    .await
    .ok();
    check("after a cancellation").await;
    assert_eq!(progress(&app, &city, "HN-LB", year(y), &[&pt]).await[0]["total"]["actual"], 3.0);
}

// ---- a moved unit ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_ward_takes_its_figures_along_and_keeps_its_targets_and_history() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let (nm, pt, hh) = (computed(1), computed(2), computed(3));
    let (y, from, to) = this_year();
    // A reported indicator of the city's, so that it stays usable wherever the ward goes.
    let rated = reported_indicator(&app, &city, "HN", "Số câu lạc bộ", "SUM").await;

    // Bồ Đề: three new members, one attendance, four households, its own value and a branch's.
    for (n, code) in [(1, "HN-LB-BD-01"), (2, "HN-LB-BD-02"), (3, "HN-LB-GT-01"), (4, "HN-LB-GT-01")] {
        enrol(&app, &city, S, n, code).await;
    }
    let learner = member(&app, &city, S, 5, "HN-LB-BD-03").await.token;
    let starts = Utc::now() + Duration::hours(1);
    let t = app
        .gql(
            "mutation($u: ID!, $i: TrainingInput!) { createTraining(unitId: $u, input: $i) { id } }",
            json!({ "u": app.unit_id("HN-LB-BD").await, "i": {
                "title": "Kỹ năng số", "category": "DIGITAL_SKILLS", "place": "Nhà văn hoá",
                "startsAt": starts.to_rfc3339(), "endsAt": (starts + Duration::hours(2)).to_rfc3339() } }),
            Some(&lb),
        )
        .await
        .ok();
    let t = s(&t["createTraining"]["id"]);
    app.gql("mutation($id: ID!) { publishTraining(id: $id) { id } }", json!({ "id": t }), Some(&lb))
        .await
        .ok();
    let reg = app
        .gql(
            "mutation($id: ID!) { registerForTraining(trainingId: $id) { id } }",
            json!({ "id": t }),
            Some(&learner),
        )
        .await
        .ok();
    app.gql(
        "mutation($r: ID!) { checkInManually(registrationId: $r) { alreadyCheckedIn } }",
        json!({ "r": reg["registerForTraining"]["id"] }),
        Some(&lb),
    )
    .await
    .ok();
    certify_households(&app, "HN-LB-BD-04", hanoi_today(), 4).await;
    certify_households(&app, "HN-LB-GT-02", hanoi_today(), 2).await;
    report(&app, &lb, &rated, "HN-LB-BD", year(y), 5.0).await;
    report(&app, &lb, &rated, "HN-LB-BD", year(y), 6.0).await;
    report(&app, &lb, &rated, "HN-LB-BD-01", year(y), 2.0).await;
    report(&app, &lb, &rated, "HN-LB-GT", year(y), 4.0).await;
    // Targets: the city gives Long Biên its share; Long Biên divides it.
    set(&app, &city, &nm, "HN", year(y), Some(100.0), &[("HN-LB", 60.0), ("HN-HK", 30.0)]).await;
    set(&app, &lb, &nm, "HN-LB", year(y), None, &[("HN-LB-BD", 40.0), ("HN-LB-GT", 15.0)]).await;
    set(&app, &lb, &rated, "HN-LB", year(y), None, &[("HN-LB-BD", 10.0)]).await;

    let ids = [&nm, &pt, &hh, &rated];
    let lb_before = progress(&app, &city, "HN-LB", year(y), &ids).await;
    assert_eq!(entry(&lb_before, &nm)["total"]["actual"], 5.0);
    assert_eq!(entry(&lb_before, &pt)["total"]["actual"], 1.0);
    assert_eq!(entry(&lb_before, &hh)["total"]["actual"], 6.0);
    assert_eq!(entry(&lb_before, &rated)["total"]["actual"], 12.0);
    assert_eq!(entry(&lb_before, &rated)["total"]["reportingUnits"], 3);
    let bd_before = child(entry(&lb_before, &nm), "HN-LB-BD").clone();
    assert_eq!((bd_before["target"].clone(), bd_before["actual"].clone()), (json!(40.0), json!(3.0)));
    let hk_before = progress(&app, &city, "HN-HK", year(y), &ids).await;
    let city_before = progress(&app, &city, "HN", year(y), &ids).await;
    let history_before = history(&app, &city, &rated, "HN-LB-BD", year(y)).await;

    move_unit(&app, &city, "HN-LB-BD", "HN-HK").await;

    let lb_after = progress(&app, &city, "HN-LB", year(y), &ids).await;
    let hk_after = progress(&app, &city, "HN-HK", year(y), &ids).await;
    // (figure of Bồ Đề moved) per indicator: new members 3, attendance 1, households 4, reported 8.
    for (ind, moved) in [(&nm, 3.0), (&pt, 1.0), (&hh, 4.0), (&rated, 8.0)] {
        let total = |list: &[Value]| f(&entry(list, ind)["total"]["actual"]);
        assert!(close(total(&lb_after), total(&lb_before) - moved), "Long Biên, {ind}");
        assert!(close(total(&hk_after), total(&hk_before) + moved), "Hoàn Kiếm, {ind}");
        assert!(codes(entry(&lb_after, ind)).iter().all(|c| c != "HN-LB-BD"));
        let bd = child(entry(&hk_after, ind), "HN-LB-BD");
        assert!(close(f(&bd["actual"]), moved), "Bồ Đề under Hoàn Kiếm, {ind}: {bd}");
    }
    assert_eq!(entry(&lb_after, &rated)["total"]["reportingUnits"], 1);
    assert_eq!(entry(&hk_after, &rated)["total"]["reportingUnits"], 2);
    // The city's totals do not change.
    let city_after = progress(&app, &city, "HN", year(y), &ids).await;
    for ind in ids {
        assert_eq!(entry(&city_after, ind)["total"], entry(&city_before, ind)["total"], "{ind}");
    }
    // The ward's own targets stay with it; Long Biên's shares no longer include it.
    let bd = child(entry(&hk_after, &nm), "HN-LB-BD");
    assert_eq!((bd["target"].clone(), bd["actual"].clone()), (json!(40.0), json!(3.0)));
    assert_eq!(child(entry(&hk_after, &rated), "HN-LB-BD")["target"], 10.0);
    let lb_nm = entry(&lb_after, &nm);
    assert_eq!(
        (lb_nm["childrenTargetSum"].clone(), lb_nm["unallocated"].clone()),
        (json!(15.0), json!(45.0))
    );
    let own = progress(&app, &city, "HN-LB-BD", year(y), &[]).await;
    assert_eq!(entry(&own, &nm)["total"]["target"], 40.0);
    assert_eq!(history(&app, &city, &rated, "HN-LB-BD", year(y)).await, history_before);
    assert_eq!(history_before.len(), 2);
    // And the figures still match the statistics they come from.
    let stats = app
        .gql(MEMBER_STATS, json!({ "u": app.unit_id("HN-HK").await, "f": from, "t": to }), Some(&city))
        .await
        .ok();
    assert_eq!(
        f(&entry(&hk_after, &nm)["total"]["actual"]),
        f(&stats["memberStatistics"]["total"]["newMembers"])
    );
}

// ---- statement count ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_progress_takes_the_same_statements_whatever_the_children_and_indicators() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let sysadmin = app.token(SYSADMIN).await;
    // A district with 32 wards, beside Bồ Đề and its 4 branches.
    let create = "mutation($i: CreateOrgUnitInput!) { createOrgUnit(input: $i) { code } }";
    let hn = app.unit_id("HN").await;
    app.gql(
        create,
        json!({ "i": { "parentId": hn, "kind": "DISTRICT", "code": "HN-BIG", "name": "Quận Lớn" } }),
        Some(&sysadmin),
    )
    .await
    .ok();
    let big = app.unit_id("HN-BIG").await;
    let wards: Vec<String> = (1..=32).map(|n| format!("HN-BIG-{n:02}")).collect();
    for code in &wards {
        let input =
            json!({ "parentId": big, "kind": "BASE", "code": code, "name": format!("Phường {code}") });
        app.gql(create, json!({ "i": input }), Some(&sysadmin)).await.ok();
    }
    let reported = reported_indicator(&app, &city, "HN", "Số câu lạc bộ", "AVERAGE").await;
    let all = [computed(1), computed(2), computed(3), computed(4), computed(5), reported.clone()];
    let (y, _, _) = this_year();
    // Year y: new members only; year y + 1: all six, for the units and every child.
    for (code, children) in [
        ("HN-LB-BD", vec!["HN-LB-BD-01", "HN-LB-BD-02", "HN-LB-BD-03", "HN-LB-BD-04"]),
        ("HN-BIG", wards.iter().map(String::as_str).collect()),
    ] {
        let shares: Vec<(&str, f64)> = children.iter().map(|c| (*c, 2.0)).collect();
        set(&app, &city, &all[0], code, year(y), Some(100.0), &shares).await;
        for ind in &all {
            set(&app, &city, ind, code, year(y + 1), Some(100.0), &shares).await;
        }
        report(&app, &city, &reported, children[0], year(y + 1), 50.0).await;
    }

    let mut counts = Vec::new();
    for (code, children) in [("HN-LB-BD", 4), ("HN-BIG", 32)] {
        let unit = app.unit_id(code).await;
        for (period, indicators) in [(year(y), 1), (year(y + 1), 6)] {
            let vars = json!({ "u": unit, "p": period, "ids": null });
            // The fewest of a few runs, like the other statement counts: nothing else is counted.
            let mut fewest = u64::MAX;
            let mut data = Value::Null;
            for _ in 0..3 {
                let before = app.statements();
                data = app.gql(PROGRESS, vars.clone(), Some(&city)).await.ok();
                fewest = fewest.min(app.statements() - before);
            }
            counts.push(fewest);
            let list = data["targetProgress"].as_array().unwrap();
            assert_eq!(list.len(), indicators);
            assert!(list.iter().all(|e| e["children"].as_array().unwrap().len() == children));
            assert!(list.iter().all(|e| e["childrenTargetSum"] == 2.0 * children as f64));
        }
    }
    // The unit, the caller's roles, the children, the targets, the indicators, the actuals.
    assert!(counts.iter().all(|&c| c == counts[0] && c <= 6), "{counts:?}");
}
