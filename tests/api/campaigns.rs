//! Campaigns: the managers' life cycle (create, edit, launch, end) with its status rules and
//! input checks, visibility across the tree, the list's filters and order, concurrent launches
//! and statement counts. (Pledges and their review are in `campaigns::pledges`.)
//!
//! Every campaign a test creates has "Kiểm thử" in its title and lists are searched for it, so
//! campaigns in the demo data do not change what the tests see.

mod pledges;

use chrono::{Datelike, Duration, Utc};
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

pub(crate) use crate::fixtures::name;
use crate::fixtures::{Series, launched_campaign, member, officer, person};
use crate::helpers::*;

/// This module's test people.
pub(crate) const S: Series = Series::CAMPAIGNS;

/// Folded word of every test campaign's title.
const MARK: &str = "kiem thu";

macro_rules! campaign_fields {
    () => {
        "id kind title summary body bodyFormat coverImageUrl termStart termEnd status unit { code } \
         criteria { id position text } launchedAt endedAt createdAt"
    };
}

const CREATE: &str = concat!(
    "mutation($u: ID!, $i: CampaignInput!) { createCampaign(unitId: $u, input: $i) { ",
    campaign_fields!(),
    " } }"
);
const UPDATE: &str = concat!(
    "mutation($id: ID!, $i: CampaignInput!) { updateCampaign(id: $id, input: $i) { ",
    campaign_fields!(),
    " } }"
);
const LAUNCH: &str = concat!(
    "mutation($id: ID!, $n: Boolean) { launchCampaign(id: $id, notifyMembers: $n) { ",
    campaign_fields!(),
    " } }"
);
const END: &str = concat!("mutation($id: ID!) { endCampaign(id: $id) { ", campaign_fields!(), " } }");
const NODE: &str =
    concat!("query($id: ID!) { node(id: $id) { ... on Campaign { ", campaign_fields!(), " } } }");
const LIST: &str = "query($f: CampaignFilterInput, $first: Int, $after: String) { campaigns(filter: $f, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id title status kind unit { code } } } } }";

// ---- helpers (shared with `pledges`) ----

/// An app whose registration limit does not get in the way of tests that register many people.
pub(crate) async fn spawn() -> TestApp {
    spawn_app_with(&[("APP_REGISTER_MAX_PER_ADDRESS", "1000")]).await
}

/// The current year in Hanoi.
pub(crate) fn this_year() -> i32 {
    (Utc::now() + Duration::hours(7)).year()
}

/// A valid campaign input (a campaign over last year to next year, three criteria), with
/// `extra` fields replaced.
pub(crate) fn input(title: &str, extra: Value) -> Value {
    let y = this_year();
    let mut v = json!({
        "kind": "CAMPAIGN",
        "title": title,
        "summary": "Xây dựng gia đình 5 không 3 sạch.",
        "body": "## Nội dung\n\n- Không đói nghèo\n- Không vi phạm pháp luật",
        "bodyFormat": "MARKDOWN",
        "coverImageUrl": "https://hoiphunu.hanoi.gov.vn/anh/5k3s.jpg",
        "termStart": format!("{}-01-01", y - 1),
        "termEnd": format!("{}-12-31", y + 1),
        "criteria": ["Không đói nghèo", "Không vi phạm pháp luật", "Sạch nhà"],
    });
    if let (Some(base), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in extra {
            base.insert(k.clone(), x.clone());
        }
    }
    v
}

pub(crate) async fn create(app: &TestApp, token: &str, code: &str, input: Value) -> Gql {
    let unit = app.unit_id(code).await;
    app.gql(CREATE, json!({ "u": unit, "i": input }), Some(token)).await
}

/// Creates a draft; returns the campaign.
pub(crate) async fn draft(app: &TestApp, token: &str, code: &str, input: Value) -> Value {
    let c = create(app, token, code, input).await.ok()["createCampaign"].clone();
    assert_eq!(c["status"], "DRAFT");
    c
}

