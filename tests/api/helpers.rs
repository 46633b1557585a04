//! Test harness: spawn an isolated application, talk GraphQL to it, read error codes.

#![allow(dead_code)]

use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock},
};

use api::startup::Application;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use service::{config::Settings, state::AppState};
use uuid::Uuid;

/// The JWT secret every test app uses (tests forge tokens with it).
pub const TEST_JWT_SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";
pub const TEST_ISSUER: &str = "phunu-thudo";
pub const TEST_AUDIENCE: &str = "phunu-thudo-api";

/// The keys sealing violence reports in every test app (key 1 current).
pub const TEST_REPORT_KEYS: &str = "1:dGVzdC1yZXBvcnQta2V5LTAxMjM0NTY3ODlhYmNkZWY=";

/// Password of every demo account.
pub const DEMO_PASSWORD: &str = service::seed::DEMO_PASSWORD;
pub const SYSADMIN: &str = "+84900000001";
pub const CITY_ADMIN: &str = "+84900000002";
pub const LB_OFFICER: &str = "+84900000003";
pub const BD_CASE_OFFICER: &str = "+84900000004";
pub const BD1_LEADER: &str = "+84900000005";
pub const MEMBER: &str = "+84900000006";
/// A member of HN-LB-BD-01 when the demo content is loaded (`APP_SEED_DEMO_CONTENT=true`).
pub const DEMO_MEMBER: &str = "+84900000007";
/// The case officer of Long Biên, where Bồ Đề's unacknowledged reports escalate.
pub const LB_CASE_OFFICER: &str = "+84900000008";
/// The officer of Bồ Đề (HN-LB-BD), who writes its yearly rating.
pub const BD_OFFICER: &str = "+84900000009";

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub state: AppState,
    pub client: reqwest::Client,
    /// Every SMS the app sent (the test double of the gateway).
    pub sms: std::sync::Arc<SmsInbox>,
    /// The settings it was built from (a peer instance reuses them).
    pub vars: HashMap<String, String>,
    /// What SIGTERM sends (see [`Self::request_stop`]).
    stop: tokio::sync::mpsc::UnboundedSender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Which backend the suite runs on.
pub fn backend() -> &'static str {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        "postgres"
    } else {
        "sqlite"
    }
}

/// Every log line of every app in this test process, as JSON (tests check what reaches logs).
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        if std::env::var("TEST_LOG").is_ok() {
            std::io::stderr().write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged so far in this process.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}

fn init_logs() {
    use tracing_subscriber::prelude::*;
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        // The HTTP clients of the tests use the service's TLS provider.
        service::sms::install_tls_provider();
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(|| Capture);
        let _ = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new(
                "info,sqlx=warn,sea_orm_migration=warn,actix_server=warn",
            ))
            .with(layer)
            .try_init();
    });
}

/// Spawns an app with demo data and default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Spawns an app with demo data; `overrides` are extra environment-style settings.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    spawn_app_pushing(overrides, None).await
}

/// Like [`spawn_app_with`], with the push worker sending through `sender`.
pub async fn spawn_app_with_sender(
    overrides: &[(&str, &str)],
    sender: std::sync::Arc<dyn service::push::PushSender>,
) -> TestApp {
    spawn_app_pushing(overrides, Some(sender)).await
}

