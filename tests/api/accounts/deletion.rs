//! Deleting an account (the canary: her unique name, number and email are found in no table and
//! no log afterwards, on either backend; every figure stays the same) and downloading one's data.

use chrono::{Duration, Utc};
use entities::{membership, pledge, training};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::fixtures::{PASSWORD, Series, join_branch, launched_campaign, published_training, violence_input};
use crate::helpers::*;

const DELETE: &str = "mutation($p: String!) { deleteMyAccount(password: $p) }";
const EXPORT: &str = "mutation { exportMyData { generatedAt data } }";

fn phone(n: u32) -> String {
    Series::ACCOUNTS.phone(500 + n)
}

/// Letters no other test uses, so a hit can only be hers.
fn canary_word() -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    let letters: String = u.chars().filter(|c| c.is_ascii_alphabetic()).take(6).collect();
    let mut word = format!("Q{letters}xyz");
    word.truncate(10);
    word
}

/// What the union's figures are made of, straight from the tables.
async fn figures(app: &TestApp) -> (u64, u64, i32, u64) {
    let db = &app.state.db;
    let members = membership::Entity::find().count(db).await.unwrap();
    let active = {
        use sea_orm::{ColumnTrait, QueryFilter};
        membership::Entity::find()
            .filter(membership::Column::Status.eq(membership::MemberStatus::Active))
            .count(db)
            .await
            .unwrap()
    };
    let seats: i32 = training::Entity::find().all(db).await.unwrap().iter().map(|t| t.confirmed_count).sum();
    let pledges = pledge::Entity::find().count(db).await.unwrap();
    (members, active, seats, pledges)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_leaves_no_trace_of_her_and_every_figure_stands() {
    // Her number registers again at the end, within a minute of its first code.
    let app = spawn_app_with(&[("APP_PHONE_CODE_COOLDOWN_SECS", "0")]).await;
    let word = canary_word();
    let name = format!("Ngô Thị {word}");
    let folded = format!("ngo thi {}", word.to_lowercase());
    let email = format!("{}@example.vn", word.to_lowercase());
    let number = phone(1);
    let stored = Series::ACCOUNTS.stored_phone(501);

    // Her footprint: an account with a profile, a second device named after her, a push
    // token, a membership (with its request and approval notice), a training seat, a pledge for
    // her household, and a violence report she made with her number as safe contact.
    let (token, _, _) = app.register(&number, &name, PASSWORD).await;
    let profile = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { email } }";
    app.gql(profile, json!({ "i": { "email": email, "birthDate": "1987-07-07" } }), Some(&token)).await.ok();
    let login = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }";
    let device = json!({ "phone": number, "password": PASSWORD, "device": { "label": format!("Điện thoại của {name}"), "platform": "ANDROID" } });
    let second = app.gql(login, json!({ "i": device }), None).await.ok()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let push = "mutation($t: String!, $p: PushPlatform!) { registerPushToken(token: $t, platform: $p) }";
    app.gql(push, json!({ "t": format!("fcm-{word}"), "p": "ANDROID" }), Some(&token)).await.ok();
    let leader = app.token(BD1_LEADER).await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    join_branch(&app, &token, &leader, "HN-LB-BD-01", Some(&format!("Tôi là {name}"))).await;
    let starts = Utc::now() + Duration::days(5);
    let t = json!({ "title": "Tập huấn kỹ năng số", "description": "Mang điện thoại.", "category": "VOCATIONAL",
                    "startsAt": starts, "endsAt": starts + Duration::hours(2), "place": "Nhà văn hoá", "capacity": null });
    let training_id = published_training(&app, &leader, "HN-LB-BD-01", t).await;
    app.gql(
        "mutation($id: ID!) { registerForTraining(trainingId: $id) { status } }",
        json!({ "id": training_id }),
        Some(&token),
    )
    .await
    .ok();
    let lb = app.token(LB_OFFICER).await;
    let year = chrono::Datelike::year(&Utc::now());
    let campaign_input = json!({ "kind": "CAMPAIGN", "title": "Gia đình 5 không 3 sạch", "summary": "S.", "body": "B.",
        "bodyFormat": "MARKDOWN", "termStart": format!("{}-01-01", year - 1), "termEnd": format!("{}-12-31", year + 1), "criteria": ["Sạch nhà"] });
    let campaign = launched_campaign(&app, &lb, "HN-LB", campaign_input).await;
    app.gql(
        "mutation($c: ID!, $i: PledgeInput!) { submitPledge(campaignId: $c, input: $i) { id } }",
        json!({ "c": campaign["id"], "i": { "kind": "HOUSEHOLD", "year": year, "householdLabel": format!("Hộ {name}"), "householdSize": 4 } }),
        Some(&token),
    )
    .await
    .ok();
    let mut report = violence_input(&app.unit_id("HN-LB-BD").await, false, "Tôi bị chồng đánh.");
    report["contact"] = json!({ "phone": number, "channel": "CALL" });
    let code = app
        .gql(
            "mutation($i: ViolenceReportInput!) { submitViolenceReport(input: $i) { referenceCode } }",
            json!({ "i": report }),
            Some(&token),
        )
        .await
        .ok()["submitViolenceReport"]["referenceCode"]
        .as_str()
        .unwrap()
        .to_owned();
    let officer = app.token(BD_CASE_OFFICER).await;
    let report_id = crate::violence::report_id(&app, &code).await;

    // Her number is looked for as stored, as typed and without the plus.
    let canaries =
        [name.as_str(), folded.as_str(), email.as_str(), stored.as_str(), number.as_str(), &stored[1..]];
    let before = every_row(&app).await;
    for canary in [name.as_str(), folded.as_str(), email.as_str(), stored.as_str()] {
        assert!(before.iter().any(|r| r.contains(canary)), "the set-up stores {canary}");
    }
    let figures_before = figures(&app).await;
    let stats = "query($u: ID!, $f: Date!, $t: Date!) { memberStatistics(unitId: $u, from: $f, to: $t) { total { activeMembers newMembers leavers adultWomen } } }";
    let day = Utc::now().date_naive().to_string();
    let city = app.token(CITY_ADMIN).await;
    let hn = app.unit_id("HN").await;
    let stats_before = app.gql(stats, json!({ "u": hn, "f": day, "t": day }), Some(&city)).await.ok();

    // A wrong password deletes nothing.
    app.gql(DELETE, json!({ "p": "sai-mat-khau-1" }), Some(&token))
        .await
        .expect_reason("BAD_USER_INPUT", "WRONG_PASSWORD");
    app.gql("{ me { id } }", json!({}), Some(&token)).await.ok();
    assert_eq!(app.gql(DELETE, json!({ "p": PASSWORD }), Some(&token)).await.ok()["deleteMyAccount"], true);

    // Every session ended at once; the number signs nobody in.
    for t in [&token, &second] {
        app.gql("{ me { id } }", json!({}), Some(t)).await.expect_code("UNAUTHENTICATED");
    }
    app.gql(login, json!({ "i": { "phone": number, "password": PASSWORD } }), None)
        .await
        .expect_code("UNAUTHENTICATED");

    // No table holds her name, its folded form, her email or her number in any form.
    let after = every_row(&app).await;
    for canary in canaries {
        let hits: Vec<&String> = after.iter().filter(|r| r.contains(canary)).collect();
        assert!(hits.is_empty(), "{canary} is still stored: {hits:?}");
    }
    let logs = captured_logs();
    for canary in canaries {
        assert!(!logs.contains(canary), "{canary} reached the logs");
    }

    // Every figure stands: memberships, seats, pledges, the city's statistics.
    assert_eq!(figures(&app).await, figures_before);
    let stats_after = app.gql(stats, json!({ "u": hn, "f": day, "t": day }), Some(&city)).await.ok();
    assert_eq!(stats_after, stats_before);
    // The branch sees an anonymous member.
    let listed = app
        .gql("query($f: MemberFilterInput!) { members(filter: $f) { edges { node { fullName accountDeleted } } } }", json!({ "f": { "unitId": branch } }), Some(&leader))
        .await
        .ok();
    let deleted: Vec<&Value> = listed["members"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["accountDeleted"] == true)
        .collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["node"]["fullName"], "");
    // Her report stays with the case officers, naming no one and with no way to reach her.
    let seen = app
        .gql(
            "query($id: ID!) { violenceReport(id: $id) { anonymous description contact { phone } } }",
            json!({ "id": report_id }),
            Some(&officer),
        )
        .await
        .ok();
    assert_eq!(seen["violenceReport"]["description"], "Tôi bị chồng đánh.");
    assert!(seen["violenceReport"]["contact"].is_null());
    assert_eq!(crate::violence::report_row(&app, &code).await.reporter_id, None);

    // Her number is free for a new account, which starts empty.
    let (fresh, _, fresh_id) = app.register(&number, "Ngô Thị Mới", PASSWORD).await;
    let me = app.gql("{ me { id membership { id } } }", json!({}), Some(&fresh)).await.ok();
    assert_eq!(me["me"]["id"], fresh_id.as_str());
    assert!(me["me"]["membership"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_ends_her_roles_and_sends_her_reports_back_to_the_queue() {
    let app = spawn_app().await;
    let officer = crate::fixtures::officer(&app, Series::ACCOUNTS, 510, "HN-LB-BD", "CASE_OFFICER").await;
    let code = crate::fixtures::violence_report(&app, None, "HN-LB-BD-01", false, "Hàng xóm bị đánh.").await
        ["referenceCode"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = crate::violence::report_id(&app, &code).await;
    // She takes the report herself.
    app.gql(
        "mutation($id: ID!) { assignViolenceReport(id: $id) { id } }",
        json!({ "id": id }),
        Some(&officer.token),
    )
    .await
    .ok();
    assert!(crate::violence::report_row(&app, &code).await.assigned_to.is_some());
    app.gql(DELETE, json!({ "p": PASSWORD }), Some(&officer.token)).await.ok();
    let roles = entities::officer_role::Entity::find().all(&app.state.db).await.unwrap();
    let hers: Vec<_> = roles
        .iter()
        .filter(|r| r.person_id == id_of::<entities::ids::PersonId>(&officer.person_id))
        .collect();
    assert!(!hers.is_empty() && hers.iter().all(|r| r.revoked_at.is_some()), "her roles ended");
    assert_eq!(crate::violence::report_row(&app, &code).await.assigned_to, None, "back in the queue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn she_downloads_everything_held_about_her_a_few_times_a_day() {
    let app = spawn_app_with(&[("APP_EXPORT_MAX_PER_DAY", "2")]).await;
    let (token, _, id) = app.register(&phone(20), "Ngô Thị Tải Về", PASSWORD).await;
    let leader = app.token(BD1_LEADER).await;
    join_branch(&app, &token, &leader, "HN-LB-BD-01", None).await;
    let code = crate::fixtures::violence_report(&app, Some(&token), "HN-LB-BD-01", false, "Tôi cần giúp đỡ.")
        .await["referenceCode"]
        .as_str()
        .unwrap()
        .to_owned();

    let data = app.gql(EXPORT, json!({}), Some(&token)).await.ok()["exportMyData"]["data"].clone();
    assert_eq!(data["format"], "phunu-thudo-personal-data/1");
    assert_eq!(data["profile"]["id"], id_of::<entities::ids::PersonId>(&id).to_string());
    assert_eq!(data["profile"]["fullName"], "Ngô Thị Tải Về");
    assert_eq!(data["profile"]["phone"], Series::ACCOUNTS.stored_phone(520));
    let m = &data["memberships"][0];
    assert_eq!((m["status"].as_str(), m["branch"]["code"].as_str()), (Some("ACTIVE"), Some("HN-LB-BD-01")));
    assert_eq!(m["events"][0]["kind"], "JOINED");
    assert_eq!(data["membershipRequests"][0]["status"], "APPROVED");
    assert!(
        data["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "REQUEST_APPROVED" && n["title"].is_string())
    );
    let r = &data["violenceReports"][0];
    assert_eq!(r["referenceCode"], code.as_str());
    assert_eq!(r["timeline"][0]["kind"], "SUBMITTED");
    let kinds: Vec<&str> =
        data["consents"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["PRIVACY_NOTICE", "SENSITIVE_DATA"]);
    assert_eq!(data["sessions"].as_array().unwrap().len(), 1);
    // Nothing secret: no password hash, no token.
    let text = data.to_string();
    assert!(!text.contains("argon2") && !text.contains("rt_") && !text.contains("passwordHash"));

    app.gql(EXPORT, json!({}), Some(&token)).await.ok();
    app.gql(EXPORT, json!({}), Some(&token)).await.expect_code("RATE_LIMITED");
    app.gql(EXPORT, json!({}), None).await.expect_code("UNAUTHENTICATED");
}