pub(crate) async fn launch(app: &TestApp, token: &str, id: &str, notify: bool) -> Gql {
    app.gql(LAUNCH, json!({ "id": id, "n": notify }), Some(token)).await
}

/// Creates and launches a campaign; returns it.
pub(crate) async fn end(app: &TestApp, token: &str, id: &str) -> Gql {
    app.gql(END, json!({ "id": id }), Some(token)).await
}

async fn update(app: &TestApp, token: &str, id: &str, input: Value) -> Gql {
    app.gql(UPDATE, json!({ "id": id, "i": input }), Some(token)).await
}

pub(crate) async fn view(app: &TestApp, token: &str, id: &str) -> Gql {
    app.gql(NODE, json!({ "id": id }), Some(token)).await
}

async fn list(app: &TestApp, token: &str, filter: Value, first: Option<i64>, after: Option<&str>) -> Gql {
    app.gql(LIST, json!({ "f": filter, "first": first, "after": after }), Some(token)).await
}

/// Titles of the test campaigns `token` sees with `filter`, in order, after checking
/// `totalCount` against them.
async fn titles(app: &TestApp, token: &str, filter: Value) -> Vec<String> {
    let mut filter = filter;
    if filter.get("search").is_none() {
        filter["search"] = json!(MARK);
    }
    let data = list(app, token, filter.clone(), Some(100), None).await.ok();
    let conn = &data["campaigns"];
    let titles: Vec<String> = nodes(conn).iter().map(|n| s(&n["title"])).collect();
    assert_eq!(conn["totalCount"], titles.len(), "totalCount with {filter}");
    titles
}

async fn campaign_rows(app: &TestApp) -> u64 {
    entities::campaign::Entity::find().count(&app.state.db).await.unwrap()
}

async fn fanout_jobs(app: &TestApp, campaign: &str) -> Vec<entities::fanout_job::Model> {
    entities::fanout_job::Entity::find()
        .filter(entities::fanout_job::Column::SubjectId.eq(uuid_of(campaign)))
        .all(&app.state.db)
        .await
        .unwrap()
}

fn texts(c: &Value) -> Vec<String> {
    c["criteria"].as_array().expect("criteria").iter().map(|k| s(&k["text"])).collect()
}

