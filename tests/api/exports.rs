//! Exports officers open: `GET /exports/{name}.{csv|xlsx}` — only what the caller may see,
//! Vietnamese labels, Hanoi local times, formulas defused, XLSX that is a real workbook.

use std::io::Read;

use chrono::{Datelike, Utc};
use serde_json::{Value, json};

use crate::{fixtures::*, helpers::*};

const S: Series = Series::CONSOLE;

async fn spawn() -> TestApp {
    spawn_app_with(&[("APP_REGISTER_MAX_PER_ADDRESS", "1000")]).await
}

/// A download: status, content type, disposition and body.
pub(crate) struct Download {
    pub status: u16,
    pub content_type: String,
    pub disposition: String,
    pub body: Vec<u8>,
}

impl Download {
    /// The CSV's records (BOM stripped), each split into fields (no field here holds a comma).
    fn records(&self) -> Vec<Vec<String>> {
        let text = String::from_utf8(self.body.clone()).expect("UTF-8");
        assert!(text.starts_with('\u{feff}'), "a byte-order mark");
        text.trim_start_matches('\u{feff}')
            .trim_end_matches("\r\n")
            .split("\r\n")
            .map(|l| l.split(',').map(str::to_owned).collect())
            .collect()
    }

    /// The error body of a refusal.
    fn error(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON error")
    }

    /// The first worksheet's XML.
    fn sheet(&self) -> String {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(self.body.clone())).expect("a zip archive");
        let mut xml = String::new();
        zip.by_name("xl/worksheets/sheet1.xml").expect("a first sheet").read_to_string(&mut xml).unwrap();
        xml
    }
}

pub(crate) async fn download(app: &TestApp, path: &str, token: Option<&str>) -> Download {
    let mut req = app.client.get(app.url(path));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = req.send().await.expect("request sent");
    let header =
        |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (status, content_type, disposition) =
        (resp.status().as_u16(), header("content-type"), header("content-disposition"));
    let body = resp.bytes().await.expect("a body").to_vec();
    Download { status, content_type, disposition, body }
}

#[tokio::test]
async fn the_directory_exports_what_the_caller_may_see_in_vietnamese() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    for n in 800..803 {
        member(&app, &officer, S, n, "HN-LB-BD-01").await;
    }
    member(&app, &officer, S, 803, "HN-LB-BD-02").await;
    let leader = app.token(BD1_LEADER).await;
    let unit = app.unit_id("HN-LB-BD-01").await;

    let csv =
        download(&app, &format!("/exports/members.csv?unitId={unit}&order=MEMBER_NUMBER"), Some(&leader))
            .await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.content_type, "text/csv; charset=utf-8");
    let today = (Utc::now() + chrono::Duration::hours(7)).format("%Y-%m-%d");
    assert_eq!(csv.disposition, format!("attachment; filename=\"hoi-vien-{today}.csv\""));
    let records = csv.records();
    assert_eq!(records[0][0], "Số thẻ hội viên");
    assert_eq!(records[0][6], "Trạng thái");
    let rows = &records[1..];
    let names: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    for n in 800..803 {
        assert!(names.contains(&name(n).as_str()), "{names:?}");
    }
    assert!(!names.contains(&name(803).as_str()), "another branch's member is out of the leader's reach");
    assert!(rows.iter().all(|r| r[4] == "Chi hội Tổ dân phố số 1 – Bồ Đề" && r[5] == "HN-LB-BD-01"));
    assert!(rows.iter().all(|r| r[6] == "Đang sinh hoạt"));
    // Joined today, in Hanoi time to the minute: dd/mm/yyyy hh:mm.
    let hanoi_today = (Utc::now() + chrono::Duration::hours(7)).format("%d/%m/%Y").to_string();
    assert!(rows.iter().all(|r| r[7].starts_with(&hanoi_today) && r[7].len() == 16), "{rows:?}");
    let numbers: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    let mut sorted = numbers.clone();
    sorted.sort();
    assert_eq!(numbers, sorted);

    // The same as a workbook: the names as text cells, the join date a real date cell.
    let xlsx = download(&app, &format!("/exports/members.xlsx?unitId={unit}"), Some(&leader)).await;
    assert_eq!(xlsx.status, 200);
    assert_eq!(xlsx.content_type, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    let sheet = xlsx.sheet();
    assert!(sheet.contains(&name(800)) && !sheet.contains(&name(803)));
    assert!(sheet.contains("Đang sinh hoạt"));
    assert_eq!(sheet.matches("<row ").count(), 4, "a header and three members");
    assert!(!sheet.contains("<f>"), "no formulas");
}

