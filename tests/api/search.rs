//! The member directory's name search: word-prefix matching, accent-insensitive, in name order,
//! identical whichever of its plans the service picks (see `service::membership::directory`),
//! and paged without gaps or repeats.

use entities::ids::{MembershipId, UnitId};
use std::collections::HashSet;

use entities::{membership, org_unit, org_unit_closure};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use service::domain::fold_for_search;

use crate::helpers::*;

const MEMBERS: &str = "query($f: MemberFilterInput!, $first: Int, $after: String) { members(filter: $f, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id fullName } } } }";

/// The plans, forced by the tuning settings: reading the reach; walking the name index with
/// later-word matches fetched by key; walking it for both.
const PLANS: [&[(&str, &str)]; 3] = [
    &[("APP_DIRECTORY_SMALL_REACH", "1000000")],
    &[("APP_DIRECTORY_SMALL_REACH", "0"), ("APP_DIRECTORY_CANDIDATE_CAP", "1000000")],
    &[("APP_DIRECTORY_SMALL_REACH", "0"), ("APP_DIRECTORY_CANDIDATE_CAP", "0")],
];

const BRANCHES: [&str; 6] =
    ["HN-LB-BD-01", "HN-LB-BD-02", "HN-LB-GT-01", "HN-LB-NL-02", "HN-LB-DG-03", "HN-HK-HB-01"];

/// Names where the query can match a first word, a later word, both, or only inside a word.
const NAMES: [&str; 14] = [
    "Nguyễn Thị Lan",
    "Nguyen Thi Lan",
    "Nguyên Thị Lan Anh",
    "Nguyễn Lan Anh",
    "Trần Nguyễn Hoa",
    "Lan Nguyễn Thị Lan",
    "Trần Thị Hoàng Lan",
    "Hoàng Thị Hoa",
    "Lê Thị Thu",
    "Phạm Thu Hà",
    "Đặng Thị Ánh",
    "Vũ Thị Nguyệt",
    "Bùi Thị Lành",
    "Thị Mai",
];

const QUERIES: [&str; 16] = [
    "nguyen",
    "Nguyễn Thị",
    "thi",
    "lan",
    "Thị Lan",
    "la",
    "nguyen thi lan",
    "guyen",
    "hoa",
    "hoang l",
    "n",
    "thu ha",
    "lan nguyen",
    "anh",
    "T",
    "mai",
];

/// Enrols the test names (by the city's admin) across two districts; returns her token.
async fn fixture(app: &TestApp) -> String {
    let admin = app.token(CITY_ADMIN).await;
    for (i, name) in NAMES.iter().enumerate() {
        let branch = app.unit_id(BRANCHES[i % BRANCHES.len()]).await;
        app.gql(
            "mutation($i: EnrolMemberInput!) { enrolMember(input: $i) { membership { id } } }",
            json!({ "i": { "fullName": name, "phone": format!("0913{i:06}"), "branchId": branch } }),
            Some(&admin),
        )
        .await
        .ok();
    }
    admin
}

/// Word-prefix matching, written independently of the service: the folded query starts the
/// folded name or one of its later words.
fn matches(name: &str, query: &str) -> bool {
    let q = fold_for_search(query);
    name.starts_with(&q) || name.contains(&format!(" {q}"))
}

/// Membership ids the directory should list, from the database: in the subtree of `unit` (or
/// everywhere), matching `query`, in (folded name, id) order.
async fn expected(app: &TestApp, unit: Option<&str>, query: &str) -> Vec<MembershipId> {
    let db = &app.state.db;
    let branches: Option<HashSet<UnitId>> = match unit {
        None => None,
        Some(code) => {
            let unit = org_unit::Entity::find()
                .filter(org_unit::Column::Code.eq(code))
                .one(db)
                .await
                .unwrap()
                .expect("unit");
            let below = org_unit_closure::Entity::find()
                .filter(org_unit_closure::Column::AncestorId.eq(unit.id))
                .all(db)
                .await
                .unwrap();
            Some(below.into_iter().map(|c| c.descendant_id).collect())
        }
    };
    let mut rows: Vec<membership::Model> = membership::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| branches.as_ref().is_none_or(|b| b.contains(&m.branch_id)))
        .filter(|m| matches(&m.name_search, query))
        .collect();
    rows.sort_by(|a, b| (&a.name_search, a.id).cmp(&(&b.name_search, b.id)));
    rows.into_iter().map(|m| m.id).collect()
}

