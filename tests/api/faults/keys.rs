//! Instances must share the report keys: one that lacks the key of stored reports refuses to
//! start (it could open none of them), naming the key ids.

use crate::{helpers::*, violence};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_without_the_report_keys_refuses_to_start() {
    let app = spawn_app().await;
    let unit = app.unit_id("HN-LB-BD").await;
    violence::submit(&app, &violence::input(&unit, false, "Tôi bị chửi mắng hằng ngày."), None).await;

    // Another key (id 7) opens none of the reports sealed with key 1…
    let other = "7:b3RoZXItcmVwb3J0LWtleS0wMTIzNDU2Nzg5YWJjZGU=";
    match app.try_peer_with(&[("APP_REPORT_KEYS", other), ("APP_SEED_DEMO_DATA", "false")]).await {
        Err(api::startup::StartupError::Keys(e)) => assert!(e.0.contains("key id(s) 1"), "{}", e.0),
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("an instance without the reports' key started"),
    }
    // …while the same keys, or a rotation that keeps the old key, start fine.
    app.try_peer_with(&[("APP_SEED_DEMO_DATA", "false")]).await.expect("the same keys start");
    let rotated = format!("{other},{TEST_REPORT_KEYS}");
    app.try_peer_with(&[("APP_REPORT_KEYS", &rotated), ("APP_SEED_DEMO_DATA", "false")])
        .await
        .expect("a rotation keeping the old key starts");
}