// ---- life cycle ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_creates_edits_launches_and_ends_a_campaign() {
    let app = spawn().await;
    let lb = app.token(LB_OFFICER).await;
    let y = this_year();
    let c = draft(&app, &lb, "HN-LB", input("  Kiểm thử   5 không 3 sạch ", json!({}))).await;
    let id = s(&c["id"]);
    assert_eq!(c["title"], "Kiểm thử 5 không 3 sạch");
    assert_eq!(c["kind"], "CAMPAIGN");
    assert_eq!(c["bodyFormat"], "MARKDOWN");
    assert_eq!(c["body"], "## Nội dung\n\n- Không đói nghèo\n- Không vi phạm pháp luật");
    assert_eq!(c["coverImageUrl"], "https://hoiphunu.hanoi.gov.vn/anh/5k3s.jpg");
    assert_eq!(c["termStart"], format!("{}-01-01", y - 1));
    assert_eq!(c["termEnd"], format!("{}-12-31", y + 1));
    assert_eq!(c["unit"]["code"], "HN-LB");
    assert!(c["launchedAt"].is_null() && c["endedAt"].is_null());
    let positions: Vec<i64> =
        c["criteria"].as_array().unwrap().iter().map(|k| k["position"].as_i64().unwrap()).collect();
    assert_eq!(positions, [1, 2, 3]);
    assert_eq!(texts(&c), ["Không đói nghèo", "Không vi phạm pháp luật", "Sạch nhà"]);
    assert_eq!(seen(&app, &lb, &id).await["status"], "DRAFT");

    // A draft's criteria and everything else can change.
    let edited = input(
        "Kiểm thử Gia đình 5 không 3 sạch",
        json!({ "kind": "EMULATION_MOVEMENT", "bodyFormat": "PLAIN", "coverImageUrl": null,
                "criteria": ["Sạch bếp", "Không bạo lực gia đình"] }),
    );
    let c = update(&app, &lb, &id, edited.clone()).await.ok()["updateCampaign"].clone();
    assert_eq!((c["kind"].clone(), c["bodyFormat"].clone()), (json!("EMULATION_MOVEMENT"), json!("PLAIN")));
    assert!(c["coverImageUrl"].is_null());
    assert_eq!(texts(&c), ["Sạch bếp", "Không bạo lực gia đình"]);
    assert_eq!(c["criteria"][1]["position"], 2);
    let criteria_ids = c["criteria"].clone();

    let c = launch(&app, &lb, &id, false).await.ok()["launchCampaign"].clone();
    assert_eq!(c["status"], "ACTIVE");
    assert!(c["launchedAt"].is_string());
    launch(&app, &lb, &id, false).await.expect_reason("CONFLICT", "WRONG_STATUS");
    assert!(fanout_jobs(&app, &id).await.is_empty(), "no fan-out unless asked");

    // Launched: the text may change, the criteria may not (same criteria keep their ids).
    let c = update(
        &app,
        &lb,
        &id,
        input("Kiểm thử Gia đình hạnh phúc", json!({ "criteria": ["Sạch bếp", "Không bạo lực gia đình"] })),
    )
    .await
    .ok()["updateCampaign"]
        .clone();
    assert_eq!(
        (c["title"].clone(), c["status"].clone()),
        (json!("Kiểm thử Gia đình hạnh phúc"), json!("ACTIVE"))
    );
    assert_eq!(c["criteria"], criteria_ids);
    for criteria in [json!(["Sạch bếp"]), json!(["Không bạo lực gia đình", "Sạch bếp"]), json!([])]
    {
        update(&app, &lb, &id, input("Kiểm thử", json!({ "criteria": criteria })))
            .await
            .expect_reason("CONFLICT", "WRONG_STATUS");
    }
    assert_eq!(seen(&app, &lb, &id).await["criteria"], criteria_ids);

    let c = end(&app, &lb, &id).await.ok()["endCampaign"].clone();
    assert_eq!(c["status"], "ENDED");
    assert!(c["endedAt"].is_string());
    end(&app, &lb, &id).await.expect_reason("CONFLICT", "WRONG_STATUS");
    launch(&app, &lb, &id, true).await.expect_reason("CONFLICT", "WRONG_STATUS");
    update(
        &app,
        &lb,
        &id,
        input("Kiểm thử sau khi kết thúc", json!({ "criteria": ["Sạch bếp", "Không bạo lực gia đình"] })),
    )
    .await
    .expect_reason("CONFLICT", "WRONG_STATUS");
    assert_eq!(seen(&app, &lb, &id).await["title"], "Kiểm thử Gia đình hạnh phúc");
    assert!(fanout_jobs(&app, &id).await.is_empty());

    // A draft cannot be ended.
    let other = s(&draft(&app, &lb, "HN-LB", input("Kiểm thử nháp", json!({}))).await["id"]);
    end(&app, &lb, &other).await.expect_reason("CONFLICT", "WRONG_STATUS");
}

