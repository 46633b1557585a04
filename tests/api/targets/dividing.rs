//! Setting targets and shares down the tree: the split, who may change what, validation, and a
//! share from above racing a write from below.

use entities::ids::UnitId;
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_city_target_is_divided_down_to_the_branches() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let ward = officer(&app, S, 1, "HN-LB-BD", "UNIT_OFFICER").await.token;
    let nm = computed(1);
    let (y, _, _) = this_year();

    // The city's admin sets the city's target and gives two districts their shares.
    let r = set(&app, &city, &nm, "HN", year(y), Some(1000.0), &[("HN-LB", 300.0), ("HN-HK", 200.0)]).await;
    assert_eq!(r["target"]["value"], 1000.0);
    assert_eq!(r["target"]["assignedByParent"], false, "nobody stands above the city");
    assert_eq!(r["target"]["period"], json!({ "fromYear": y, "toYear": y }));
    assert_eq!(r["target"]["indicator"]["code"], "NEW_MEMBERS");
    assert_eq!(r["target"]["setBy"]["fullName"], "Nguyễn Thị Quản Trị");
    assert_eq!(
        r["shares"],
        json!([
            { "value": 300.0, "assignedByParent": true, "unit": { "code": "HN-LB" } },
            { "value": 200.0, "assignedByParent": true, "unit": { "code": "HN-HK" } },
        ])
    );
    let p = progress(&app, &city, "HN", year(y), &[]).await;
    assert_eq!(p.len(), 1, "{p:?}");
    let e = entry(&p, &nm);
    assert_eq!(e["indicator"]["code"], "NEW_MEMBERS");
    assert_eq!((e["total"]["target"].clone(), e["childrenTargetSum"].clone()), (json!(1000.0), json!(500.0)));
    assert_eq!(e["unallocated"], 500.0);
    assert_eq!(codes(e).len(), 6, "every district, with or without a share");
    assert_eq!(child(e, "HN-LB")["target"], 300.0);
    assert_eq!(child(e, "HN-HK")["target"], 200.0);
    assert_eq!(child(e, "HN-BD")["target"], Value::Null);
    assert_eq!(child(e, "HN-BD")["attainment"], Value::Null);
    assert_eq!(e["total"]["attainment"], 0.0, "no new member yet");
    assert_eq!(e["total"]["reportingUnits"], Value::Null, "computed indicators have no reporters");

    // The district's officer does not rewrite what the city gave her, not even along with shares…
    set_with(&app, &lb, &nm, "HN-LB", year(y), Some(400.0), &[]).await.expect_code("FORBIDDEN");
    set_with(&app, &lb, &nm, "HN-LB", year(y), Some(400.0), &[("HN-LB-BD", 1.0)])
        .await
        .expect_code("FORBIDDEN");
    // …but divides it among her wards; the shares need not add up.
    let r = set(
        &app,
        &lb,
        &nm,
        "HN-LB",
        year(y),
        None,
        &[("HN-LB-BD", 120.0), ("HN-LB-GT", 150.0), ("HN-LB-NL", 60.0)],
    )
    .await;
    assert_eq!(r["target"]["value"], 300.0, "the district's own target is left as it is");
    assert_eq!(r["target"]["assignedByParent"], true);
    let e = progress(&app, &lb, "HN-LB", year(y), &[]).await[0].clone();
    assert_eq!(e["total"]["target"], 300.0);
    assert_eq!(e["childrenTargetSum"], 330.0);
    assert_eq!(e["unallocated"], -30.0);
    assert_eq!(codes(&e).len(), 5);
    // Writing a share again replaces it.
    set(&app, &lb, &nm, "HN-LB", year(y), None, &[("HN-LB-NL", 20.0)]).await;
    let e = progress(&app, &lb, "HN-LB", year(y), &[]).await[0].clone();
    assert_eq!((e["childrenTargetSum"].clone(), e["unallocated"].clone()), (json!(290.0), json!(10.0)));
    assert_eq!(child(&e, "HN-LB-NL")["target"], 20.0);

    // The ward's officer in turn divides her ward's target among its branches (level four).
    set_with(&app, &ward, &nm, "HN-LB-BD", year(y), Some(1.0), &[]).await.expect_code("FORBIDDEN");
    set(
        &app,
        &ward,
        &nm,
        "HN-LB-BD",
        year(y),
        None,
        &[("HN-LB-BD-01", 40.0), ("HN-LB-BD-02", 40.0), ("HN-LB-BD-03", 30.0)],
    )
    .await;
    let e = progress(&app, &ward, "HN-LB-BD", year(y), &[]).await[0].clone();
    assert_eq!(codes(&e), ["HN-LB-BD-01", "HN-LB-BD-02", "HN-LB-BD-03", "HN-LB-BD-04"]);
    assert_eq!(e["total"]["target"], 120.0);
    assert_eq!((e["childrenTargetSum"].clone(), e["unallocated"].clone()), (json!(110.0), json!(10.0)));
    assert_eq!(child(&e, "HN-LB-BD-04")["target"], Value::Null);
    // The city sees the districts only; the district sees its wards with their own targets.
    let e = progress(&app, &city, "HN-LB", year(y), &[]).await[0].clone();
    assert_eq!(child(&e, "HN-LB-BD")["target"], 120.0);

    // Above the unit, its target can be rewritten: the district's officer for the ward, the
    // city for the district (the value then counts as assigned).
    let r = set(&app, &lb, &nm, "HN-LB-BD", year(y), Some(125.0), &[]).await;
    assert_eq!(
        (r["target"]["value"].clone(), r["target"]["assignedByParent"].clone()),
        (json!(125.0), json!(true))
    );
    let r = set(&app, &city, &nm, "HN-LB", year(y), Some(320.0), &[]).await;
    assert_eq!(r["target"]["value"], 320.0);

    // A target the district set herself (not assigned) she may change, until the city assigns one.
    let next = y + 1;
    let r = set(&app, &lb, &nm, "HN-LB", year(next), Some(50.0), &[]).await;
    assert_eq!(
        (r["target"]["value"].clone(), r["target"]["assignedByParent"].clone()),
        (json!(50.0), json!(false))
    );
    assert_eq!(set(&app, &lb, &nm, "HN-LB", year(next), Some(55.0), &[]).await["target"]["value"], 55.0);
    set(&app, &city, &nm, "HN", year(next), None, &[("HN-LB", 60.0)]).await;
    set_with(&app, &lb, &nm, "HN-LB", year(next), Some(70.0), &[]).await.expect_code("FORBIDDEN");
    let e = progress(&app, &lb, "HN-LB", year(next), &[]).await[0].clone();
    assert_eq!(e["total"]["target"], 60.0);
    assert_eq!(e["unallocated"], 60.0, "no ward has a share for that year");

    // A term is a period of its own: its target does not mix with the years'.
    let term = json!({ "fromYear": 2021, "toYear": 2026 });
    set(&app, &city, &nm, "HN", term.clone(), Some(5000.0), &[]).await;
    assert_eq!(progress(&app, &city, "HN", year(y), &[]).await[0]["total"]["target"], 1000.0);
    assert_eq!(progress(&app, &city, "HN", term, &[]).await[0]["total"]["target"], 5000.0);
    // A period with no target and nothing asked: no entry.
    assert!(progress(&app, &city, "HN", year(2031), &[]).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_targets_needs_a_managing_role_over_the_unit_and_valid_input() {
    let app = spawn().await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let case = app.token(BD_CASE_OFFICER).await;
    let stranger = app.token(MEMBER).await;
    let hk = officer(&app, S, 1, "HN-HK", "UNIT_OFFICER").await.token;
    let nm = computed(1);
    let y = year(this_year().0);
    let hk_indicator = reported_indicator(&app, &hk, "HN-HK", "Tỷ lệ chi hội vững mạnh", "AVERAGE").await;
    let before = target_rows(&app).await;

    // Out of reach: NOT_FOUND, as for any unit she cannot see.
    for (token, code) in
        [(&lb, "HN-HK"), (&lb, "HN"), (&hk, "HN-LB-BD"), (&stranger, "HN-LB"), (&leader, "HN-LB-BD")]
    {
        set_with(&app, token, &nm, code, y.clone(), Some(10.0), &[]).await.expect_code("NOT_FOUND");
    }
    // In reach with another role: FORBIDDEN (a branch leader does not set targets).
    set_with(&app, &case, &nm, "HN-LB-BD", y.clone(), Some(10.0), &[]).await.expect_code("FORBIDDEN");
    set_with(&app, &leader, &nm, "HN-LB-BD-01", y.clone(), Some(10.0), &[]).await.expect_code("FORBIDDEN");
    let anon = app
        .gql(
            SET,
            json!({ "i": { "indicatorId": nm, "unitId": app.unit_id("HN-LB").await, "period": y, "value": 1.0 } }),
            None,
        )
        .await;
    anon.expect_code("UNAUTHENTICATED");

    // Shares go to direct children only: not a grandchild, another district's ward, the unit
    // itself or its parent. Nothing of the call is written.
    for code in ["HN-LB-BD-01", "HN-HK-HB", "HN-LB", "HN"] {
        let g =
            set_with(&app, &lb, &nm, "HN-LB", y.clone(), Some(10.0), &[("HN-LB-BD", 5.0), (code, 1.0)]).await;
        let g = g.expect_reason("BAD_USER_INPUT", "NOT_A_CHILD");
        assert_eq!(g.field(), Some("input.shares"));
    }
    let g = set_with(&app, &lb, &nm, "HN-LB", y.clone(), None, &[("HN-LB-BD", 1.0), ("HN-LB-BD", 2.0)]).await;
    assert_eq!((g.code(), g.field()), (Some("BAD_USER_INPUT"), Some("input.shares")), "a duplicate share");
    let g = set_with(&app, &lb, &nm, "HN-LB", y.clone(), Some(-1.0), &[]).await;
    assert_eq!((g.field(), g.reason()), (Some("input.value"), Some("OUT_OF_RANGE")));
    let g = set_with(&app, &lb, &nm, "HN-LB", y.clone(), None, &[("HN-LB-BD", -0.5)]).await;
    assert_eq!((g.field(), g.reason()), (Some("input.shares"), Some("OUT_OF_RANGE")));
    let g = set_with(&app, &lb, &nm, "HN-LB", y.clone(), None, &[("HN-LB-BD", 1.0)]).await;
    assert!(!g.has_errors(), "shares alone are fine: {}", g.body);
    let periods = [
        (json!({}), "EXACTLY_ONE"),
        (json!({ "year": 2026, "fromYear": 2021, "toYear": 2026 }), "EXACTLY_ONE"),
        (json!({ "fromYear": 2021 }), "EXACTLY_ONE"),
        (json!({ "year": 2026, "toYear": 2026 }), "EXACTLY_ONE"),
        (json!({ "year": 1999 }), "OUT_OF_RANGE"),
        (json!({ "year": 2101 }), "OUT_OF_RANGE"),
        (json!({ "fromYear": 2026, "toYear": 2021 }), "OUT_OF_RANGE"),
        (json!({ "fromYear": 2021, "toYear": 2031 }), "OUT_OF_RANGE"),
    ];
    for (period, reason) in &periods {
        let g = set_with(&app, &lb, &nm, "HN-LB", period.clone(), Some(1.0), &[]).await;
        assert_eq!(
            (g.code(), g.field(), g.reason()),
            (Some("BAD_USER_INPUT"), Some("input.period"), Some(*reason)),
            "{period}"
        );
        let g = progress_of(&app, &lb, "HN-LB", period.clone(), &[]).await;
        assert_eq!((g.field(), g.reason()), (Some("period"), Some(*reason)), "{period}");
    }
    // Ten years is the longest term.
    set(&app, &lb, &nm, "HN-LB", json!({ "fromYear": 2021, "toYear": 2030 }), Some(1.0), &[]).await;
    // An indicator defined for another district's subtree, or none at all: NOT_FOUND.
    set_with(&app, &lb, &hk_indicator, "HN-LB", y.clone(), Some(1.0), &[]).await.expect_code("NOT_FOUND");
    let unknown = global_id("Indicator", Uuid::now_v7());
    set_with(&app, &lb, &unknown, "HN-LB", y.clone(), Some(1.0), &[]).await.expect_code("NOT_FOUND");
    let g = set_with(&app, &lb, &app.unit_id("HN").await, "HN-LB", y.clone(), Some(1.0), &[]).await;
    assert_eq!((g.field(), g.reason()), (Some("input.indicatorId"), Some("INVALID_ID")));
    // In the other district it is usable.
    set(&app, &hk, &hk_indicator, "HN-HK", y.clone(), Some(80.0), &[("HN-HK-HB", 85.0)]).await;
    assert_eq!(target_rows(&app).await, before + 4, "only the accepted calls wrote targets");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_share_from_above_is_never_lost_to_a_simultaneous_write_from_below() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let nm = computed(1);
    // For each of twenty years, the city gives Long Biên its share while Long Biên's officer
    // writes her own figure. Whichever goes first, the city's share is what remains.
    let years: Vec<i32> = (2040..2060).collect();
    let races = years.iter().map(|&y| {
        let (app, city, lb, nm) = (&app, &city, &lb, &nm);
        async move {
            let (from_city, from_below) = futures_util::join!(
                set_with(app, city, nm, "HN", year(y), None, &[("HN-LB", 100.0)]),
                set_with(app, lb, nm, "HN-LB", year(y), Some(7.0), &[]),
            );
            assert!(!from_city.has_errors(), "{}", from_city.body);
            assert!(
                !from_below.has_errors() || from_below.code() == Some("FORBIDDEN"),
                "{}",
                from_below.body
            );
        }
    });
    join_all(races).await;
    let rows = entities::target::Entity::find()
        .filter(entities::target::Column::UnitId.eq(id_of::<UnitId>(&app.unit_id("HN-LB").await)))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), years.len());
    assert!(rows.iter().all(|t| t.value == 100.0 && t.assigned_by_parent), "{rows:?}");
}
