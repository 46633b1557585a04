//! Reported indicators: defining them, who sees them, reported values with their history, sums
//! and averages, and simultaneous reports.

use entities::ids::UnitId;
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officers_define_reported_indicators_for_their_subtree() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let case = app.token(BD_CASE_OFFICER).await;
    let stranger = app.token(MEMBER).await;
    let hk = officer(&app, S, 1, "HN-HK", "UNIT_OFFICER").await.token;
    let gt = officer(&app, S, 2, "HN-LB-GT", "UNIT_OFFICER").await.token;

    let created =
        create_indicator(&app, &lb, "HN-LB", "  Số tổ  phụ nữ   tự quản ", " tổ ", "SUM").await.ok();
    let i = &created["createIndicator"];
    assert_eq!(
        (i["name"].clone(), i["unitOfMeasure"].clone(), i["kind"].clone(), i["code"].clone()),
        (json!("Số tổ phụ nữ tự quản"), json!("tổ"), json!("REPORTED"), json!("SO_TO_PHU_NU_TU_QUAN"))
    );
    assert_eq!((i["aggregation"].clone(), i["unit"]["code"].clone()), (json!("SUM"), json!("HN-LB")));
    let lb_sum = s(&i["id"]);
    let lb_avg = reported_indicator(&app, &lb, "HN-LB", "Tỷ lệ chi hội xếp loại tốt", "AVERAGE").await;
    let hk_own = reported_indicator(&app, &hk, "HN-HK", "Số mô hình sinh kế", "SUM").await;
    let gt_own = reported_indicator(&app, &gt, "HN-LB-GT", "Số hộ thoát nghèo", "SUM").await;
    let city_own = reported_indicator(&app, &city, "HN", "Số câu lạc bộ", "SUM").await;

    for (name, measure, field, reason) in [
        ("   ", "%", "input.name", "REQUIRED"),
        (&*"a".repeat(201), "%", "input.name", "TOO_LONG"),
        ("Tên", " ", "input.unitOfMeasure", "REQUIRED"),
        ("Tên", &*"a".repeat(51), "input.unitOfMeasure", "TOO_LONG"),
    ] {
        let g = create_indicator(&app, &lb, "HN-LB", name, measure, "SUM").await;
        assert_eq!((g.code(), g.field(), g.reason()), (Some("BAD_USER_INPUT"), Some(field), Some(reason)));
    }
    create_indicator(&app, &case, "HN-LB-BD", "Tên", "%", "SUM").await.expect_code("FORBIDDEN");
    create_indicator(&app, &leader, "HN-LB-BD-01", "Tên", "%", "SUM").await.expect_code("FORBIDDEN");
    create_indicator(&app, &stranger, "HN-LB", "Tên", "%", "SUM").await.expect_code("NOT_FOUND");
    create_indicator(&app, &lb, "HN-HK", "Tên", "%", "SUM").await.expect_code("NOT_FOUND");
    assert_eq!(
        entities::indicator::Entity::find().count(&app.state.db).await.unwrap(),
        10,
        "five computed, five made"
    );

    // Usable at a unit: the computed ones, and those defined at it or above, in that order.
    let listed = |token: String, code: &'static str| {
        let app = &app;
        async move {
            let data = app.gql(INDICATORS, json!({ "u": app.unit_id(code).await }), Some(&token)).await.ok();
            data["indicators"].as_array().unwrap().iter().map(|i| s(&i["id"])).collect::<Vec<_>>()
        }
    };
    let computed5 = [computed(1), computed(2), computed(3), computed(4), computed(5)];
    let with = |extra: &[&String]| {
        computed5.iter().cloned().chain(extra.iter().map(|e| (*e).clone())).collect::<Vec<_>>()
    };
    assert_eq!(listed(leader.clone(), "HN-LB-BD-01").await, with(&[&lb_sum, &lb_avg, &city_own]));
    assert_eq!(listed(case.clone(), "HN-LB-BD").await, with(&[&lb_sum, &lb_avg, &city_own]));
    assert_eq!(listed(gt.clone(), "HN-LB-GT-02").await, with(&[&lb_sum, &lb_avg, &gt_own, &city_own]));
    assert_eq!(listed(city.clone(), "HN").await, with(&[&city_own]));
    assert_eq!(listed(hk.clone(), "HN-HK").await, with(&[&hk_own, &city_own]));
    app.gql(INDICATORS, json!({ "u": app.unit_id("HN-LB").await }), Some(&stranger))
        .await
        .expect_code("NOT_FOUND");
    app.gql(INDICATORS, json!({ "u": app.unit_id("HN-LB").await }), Some(&hk)).await.expect_code("NOT_FOUND");

    // node(id): officers at, above or below the defining unit; nobody else.
    for token in [&lb, &city, &leader, &gt] {
        let data = app.gql(NODE, json!({ "id": lb_sum }), Some(token)).await.ok();
        assert_eq!(data["node"]["id"], lb_sum);
    }
    app.gql(NODE, json!({ "id": lb_sum }), Some(&hk)).await.expect_code("NOT_FOUND");
    app.gql(NODE, json!({ "id": lb_sum }), Some(&stranger)).await.expect_code("NOT_FOUND");
    app.gql(NODE, json!({ "id": gt_own }), Some(&leader)).await.expect_code("NOT_FOUND");
    assert_eq!(
        app.gql(NODE, json!({ "id": computed(2) }), Some(&leader)).await.ok()["node"]["kind"],
        "COMPUTED"
    );
    app.gql(NODE, json!({ "id": computed(2) }), Some(&stranger)).await.expect_code("NOT_FOUND");

    // A ward's indicator shows in the district's progress when the ward set a target for it.
    let y = year(this_year().0);
    set(&app, &gt, &gt_own, "HN-LB-GT", y.clone(), Some(12.0), &[]).await;
    let p = progress(&app, &lb, "HN-LB", y.clone(), &[]).await;
    assert_eq!(child(entry(&p, &gt_own), "HN-LB-GT")["target"], 12.0);
    // Asked for by id, an indicator must be usable at the unit: another district's is not, nor
    // the ward's (for a period where no child has a target for it).
    progress_of(&app, &lb, "HN-LB", y.clone(), &[&hk_own]).await.expect_code("NOT_FOUND");
    progress_of(&app, &lb, "HN-LB", year(this_year().0 + 1), &[&gt_own]).await.expect_code("NOT_FOUND");
    let p = progress(&app, &lb, "HN-LB", y, &[&gt_own, &lb_sum]).await;
    assert_eq!(p.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reported_values_keep_their_history_and_roll_up_as_sums_or_averages() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let case = app.token(BD_CASE_OFFICER).await;
    let stranger = app.token(MEMBER).await;
    let ward = officer(&app, S, 1, "HN-LB-BD", "UNIT_OFFICER").await.token;
    let hk = officer(&app, S, 2, "HN-HK", "UNIT_OFFICER").await.token;
    let sum = reported_indicator(&app, &lb, "HN-LB", "Số tổ phụ nữ tự quản", "SUM").await;
    let avg = reported_indicator(&app, &lb, "HN-LB", "Tỷ lệ chi hội xếp loại tốt", "AVERAGE").await;
    let hk_own = reported_indicator(&app, &hk, "HN-HK", "Số mô hình", "SUM").await;
    let (y, _, _) = this_year();

    // A branch leader reports for her branch; the latest value wins, the earlier stays.
    let first = report_with(&app, &leader, &sum, "HN-LB-BD-01", year(y), 3.0, Some("  Quý I  ")).await.ok();
    let first = &first["reportIndicatorValue"];
    assert_eq!(
        (first["value"].clone(), first["note"].clone(), first["current"].clone()),
        (json!(3.0), json!("Quý I"), json!(true))
    );
    assert_eq!(first["reportedBy"]["fullName"], "Phạm Thị Chi Hội");
    assert_eq!(first["period"], json!({ "fromYear": y, "toYear": y }));
    report(&app, &leader, &sum, "HN-LB-BD-01", year(y), 5.0).await;
    report(&app, &ward, &sum, "HN-LB-BD", year(y), 2.0).await;
    report(&app, &lb, &sum, "HN-LB-GT-01", year(y), 4.0).await;
    report(&app, &lb, &sum, "HN-LB", year(y), 1.0).await;

    // Who may report: officers at or above the unit, the leader of a branch for that branch.
    report_with(&app, &leader, &sum, "HN-LB-BD", year(y), 1.0, None).await.expect_code("NOT_FOUND");
    report_with(&app, &leader, &sum, "HN-LB-BD-02", year(y), 1.0, None).await.expect_code("NOT_FOUND");
    report_with(&app, &case, &sum, "HN-LB-BD", year(y), 1.0, None).await.expect_code("FORBIDDEN");
    report_with(&app, &stranger, &sum, "HN-LB", year(y), 1.0, None).await.expect_code("NOT_FOUND");
    report_with(&app, &hk, &sum, "HN-LB", year(y), 1.0, None).await.expect_code("NOT_FOUND");
    report_with(&app, &lb, &hk_own, "HN-LB", year(y), 1.0, None).await.expect_code("NOT_FOUND");
    for (ind, value, note, period, field, reason) in [
        (computed(1), 1.0, None, year(y), "input.indicatorId", "INVALID_KIND"),
        (sum.clone(), -1.0, None, year(y), "input.value", "OUT_OF_RANGE"),
        (sum.clone(), 1.0, Some("a".repeat(501)), year(y), "input.note", "TOO_LONG"),
        (sum.clone(), 1.0, None, json!({ "year": 1990 }), "input.period", "OUT_OF_RANGE"),
    ] {
        let g = report_with(&app, &lb, &ind, "HN-LB-BD", period, value, note.as_deref()).await;
        assert_eq!((g.code(), g.field(), g.reason()), (Some("BAD_USER_INPUT"), Some(field), Some(reason)));
    }
    assert_eq!(entities::reported_value::Entity::find().count(&app.state.db).await.unwrap(), 5);

    // History: newest first, one current, paged.
    let h = history(&app, &case, &sum, "HN-LB-BD-01", year(y)).await;
    let seen: Vec<(f64, bool)> = h.iter().map(|v| (f(&v["value"]), v["current"] == true)).collect();
    assert_eq!(seen, [(5.0, true), (3.0, false)]);
    assert_eq!(h[1]["note"], "Quý I");
    assert!(h[0]["reportedAt"].as_str() >= h[1]["reportedAt"].as_str());
    let page = history_page(&app, &lb, &sum, "HN-LB-BD-01", year(y), Some(1), None).await.ok();
    let conn = &page["indicatorValueHistory"];
    assert_eq!(
        (conn["pageInfo"]["hasNextPage"].clone(), conn["nodes"][0]["value"].clone()),
        (json!(true), json!(5.0))
    );
    let cursor = s(&conn["pageInfo"]["endCursor"]);
    let page = history_page(&app, &lb, &sum, "HN-LB-BD-01", year(y), Some(1), Some(&cursor)).await.ok();
    let conn = &page["indicatorValueHistory"];
    assert_eq!(
        (conn["pageInfo"]["hasNextPage"].clone(), conn["nodes"][0]["value"].clone()),
        (json!(false), json!(3.0))
    );
    assert!(history(&app, &lb, &sum, "HN-LB-BD-01", year(y - 1)).await.is_empty());
    history_page(&app, &stranger, &sum, "HN-LB-BD-01", year(y), None, None).await.expect_code("NOT_FOUND");
    history_page(&app, &hk, &sum, "HN-LB-BD-01", year(y), None, None).await.expect_code("NOT_FOUND");

    // Sums: the current values of every unit of each subtree, the unit's own included.
    let p = progress(&app, &lb, "HN-LB", year(y), &[&sum, &avg]).await;
    let e = entry(&p, &sum);
    assert_eq!((e["total"]["actual"].clone(), e["total"]["reportingUnits"].clone()), (json!(12.0), json!(4)));
    assert_eq!(
        (child(e, "HN-LB-BD")["actual"].clone(), child(e, "HN-LB-BD")["reportingUnits"].clone()),
        (json!(7.0), json!(2))
    );
    assert_eq!(child(e, "HN-LB-GT")["actual"], 4.0);
    assert_eq!(
        (child(e, "HN-LB-NL")["actual"].clone(), child(e, "HN-LB-NL")["reportingUnits"].clone()),
        (json!(0.0), json!(0))
    );
    assert_eq!(e["total"]["target"], Value::Null);
    let e = entry(&p, &avg);
    assert_eq!(
        (e["total"]["actual"].clone(), e["total"]["reportingUnits"].clone()),
        (json!(0.0), json!(0)),
        "nobody reported"
    );
    assert_eq!(e["indicator"]["aggregation"], "AVERAGE");

    // Averages: the mean of the units that reported.
    report(&app, &leader, &avg, "HN-LB-BD-01", year(y), 80.0).await;
    report(&app, &ward, &avg, "HN-LB-BD-02", year(y), 60.0).await;
    report(&app, &lb, &avg, "HN-LB-GT", year(y), 90.0).await;
    set(&app, &lb, &avg, "HN-LB", year(y), Some(80.0), &[("HN-LB-BD", 75.0)]).await;
    let p = progress(&app, &lb, "HN-LB", year(y), &[]).await;
    assert_eq!(p.len(), 1, "only the indicator with targets unless asked");
    let e = entry(&p, &avg);
    assert!(close(f(&e["total"]["actual"]), 230.0 / 3.0), "{e}");
    assert_eq!(e["total"]["reportingUnits"], 3);
    assert!(close(f(&e["total"]["attainment"]), 230.0 / 3.0 / 80.0));
    let bd = child(e, "HN-LB-BD");
    assert_eq!(
        (bd["actual"].clone(), bd["reportingUnits"].clone(), bd["target"].clone()),
        (json!(70.0), json!(2), json!(75.0))
    );
    assert!(close(f(&bd["attainment"]), 70.0 / 75.0));
    report(&app, &leader, &avg, "HN-LB-BD-01", year(y), 100.0).await;
    let e = progress(&app, &lb, "HN-LB", year(y), &[]).await[0].clone();
    assert!(close(f(&e["total"]["actual"]), 250.0 / 3.0));
    assert_eq!(child(&e, "HN-LB-BD")["actual"], 80.0);

    // The city cannot ask for an indicator defined below it; once Long Biên (a direct child)
    // has a target for it, it shows. A target of 0 has no attainment.
    progress_of(&app, &city, "HN", year(y), &[&sum]).await.expect_code("NOT_FOUND");
    set(&app, &lb, &sum, "HN-LB", year(y), Some(0.0), &[]).await;
    let p = progress(&app, &city, "HN", year(y), &[]).await;
    let e = entry(&p, &sum);
    assert_eq!((e["total"]["actual"].clone(), e["total"]["target"].clone()), (json!(12.0), Value::Null));
    let lb_row = child(e, "HN-LB");
    assert_eq!((lb_row["actual"].clone(), lb_row["target"].clone()), (json!(12.0), json!(0.0)));
    assert_eq!(lb_row["attainment"], Value::Null);
    // Another period is another figure.
    let term = json!({ "fromYear": y - 1, "toYear": y });
    report(&app, &lb, &sum, "HN-LB", term.clone(), 9.0).await;
    assert_eq!(progress(&app, &lb, "HN-LB", year(y), &[&sum]).await[0]["total"]["actual"], 12.0);
    assert_eq!(progress(&app, &lb, "HN-LB", term, &[&sum]).await[0]["total"]["actual"], 9.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_reports_all_reach_the_history_with_one_current_value() {
    let app = spawn().await;
    let lb = app.token(LB_OFFICER).await;
    let ward = officer(&app, S, 1, "HN-LB-BD", "UNIT_OFFICER").await.token;
    let leader = app.token(BD1_LEADER).await;
    let ind = reported_indicator(&app, &lb, "HN-LB", "Số tổ phụ nữ tự quản", "SUM").await;
    let (y, _, _) = this_year();
    let unit = app.unit_id("HN-LB-BD-01").await;
    let other = app.unit_id("HN-LB-BD-02").await;

    // Twelve reports of one figure at once by three officers, and four of another unit's.
    let tokens = [&lb, &ward, &leader];
    let ind = &ind;
    let calls = (0..16).map(|i| {
        let (app, token) = (&app, tokens[i % 3]);
        let target = if i < 12 { unit.clone() } else { other.clone() };
        let token = if i < 12 { token } else { &lb };
        async move {
            let input = json!({ "indicatorId": ind, "unitId": target, "period": year(y), "value": i as f64 });
            app.gql(REPORT, json!({ "i": input }), Some(token)).await
        }
    });
    for g in join_all(calls).await {
        assert!(!g.has_errors(), "{}", g.body);
    }
    for (code, n) in [("HN-LB-BD-01", 12), ("HN-LB-BD-02", 4)] {
        let rows = entities::reported_value::Entity::find()
            .filter(entities::reported_value::Column::UnitId.eq(id_of::<UnitId>(&app.unit_id(code).await)))
            .all(&app.state.db)
            .await
            .unwrap();
        assert_eq!(rows.len(), n, "{code}: every report is in the history");
        assert_eq!(rows.iter().filter(|r| r.superseded_at.is_none()).count(), 1, "{code}: one current value");
        // One chain in time: each value is superseded exactly when the next one was reported.
        let mut chain = rows.clone();
        chain.sort_by_key(|r| (r.reported_at, r.id));
        for pair in chain.windows(2) {
            assert_eq!(
                pair[0].superseded_at,
                Some(pair[1].reported_at),
                "{code}: superseded by the next report"
            );
        }
        let h = history(&app, &lb, ind, code, year(y)).await;
        assert_eq!(h.len(), n);
        assert_eq!(h[0]["current"], true, "{code}: the newest is the current one");
        assert!(h[1..].iter().all(|v| v["current"] == false));
        let p = progress(&app, &lb, code, year(y), &[ind]).await;
        assert_eq!(p[0]["total"]["actual"], h[0]["value"]);
    }
}