#[tokio::test]
async fn an_export_is_refused_before_it_starts_with_the_apis_codes() {
    let app = spawn().await;
    let leader = app.token(BD1_LEADER).await;
    let far = app.unit_id("HN-HK").await;
    let refused = download(&app, "/exports/members.csv", None).await;
    assert_eq!(
        (refused.status, refused.error()["errors"][0]["extensions"]["code"].clone()),
        (401, json!("UNAUTHENTICATED"))
    );
    let member = person(&app, S, 810).await;
    // Without a member-managing role the directory is empty, as `members` answers it.
    let member_export = download(&app, "/exports/members.csv", Some(&member.token)).await;
    assert_eq!(member_export.status, 200);
    assert_eq!(member_export.records().len(), 1, "the header alone");
    let out_of_reach = download(&app, &format!("/exports/members.xlsx?unitId={far}"), Some(&leader)).await;
    assert_eq!(out_of_reach.status, 404);
    assert_eq!(out_of_reach.error()["errors"][0]["extensions"]["code"], "NOT_FOUND");
    let bad = download(&app, "/exports/members.csv?status=SOMETIMES", Some(&leader)).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.error()["errors"][0]["extensions"]["field"], "status");
    let bad_time = download(&app, "/exports/members.csv?joinedFrom=yesterday", Some(&leader)).await;
    assert_eq!(bad_time.error()["errors"][0]["extensions"]["field"], "joinedFrom");
    assert_eq!(download(&app, "/exports/members.pdf", Some(&leader)).await.status, 404);
    assert_eq!(download(&app, "/exports/everything.csv", Some(&leader)).await.status, 404);
    let no_unit = download(&app, "/exports/target-progress.csv?year=2026", Some(&leader)).await;
    assert_eq!(no_unit.error()["errors"][0]["extensions"]["reason"], "REQUIRED");
}