/// `sender`, or the providers the settings name (`APP_PUSH_PROVIDERS`, the log sender unless a
/// test sets it).
async fn spawn_app_pushing(overrides: &[(&str, &str)], sender: Option<PushSenderArc>) -> TestApp {
    init_logs();
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("APP_PORT".into(), "0".into());
    vars.insert("APP_WORKERS".into(), "2".into());
    vars.insert("APP_JWT_SECRET".into(), TEST_JWT_SECRET.into());
    vars.insert("APP_SEED_DEMO_DATA".into(), "true".into());
    // Lists start empty; the demo walkthrough test turns the demo content on.
    vars.insert("APP_SEED_DEMO_CONTENT".into(), "false".into());
    vars.insert("APP_LOG".into(), "warn".into());
    vars.insert("APP_REPORT_KEYS".into(), TEST_REPORT_KEYS.into());
    // Race tests fire many simultaneous requests from one caller on purpose; the in-flight
    // bound has a test of its own (cost.rs).
    vars.insert("APP_MAX_IN_FLIGHT_PER_CALLER".into(), "1000".into());
    vars.insert("APP_MAX_IN_FLIGHT_PER_ADDRESS".into(), "1000".into());
    // Tests enrol and import far more than an officer would; the per-officer limits have tests
    // of their own (invitations.rs).
    vars.insert("APP_ENROL_MAX_PER_OFFICER".into(), "100000".into());
    vars.insert("APP_IMPORT_MAX_PER_OFFICER".into(), "100000".into());
    vars.insert("APP_IMPORT_ROWS_MAX_PER_OFFICER".into(), "100000000".into());
    // Every registration asks for a phone code from 127.0.0.1; the per-address limits have
    // tests of their own (phone.rs).
    vars.insert("APP_PHONE_CODE_MAX_PER_ADDRESS".into(), "100000".into());
    vars.insert("APP_PHONE_CODE_CHECKS_PER_ADDRESS".into(), "100000".into());
    // Tests send thousands of queries from one address and account; the buckets have tests of
    // their own (integrations/quota.rs), with sizes they set.
    for bucket in ["PERSON", "ANONYMOUS", "CLIENT"] {
        vars.insert(format!("APP_{bucket}_BUCKET_CAPACITY"), "100000000".into());
        vars.insert(format!("APP_{bucket}_BUCKET_RESTORE_PER_SEC"), "1000000".into());
    }
    // Each app keeps its photos apart (never under the working directory's ./data).
    let media_dir = std::env::temp_dir().join(format!("phunu-media-{}", Uuid::new_v4().simple()));
    vars.insert("APP_MEDIA_DIR".into(), media_dir.to_string_lossy().into_owned());
    // Hundreds of apps share one PostgreSQL: keep each one's idle connections few.
    vars.insert("APP_DATABASE_MIN_CONNECTIONS".into(), "1".into());
    vars.insert("DATABASE_URL".into(), isolated_database().await);
    if let Ok(redis) = std::env::var("TEST_REDIS_URL") {
        vars.insert("REDIS_URL".into(), redis);
        vars.insert("APP_REDIS_PREFIX".into(), format!("test:{}:", Uuid::new_v4().simple()));
    }
    for (k, v) in overrides {
        vars.insert((*k).into(), (*v).into());
    }
    // Production refuses demo data (its password is public): tests of production mode run
    // without it.
    if vars.get("APP_ENV").is_some_and(|e| e == "production") {
        if !overrides.iter().any(|(k, _)| *k == "APP_SEED_DEMO_DATA") {
            vars.insert("APP_SEED_DEMO_DATA".into(), "false".into());
        }
        // Production needs a gateway; the test's inbox stands in for it.
        vars.entry("APP_SMS_PROVIDER".into()).or_insert_with(|| "http".into());
        vars.entry("APP_SMS_GATEWAY_URL".into()).or_insert_with(|| "http://127.0.0.1:9/unused".into());
    }
    start_with(vars, sender, std::sync::Arc::default()).await
}

type PushSenderArc = std::sync::Arc<dyn service::push::PushSender>;

async fn start(vars: HashMap<String, String>, sms: std::sync::Arc<SmsInbox>) -> TestApp {
    start_with(vars, None, sms).await
}

async fn start_with(
    vars: HashMap<String, String>,
    sender: Option<PushSenderArc>,
    sms: std::sync::Arc<SmsInbox>,
) -> TestApp {
    try_start_with(vars, sender, sms).await.expect("application builds")
}