/// The campaign as `token` sees it (which must be allowed).
pub(crate) async fn seen(app: &TestApp, token: &str, id: &str) -> Value {
    let c = view(app, token, id).await.ok()["node"].clone();
    assert_eq!(c["id"], id);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_unit_officers_and_admins_with_reach_manage_campaigns() {
    let app = spawn().await;
    let sys = app.token(SYSADMIN).await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let case = app.token(BD_CASE_OFFICER).await;
    let hk = officer(&app, S, 1, "HN-HK", "UNIT_OFFICER").await.token;
    let bd_member = member(&app, &city, S, 2, "HN-LB-BD-01").await.token;
    let outsider = person(&app, S, 3).await.token;
    let before = campaign_rows(&app).await;

    // Roles that do not manage campaigns, where the caller has some role: FORBIDDEN.
    create(&app, &leader, "HN-LB-BD-01", input("Kiểm thử", json!({}))).await.expect_code("FORBIDDEN");
    create(&app, &case, "HN-LB-BD", input("Kiểm thử", json!({}))).await.expect_code("FORBIDDEN");
    // No role over the unit: NOT_FOUND.
    create(&app, &lb, "HN-HK", input("Kiểm thử", json!({}))).await.expect_code("NOT_FOUND");
    create(&app, &lb, "HN", input("Kiểm thử", json!({}))).await.expect_code("NOT_FOUND");
    create(&app, &bd_member, "HN-LB-BD-01", input("Kiểm thử", json!({}))).await.expect_code("NOT_FOUND");
    create(&app, &outsider, "HN-LB", input("Kiểm thử", json!({}))).await.expect_code("NOT_FOUND");
    assert_eq!(campaign_rows(&app).await, before);

    // Officers and admins at or above the unit, and the system administrator.
    let by_city = draft(&app, &city, "HN-LB-BD", input("Kiểm thử của thành phố", json!({}))).await;
    let by_sys = draft(&app, &sys, "HN-HK", input("Kiểm thử của hệ thống", json!({}))).await;
    let by_lb = launched_campaign(&app, &lb, "HN-LB-BD-01", input("Kiểm thử của quận", json!({}))).await;
    let bd_ward = officer(&app, S, 4, "HN-LB-BD", "UNIT_OFFICER").await.token;
    let ward_draft = draft(&app, &bd_ward, "HN-LB-BD-02", input("Kiểm thử của phường", json!({}))).await;
    assert_eq!(campaign_rows(&app).await, before + 4);
    assert_eq!(seen(&app, &lb, &s(&by_city["id"])).await["status"], "DRAFT");
    assert_eq!(seen(&app, &hk, &s(&by_sys["id"])).await["status"], "DRAFT");

    // The other mutations: a caller who sees the campaign without managing it gets FORBIDDEN,
    // one who does not see it NOT_FOUND.
    let id = s(&by_lb["id"]);
    let edit = input("Kiểm thử", json!({}));
    for token in [&leader, &case, &bd_member] {
        update(&app, token, &id, edit.clone()).await.expect_code("FORBIDDEN");
        end(&app, token, &id).await.expect_code("FORBIDDEN");
    }
    for token in [&hk, &outsider] {
        update(&app, token, &id, edit.clone()).await.expect_code("NOT_FOUND");
        end(&app, token, &id).await.expect_code("NOT_FOUND");
    }
    let ward_id = s(&ward_draft["id"]);
    launch(&app, &leader, &ward_id, false).await.expect_code("NOT_FOUND");
    launch(&app, &case, &ward_id, false).await.expect_code("FORBIDDEN");
    launch(&app, &hk, &ward_id, false).await.expect_code("NOT_FOUND");
    assert_eq!(seen(&app, &lb, &ward_id).await["status"], "DRAFT");
    assert_eq!(seen(&app, &lb, &id).await["status"], "ACTIVE");
    assert_eq!(launch(&app, &city, &ward_id, false).await.ok()["launchCampaign"]["status"], "ACTIVE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_input_is_validated() {
    let app = spawn().await;
    let lb = app.token(LB_OFFICER).await;
    let before = campaign_rows(&app).await;
    let y = this_year();
    let cases = [
        (json!({ "title": "   " }), "input.title", "REQUIRED"),
        (json!({ "title": "K".repeat(201) }), "input.title", "TOO_LONG"),
        (json!({ "summary": "s".repeat(1001) }), "input.summary", "TOO_LONG"),
        (json!({ "body": "b".repeat(20_001) }), "input.body", "TOO_LONG"),
        (json!({ "coverImageUrl": "ftp://anh.vn/a.jpg" }), "input.coverImageUrl", "INVALID_FORMAT"),
        (json!({ "coverImageUrl": "https://anh.vn/a b.jpg" }), "input.coverImageUrl", "INVALID_FORMAT"),
        (json!({ "coverImageUrl": "https://" }), "input.coverImageUrl", "INVALID_FORMAT"),
        (
            json!({ "coverImageUrl": format!("https://anh.vn/{}", "a".repeat(490)) }),
            "input.coverImageUrl",
            "TOO_LONG",
        ),
        (json!({ "termEnd": format!("{}-01-01", y - 1) }), "input.termEnd", "OUT_OF_RANGE"),
        (json!({ "termEnd": format!("{}-12-31", y - 2) }), "input.termEnd", "OUT_OF_RANGE"),
        (
            json!({ "criteria": (0..21).map(|i| format!("Tiêu chí {i}")).collect::<Vec<_>>() }),
            "input.criteria",
            "TOO_MANY",
        ),
        (json!({ "criteria": ["Sạch nhà", "  "] }), "input.criteria", "REQUIRED"),
        (json!({ "criteria": ["x".repeat(301)] }), "input.criteria", "TOO_LONG"),
    ];
    for (extra, field, reason) in cases {
        let r = create(&app, &lb, "HN-LB", input("Kiểm thử", extra.clone())).await;
        assert_eq!(
            (r.code(), r.field(), r.reason()),
            (Some("BAD_USER_INPUT"), Some(field), Some(reason)),
            "{extra}"
        );
    }
    // Malformed dates are refused by the Date scalar.
    create(&app, &lb, "HN-LB", input("Kiểm thử", json!({ "termStart": "2026-13-01" })))
        .await
        .expect_code("BAD_USER_INPUT");
    assert_eq!(campaign_rows(&app).await, before, "nothing written");

    // The limits themselves pass; an empty list of criteria and no cover are fine.
    let c = draft(
        &app,
        &lb,
        "HN-LB",
        input(
            &format!("Kiểm thử {}", "K".repeat(191)),
            json!({ "summary": "s".repeat(1000), "body": "b".repeat(20_000), "coverImageUrl": " ",
                    "criteria": (0..20).map(|i| format!("Tiêu chí {i} {}", "x".repeat(280))).collect::<Vec<_>>() }),
        ),
    )
    .await;
    assert_eq!(c["criteria"].as_array().unwrap().len(), 20);
    assert!(c["coverImageUrl"].is_null());
    let id = s(&c["id"]);
    update(&app, &lb, &id, input("", json!({}))).await.expect_reason("BAD_USER_INPUT", "REQUIRED");
    let c =
        draft(&app, &lb, "HN-LB", input("Kiểm thử", json!({ "criteria": [], "coverImageUrl": null }))).await;
    assert_eq!(c["criteria"], json!([]));
}

// ---- visibility and the list ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_see_launched_campaigns_of_their_branch_and_its_ancestors_only() {
    let app = spawn().await;
    let sys = app.token(SYSADMIN).await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    let case = app.token(BD_CASE_OFFICER).await;
    let i = |title: &str| input(title, json!({}));

    let city_c = launched_campaign(&app, &city, "HN", i("Kiểm thử Thành phố")).await;
    let district_c = launched_campaign(&app, &lb, "HN-LB", i("Kiểm thử Long Biên")).await;
    let ward_c = launched_campaign(&app, &lb, "HN-LB-BD", i("Kiểm thử Bồ Đề")).await;
    let branch_c = launched_campaign(&app, &lb, "HN-LB-BD-01", i("Kiểm thử Chi hội 1")).await;
    let sibling_c = launched_campaign(&app, &lb, "HN-LB-BD-02", i("Kiểm thử Chi hội 2")).await;
    let hk_c = launched_campaign(&app, &sys, "HN-HK", i("Kiểm thử Hoàn Kiếm")).await;
    let district_draft = draft(&app, &lb, "HN-LB", i("Kiểm thử Nháp quận")).await;
    let branch_draft = draft(&app, &lb, "HN-LB-BD-01", i("Kiểm thử Nháp chi hội")).await;
    let ended_c = launched_campaign(&app, &lb, "HN-LB", i("Kiểm thử Đã kết thúc")).await;
    end(&app, &lb, &s(&ended_c["id"])).await.ok();

    let bd1 = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let hk = member(&app, &city, S, 2, "HN-HK-HB-01").await.token;
    let outsider = person(&app, S, 3).await.token;

    // Newest first (by launch).
    assert_eq!(
        titles(&app, &bd1, json!({})).await,
        ["Kiểm thử Chi hội 1", "Kiểm thử Bồ Đề", "Kiểm thử Long Biên", "Kiểm thử Thành phố"]
    );
    assert_eq!(
        titles(&app, &bd1, json!({ "status": null })).await,
        [
            "Kiểm thử Đã kết thúc",
            "Kiểm thử Chi hội 1",
            "Kiểm thử Bồ Đề",
            "Kiểm thử Long Biên",
            "Kiểm thử Thành phố"
        ]
    );
    assert_eq!(titles(&app, &bd1, json!({ "status": "DRAFT" })).await, Vec::<String>::new());
    assert_eq!(
        titles(&app, &hk, json!({ "status": null })).await,
        ["Kiểm thử Hoàn Kiếm", "Kiểm thử Thành phố"]
    );
    assert!(titles(&app, &outsider, json!({ "status": null })).await.is_empty());

    for c in [&city_c, &district_c, &ward_c, &branch_c, &ended_c] {
        seen(&app, &bd1, &s(&c["id"])).await;
    }
    for c in [&sibling_c, &hk_c, &district_draft, &branch_draft] {
        view(&app, &bd1, &s(&c["id"])).await.expect_code("NOT_FOUND");
    }
    for c in [&district_c, &ward_c, &branch_c, &ended_c, &district_draft] {
        view(&app, &hk, &s(&c["id"])).await.expect_code("NOT_FOUND");
        view(&app, &outsider, &s(&c["id"])).await.expect_code("NOT_FOUND");
    }

    // Officers see everything of their reach, drafts included, and the launched campaigns
    // above their role units.
    assert_eq!(
        titles(&app, &lb, json!({ "status": null })).await,
        [
            "Kiểm thử Đã kết thúc",
            "Kiểm thử Nháp chi hội",
            "Kiểm thử Nháp quận",
            "Kiểm thử Chi hội 2",
            "Kiểm thử Chi hội 1",
            "Kiểm thử Bồ Đề",
            "Kiểm thử Long Biên",
            "Kiểm thử Thành phố"
        ]
    );
    assert_eq!(
        titles(&app, &lb, json!({ "status": "DRAFT" })).await,
        ["Kiểm thử Nháp chi hội", "Kiểm thử Nháp quận"]
    );
    // The branch leader: her branch's draft, not the district's (above her); the case officer
    // of the ward: both drafts below the ward... of which there is one.
    assert_eq!(titles(&app, &leader, json!({ "status": "DRAFT" })).await, ["Kiểm thử Nháp chi hội"]);
    assert_eq!(titles(&app, &case, json!({ "status": "DRAFT" })).await, ["Kiểm thử Nháp chi hội"]);
    assert_eq!(
        titles(&app, &case, json!({})).await,
        [
            "Kiểm thử Chi hội 2",
            "Kiểm thử Chi hội 1",
            "Kiểm thử Bồ Đề",
            "Kiểm thử Long Biên",
            "Kiểm thử Thành phố"
        ]
    );
    view(&app, &leader, &s(&district_draft["id"])).await.expect_code("NOT_FOUND");
    assert_eq!(seen(&app, &leader, &s(&branch_draft["id"])).await["status"], "DRAFT");
    view(&app, &lb, &s(&hk_c["id"])).await.expect_code("NOT_FOUND");
    assert_eq!(titles(&app, &sys, json!({ "status": "DRAFT" })).await.len(), 2);
    assert_eq!(titles(&app, &city, json!({ "status": null })).await.len(), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_filters_by_status_kind_unit_and_search_and_pages_newest_first() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let movement = launched_campaign(
        &app,
        &city,
        "HN",
        input("Kiểm thử Phụ nữ Thủ đô trung thành – sáng tạo", json!({ "kind": "EMULATION_MOVEMENT" })),
    )
    .await;
    let five =
        launched_campaign(&app, &lb, "HN-LB", input("Kiểm thử Gia đình 5 không 3 sạch", json!({}))).await;
    let programme = launched_campaign(
        &app,
        &lb,
        "HN-LB-BD",
        input("Kiểm thử Chương trình khởi nghiệp", json!({ "kind": "PROGRAMME" })),
    )
    .await;
    let d = draft(&app, &lb, "HN-LB-GT", input("Kiểm thử Ứng xử đẹp", json!({}))).await;
    // Launching moves a campaign to the top: the list is by launch, not by creation.
    launch(&app, &lb, &s(&d["id"]), false).await.ok();
    let bd = app.unit_id("HN-LB-BD").await;
    let lb_unit = app.unit_id("HN-LB").await;

    assert_eq!(
        titles(&app, &lb, json!({})).await,
        [
            "Kiểm thử Ứng xử đẹp",
            "Kiểm thử Chương trình khởi nghiệp",
            "Kiểm thử Gia đình 5 không 3 sạch",
            "Kiểm thử Phụ nữ Thủ đô trung thành – sáng tạo"
        ]
    );
    assert_eq!(
        titles(&app, &lb, json!({ "kind": "PROGRAMME" })).await,
        ["Kiểm thử Chương trình khởi nghiệp"]
    );
    assert_eq!(
        titles(&app, &lb, json!({ "kind": "EMULATION_MOVEMENT" })).await,
        ["Kiểm thử Phụ nữ Thủ đô trung thành – sáng tạo"]
    );
    assert_eq!(titles(&app, &lb, json!({ "unitId": bd })).await, ["Kiểm thử Chương trình khởi nghiệp"]);
    assert_eq!(titles(&app, &lb, json!({ "unitId": lb_unit })).await.len(), 3);
    assert_eq!(
        titles(&app, &lb, json!({ "search": "KIEM THU gia dinh 5" })).await,
        ["Kiểm thử Gia đình 5 không 3 sạch"]
    );
    assert_eq!(
        titles(&app, &lb, json!({ "search": "kiểm thử PHỤ NỮ" })).await,
        ["Kiểm thử Phụ nữ Thủ đô trung thành – sáng tạo"]
    );
    assert!(titles(&app, &lb, json!({ "search": "100%" })).await.is_empty());
    end(&app, &lb, &s(&five["id"])).await.ok();
    assert_eq!(titles(&app, &lb, json!({ "status": "ENDED" })).await, ["Kiểm thử Gia đình 5 không 3 sạch"]);
    assert_eq!(titles(&app, &lb, json!({})).await.len(), 3);
    list(&app, &lb, json!({ "search": "x".repeat(101) }), None, None)
        .await
        .expect_reason("BAD_USER_INPUT", "TOO_LONG");
    list(&app, &lb, json!({ "unitId": s(&movement["id"]) }), None, None)
        .await
        .expect_reason("BAD_USER_INPUT", "INVALID_ID");

    // Pages of one walk every campaign once, newest first.
    let mut seen_titles = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let filter = json!({ "search": MARK, "status": null });
        let data = list(&app, &lb, filter, Some(1), after.as_deref()).await.ok();
        let conn = &data["campaigns"];
        seen_titles.extend(nodes(conn).iter().map(|n| s(&n["title"])));
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = Some(s(&conn["pageInfo"]["endCursor"]));
    }
    assert_eq!(seen_titles, titles(&app, &lb, json!({ "status": null })).await);
    assert_eq!(seen_titles.len(), 4);
    let _ = programme;
}

// ---- launches ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_launches_succeed_once_and_schedule_one_fanout_job() {
    let app = spawn().await;
    let lb = app.token(LB_OFFICER).await;
    let city = app.token(CITY_ADMIN).await;
    for round in 0..3 {
        let c = draft(&app, &lb, "HN-LB", input(&format!("Kiểm thử phát động {round}"), json!({}))).await;
        let id = s(&c["id"]);
        let tokens = [&lb, &city, &lb, &city, &lb, &city, &lb, &city];
        let results = join_all(tokens.iter().map(|t| launch(&app, t, &id, true))).await;
        let won = results.iter().filter(|r| !r.has_errors()).count();
        assert_eq!(won, 1, "round {round}: {results:?}");
        for r in results.into_iter().filter(Gql::has_errors) {
            r.expect_reason("CONFLICT", "WRONG_STATUS");
        }
        let jobs = fanout_jobs(&app, &id).await;
        assert_eq!(jobs.len(), 1, "one fan-out job");
        let job = &jobs[0];
        assert_eq!(job.kind.as_str(), "CAMPAIGN_LAUNCHED");
        assert_eq!(global_id("OrgUnit", job.unit_id), app.unit_id("HN-LB").await);
        let params: Value = serde_json::from_str(&job.params).unwrap();
        assert_eq!(params, json!({ "campaign": format!("Kiểm thử phát động {round}") }));
    }
}

