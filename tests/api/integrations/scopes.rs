//! What a client token reaches: every root field of the schema tried with a token of each
//! scope (exactly the allowed ones answer), every field of the types it reaches that is not
//! on the partner surface refused, and everything kept to the client's subtree.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{client_token, register};
use crate::helpers::{LB_OFFICER, SYSADMIN, s, spawn_app};

const SCOPES: [&str; 5] = ["UNITS_READ", "CAMPAIGNS_READ", "TRAININGS_READ", "NEWS_READ", "STATISTICS_READ"];

/// The fields of each type of the schema, from its SDL (`type T { field… }`), descriptions
/// and arguments skipped.
fn sdl_fields() -> BTreeMap<String, Vec<String>> {
    let sdl = api::graphql::sdl();
    let mut types = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_description = false;
    for line in sdl.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("\"\"\"") {
            // A one-line description opens and closes on the same line.
            if !(trimmed.len() > 3 && trimmed.ends_with("\"\"\"")) {
                in_description = !in_description;
            }
            continue;
        }
        if in_description {
            continue;
        }
        if let Some(rest) = line.strip_prefix("type ") {
            let name = rest.split([' ', '{']).next().unwrap().to_owned();
            types.insert(name.clone(), Vec::new());
            current = Some(name);
        } else if line.starts_with('}') {
            current = None;
        } else if let Some(t) = &current
            && line.starts_with('\t')
            && !line.starts_with("\t\t")
        {
            let name: String = trimmed.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                types.get_mut(t).unwrap().push(name);
            }
        }
    }
    types
}

