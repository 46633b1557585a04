//! What the benchmarks share: a fresh PostgreSQL database, the Hanoi-sized unit tree, running a
//! GraphQL request in process as someone, and percentiles.

#![allow(dead_code)]

pub mod home;

/// The server binary's allocator (see `main.rs`), so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use entities::ids::{PersonId, UnitId};
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use api::{
    graphql::{CredentialGuard, Engine, ScopeCell, build_engine, loaders::Loaders},
    startup::connect,
};
use async_graphql::{Request, Variables};
use entities::org_unit;
use sea_orm::{ConnectionTrait, Database, FromQueryResult, TransactionTrait};
use service::{
    auth::{Auth, Viewer},
    config::Settings,
    error::Lang,
    state::AppState,
    {
        RequestMeta,
        org::{UnitKind, insert_unit},
    },
};
use uuid::Uuid;

pub const DISTRICTS: usize = 30;
pub const WARDS_PER_DISTRICT: usize = 14;
pub const BRANCHES_PER_WARD: usize = 12;

/// (Re)creates the database `name` on `BENCH_DATABASE_URL` and connects to it, migrated.
pub async fn fresh_state(name: &str) -> (AppState, Settings) {
    fresh_state_with(name, &[]).await
}

/// [`fresh_state`] with extra settings.
pub async fn fresh_state_with(name: &str, extra: &[(&str, &str)]) -> (AppState, Settings) {
    let server = bench_server(name);
    let (base, options) = server.split_once('?').map_or((server.as_str(), ""), |(b, o)| (b, o));
    let admin = Database::connect(format!("{}/postgres?{options}", base.trim_end_matches('/')))
        .await
        .expect("connect to the server");
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}")).await.expect("drop");
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create");
    state_of(&server, name, extra).await
}

/// Connects to the database `name` a previous run seeded (`BENCH_REUSE=1`: measure again
/// without seeding again).
pub async fn existing_state(name: &str) -> (AppState, Settings) {
    existing_state_with(name, &[]).await
}

/// [`existing_state`] with extra settings.
pub async fn existing_state_with(name: &str, extra: &[(&str, &str)]) -> (AppState, Settings) {
    state_of(&bench_server(name), name, extra).await
}

fn bench_server(name: &str) -> String {
    let Ok(server) = std::env::var("BENCH_DATABASE_URL") else {
        eprintln!("set BENCH_DATABASE_URL=postgres://user@host:port (the bench creates the database {name})");
        std::process::exit(2);
    };
    server.trim_end_matches('/').to_owned()
}