fn membership_uuid(global: &Value) -> MembershipId {
    id_of(global.as_str().expect("id"))
}

/// Every page of the search, `first` at a time; checks `totalCount` on each page.
async fn walk(app: &TestApp, token: &str, filter: Value, first: u64) -> Vec<MembershipId> {
    let mut found = Vec::new();
    let mut after = Value::Null;
    loop {
        let data =
            app.gql(MEMBERS, json!({ "f": filter, "first": first, "after": after }), Some(token)).await.ok();
        let conn = &data["members"];
        let edges = conn["edges"].as_array().expect("edges");
        assert!(edges.len() as u64 <= first);
        found.extend(edges.iter().map(|e| membership_uuid(&e["node"]["id"])));
        let total = conn["totalCount"].as_u64().expect("totalCount");
        if !conn["pageInfo"]["hasNextPage"].as_bool().expect("hasNextPage") {
            assert_eq!(total, found.len() as u64, "totalCount with {filter}");
            return found;
        }
        assert_eq!(edges.len() as u64, first, "a page short of `first` says there is more");
        after = conn["pageInfo"]["endCursor"].clone();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_plan_finds_the_same_names_in_order_page_by_page() {
    for plan in PLANS {
        let app = spawn_app_with(plan).await;
        let admin = fixture(&app).await;
        let officer = app.token(LB_OFFICER).await;
        let lb = app.unit_id("HN-LB").await;
        for query in QUERIES {
            let everywhere = expected(&app, None, query).await;
            let in_lb = expected(&app, Some("HN-LB"), query).await;
            assert!(!everywhere.is_empty() || query == "guyen", "{query}: the fixture should match");
            for first in [1, 2, 100] {
                let f = json!({ "search": query });
                assert_eq!(
                    walk(&app, &admin, f.clone(), first).await,
                    everywhere,
                    "{plan:?} {query} by {first}"
                );
                assert_eq!(walk(&app, &officer, f, first).await, in_lb, "{plan:?} {query} in LB by {first}");
            }
            let f = json!({ "search": query, "unitId": lb });
            assert_eq!(walk(&app, &admin, f, 3).await, in_lb, "{plan:?} {query} with unitId");
        }
        // Not a word start, and wildcards are plain characters.
        for query in ["guyen", "%", "_", "n%", "\\"] {
            assert!(walk(&app, &admin, json!({ "search": query }), 5).await.is_empty(), "{query}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_matching_twice_is_listed_once() {
    for plan in PLANS {
        let app = spawn_app_with(plan).await;
        let admin = fixture(&app).await;
        // "Lan Nguyễn Thị Lan" starts with "lan" and has a later "lan".
        let found = walk(&app, &admin, json!({ "search": "lan" }), 2).await;
        let distinct: HashSet<&MembershipId> = found.iter().collect();
        assert_eq!(distinct.len(), found.len(), "{plan:?}");
        assert!(found.len() >= 6, "{plan:?}: {}", found.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_page_issues_a_bounded_number_of_statements() {
    for plan in PLANS {
        let app = spawn_app_with(plan).await;
        let admin = fixture(&app).await;
        let mut counts = Vec::new();
        for first in [1, 10] {
            let q = "query($n: Int) { members(first: $n, filter: {search: \"t\"}) { edges { node { fullName phone branch { name } events { kind } } } } }";
            let before = app.statements();
            let data = app.gql(q, json!({ "n": first }), Some(&admin)).await.ok();
            counts.push(app.statements() - before);
            assert_eq!(data["members"]["edges"].as_array().expect("edges").len(), first);
        }
        assert_eq!(counts[0], counts[1], "{plan:?}: statements grow with the page size");
        assert!(counts[1] <= 10, "{plan:?}: {} statements", counts[1]);
    }
}