fn at(days: i64) -> String {
    (Utc::now() + Duration::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The root fields a client may call, with a document that calls each (scope, field, query,
/// variables).
fn allowed(app_units: &(String, String)) -> Vec<(&'static str, &'static str, String, Value)> {
    let (lb, _) = app_units;
    vec![
        (
            "UNITS_READ",
            "orgUnit",
            "query($u: ID!) { orgUnit(id: $u) { id name } }".into(),
            json!({ "u": lb }),
        ),
        ("UNITS_READ", "orgUnits", "{ orgUnits(first: 5) { edges { node { id } } } }".into(), json!({})),
        ("CAMPAIGNS_READ", "campaigns", "{ campaigns { edges { node { id title } } } }".into(), json!({})),
        (
            "TRAININGS_READ",
            "trainings",
            "{ trainings { edges { node { id seatsLeft } } } }".into(),
            json!({}),
        ),
        ("NEWS_READ", "posts", "{ posts { edges { node { id title } } } }".into(), json!({})),
        (
            "STATISTICS_READ",
            "publicStatistics",
            "query($u: ID!, $m: String!) { publicStatistics(unitId: $u, month: $m) { total { newMembers { value } } \
             targetProgress(period: {year: 2026}) { indicator { code } total { target actual { value } } } } }"
                .into(),
            json!({ "u": lb, "m": "2026-01" }),
        ),
    ]
}

#[tokio::test]
async fn every_operation_of_the_schema_answers_a_client_only_within_its_scopes() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let units = (app.unit_id("HN-LB").await, app.unit_id("HN").await);
    let allowed = allowed(&units);
    let fields = sdl_fields();
    let mut tokens = Vec::new();
    for scope in SCOPES {
        let client = register(&app, &admin, "HN-LB", &[scope]).await;
        tokens.push((scope, client_token(&app, &client).await));
    }
    let mut seen = BTreeSet::new();
    for (root, op) in
        [("QueryRoot", "query"), ("MutationRoot", "mutation"), ("SubscriptionRoot", "subscription")]
    {
        for field in &fields[root] {
            for (scope, token) in &tokens {
                let opened = allowed.iter().find(|(_, f, _, _)| f == field);
                let got = match opened {
                    Some((_, _, query, vars)) => app.gql(query, vars.clone(), Some(token)).await,
                    // Without arguments or a selection: the client is refused before the document
                    // is validated.
                    None => app.gql(&format!("{op} {{ {field} }}"), json!({}), Some(token)).await,
                };
                match opened {
                    Some((s, ..)) if s == scope => {
                        assert!(!got.has_errors(), "{root}.{field} with {scope}: {}", got.body);
                    }
                    Some((needed, ..)) => {
                        assert_eq!(got.code(), Some("FORBIDDEN"), "{root}.{field} with {scope}");
                        let ext = &got.body["errors"][0]["extensions"];
                        assert_eq!(ext["requiredScope"], json!(needed.to_lowercase().replace('_', ":")));
                        assert_eq!(ext["coordinate"], json!(format!("{root}.{field}")));
                    }
                    None => {
                        assert_eq!(
                            got.code(),
                            Some("FORBIDDEN"),
                            "{root}.{field} with {scope}: {}",
                            got.body
                        );
                        assert!(got.body.get("data").is_none_or(Value::is_null));
                    }
                }
            }
            seen.insert(format!("{root}.{field}"));
        }
    }
    // Every root field of the schema was tried (the SDL parse found them all).
    assert!(seen.len() > 100, "{}", seen.len());
    for (_, field, _, _) in &allowed {
        assert!(seen.contains(&format!("QueryRoot.{field}")), "{field}");
    }
}

#[tokio::test]
async fn no_field_off_the_partner_surface_answers_on_the_types_a_client_reaches() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let client = register(&app, &admin, "HN-LB", &SCOPES).await;
    let token = client_token(&app, &client).await;
    let surface: BTreeSet<(&str, &str)> =
        api::graphql::integrations::surface::SURFACE.iter().map(|&(t, f, _)| (t, f)).collect();
    let fields = sdl_fields();
    // Each reached type, and a query that selects a field of it (`FIELD` stands for it).
    let stats = format!(
        "{{ publicStatistics(unitId: \"{}\", month: \"2026-01\") {{ STATS }} }}",
        app.unit_id("HN-LB").await
    );
    let progress = stats.replace("STATS", "targetProgress(period: {year: 2026}) { PROGRESS }");
    let paths = [
        ("OrgUnit", "{ orgUnits { edges { node { FIELD } } } }".to_owned()),
        ("Campaign", "{ campaigns { edges { node { FIELD } } } }".to_owned()),
        ("Training", "{ trainings { edges { node { FIELD } } } }".to_owned()),
        ("Post", "{ posts { edges { node { FIELD } } } }".to_owned()),
        ("TrainingConnection", "{ trainings { FIELD } }".to_owned()),
        ("PublicStatistics", stats.replace("STATS", "FIELD")),
        ("PublicUnitFigures", stats.replace("STATS", "total { FIELD }")),
        ("PublicTargetProgress", progress.replace("PROGRESS", "FIELD")),
        ("PublicTargetRow", progress.replace("PROGRESS", "total { FIELD }")),
        ("Indicator", progress.replace("PROGRESS", "indicator { FIELD }")),
    ];
    // Every field of the statistics types is on the surface but the indicator's unit (which
    // may lie above the client's subtree).
    let off_surface = |ty: &str| -> Vec<String> {
        fields[ty].iter().filter(|f| !surface.contains(&(ty, f.as_str()))).cloned().collect()
    };
    assert_eq!(off_surface("Indicator"), ["unit"]);
    for ty in ["PublicStatistics", "PublicUnitFigures", "PublicTargetProgress", "PublicTargetRow"] {
        assert!(off_surface(ty).is_empty(), "{ty}: {:?}", off_surface(ty));
    }
    let mut refused = 0;
    for (ty, template) in &paths {
        let ty = *ty;
        for field in &fields[ty] {
            if surface.contains(&(ty, field.as_str())) {
                continue;
            }
            let got = app.gql(&template.replace("FIELD", field), json!({}), Some(&token)).await;
            assert_eq!(got.code(), Some("FORBIDDEN"), "{ty}.{field}: {}", got.body);
            assert_eq!(got.body["errors"][0]["extensions"]["coordinate"], json!(format!("{ty}.{field}")));
            refused += 1;
        }
    }
    // The registrants, waitlists, pledges and links of the types above, at least.
    assert!(refused >= 8, "{refused}");
    // Through a fragment, an alias or a spread on the root, too.
    for query in [
        "{ orgUnits { edges { node { ...F } } } ...G } fragment F on OrgUnit { id } fragment G on QueryRoot { me { id } }",
        "query { x: me { id } }",
        "{ ... on QueryRoot { myConsents { kind } } }",
    ] {
        let got = app.gql(query, json!({}), Some(&token)).await;
        assert_eq!(got.code(), Some("FORBIDDEN"), "{query}: {}", got.body);
    }
}

#[tokio::test]
async fn a_client_reads_only_its_subtree_and_only_what_is_published() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let officer = app.token(LB_OFFICER).await;
    let client = register(&app, &admin, "HN-LB-BD", &SCOPES).await;
    let token = client_token(&app, &client).await;

    // Units: the subtree only; its root has no parent for the client.
    let bd = app.unit_id("HN-LB-BD").await;
    let lb = app.unit_id("HN-LB").await;
    let got = app
        .gql(
            "query($u: ID!) { orgUnit(id: $u) { code parent { code } ancestors { code } } }",
            json!({ "u": bd }),
            Some(&token),
        )
        .await
        .ok();
    assert_eq!(got["orgUnit"], json!({ "code": "HN-LB-BD", "parent": null, "ancestors": [] }));
    app.gql("query($u: ID!) { orgUnit(id: $u) { code } }", json!({ "u": lb }), Some(&token))
        .await
        .expect_code("NOT_FOUND");
    let listed = app
        .gql("{ orgUnits(first: 100) { totalCount edges { node { code } } } }", json!({}), Some(&token))
        .await
        .ok();
    let codes: Vec<String> =
        listed["orgUnits"]["edges"].as_array().unwrap().iter().map(|e| s(&e["node"]["code"])).collect();
    assert!(!codes.is_empty() && codes.iter().all(|c| c.starts_with("HN-LB-BD")), "{codes:?}");
    app.gql(
        "query($u: ID!) { orgUnits(parentId: $u) { edges { node { code } } } }",
        json!({ "u": lb }),
        Some(&token),
    )
    .await
    .expect_code("NOT_FOUND");

    // Campaigns: launched ones of the subtree; not a draft, not one of the district above.
    crate::fixtures::launched_campaign(
        &app,
        &officer,
        "HN-LB-BD",
        crate::campaigns::input("Phường Bồ Đề", json!({})),
    )
    .await;
    crate::fixtures::launched_campaign(
        &app,
        &officer,
        "HN-LB",
        crate::campaigns::input("Quận Long Biên", json!({})),
    )
    .await;
    app.gql(
        "mutation($u: ID!, $i: CampaignInput!) { createCampaign(unitId: $u, input: $i) { id } }",
        json!({ "u": bd, "i": crate::campaigns::input("Bản nháp", json!({})) }),
        Some(&officer),
    )
    .await
    .ok();
    let campaigns = app
        .gql(
            "{ campaigns(filter: {status: null}) { edges { node { title unit { code } } } } }",
            json!({}),
            Some(&token),
        )
        .await
        .ok();
    assert_eq!(
        campaigns["campaigns"]["edges"],
        json!([{ "node": { "title": "Phường Bồ Đề", "unit": { "code": "HN-LB-BD" } } }])
    );
    app.gql(
        "query($u: ID!) { campaigns(filter: {unitId: $u}) { edges { node { id } } } }",
        json!({ "u": lb }),
        Some(&token),
    )
    .await
    .expect_code("NOT_FOUND");

    // Trainings: published ones for members in the subtree, with seats left.
    let training = |title: &str| {
        json!({ "title": title, "description": "Mang theo giấy tờ.", "category": "VOCATIONAL",
                "startsAt": at(3), "endsAt": at(4), "place": "Nhà văn hoá", "capacity": 30 })
    };
    crate::fixtures::published_training(&app, &officer, "HN-LB-BD", training("Lớp Bồ Đề")).await;
    crate::fixtures::published_training(&app, &officer, "HN-LB", training("Lớp quận")).await;
    let trainings = app
        .gql("{ trainings { edges { node { title seatsLeft capacity } } } }", json!({}), Some(&token))
        .await
        .ok();
    assert_eq!(
        trainings["trainings"]["edges"],
        json!([{ "node": { "title": "Lớp Bồ Đề", "seatsLeft": 30, "capacity": 30 } }])
    );

    // News: published posts of the subtree.
    for (code, title) in [("HN-LB-BD", "Tin phường"), ("HN-LB", "Tin quận")] {
        let unit = app.unit_id(code).await;
        app.gql(
            "mutation($u: ID!, $i: PostInput!) { createPost(unitId: $u, input: $i) { id } }",
            json!({ "u": unit, "i": { "title": title, "body": "Nội dung." } }),
            Some(&officer),
        )
        .await
        .ok();
    }
    let posts =
        app.gql("{ posts { totalCount edges { node { title } } } }", json!({}), Some(&token)).await.ok();
    assert_eq!(posts["posts"]["edges"], json!([{ "node": { "title": "Tin phường" } }]));
    assert_eq!(posts["posts"]["totalCount"], json!(1));
}

#[tokio::test]
async fn a_client_token_opens_no_subscription() {
    let app = spawn_app().await;
    let admin = app.token(SYSADMIN).await;
    let client = register(&app, &admin, "HN", &SCOPES).await;
    let token = client_token(&app, &client).await;
    let mut ws = crate::ws::connect(&app).await;
    crate::ws::send(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }),
    )
    .await;
    assert_eq!(crate::ws::next(&mut ws).await, Err(Some(4403)));
}
