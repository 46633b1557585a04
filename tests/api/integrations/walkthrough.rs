//! A partner's whole journey, as `docs/integration.md` tells it, over HTTP only: the admin
//! registers it and subscribes its receiver; it gets a token, reads its subtree's statistics,
//! is throttled when it overspends, and receives a signed webhook. On PostgreSQL + Redis two
//! instances serve it, sharing its bucket, and the event is posted once.

use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate};
use serde_json::{Value, json};

use super::{post_token, register_with, webhooks::signed_by};
use crate::{
    accounts::gateway::FakeGateway,
    fixtures::launched_campaign,
    helpers::{LB_OFFICER, SYSADMIN, TestApp, backend, s},
};

const STATS: &str = "query($u: ID!, $m: String!) { publicStatistics(unitId: $u, month: $m) { \
    month suppressionThreshold total { unit { code } newMembers { value suppressed } } \
    children { unit { code } newMembers { value suppressed } } } }";

/// A GraphQL request as a partner sends it: the status, the headers and the body.
async fn post(
    app: &TestApp,
    token: &str,
    query: &str,
    variables: Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let resp = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    (status, headers, resp.json().await.unwrap())
}

fn last_month() -> String {
    let today = chrono::Utc::now().date_naive();
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    let day = first.pred_opt().unwrap();
    format!("{:04}-{:02}", day.year(), day.month())
}

#[tokio::test]
async fn a_partner_registers_gets_a_token_reads_is_throttled_and_receives_a_signed_webhook() {
    let app = super::webhooks::spawn(&[]).await;
    let two = backend() == "postgres" && app.state.cache.is_redis();
    let peer =
        if two { Some(app.spawn_peer_with(&[("APP_WEBHOOK_POLL_INTERVAL_MS", "50")]).await) } else { None };
    let instances: Vec<&TestApp> = std::iter::once(&app).chain(peer.as_ref()).collect();

    // The admin registers the partner with a bucket of 200 points, one restored a second.
    let admin = app.token(SYSADMIN).await;
    let lb_unit = app.unit_id("HN-LB").await;
    let bucket = json!({ "bucket": { "capacity": 200, "perSec": 1 } });
    let client = register_with(&app, &admin, "HN-LB", &["STATISTICS_READ", "CAMPAIGNS_READ"], bucket).await;
    let (client_id, secret) = (client.client_id.clone(), client.secret.clone());
    let receiver = FakeGateway::start().await;
    let (_, signing) =
        super::webhooks::subscribe(&app, &admin, &client, &receiver.url, &["CAMPAIGN_LAUNCHED"]).await;

    // The partner gets a token (HTTP Basic) from the last instance.
    let issued = post_token(
        instances[instances.len() - 1],
        "grant_type=client_credentials",
        Some((&client_id, &secret)),
    )
    .await;
    assert_eq!(issued.status, 200);
    assert_eq!(issued.body["token_type"], "Bearer");
    assert_eq!(issued.body["scope"], "campaigns:read statistics:read");
    let token = issued.token();

    // It reads last month's statistics of its district: the district and its wards.
    let vars = json!({ "u": lb_unit, "m": last_month() });
    let (status, headers, body) = post(&app, &token, STATS, vars.clone()).await;
    assert_eq!(status, 200, "{body}");
    let stats = &body["data"]["publicStatistics"];
    assert_eq!(stats["total"]["unit"]["code"], "HN-LB");
    assert!(
        stats["children"].as_array().unwrap().iter().all(|c| s(&c["unit"]["code"]).starts_with("HN-LB-"))
    );
    let cost = body["extensions"]["cost"]["actualQueryCost"].as_u64().unwrap();
    assert!(cost > 0);
    assert_eq!(headers["ratelimit-limit"], "200");
    // Outside its district: not there.
    let (_, _, outside) =
        post(&app, &token, STATS, json!({ "u": app.unit_id("HN-HK").await, "m": last_month() })).await;
    assert_eq!(outside["errors"][0]["extensions"]["code"], "NOT_FOUND");

    // It overspends, alternating between the instances: one bucket for both.
    let started = Instant::now();
    let mut served = vec![0u64; instances.len()];
    let mut refused = None;
    for n in 0..200 {
        let i = n % instances.len();
        let (status, headers, body) = post(instances[i], &token, STATS, vars.clone()).await;
        if status == 429 {
            refused = Some((headers, body));
            break;
        }
        assert_eq!(status, 200, "{body}");
        served[i] += 1;
    }
    let (headers, body) = refused.expect("the bucket ran dry");
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    assert!(headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    // What was served fits in one bucket: its 200 points, the first reads and what came back
    // meanwhile — not one bucket per instance.
    let restored = started.elapsed().as_secs() + 1;
    let total: u64 = served.iter().sum();
    assert!(total * cost <= 200 + restored + cost, "{served:?} × {cost} points served");
    assert!(served.iter().all(|&n| n > 0), "every instance served: {served:?}");

    // An officer launches a campaign in one of its wards: the receiver gets it, signed, once.
    let lb = app.token(LB_OFFICER).await;
    let campaign = launched_campaign(
        instances[instances.len() - 1],
        &lb,
        "HN-LB-BD",
        crate::campaigns::input("Xây dựng gia đình 5 không 3 sạch", json!({})),
    )
    .await;
    let received = receiver.wait_for(1).await;
    assert!(signed_by(&signing, &received[0]));
    assert_eq!(received[0].body["type"], "campaign.launched");
    assert_eq!(received[0].body["data"]["id"], campaign["id"]);
    // Both instances' workers poll every 50 ms: give them a few rounds to post it twice.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.received().len(), 1);
}