async fn state_of(server: &str, name: &str, extra: &[(&str, &str)]) -> (AppState, Settings) {
    // Options after `?` (e.g. `sslmode=disable`) go after the database name.
    let (base, options) =
        server.split_once('?').map_or((server, String::new()), |(b, o)| (b, format!("?{o}")));
    let vars: HashMap<String, String> = [
        ("DATABASE_URL", format!("{}/{name}{options}", base.trim_end_matches('/'))),
        ("APP_DATABASE_MAX_CONNECTIONS", "8".into()),
        ("APP_SEED_DEMO_DATA", "false".into()),
        ("APP_LOG", "warn".into()),
        // Seeding writes a million rows in one statement: past the service's 10 s bound.
        ("APP_DATABASE_STATEMENT_TIMEOUT_MS", "600000".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .chain(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
    .collect();
    let settings = Settings::from_vars(&vars).expect("settings");
    let state = connect(settings.clone()).await.expect("connect and migrate");
    (state, settings)
}

/// The city, 30 districts, 14 wards each, 12 branches per ward (5,040 branches).
pub struct Tree {
    pub city: org_unit::Model,
    pub districts: Vec<org_unit::Model>,
    pub wards: Vec<UnitId>,
    pub branches: Vec<UnitId>,
}

pub async fn build_tree(state: &AppState) -> Tree {
    let t = Instant::now();
    let txn = state.db.begin().await.expect("begin");
    let city =
        insert_unit(&txn, None, UnitKind::City, "HN", "Hội LHPN Thành phố Hà Nội").await.expect("city");
    let (mut districts, mut wards, mut branches) = (Vec::new(), Vec::new(), Vec::new());
    for d in 0..DISTRICTS {
        let district =
            insert_unit(&txn, Some(&city), UnitKind::District, &format!("HN-D{d:02}"), &format!("Quận {d}"))
                .await
                .expect("district");
        for w in 0..WARDS_PER_DISTRICT {
            let ward = insert_unit(
                &txn,
                Some(&district),
                UnitKind::Base,
                &format!("HN-D{d:02}-W{w:02}"),
                &format!("Phường {d}-{w}"),
            )
            .await
            .expect("ward");
            for b in 0..BRANCHES_PER_WARD {
                let branch = insert_unit(
                    &txn,
                    Some(&ward),
                    UnitKind::Branch,
                    &format!("HN-D{d:02}-W{w:02}-B{b:02}"),
                    &format!("Chi hội {d}-{w}-{b}"),
                )
                .await
                .expect("branch");
                branches.push(branch.id);
            }
            wards.push(ward.id);
        }
        districts.push(district);
    }
    txn.commit().await.expect("commit tree");
    println!("tree: {} branches in {:.1} s", branches.len(), t.elapsed().as_secs_f64());
    Tree { city, districts, wards, branches }
}

/// Creates a person holding `role` at `unit`; returns her as a viewer.
pub async fn officer(state: &AppState, phone: &str, role: &str, unit: UnitId) -> Viewer {
    let id = PersonId::new();
    state
        .db
        .execute_unprepared(&format!(
            "INSERT INTO person (id, phone, full_name, name_search, is_system_admin, language, created_at, updated_at) \
             VALUES ('{id}', '{phone}', 'Cán Bộ {phone}', 'can bo', false, 'vi', now(), now()); \
             INSERT INTO officer_role (id, person_id, unit_id, role, granted_at) \
             VALUES ('{}', '{id}', '{unit}', '{role}', now())",
            Uuid::now_v7()
        ))
        .await
        .expect("officer");
    Viewer { person_id: id, session_id: Uuid::now_v7() }
}

/// Runs GraphQL requests in process, as the HTTP layer would set them up.
#[derive(Clone)]
pub struct Runner {
    engine: Engine,
    state: AppState,
}

impl Runner {
    pub fn new(state: &AppState, settings: &Settings) -> Self {
        Self { engine: build_engine(state.clone(), settings), state: state.clone() }
    }

    /// Executes `query` as `viewer`; panics on errors; returns the time taken and the data.
    pub async fn run(
        &self,
        viewer: Viewer,
        query: &str,
        variables: serde_json::Value,
    ) -> (Duration, serde_json::Value) {
        self.run_as(Auth::Signed(viewer), query, variables).await
    }

    /// Executes `query` with `auth` (signed in, or anonymous); panics on errors.
    pub async fn run_as(
        &self,
        auth: Auth,
        query: &str,
        variables: serde_json::Value,
    ) -> (Duration, serde_json::Value) {
        let request = Request::new(query)
            .variables(Variables::from_json(variables))
            .data(auth)
            .data(Lang::Vi)
            .data(RequestMeta::default())
            .data(Loaders::new(&self.state.db))
            .data(ScopeCell::default())
            .data(CredentialGuard::default());
        let started = Instant::now();
        let resp = self.engine.execute(request).await;
        let took = started.elapsed();
        assert!(resp.errors.is_empty(), "{:?}", resp.errors);
        (took, resp.data.into_json().expect("json data"))
    }
}

#[derive(FromQueryResult)]
struct Id {
    id: Uuid,
}

/// The ids a query selects (as `id`), typed (`PersonId`, `UnitId`, …).
pub async fn ids<T: service::domain::NodeId>(state: &AppState, sql: &str) -> Vec<T> {
    Id::find_by_statement(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql))
        .all(&state.db)
        .await
        .expect("ids")
        .into_iter()
        .map(|r| T::from_uuid(r.id))
        .collect()
}

/// A signed-in person (no session behind it: the runner sets the request's auth directly).
pub fn as_viewer(person_id: PersonId) -> Viewer {
    Viewer { person_id, session_id: Uuid::now_v7() }
}

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_secs_f64() * 1000.0
}

pub fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name:<48} p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms   ({} runs)",
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        percentile(&samples, 1.0),
        samples.len()
    );
}