#[tokio::test]
async fn requests_pledges_progress_statistics_and_rosters_export_too() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    let branch = app.unit_id("HN-LB-BD-01").await;

    // A request whose note would be a formula in a spreadsheet.
    let p = person(&app, S, 820).await;
    app.gql(
        "mutation($i: RequestMembershipInput!) { requestMembership(input: $i) { id } }",
        json!({ "i": { "branchId": branch, "note": "=HYPERLINK(\"http://x\")" } }),
        Some(&p.token),
    )
    .await
    .ok();
    let csv = download(&app, "/exports/membership-requests.csv?order=NEWEST_FIRST", Some(&officer)).await;
    let text = String::from_utf8(csv.body.clone()).unwrap();
    assert!(text.contains(&name(820)));
    assert!(text.contains("Gia nhập") && text.contains("Chờ duyệt"));
    assert!(text.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "the formula is defused: {text}");

    // Pledges.
    let campaign =
        launched_campaign(&app, &officer, "HN-LB", crate::campaigns::input("Xuất cam kết", json!({}))).await;
    let m = member(&app, &officer, S, 821, "HN-LB-BD-01").await;
    app.gql(
        "mutation($c: ID!, $i: PledgeInput!) { submitPledge(campaignId: $c, input: $i) { id } }",
        json!({ "c": campaign["id"], "i": { "kind": "HOUSEHOLD", "year": Utc::now().year(), "householdLabel": "Hộ bà Lan", "householdSize": 4 } }),
        Some(&m.token),
    )
    .await
    .ok();
    // As the queue: waiting pledges unless asked; `ANY` for every status.
    let certified = download(&app, "/exports/pledges.csv?status=CERTIFIED", Some(&officer)).await;
    assert_eq!(certified.records().len(), 1, "the header alone");
    let any = download(&app, "/exports/pledges.csv?status=ANY", Some(&officer)).await;
    assert_eq!(any.records().len(), 2);
    let pledges = download(&app, "/exports/pledges.xlsx", Some(&officer)).await;
    assert_eq!(pledges.status, 200);
    let sheet = pledges.sheet();
    assert!(sheet.contains("Xuất cam kết") && sheet.contains("Hộ bà Lan") && sheet.contains("Chờ xét duyệt"));

    // Target progress, asked by indicator code.
    let lb = app.unit_id("HN-LB").await;
    let year = (Utc::now() + chrono::Duration::hours(7)).year();
    app.gql(
        "mutation($i: SetTargetInput!) { setTarget(input: $i) { target { value } } }",
        json!({ "i": { "indicatorId": "NEW_MEMBERS", "unitId": lb, "period": { "year": year }, "value": 10.0 } }),
        Some(&officer),
    )
    .await
    .ok();
    let progress = download(
        &app,
        &format!("/exports/target-progress.csv?unitId={lb}&year={year}&indicators=NEW_MEMBERS"),
        Some(&officer),
    )
    .await;
    assert_eq!(progress.status, 200, "{}", String::from_utf8_lossy(&progress.body));
    let records = progress.records();
    let own = records.iter().find(|r| r[1] == "NEW_MEMBERS" && r[3] == "HN-LB").expect("the district's row");
    assert_eq!(own[4], "Đơn vị");
    // One member joined the district this year (the request is not a member): 1 of 10, 10%.
    assert_eq!((own[5].as_str(), own[6].as_str(), own[7].as_str()), ("10", "1", "10"), "{own:?}");

    // Member statistics.
    let from = format!("{year}-01-01");
    let stats = download(
        &app,
        &format!("/exports/member-statistics.csv?unitId={lb}&from={from}&to={year}-12-31"),
        Some(&officer),
    )
    .await;
    let records = stats.records();
    assert_eq!(records[0][0], "Đơn vị");
    assert_eq!(records[1][1], "HN-LB");
    assert_eq!(records[1][2], "Quận/huyện");
    let bad = download(
        &app,
        &format!("/exports/member-statistics.csv?unitId={lb}&from=01/01/2026&to={year}-12-31"),
        Some(&officer),
    )
    .await;
    assert_eq!(bad.error()["errors"][0]["extensions"]["field"], "from");

    // A training's roster.
    let at = |h: i64| (Utc::now() + chrono::Duration::hours(h)).to_rfc3339();
    let input = json!({ "title": "Xuất danh sách", "description": "Lớp", "category": "VOCATIONAL", "startsAt": at(24), "endsAt": at(26), "place": "Nhà văn hoá" });
    let training = published_training(&app, &officer, "HN-LB-BD", input).await;
    app.gql(
        "mutation($id: ID!) { registerForTraining(trainingId: $id) { id } }",
        json!({ "id": training }),
        Some(&m.token),
    )
    .await
    .ok();
    let roster =
        download(&app, &format!("/exports/training-roster.xlsx?trainingId={training}"), Some(&officer)).await;
    assert_eq!(roster.status, 200);
    let sheet = roster.sheet();
    assert!(sheet.contains(&name(821)) && sheet.contains("Đã có chỗ"));
    let member_roster =
        download(&app, &format!("/exports/training-roster.csv?trainingId={training}"), Some(&m.token)).await;
    assert!(matches!(member_roster.status, 403 | 404));
}