async fn try_start_with(
    vars: HashMap<String, String>,
    sender: Option<PushSenderArc>,
    sms: std::sync::Arc<SmsInbox>,
) -> Result<TestApp, api::startup::StartupError> {
    let settings = Settings::from_vars(&vars).expect("test settings");
    // A test of the HTTP gateway adapter sets `TEST_SMS_VIA_GATEWAY` (the app then sends
    // through the gateway its settings name); every other app delivers to the inbox.
    let inbox: Option<std::sync::Arc<dyn service::sms::SmsSender>> =
        (!vars.contains_key("TEST_SMS_VIA_GATEWAY")).then(|| sms.clone() as _);
    let senders = api::startup::Senders { push: sender, sms: inbox };
    let app = Application::build_with(settings, senders).await?;
    let port = app.port();
    let state = app.state().clone();
    let (stop, stop_requests) = tokio::sync::mpsc::unbounded_channel();
    let server = tokio::spawn(app.run_until(stop_requests));
    Ok(TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        state,
        client: reqwest::Client::new(),
        sms,
        vars,
        stop,
        server,
    })
}

impl TestApp {
    /// What a SIGTERM does: the first request starts the drain, a second cuts it short.
    pub fn request_stop(&self) {
        let _ = self.stop.send(());
    }

    /// Waits until the server has stopped: its result.
    pub async fn stopped(self) -> std::io::Result<()> {
        self.server.await.expect("the server task does not panic")
    }

    /// Another instance on the same database and Redis prefix (a restart, or a second node
    /// behind the load balancer).
    pub async fn spawn_peer(&self) -> TestApp {
        start(self.vars.clone(), self.sms.clone()).await
    }

    /// [`Self::spawn_peer`] with some settings changed (a restart after a configuration change).
    pub async fn spawn_peer_with(&self, overrides: &[(&str, &str)]) -> TestApp {
        let mut vars = self.vars.clone();
        for (k, v) in overrides {
            vars.insert((*k).into(), (*v).into());
        }
        start(vars, self.sms.clone()).await
    }

    /// Tries to start [`Self::spawn_peer_with`]: the start-up error when it refuses to start.
    pub async fn try_peer_with(
        &self,
        overrides: &[(&str, &str)],
    ) -> Result<TestApp, api::startup::StartupError> {
        let mut vars = self.vars.clone();
        for (k, v) in overrides {
            vars.insert((*k).into(), (*v).into());
        }
        try_start_with(vars, None, self.sms.clone()).await
    }

    /// [`Self::spawn_peer`] with the push worker sending through `sender`.
    pub async fn spawn_peer_with_sender(
        &self,
        sender: std::sync::Arc<dyn service::push::PushSender>,
    ) -> TestApp {
        start_with(self.vars.clone(), Some(sender), self.sms.clone()).await
    }
}

/// Every row of every table of the app's database, as text (`table: row`; SQLite quotes each
/// value, PostgreSQL renders the row, `bytea` as hex).
pub async fn every_row(app: &TestApp) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Statement};
    let db = &app.state.db;
    let backend = db.get_database_backend();
    let tables: Vec<String> = match backend {
        sea_orm::DbBackend::Postgres => db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT table_name AS name FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            ))
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String>("", "name").unwrap())
            .collect(),
        _ => db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT name FROM sqlite_master WHERE type = 'table'",
            ))
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String>("", "name").unwrap())
            .collect(),
    };
    assert!(tables.len() > 30, "{tables:?}");
    let mut rows = Vec::new();
    for table in tables {
        let sql = match backend {
            sea_orm::DbBackend::Postgres => format!("SELECT CAST(t AS text) AS row FROM \"{table}\" t"),
            _ => {
                let columns: Vec<String> = db
                    .query_all_raw(Statement::from_string(backend, format!("PRAGMA table_info(\"{table}\")")))
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.try_get::<String>("", "name").unwrap())
                    .collect();
                let parts: Vec<String> =
                    columns.iter().map(|c| format!("coalesce(quote(\"{c}\"), '')")).collect();
                format!("SELECT {} AS row FROM \"{table}\"", parts.join(" || '|' || "))
            }
        };
        for r in db.query_all_raw(Statement::from_string(backend, sql)).await.unwrap() {
            rows.push(format!("{table}: {}", r.try_get::<String>("", "row").unwrap()));
        }
    }
    rows
}

