//! Consent records: the privacy notice at sign-up and its new versions, and the consent to
//! sensitive data with a violence report signed in, withdrawable.

use serde_json::{Value, json};

use crate::fixtures::{PASSWORD, Series, violence_input};
use crate::helpers::*;

const CONSENTS: &str =
    "{ mySessions { id } myConsents { id kind version givenAt withdrawnAt reportReference } }";
const WITHDRAW: &str = "mutation($id: ID!) { withdrawConsent(id: $id) { id withdrawnAt } }";
const SUBMIT: &str =
    "mutation($i: ViolenceReportInput!) { submitViolenceReport(input: $i) { referenceCode } }";

fn phone(n: u32) -> String {
    Series::ACCOUNTS.phone(400 + n)
}

async fn consents(app: &TestApp, token: &str) -> Vec<Value> {
    app.gql(CONSENTS, json!({}), Some(token)).await.ok()["myConsents"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_privacy_notice_accepted_at_sign_up_is_recorded_and_a_new_version_asked_again() {
    let app = spawn_app().await;
    let notice =
        app.gql("{ privacyNotice { version sensitiveDataNoticeVersion } }", json!({}), None).await.ok();
    assert_eq!(notice["privacyNotice"]["version"], "2026-12");

    // An old version is refused by field, before anything is checked or spent.
    let input = json!({ "phone": phone(1), "fullName": "Đào Thị Đồng Ý", "password": PASSWORD,
                        "verificationToken": "x", "privacyNoticeVersion": "2025-01" });
    let old = app
        .gql(
            "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
            json!({ "i": input }),
            None,
        )
        .await
        .expect_reason("BAD_USER_INPUT", "OUTDATED");
    assert_eq!(old.field(), Some("input.privacyNoticeVersion"));

    let (token, _, _) = app.register(&phone(1), "Đào Thị Đồng Ý", PASSWORD).await;
    let listed = consents(&app, &token).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0]["kind"].as_str(), listed[0]["version"].as_str()),
        (Some("PRIVACY_NOTICE"), Some("2026-12"))
    );
    assert!(listed[0]["givenAt"].is_string() && listed[0]["withdrawnAt"].is_null());
    // It cannot be withdrawn while the account exists.
    app.gql(WITHDRAW, json!({ "id": listed[0]["id"] }), Some(&token))
        .await
        .expect_reason("CONFLICT", "NEEDED_FOR_ACCOUNT");

    // A new version comes out: she is asked again, and accepts that one only.
    let upgraded = app.spawn_peer_with(&[("APP_PRIVACY_NOTICE_VERSION", "2027-06")]).await;
    let me = upgraded.gql("{ me { privacyNoticeVersion } }", json!({}), Some(&token)).await.ok();
    assert_eq!(me["me"]["privacyNoticeVersion"], "2026-12");
    let accept = "mutation($v: String!) { acceptPrivacyNotice(version: $v) }";
    upgraded
        .gql(accept, json!({ "v": "2026-12" }), Some(&token))
        .await
        .expect_reason("BAD_USER_INPUT", "OUTDATED");
    upgraded.gql(accept, json!({ "v": "2027-06" }), Some(&token)).await.ok();
    upgraded.gql(accept, json!({ "v": "2027-06" }), Some(&token)).await.ok();
    let me = upgraded.gql("{ me { privacyNoticeVersion } }", json!({}), Some(&token)).await.ok();
    assert_eq!(me["me"]["privacyNoticeVersion"], "2027-06");
    assert_eq!(consents(&upgraded, &token).await.len(), 2, "accepting twice records once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_report_needs_her_consent_and_withdrawing_it_unlinks_the_report() {
    let app = spawn_app().await;
    let (token, _, _) = app.register(&phone(10), "Đào Thị Báo", PASSWORD).await;
    let unit = app.unit_id("HN-LB-BD-01").await;
    let mut input = violence_input(&unit, false, "Chồng tôi đánh tôi tối qua.");
    input["contact"] = json!({ "phone": phone(10), "channel": "CALL" });
    input["sensitiveDataConsent"] = json!(false);
    let refused = app
        .gql(SUBMIT, json!({ "i": input.clone() }), Some(&token))
        .await
        .expect_reason("BAD_USER_INPUT", "REQUIRED");
    assert_eq!(refused.field(), Some("input.sensitiveDataConsent"));
    // Anonymous, it needs none (nothing links it to anyone).
    let anonymous = violence_input(&unit, false, "Hàng xóm bị đánh.");
    let mut anonymous = anonymous;
    anonymous["sensitiveDataConsent"] = json!(false);
    app.gql(SUBMIT, json!({ "i": anonymous }), None).await.ok();

    input["sensitiveDataConsent"] = json!(true);
    let code = app.gql(SUBMIT, json!({ "i": input }), Some(&token)).await.ok()["submitViolenceReport"]["referenceCode"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = consents(&app, &token).await;
    let given = listed.iter().find(|c| c["kind"] == "SENSITIVE_DATA").expect("the report's consent").clone();
    assert_eq!(
        (given["version"].as_str(), given["reportReference"].as_str()),
        (Some("2026-12"), Some(code.as_str()))
    );

    // Someone else cannot withdraw it.
    let (other, _, _) = app.register(&phone(11), "Đào Thị Khác", PASSWORD).await;
    app.gql(WITHDRAW, json!({ "id": given["id"] }), Some(&other)).await.expect_code("NOT_FOUND");

    let withdrawn = app.gql(WITHDRAW, json!({ "id": given["id"] }), Some(&token)).await.ok();
    assert!(withdrawn["withdrawConsent"]["withdrawnAt"].is_string());
    app.gql(WITHDRAW, json!({ "id": given["id"] }), Some(&token))
        .await
        .expect_reason("CONFLICT", "ALREADY_REVOKED");
    // She no longer follows it; the case officers still hold it, without her contact.
    let mine = app
        .gql("{ myViolenceReports(first: 10) { edges { node { referenceCode } } } }", json!({}), Some(&token))
        .await
        .ok();
    assert!(mine["myViolenceReports"]["edges"].as_array().unwrap().is_empty());
    let row = crate::violence::report_row(&app, &code).await;
    assert_eq!((row.reporter_id, row.contact.is_none(), row.may_contact), (None, true, false));
    let officer = app.token(BD_CASE_OFFICER).await;
    let id = crate::violence::report_id(&app, &code).await;
    let seen = app
        .gql(
            "query($id: ID!) { violenceReport(id: $id) { anonymous contact { phone } description } }",
            json!({ "id": id }),
            Some(&officer),
        )
        .await
        .ok();
    assert_eq!(seen["violenceReport"]["description"], "Chồng tôi đánh tôi tối qua.");
    assert!(seen["violenceReport"]["contact"].is_null());
    let logged = crate::violence::log_rows(&app, &code).await;
    assert!(logged.iter().filter(|(role, _, _)| role == "REPORTER").all(|(_, _, person)| person.is_none()));
    let after = consents(&app, &token).await;
    let entry = after.iter().find(|c| c["id"] == given["id"]).unwrap();
    assert!(entry["reportReference"].is_null(), "the consent no longer points at the report");
}
