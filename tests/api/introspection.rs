//! The standard introspection query — the exact documents graphql-js 16 produces, written by
//! `tests/audit/introspection.mjs write tests/api/introspection` — runs wherever introspection
//! is on, though it nests deeper than ordinary queries may; its own depth rule still holds; and
//! it is refused where introspection is off.

use serde_json::{Value, json};

use crate::helpers::*;

const DEFAULT: &str = include_str!("introspection/default.graphql");
const ALL_OPTIONS: &str = include_str!("introspection/all-options.graphql");

/// How deep the fields of `doc`'s operations nest, fragments inlined (every field a level, as
/// the depth limit counts).
fn depth(doc: &str) -> usize {
    use async_graphql::parser::{
        parse_query,
        types::{ExecutableDocument, Selection, SelectionSet},
    };
    fn walk(doc: &ExecutableDocument, set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(f) => 1 + walk(doc, &f.node.selection_set.node),
                Selection::InlineFragment(i) => walk(doc, &i.node.selection_set.node),
                Selection::FragmentSpread(s) => {
                    walk(doc, &doc.fragments[&s.node.fragment_name.node].node.selection_set.node)
                }
            })
            .max()
            .unwrap_or(0)
    }
    let doc = parse_query(doc).unwrap();
    doc.operations.iter().map(|(_, op)| walk(&doc, &op.node.selection_set.node)).max().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_js_introspection_runs_with_every_option() {
    let app = spawn_app().await;
    for (name, doc) in [("default", DEFAULT), ("all options", ALL_OPTIONS)] {
        let resp = app
            .client
            .post(app.url("/graphql"))
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": doc, "operationName": "IntrospectionQuery" }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{name}");
        let body: Value = resp.json().await.unwrap();
        assert!(body.get("errors").is_none(), "{name}: {}", body["errors"]);
        let schema = &body["data"]["__schema"];
        assert_eq!(schema["queryType"]["name"], "QueryRoot", "{name}");
        assert_eq!(schema["mutationType"]["name"], "MutationRoot", "{name}");
        let types = schema["types"].as_array().unwrap();
        let unit = types.iter().find(|t| t["name"] == "OrgUnit").expect("OrgUnit is described");
        // The nine levels of `ofType` reach a list of non-null nodes: `[OrgUnit!]!`.
        let ancestors = unit["fields"].as_array().unwrap().iter().find(|f| f["name"] == "ancestors").unwrap();
        assert_eq!(ancestors["type"]["kind"], "NON_NULL");
        assert_eq!(ancestors["type"]["ofType"]["kind"], "LIST");
        assert_eq!(ancestors["type"]["ofType"]["ofType"]["ofType"]["name"], "OrgUnit");
        assert!(!schema["directives"].as_array().unwrap().is_empty(), "{name}");
    }
    // Deeper than ordinary queries may nest (12 by default).
    assert!(depth(DEFAULT) > 12, "{}", depth(DEFAULT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordinary_queries_keep_the_depth_limit_while_introspection_runs() {
    let app = spawn_app().await;
    // Thirteen levels of ordinary fields.
    let deep = "{ orgUnits { edges { node { parent { parent { parent { parent { parent { parent { parent { parent { parent { name } } } } } } } } } } } } }";
    assert_eq!(depth(deep), 13);
    app.gql(deep, json!({}), None).await.expect_code("GRAPHQL_VALIDATION_FAILED");
    // Twelve pass.
    let twelve = "{ orgUnits { edges { node { parent { parent { parent { parent { parent { parent { parent { parent { name } } } } } } } } } } } }";
    assert_eq!(depth(twelve), 12);
    app.gql(twelve, json!({}), None).await.ok();
    // An ordinary field beside introspection is still held to the limit.
    let mixed = format!("{{ __schema {{ queryType {{ name }} }} {} }}", &deep[1..deep.len() - 1]);
    app.gql(&mixed, json!({}), None).await.expect_code("GRAPHQL_VALIDATION_FAILED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_nesting_list_fields_three_deep_is_refused() {
    let app = spawn_app().await;
    let two = "{ __schema { types { fields { type { fields { name } } } } } }";
    app.gql(two, json!({}), None).await.ok();
    let three = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
    app.gql(three, json!({}), None).await.expect_code("GRAPHQL_VALIDATION_FAILED");
    let through_fragments = "{ __type(name: \"OrgUnit\") { ...A } } \
        fragment A on __Type { fields { type { ...B } } } \
        fragment B on __Type { interfaces { possibleTypes { name } } }";
    app.gql(through_fragments, json!({}), None).await.expect_code("GRAPHQL_VALIDATION_FAILED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_js_introspection_is_refused_where_introspection_is_off() {
    let app = spawn_app_with(&[("APP_INTROSPECTION", "false")]).await;
    for doc in [DEFAULT, ALL_OPTIONS] {
        let res = app.gql(doc, json!({}), None).await;
        assert_eq!(res.code(), Some("GRAPHQL_VALIDATION_FAILED"), "{}", res.body);
        assert!(res.body["data"].is_null(), "{}", res.body);
    }
}