/// One SMS the app sent.
#[derive(Clone, Debug)]
pub struct Sms {
    pub to: String,
    pub text: String,
    pub code: Option<String>,
}

/// The test double of the SMS gateway: keeps every message.
#[derive(Default)]
pub struct SmsInbox {
    sent: Mutex<Vec<Sms>>,
    /// How many of each number's codes `code_for` handed out already.
    taken: Mutex<HashMap<String, usize>>,
}

#[async_trait::async_trait]
impl service::sms::SmsSender for SmsInbox {
    async fn send(&self, m: &service::sms::SmsMessage<'_>) -> Result<(), service::sms::SmsError> {
        let sms = Sms { to: m.to.to_owned(), text: m.text.to_owned(), code: m.code.map(str::to_owned) };
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).push(sms);
        Ok(())
    }
}

impl SmsInbox {
    /// Every message sent to `phone` (any common form) so far.
    pub fn to(&self, phone: &str) -> Vec<Sms> {
        let phone = normalised(phone);
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|m| m.to == phone)
            .cloned()
            .collect()
    }

    /// The next code sent to `phone` that no earlier call took (waits up to 10 s for it).
    pub async fn code_for(&self, phone: &str) -> String {
        let phone = normalised(phone);
        for _ in 0..1000 {
            let codes: Vec<String> = self.to(&phone).into_iter().filter_map(|m| m.code).collect();
            let next = {
                let mut taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
                let n = taken.entry(phone.clone()).or_insert(0);
                let next = codes.get(*n).cloned();
                if next.is_some() {
                    *n += 1;
                }
                next
            };
            if let Some(code) = next {
                return code;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("no code was sent to {phone}");
    }
}

/// `+84…` for any common form of a Vietnamese mobile number.
pub fn normalised(phone: &str) -> String {
    service::domain::PhoneNumber::parse(phone, "phone")
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|_| phone.to_owned())
}

/// A database URL no other test uses.
pub async fn isolated_database() -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => {
            let schema = format!("t_{}", Uuid::new_v4().simple());
            let admin = Database::connect(url.as_str()).await.expect("connect to TEST_DATABASE_URL");
            admin.execute_unprepared(&format!("CREATE SCHEMA {schema}")).await.expect("create test schema");
            admin.close().await.ok();
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}options=-c%20search_path%3D{schema}")
        }
        _ => {
            let path = std::env::temp_dir().join(format!("phunu-test-{}.db", Uuid::new_v4().simple()));
            format!("sqlite://{}?mode=rwc", path.display())
        }
    }
}

/// A parsed GraphQL response with its HTTP status.
#[derive(Debug, Clone)]
pub struct Gql {
    pub status: u16,
    pub body: Value,
}

impl Gql {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// The `extensions.code` of the first error.
    pub fn code(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["code"].as_str()
    }

    /// The `extensions.field` of the first error.
    pub fn field(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["field"].as_str()
    }

    /// The `extensions.reason` of the first error (why a `CONFLICT` or a `BAD_USER_INPUT`).
    pub fn reason(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["reason"].as_str()
    }

    /// Asserts the first error's code and reason and returns self.
    #[track_caller]
    pub fn expect_reason(self, code: &str, reason: &str) -> Self {
        assert_eq!((self.code(), self.reason()), (Some(code), Some(reason)), "body: {}", self.body);
        self
    }

    pub fn has_errors(&self) -> bool {
        self.body.get("errors").is_some_and(|e| e.as_array().is_some_and(|a| !a.is_empty()))
    }