// ---- statement counts ----

async fn statements_for_campaign_page(app: &TestApp, token: &str, n: usize) -> u64 {
    let q = "query($n: Int) { campaigns(first: $n) { totalCount edges { node { id title status unit { name } criteria { id position text } myPledges { id kind status } } } } }";
    let before = app.statements();
    let data = app.gql(q, json!({ "n": n }), Some(token)).await.ok();
    let after = app.statements();
    let rows = nodes(&data["campaigns"]);
    assert_eq!(rows.len(), n);
    assert!(rows.iter().all(|r| r["unit"]["name"].is_string()));
    assert!(rows.iter().all(|r| r["criteria"].as_array().is_some_and(|c| c.len() == 3)));
    assert_eq!(rows[0]["myPledges"][0]["kind"], "HOUSEHOLD");
    assert_eq!(rows[1]["myPledges"][0]["kind"], "PERSONAL");
    assert_eq!(rows[2]["myPledges"], json!([]));
    after - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_page_issues_a_bounded_number_of_statements() {
    let app = spawn().await;
    let city = app.token(CITY_ADMIN).await;
    let lb = app.token(LB_OFFICER).await;
    let codes = ["HN-LB", "HN-LB-BD", "HN-LB-BD-01"];
    let mut ids = Vec::new();
    for n in 0..24usize {
        let c = launched_campaign(
            &app,
            &lb,
            codes[n % codes.len()],
            input(&format!("Kiểm thử {n:02}"), json!({})),
        )
        .await;
        ids.push(s(&c["id"]));
    }
    let m = member(&app, &city, S, 1, "HN-LB-BD-01").await.token;
    let y = this_year();
    // Her pledges to the two newest campaigns.
    pledges::submit(&app, &m, &ids[23], pledges::household("Hộ bà Lan", 4, y)).await.ok();
    pledges::submit(&app, &m, &ids[22], pledges::personal(y)).await.ok();

    let (mut small, mut large) = (u64::MAX, u64::MAX);
    for _ in 0..5 {
        small = small.min(statements_for_campaign_page(&app, &m, 3).await);
        large = large.min(statements_for_campaign_page(&app, &m, 20).await);
    }
    assert_eq!(small, large, "statements grow with the page size");
    assert!(large <= 10, "{large} statements for one page");
}