    /// Panics with the body when the response carries errors.
    pub fn ok(self) -> Value {
        assert!(!self.has_errors(), "unexpected errors: {}", self.body);
        self.body["data"].clone()
    }

    /// Asserts the first error's code and returns self.
    #[track_caller]
    pub fn expect_code(self, code: &str) -> Self {
        assert_eq!(self.code(), Some(code), "body: {}", self.body);
        self
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// POSTs a GraphQL request, with a bearer token when given.
    pub async fn gql(&self, query: &str, variables: Value, token: Option<&str>) -> Gql {
        let mut req = self
            .client
            .post(self.url("/graphql"))
            .header("content-type", "application/json")
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let body = resp.json().await.expect("json body");
        Gql { status, body }
    }

    /// POSTs a GraphQL multipart request (the GraphQL multipart request spec) whose one file is
    /// the variable `file`, named `name` and declared as `mime`.
    pub async fn gql_upload(
        &self,
        query: &str,
        mut variables: Value,
        file: Vec<u8>,
        name: &str,
        mime: &str,
        token: Option<&str>,
    ) -> Gql {
        use reqwest::multipart::{Form, Part};
        variables["file"] = Value::Null;
        let form = Form::new()
            .text("operations", json!({ "query": query, "variables": variables }).to_string())
            .text("map", json!({ "0": ["variables.file"] }).to_string())
            .part("0", Part::bytes(file).file_name(name.to_owned()).mime_str(mime).expect("a MIME type"));
        let mut req = self.client.post(self.url("/graphql")).multipart(form);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        Gql { status, body: resp.json().await.expect("json body") }
    }

    /// POSTs a GraphQL request as if from client address `addr` (for apps that trust
    /// `X-Forwarded-For`).
    pub async fn gql_from(&self, addr: &str, query: &str, variables: Value) -> Gql {
        let resp = self
            .client
            .post(self.url("/graphql"))
            .header("x-forwarded-for", addr)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request sent");
        let status = resp.status().as_u16();
        Gql { status, body: resp.json().await.expect("json body") }
    }

    /// Logs in and returns (access token, refresh token).
    pub async fn login(&self, phone: &str, password: &str) -> (String, String) {
        let data = self
            .gql(
                "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }",
                json!({ "i": { "phone": phone, "password": password } }),
                None,
            )
            .await
            .ok();
        (
            data["login"]["accessToken"].as_str().unwrap().to_owned(),
            data["login"]["refreshToken"].as_str().unwrap().to_owned(),
        )
    }

    /// Logs in as a demo account; returns the access token.
    pub async fn token(&self, phone: &str) -> String {
        self.login(phone, DEMO_PASSWORD).await.0
    }

    /// Asks for a phone code for `purpose`, reads it from the SMS inbox and verifies it: the
    /// verification token (signed in as `token` for the purposes that need a session).
    pub async fn verified_phone(&self, phone: &str, purpose: &str, token: Option<&str>) -> String {
        self.try_verified_phone(phone, purpose, token).await.unwrap_or_else(|res| panic!("{}", res.body))
    }

    /// [`Self::verified_phone`], or the first response that carried an error.
    pub async fn try_verified_phone(
        &self,
        phone: &str,
        purpose: &str,
        token: Option<&str>,
    ) -> Result<String, Gql> {
        let sent = self
            .gql(
                "mutation($p: String!, $u: PhoneCodePurpose!) { requestPhoneCode(phone: $p, purpose: $u) { expiresAt } }",
                json!({ "p": phone, "u": purpose }),
                token,
            )
            .await;
        if sent.has_errors() {
            return Err(sent);
        }
        let code = self.sms.code_for(phone).await;
        let verified = self
            .gql(
                "mutation($p: String!, $u: PhoneCodePurpose!, $c: String!) { verifyPhoneCode(phone: $p, purpose: $u, code: $c) { verificationToken } }",
                json!({ "p": phone, "u": purpose, "c": code }),
                token,
            )
            .await;
        match verified.data()["verifyPhoneCode"]["verificationToken"].as_str() {
            Some(t) if !verified.has_errors() => Ok(t.to_owned()),
            _ => Err(verified),
        }
    }

    /// Registers a new person (proving the phone with a code); returns (access token, refresh
    /// token, person id).
    pub async fn register(&self, phone: &str, name: &str, password: &str) -> (String, String, String) {
        let data = self.register_with(phone, json!({ "fullName": name, "password": password })).await.ok();
        let r = &data["register"];
        (
            r["accessToken"].as_str().unwrap().to_owned(),
            r["refreshToken"].as_str().unwrap().to_owned(),
            r["person"]["id"].as_str().unwrap().to_owned(),
        )
    }

    /// `register` with `fields` (any of `RegisterInput` but the phone and the verification
    /// token), the phone proved with a code first.
    pub async fn register_with(&self, phone: &str, fields: Value) -> Gql {
        let token = match self.try_verified_phone(phone, "REGISTER", None).await {
            Ok(token) => token,
            Err(res) => return res,
        };
        let notice = self.state.settings.privacy_notice_version.clone();
        let mut input = json!({ "phone": phone, "verificationToken": token, "privacyNoticeVersion": notice });
        for (k, v) in fields.as_object().expect("an object of RegisterInput fields") {
            input[k] = v.clone();
        }
        self.gql(
            "mutation($i: RegisterInput!) { register(input: $i) { accessToken refreshToken person { id } } }",
            json!({ "i": input }),
            None,
        )
        .await
    }

    /// The global id of the unit with this code.
    pub async fn unit_id(&self, code: &str) -> String {
        let entity = entities::org_unit::Entity::find()
            .filter(entities::org_unit::Column::Code.eq(code))
            .one(&self.state.db)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no unit {code}"));
        global_id("OrgUnit", entity.id)
    }

    /// The global id of the person with this (normalised, `+84…`) phone number.
    pub async fn person_id(&self, phone: &str) -> String {
        let p = entities::person::Entity::find()
            .filter(entities::person::Column::Phone.eq(phone))
            .one(&self.state.db)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no person {phone}"));
        global_id("Person", p.id)
    }

    /// Grants `role` at the unit `code` to the person with `phone` (by the city's admin).
    pub async fn grant(&self, phone: &str, code: &str, role: &str) {
        let city = self.token(CITY_ADMIN).await;
        let unit = self.unit_id(code).await;
        self.gql(
            "mutation($i: AssignOfficerRoleInput!) { assignOfficerRole(input: $i) { id } }",
            json!({ "i": { "phone": phone, "unitId": unit, "role": role } }),
            Some(&city),
        )
        .await
        .ok();
    }

    /// SQL statements executed by the app so far.
    pub fn statements(&self) -> u64 {
        self.state.stats.statements()
    }
}

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// Encodes a global id the way the API does (for ids read from the database in tests).
pub fn global_id(kind: &str, id: impl Into<Uuid>) -> String {
    let id: Uuid = id.into();
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{id}"))
}

/// The string at `v` (panics otherwise).
pub fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

/// The nodes of a connection's edges.
pub fn nodes(conn: &Value) -> Vec<Value> {
    conn["edges"].as_array().expect("edges").iter().map(|e| e["node"].clone()).collect()
}

/// The typed record id inside a global id (`PersonId`, `UnitId`, …).
pub fn id_of<T: service::domain::NodeId>(global: &str) -> T {
    service::domain::GlobalId::decode_id(global, "id").expect("a global id of that type")
}

/// The UUID inside a global id.
pub fn uuid_of(global: &str) -> Uuid {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(global).expect("global id");
    let raw = String::from_utf8(raw).expect("utf-8 id");
    raw.split_once(':').expect("kind:uuid").1.parse().expect("uuid")
}
