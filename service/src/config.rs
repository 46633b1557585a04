//! Settings, read once from environment variables at start-up. Every setting has a default that
//! makes `cargo run -p api` work on a fresh machine; production mode refuses to start when a
//! secret it needs is missing instead of inventing one.

use std::{collections::HashMap, path::PathBuf, time::Duration};

use secrecy::SecretString;

use crate::crypto::Keyring;

/// Deployment mode: development turns the conveniences on (GraphiQL, introspection, demo data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Where traces go (`APP_OTLP_*`, see `api::telemetry`).
#[derive(Clone, Debug, PartialEq)]
pub struct OtlpSettings {
    /// The collector's OTLP/HTTP traces endpoint, e.g. `http://collector:4318/v1/traces`.
    pub endpoint: String,
    pub protocol: OtlpProtocol,
    /// The share of traces kept, from 0 to 1.
    pub sample_ratio: f64,
}

/// How spans are encoded for the collector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtlpProtocol {
    HttpProtobuf,
    HttpJson,
}

/// Everything the server needs to run; built by [`Settings::from_env`] or by tests.
#[derive(Clone, Debug)]
pub struct Settings {
    pub environment: Environment,
    pub host: String,
    /// 0 asks the OS for a free port (tests).
    pub port: u16,
    pub workers: usize,
    pub database_url: String,
    pub database_max_connections: u32,
    /// Connections kept open even when idle (PostgreSQL; default: the maximum). A request never
    /// waits for a new connection's handshake while the pool is warm.
    pub database_min_connections: u32,
    /// The PostgreSQL pool of background work (outboxes, fan-out, escalation…), apart from
    /// the HTTP workers' pools.
    pub database_background_connections: u32,
    /// How long a request waits for a database connection before it answers `UNAVAILABLE`
    /// (the database is down, unreachable, or every connection is busy).
    pub database_acquire_timeout: Duration,
    /// The bound on every Redis call; past it the call counts as failed (see `cache`).
    pub redis_timeout: Duration,
    /// PostgreSQL cancels a statement that runs longer (`statement_timeout`; migrations exempt).
    pub database_statement_timeout: Duration,
    /// Fields whose work grows with the data (`totalCount`, a list with `search`) one request
    /// may select, aliases and fragments counted.
    pub query_max_expensive_fields: usize,
    /// HTTP requests one signed-in person may have running at once; more answer `RATE_LIMITED`
    /// (429).
    pub max_in_flight_per_caller: u32,
    /// The same for requests without a session, per client address (higher: a carrier's NAT
    /// puts many phones behind one address).
    pub max_in_flight_per_address: u32,
    pub redis_url: Option<String>,
    /// Prefix for every Redis key and channel, so several deployments (or tests) can share one.
    pub redis_prefix: String,
    pub jwt_secret: SecretString,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// A refresh token presented again this soon after its use, by the same client, answers the
    /// same new pair (a retry on a flaky network); later, or by another client, it is a reuse
    /// and revokes the session. Zero: every reuse revokes.
    pub refresh_reuse_grace: Duration,
    /// How long a training check-in code (QR) stays valid; the app shows a fresh one.
    pub check_in_token_ttl: Duration,
    /// How long before a training starts its check-in opens (by code or by hand); earlier is
    /// `CONFLICT` `NOT_STARTED_YET`.
    pub check_in_opens_before: Duration,
    /// Failed logins for one phone number from one client address.
    pub login_max_failures_per_phone: u32,
    /// Failed logins for one phone number from all addresses together.
    pub login_max_failures_per_phone_total: u32,
    pub login_max_failures_per_address: u32,
    pub login_failure_window: Duration,
    /// Registrations per client address per hour.
    pub register_max_per_address: u32,
    /// Direct enrolments (`enrolMember`) one officer may make per hour.
    pub enrol_max_per_officer: u32,
    /// Member imports, dry runs included, one officer may run per hour.
    pub import_max_per_officer: u32,
    /// Rows of imported files, dry runs included, one officer may have checked per day.
    pub import_rows_max_per_officer: u32,
    /// Trust `X-Forwarded-For` for the client address (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    /// Origins allowed to call the API from a browser (the officer console), e.g.
    /// `https://console.example.vn`. Empty: same-origin only.
    pub cors_origins: Vec<String>,
    pub graphiql: bool,
    pub introspection: bool,
    /// The bearer token a Prometheus scraper sends to `/metrics` (`APP_METRICS_TOKEN`, at least
    /// 32 characters); without one, `/metrics` does not exist.
    pub metrics_token: Option<SecretString>,
    /// The first-party apps' documents (a manifest from Relay's compiler or GraphQL Codegen's
    /// client preset: `{"<sha256>": "<document>"}`), runnable by hash.
    pub trusted_documents_manifest: Option<PathBuf>,
    /// Only documents of the manifest run (for people and anonymous callers; integration
    /// clients have allowlists of their own).
    pub trusted_documents_only: bool,
    pub max_body_bytes: usize,
    /// Limit of a `multipart/form-data` request (a file upload), operations and map included.
    pub max_upload_bytes: usize,
    pub query_depth_limit: usize,
    /// Query cost: the per-query maximum and the token buckets (see `api::graphql::cost`).
    pub quota: QuotaSettings,
    pub ws_init_timeout: Duration,
    pub shutdown_timeout: Duration,
    /// After SIGTERM, how long the server keeps serving (`/readyz` answering 503) before it
    /// closes the listener.
    pub shutdown_drain: Duration,
    pub seed_demo_data: bool,
    /// With the demo data, also demo content: a member of a branch, campaigns, news, trainings
    /// and targets (the tests leave it out, so their lists start empty).
    pub seed_demo_content: bool,
    /// How often the push worker looks for due pushes.
    pub push_poll_interval: Duration,
    /// Pushes claimed per round of the worker.
    pub push_batch_size: u64,
    /// Delivery attempts before a push is given up (`FAILED`).
    pub push_max_attempts: u32,
    /// Wait before the first retry; it doubles at each failure, up to an hour.
    pub push_backoff_base: Duration,
    /// The push providers (`APP_PUSH_PROVIDERS`); none: the log sender.
    pub push_providers: PushProviders,
    /// Longest wait for a push provider's answer (and for its OAuth token exchange).
    pub push_timeout: Duration,
    /// Photos: where they are stored and what an upload may be.
    pub media: MediaSettings,
    /// How long after writing it a comment's author may still edit it.
    pub comment_edit_window: Duration,
    /// Distinct flags that hide a comment or story pending review, where no unit at or above
    /// its own sets another number.
    pub moderation_flag_threshold: u32,
    /// How often the fan-out worker looks for due jobs (a campaign launch to a subtree).
    pub fanout_poll_interval: Duration,
    /// Members notified per batch (one transaction) of a fan-out job.
    pub fanout_batch_size: u64,
    /// A directory name search over a reach of at most this many members reads the reach's
    /// members and filters them; over a larger reach it walks the name indexes.
    pub directory_small_reach: u64,
    /// Later-word name matches up to this many are collected and sorted; beyond it they are
    /// common enough that walking the name index in order finds a page quickly.
    pub directory_candidate_cap: u64,
    /// The keys sealing what violence reports say (`APP_REPORT_KEYS`, required in production).
    /// Without them (development), a key is generated once into `report_key_file`.
    pub report_keys: Option<Keyring>,
    pub report_key_file: PathBuf,
    /// Report submissions per account, and per client address, per hour (a retry of one
    /// submission counts once).
    pub report_max_per_account: u32,
    pub report_max_per_address: u32,
    /// An unacknowledged report escalates after this long (urgent ones after the first).
    pub report_escalate_urgent_after: Duration,
    pub report_escalate_after: Duration,
    /// How often the escalation worker looks for due reports.
    pub report_escalation_poll_interval: Duration,
    /// Wrong PINs in a row from one client address that lock a reference for that address, and
    /// for how long.
    pub report_pin_max_failures: u32,
    /// Wrong PINs from all addresses together that lock a reference (distributed guessing).
    pub report_pin_max_failures_total: u32,
    pub report_pin_lock: Duration,
    /// PIN attempts per client address within `report_pin_window`, whatever the reference.
    pub report_pin_max_per_address: u32,
    pub report_pin_window: Duration,
    /// The SMS gateway (`APP_SMS_PROVIDER=http`); `None`: the development log sender, which
    /// prints messages and their codes in the server log (refused in production).
    pub sms_gateway: Option<SmsGateway>,
    /// How often the SMS worker looks for due messages (it also wakes when one is queued).
    pub sms_poll_interval: Duration,
    /// Delivery attempts before an SMS is given up.
    pub sms_max_attempts: u32,
    /// Wait before the first retry of an SMS; it doubles at each failure.
    pub sms_backoff_base: Duration,
    /// How long a phone code can be verified.
    pub phone_code_ttl: Duration,
    /// Wrong guesses one phone code takes before it is dead.
    pub phone_code_max_attempts: u32,
    /// The wait before another code to the same number for the same purpose.
    pub phone_code_cooldown: Duration,
    /// Codes sent to one number per day, all purposes together.
    pub phone_code_max_per_phone: u32,
    /// Codes asked from one client address per day.
    pub phone_code_max_per_address: u32,
    /// Code checks from one client address per `login_failure_window` (guessing across numbers).
    pub phone_code_checks_per_address: u32,
    /// How long a verification token (a verified code) stays usable.
    pub phone_verification_ttl: Duration,
    /// Officer roles whose holders must prove a second factor (TOTP) at sign-in: until they
    /// do, their sessions answer `MFA_REQUIRED` to everything but enrolling and proving it.
    pub mfa_required_roles: Vec<entities::officer_role::Role>,
    /// The same for system administrators.
    pub mfa_required_for_system_admins: bool,
    /// Whether the most sensitive actions (a report's access log, assigning or revoking roles)
    /// need a recent step-up (a second factor, or a code to her phone) in the session.
    pub step_up_required: bool,
    /// How long a step-up lasts.
    pub step_up_ttl: Duration,
    /// A MaxMind DB file (GeoLite2-City or -Country, DB-IP Lite) giving a session's coarse place
    /// from its client address; none by default.
    pub geoip_db: Option<PathBuf>,
    /// Exports of her data one person may ask per day.
    pub export_max_per_day: u32,
    /// The version of the privacy notice in force: registering needs it accepted.
    pub privacy_notice_version: String,
    /// Where the app shows it from.
    pub privacy_notice_url: Option<String>,
    /// The version of the text a signed-in reporter consents to (sensitive data with a report).
    pub sensitive_data_notice_version: String,
    /// The smallest count an aggregate shows a reader who must not single out a person (k):
    /// counts from 1 to k−1 are suppressed (see `suppression`).
    pub suppression_min_count: u32,
    /// Partner integrations (`APP_CLIENT_*`).
    pub integrations: IntegrationSettings,
    /// Webhook delivery to integration clients (`APP_WEBHOOK_*`).
    pub webhooks: WebhookSettings,
    pub log_format: LogFormat,
    pub log_filter: String,
    /// OpenTelemetry traces over OTLP (`APP_OTLP_ENDPOINT`); none by default.
    pub otlp: Option<OtlpSettings>,
}

/// The cost every request pays (see `api::graphql::cost`).
#[derive(Clone, Copy, Debug)]
pub struct QuotaSettings {
    /// A query whose requested cost is over this is refused before it runs.
    pub max_query_cost: u32,
    /// Whether callers pay from their buckets (`APP_QUOTA_BUCKETS`; off: every request runs
    /// unmetered, as in a Redis outage, and only the per-query maximum holds).
    pub buckets: bool,
    /// The bucket of an integration client (unless registered with its own).
    pub client: Bucket,
    /// The bucket of a signed-in person (all her sessions together).
    pub person: Bucket,
    /// The bucket of requests without credentials, per client address (a carrier's NAT puts
    /// many phones behind one address).
    pub anonymous: Bucket,
}

/// A token bucket of cost points: how many it holds, and how many come back each second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub capacity: u32,
    pub per_sec: u32,
}

/// Settings of partner integrations (see `integrations`).
#[derive(Clone, Debug)]
pub struct IntegrationSettings {
    /// How long a client access token lasts.
    pub token_ttl: Duration,
    /// Wrong secrets for one client id (from all addresses) within `login_failure_window`
    /// before its token requests are refused for the rest of the window.
    pub max_failures_per_client: u32,
}

/// Settings of webhook delivery (see `integrations::webhooks`).
#[derive(Clone, Copy, Debug)]
pub struct WebhookSettings {
    pub poll_interval: Duration,
    /// Deliveries one round claims.
    pub batch_size: u64,
    /// Deliveries posted at once by one instance.
    pub concurrency: usize,
    /// The bound on one post: connecting, sending and the answer's status.
    pub timeout: Duration,
    /// Attempts of one delivery before it is `FAILED`.
    pub max_attempts: u32,
    /// The wait after the first failed attempt; doubled after each, at most an hour.
    pub backoff_base: Duration,
    /// Failed attempts in a row (over all its deliveries) that disable a subscription.
    pub disable_after_failures: u32,
    /// Targets may be `http://` and private, loopback or link-local addresses (development and
    /// tests; refused in production, where only `https://` to public addresses is allowed).
    pub allow_private_targets: bool,
}

/// Photos (`APP_MEDIA_*`).
#[derive(Clone, Debug)]
pub struct MediaSettings {
    pub store: MediaStoreSettings,
    /// The most bytes an uploaded photo may have.
    pub max_bytes: usize,
    /// The most pixels an uploaded photo may declare.
    pub max_pixels: u64,
    /// The long edge photos are stored at (larger ones are scaled down).
    pub max_edge: u32,
    /// How long a photo URL the API hands out stays valid.
    pub url_ttl: Duration,
    /// The bound on one request to an object store.
    pub timeout: Duration,
    /// How often the media worker looks for thumbnails to make (an upload also wakes it).
    pub poll_interval: Duration,
}

/// Where photos are stored (`APP_MEDIA_STORE`).
#[derive(Clone, Debug)]
pub enum MediaStoreSettings {
    /// Files under a directory (`fs`, the default).
    Filesystem(PathBuf),
    /// An S3-compatible bucket (`s3`).
    S3(crate::media::store::S3Config),
}

/// The push providers `APP_PUSH_PROVIDERS` names (`log`, `fcm`, `apns`, or `fcm,apns`).
#[derive(Clone, Debug, Default)]
pub struct PushProviders {
    pub fcm: Option<FcmConfig>,
    pub apns: Option<ApnsConfig>,
}

/// Firebase Cloud Messaging HTTP v1.
#[derive(Clone, Debug)]
pub struct FcmConfig {
    /// The service-account key file (JSON) the Firebase console gives.
    pub credentials_file: PathBuf,
    /// FCM's base address (`https://fcm.googleapis.com`; a test double's elsewhere).
    pub url: String,
}

/// Apple Push Notification service with token-based authentication.
#[derive(Clone, Debug)]
pub struct ApnsConfig {
    /// The `.p8` signing key from the Apple developer account.
    pub key_file: PathBuf,
    /// The key's id (10 characters).
    pub key_id: String,
    /// The developer team's id (10 characters).
    pub team_id: String,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
    /// `https://api.push.apple.com`, or `https://api.sandbox.push.apple.com` for development
    /// builds of the app.
    pub url: String,
}

/// An HTTP SMS gateway: where to post, how to authenticate, and the JSON body to send.
#[derive(Clone, Debug)]
pub struct SmsGateway {
    pub url: String,
    pub key: Option<SecretString>,
    pub auth: GatewayAuth,
    /// The body, with placeholders in its strings: `{{phone}}` (`+84…`), `{{phone_digits}}`
    /// (`84…`), `{{phone_local}}` (`0…`), `{{text}}`, `{{code}}`, `{{id}}` (the outbox row), and
    /// `{{key}}`.
    pub template: serde_json::Value,
    /// A JSON pointer into the gateway's answer and the value that means "accepted", for
    /// gateways that answer 200 with an error code inside (`/CodeResult=100`, `/error=0`).
    pub success: Option<(String, String)>,
    pub timeout: Duration,
}

/// How the gateway key is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayAuth {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// HTTP Basic with the key as the user name (SpeedSMS).
    Basic,
    /// The key as the value of this header (Zalo's `access_token`).
    Header(String),
    /// Only where the template says `{{key}}` (eSMS).
    InBody,
}

/// Why the settings could not be built; the variable is named, its value never echoed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} must be set when APP_ENV=production")]
    MissingInProduction(&'static str),
    #[error("{name} has an invalid value ({expected})")]
    Invalid { name: &'static str, expected: &'static str },
    #[error(
        "APP_REPORT_KEYS has an invalid value: {0} (expected id:base64, the id a number from 1 to \
         65535 and the key 32 bytes, comma-separated, the current key first)"
    )]
    ReportKeys(String),
}

/// Most members one fan-out batch notifies: a batch is one transaction, which should stay short.
const MAX_FANOUT_BATCH: u64 = 10_000;
const FANOUT_BATCH_EXPECTED: &str = "an integer from 1 to 10000";

/// The development-only signing key. Production refuses to start with it.
const DEV_JWT_SECRET: &str = "development-only-secret-do-not-use-in-production-0123456789";

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Builds settings from a map of variables (the process environment in production).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let environment = match get("APP_ENV").as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(_) => {
                return Err(ConfigError::Invalid { name: "APP_ENV", expected: "development or production" });
            }
        };
        let dev = environment == Environment::Development;
        let jwt_secret = match get("APP_JWT_SECRET") {
            Some(s) if !dev && s == DEV_JWT_SECRET => {
                return Err(ConfigError::Invalid {
                    name: "APP_JWT_SECRET",
                    expected: "a secret of your own, not the development key",
                });
            }
            Some(s) if s.len() >= 32 => s,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "APP_JWT_SECRET",
                    expected: "at least 32 characters",
                });
            }
            None if dev => DEV_JWT_SECRET.to_owned(),
            None => return Err(ConfigError::MissingInProduction("APP_JWT_SECRET")),
        };
        let database_url = match get("DATABASE_URL") {
            Some(url) => url,
            None if dev => "sqlite://./data/phunu.db?mode=rwc".to_owned(),
            None => return Err(ConfigError::MissingInProduction("DATABASE_URL")),
        };
        let redis_url = get("REDIS_URL");
        if let Some(url) = &redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return Err(ConfigError::Invalid { name: "REDIS_URL", expected: "a redis:// URL" });
        }
        let default_workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mfa_roles = mfa_roles(get("APP_MFA_REQUIRED_ROLES"), dev)?;
        Ok(Self {
            environment,
            host: get("APP_HOST").unwrap_or_else(|| "127.0.0.1".to_owned()),
            port: parse(&get, "APP_PORT", 8080, "a port number")?,
            workers: parse(&get, "APP_WORKERS", default_workers, "a positive integer")?.max(1),
            database_max_connections: parse(&get, "APP_DATABASE_MAX_CONNECTIONS", 10, "a positive integer")?,
            database_min_connections: match get("APP_DATABASE_MIN_CONNECTIONS") {
                None => parse(&get, "APP_DATABASE_MAX_CONNECTIONS", 10, "a positive integer")?,
                Some(_) => parse(&get, "APP_DATABASE_MIN_CONNECTIONS", 10, "a number of connections")?,
            },
            database_background_connections: parse(
                &get,
                "APP_DATABASE_BACKGROUND_CONNECTIONS",
                3,
                "a positive integer",
            )?,
            database_acquire_timeout: millis(parse(
                &get,
                "APP_DATABASE_ACQUIRE_TIMEOUT_MS",
                3000,
                "milliseconds",
            )?),
            redis_timeout: millis(parse(&get, "APP_REDIS_TIMEOUT_MS", 500, "milliseconds")?),
            database_statement_timeout: millis(parse(
                &get,
                "APP_DATABASE_STATEMENT_TIMEOUT_MS",
                10_000,
                "milliseconds",
            )?),
            query_max_expensive_fields: positive(&get, "APP_QUERY_MAX_EXPENSIVE_FIELDS", 10)? as usize,
            max_in_flight_per_caller: positive(&get, "APP_MAX_IN_FLIGHT_PER_CALLER", 8)?,
            max_in_flight_per_address: positive(&get, "APP_MAX_IN_FLIGHT_PER_ADDRESS", 64)?,
            database_url,
            redis_url,
            redis_prefix: get("APP_REDIS_PREFIX").unwrap_or_else(|| "phunu:".to_owned()),
            jwt_secret: SecretString::from(jwt_secret),
            jwt_issuer: get("APP_JWT_ISSUER").unwrap_or_else(|| "phunu-thudo".to_owned()),
            jwt_audience: get("APP_JWT_AUDIENCE").unwrap_or_else(|| "phunu-thudo-api".to_owned()),
            access_token_ttl: secs(parse(&get, "APP_ACCESS_TOKEN_TTL_SECS", 900, "seconds")?),
            refresh_token_ttl: secs(parse(&get, "APP_REFRESH_TOKEN_TTL_SECS", 30 * 24 * 3600, "seconds")?),
            refresh_reuse_grace: secs(parse(&get, "APP_REFRESH_REUSE_GRACE_SECS", 10, "seconds")?),
            check_in_token_ttl: secs(u64::from(positive(&get, "APP_CHECK_IN_TOKEN_TTL_SECS", 300)?)),
            check_in_opens_before: secs(
                match parse(&get, "APP_CHECK_IN_OPENS_BEFORE_SECS", 3600, "seconds")? {
                    n if n <= 30 * 24 * 3600 => n,
                    _ => {
                        return Err(ConfigError::Invalid {
                            name: "APP_CHECK_IN_OPENS_BEFORE_SECS",
                            expected: "at most 2592000 seconds (30 days)",
                        });
                    }
                },
            ),
            login_max_failures_per_phone: positive(&get, "APP_LOGIN_MAX_FAILURES_PER_PHONE", 5)?,
            login_max_failures_per_phone_total: positive(&get, "APP_LOGIN_MAX_FAILURES_PER_PHONE_TOTAL", 20)?,
            login_max_failures_per_address: positive(&get, "APP_LOGIN_MAX_FAILURES_PER_ADDRESS", 50)?,
            register_max_per_address: positive(&get, "APP_REGISTER_MAX_PER_ADDRESS", 20)?,
            enrol_max_per_officer: positive(&get, "APP_ENROL_MAX_PER_OFFICER", 200)?,
            import_max_per_officer: positive(&get, "APP_IMPORT_MAX_PER_OFFICER", 20)?,
            import_rows_max_per_officer: positive(&get, "APP_IMPORT_ROWS_MAX_PER_OFFICER", 300_000)?,
            login_failure_window: secs(parse(&get, "APP_LOGIN_FAILURE_WINDOW_SECS", 900, "seconds")?),
            trust_forwarded_for: parse(&get, "APP_TRUST_FORWARDED_FOR", false, "true or false")?,
            cors_origins: get("APP_CORS_ORIGINS")
                .map(|v| v.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect())
                .unwrap_or_default(),
            graphiql: parse(&get, "APP_GRAPHIQL", dev, "true or false")?,
            introspection: parse(&get, "APP_INTROSPECTION", dev, "true or false")?,
            metrics_token: match get("APP_METRICS_TOKEN") {
                Some(token) if token.len() >= 32 => Some(SecretString::from(token)),
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        name: "APP_METRICS_TOKEN",
                        expected: "at least 32 characters",
                    });
                }
                None => None,
            },
            trusted_documents_manifest: get("APP_TRUSTED_DOCUMENTS_MANIFEST").map(PathBuf::from),
            trusted_documents_only: parse(&get, "APP_TRUSTED_DOCUMENTS_ONLY", false, "true or false")?,
            max_body_bytes: parse(&get, "APP_MAX_BODY_BYTES", 256 * 1024, "bytes")?,
            max_upload_bytes: parse(&get, "APP_MAX_UPLOAD_BYTES", 16 * 1024 * 1024, "bytes")?,
            query_depth_limit: positive(&get, "APP_QUERY_DEPTH_LIMIT", 12)? as usize,
            quota: QuotaSettings {
                max_query_cost: positive(&get, "APP_QUERY_MAX_COST", 2000)?,
                buckets: parse(&get, "APP_QUOTA_BUCKETS", true, "true or false")?,
                client: Bucket {
                    capacity: positive(&get, "APP_CLIENT_BUCKET_CAPACITY", 2000)?,
                    per_sec: positive(&get, "APP_CLIENT_BUCKET_RESTORE_PER_SEC", 100)?,
                },
                person: Bucket {
                    capacity: positive(&get, "APP_PERSON_BUCKET_CAPACITY", 10_000)?,
                    per_sec: positive(&get, "APP_PERSON_BUCKET_RESTORE_PER_SEC", 500)?,
                },
                anonymous: Bucket {
                    capacity: positive(&get, "APP_ANONYMOUS_BUCKET_CAPACITY", 10_000)?,
                    per_sec: positive(&get, "APP_ANONYMOUS_BUCKET_RESTORE_PER_SEC", 500)?,
                },
            },
            ws_init_timeout: secs(parse(&get, "APP_WS_INIT_TIMEOUT_SECS", 10, "seconds")?),
            shutdown_timeout: secs(parse(&get, "APP_SHUTDOWN_TIMEOUT_SECS", 30, "seconds")?),
            shutdown_drain: secs(parse(&get, "APP_SHUTDOWN_DRAIN_SECS", 2, "seconds")?),
            seed_demo_data: match parse(&get, "APP_SEED_DEMO_DATA", dev, "true or false")? {
                // The demo accounts' password is published: never in production.
                true if !dev => {
                    return Err(ConfigError::Invalid {
                        name: "APP_SEED_DEMO_DATA",
                        expected: "false in production (the demo password is public)",
                    });
                }
                seed => seed,
            },
            seed_demo_content: parse(&get, "APP_SEED_DEMO_CONTENT", true, "true or false")?,
            push_poll_interval: millis(parse(&get, "APP_PUSH_POLL_INTERVAL_MS", 1000, "milliseconds")?),
            push_batch_size: parse(&get, "APP_PUSH_BATCH_SIZE", 20, "a positive integer")?.max(1),
            push_max_attempts: parse(&get, "APP_PUSH_MAX_ATTEMPTS", 8, "a positive integer")?.max(1),
            push_backoff_base: millis(parse(&get, "APP_PUSH_BACKOFF_BASE_MS", 30_000, "milliseconds")?),
            push_providers: push_providers(&get)?,
            media: media_settings(&get)?,
            comment_edit_window: secs(parse(&get, "APP_COMMENT_EDIT_WINDOW_SECS", 900, "seconds")?),
            moderation_flag_threshold: positive(&get, "APP_MODERATION_FLAG_THRESHOLD", 3)?,
            push_timeout: millis(positive(&get, "APP_PUSH_TIMEOUT_MS", 10_000)?.into()),
            fanout_poll_interval: millis(parse(&get, "APP_FANOUT_POLL_INTERVAL_MS", 1000, "milliseconds")?),
            fanout_batch_size: match parse(&get, "APP_FANOUT_BATCH_SIZE", 500u64, FANOUT_BATCH_EXPECTED)? {
                n @ 1..=MAX_FANOUT_BATCH => n,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "APP_FANOUT_BATCH_SIZE",
                        expected: FANOUT_BATCH_EXPECTED,
                    });
                }
            },
            directory_small_reach: parse(&get, "APP_DIRECTORY_SMALL_REACH", 10_000, "a number of members")?,
            directory_candidate_cap: parse(
                &get,
                "APP_DIRECTORY_CANDIDATE_CAP",
                5_000,
                "a number of members",
            )?,
            report_keys: match get("APP_REPORT_KEYS") {
                // The keyring's own message says what is wrong (a key id that is not a number,
                // a key that is not 32 bytes) without echoing any key.
                Some(spec) => Some(Keyring::parse(&spec).map_err(|e| ConfigError::ReportKeys(e.0))?),
                None if dev => None,
                None => return Err(ConfigError::MissingInProduction("APP_REPORT_KEYS")),
            },
            report_key_file: PathBuf::from(
                get("APP_REPORT_KEY_FILE").unwrap_or_else(|| "./data/report-keys".to_owned()),
            ),
            report_max_per_account: positive(&get, "APP_REPORT_MAX_PER_ACCOUNT", 10)?,
            report_max_per_address: positive(&get, "APP_REPORT_MAX_PER_ADDRESS", 30)?,
            report_escalate_urgent_after: secs(
                60 * u64::from(positive(&get, "APP_REPORT_ESCALATE_URGENT_MINS", 60)?),
            ),
            report_escalate_after: secs(60 * u64::from(positive(&get, "APP_REPORT_ESCALATE_MINS", 24 * 60)?)),
            report_escalation_poll_interval: millis(parse(
                &get,
                "APP_REPORT_ESCALATION_POLL_MS",
                30_000,
                "milliseconds",
            )?),
            report_pin_max_failures: positive(&get, "APP_REPORT_PIN_MAX_FAILURES", 5)?,
            report_pin_max_failures_total: positive(&get, "APP_REPORT_PIN_MAX_FAILURES_TOTAL", 30)?,
            report_pin_lock: secs(60 * u64::from(positive(&get, "APP_REPORT_PIN_LOCK_MINS", 60)?)),
            report_pin_max_per_address: positive(&get, "APP_REPORT_PIN_MAX_PER_ADDRESS", 20)?,
            report_pin_window: secs(u64::from(positive(&get, "APP_REPORT_PIN_WINDOW_SECS", 900)?)),
            sms_gateway: sms_gateway(&get, dev)?,
            sms_poll_interval: millis(parse(&get, "APP_SMS_POLL_INTERVAL_MS", 1000, "milliseconds")?),
            sms_max_attempts: positive(&get, "APP_SMS_MAX_ATTEMPTS", 5)?,
            sms_backoff_base: millis(parse(&get, "APP_SMS_BACKOFF_BASE_MS", 5_000, "milliseconds")?),
            phone_code_ttl: secs(u64::from(positive(&get, "APP_PHONE_CODE_TTL_SECS", 300)?)),
            phone_code_max_attempts: positive(&get, "APP_PHONE_CODE_MAX_ATTEMPTS", 5)?,
            phone_code_cooldown: secs(parse(&get, "APP_PHONE_CODE_COOLDOWN_SECS", 60, "seconds")?),
            phone_code_max_per_phone: positive(&get, "APP_PHONE_CODE_MAX_PER_PHONE", 8)?,
            phone_code_max_per_address: positive(&get, "APP_PHONE_CODE_MAX_PER_ADDRESS", 60)?,
            phone_code_checks_per_address: positive(&get, "APP_PHONE_CODE_CHECKS_PER_ADDRESS", 50)?,
            phone_verification_ttl: secs(u64::from(positive(&get, "APP_PHONE_VERIFICATION_TTL_SECS", 900)?)),
            mfa_required_roles: mfa_roles.0,
            mfa_required_for_system_admins: mfa_roles.1,
            step_up_required: parse(&get, "APP_STEP_UP", !dev, "true or false")?,
            step_up_ttl: secs(u64::from(positive(&get, "APP_STEP_UP_TTL_SECS", 600)?)),
            export_max_per_day: positive(&get, "APP_EXPORT_MAX_PER_DAY", 5)?,
            geoip_db: get("APP_GEOIP_DB").map(PathBuf::from),
            privacy_notice_version: version(&get, "APP_PRIVACY_NOTICE_VERSION")?,
            privacy_notice_url: get("APP_PRIVACY_NOTICE_URL"),
            sensitive_data_notice_version: version(&get, "APP_SENSITIVE_DATA_NOTICE_VERSION")?,
            log_format: match get("APP_LOG_FORMAT").as_deref() {
                None if dev => LogFormat::Pretty,
                None => LogFormat::Json,
                Some("pretty") => LogFormat::Pretty,
                Some("json") => LogFormat::Json,
                Some(_) => {
                    return Err(ConfigError::Invalid { name: "APP_LOG_FORMAT", expected: "pretty or json" });
                }
            },
            log_filter: get("APP_LOG").unwrap_or_else(|| "info".to_owned()),
            otlp: otlp(&get)?,
            suppression_min_count: positive(&get, "APP_SUPPRESSION_MIN_COUNT", 5)?,
            integrations: IntegrationSettings {
                token_ttl: secs(u64::from(positive(&get, "APP_CLIENT_TOKEN_TTL_SECS", 3600)?)),
                max_failures_per_client: positive(&get, "APP_CLIENT_MAX_FAILURES", 10)?,
            },
            webhooks: webhook_settings(&get, dev)?,
        })
    }

    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }
}

/// `APP_WEBHOOK_*` (see [`WebhookSettings`]).
fn webhook_settings(
    get: &impl Fn(&str) -> Option<String>,
    dev: bool,
) -> Result<WebhookSettings, ConfigError> {
    const PRIVATE: &str = "APP_WEBHOOK_ALLOW_PRIVATE_TARGETS";
    let allow_private_targets = parse(get, PRIVATE, dev, "true or false")?;
    if allow_private_targets && !dev {
        return Err(ConfigError::Invalid {
            name: PRIVATE,
            expected: "false in production (webhooks go to https:// targets at public addresses only)",
        });
    }
    Ok(WebhookSettings {
        poll_interval: millis(parse(get, "APP_WEBHOOK_POLL_INTERVAL_MS", 1000, "milliseconds")?),
        batch_size: u64::from(positive(get, "APP_WEBHOOK_BATCH_SIZE", 20)?),
        concurrency: positive(get, "APP_WEBHOOK_CONCURRENCY", 8)? as usize,
        timeout: millis(u64::from(positive(get, "APP_WEBHOOK_TIMEOUT_MS", 10_000)?)),
        max_attempts: positive(get, "APP_WEBHOOK_MAX_ATTEMPTS", 12)?,
        backoff_base: millis(parse(get, "APP_WEBHOOK_BACKOFF_BASE_MS", 60_000, "milliseconds")?),
        disable_after_failures: positive(get, "APP_WEBHOOK_DISABLE_AFTER_FAILURES", 50)?,
        allow_private_targets,
    })
}

/// `APP_OTLP_ENDPOINT`, `APP_OTLP_PROTOCOL` and `APP_OTLP_SAMPLE_RATIO`.
fn otlp(get: &impl Fn(&str) -> Option<String>) -> Result<Option<OtlpSettings>, ConfigError> {
    let Some(endpoint) = get("APP_OTLP_ENDPOINT") else { return Ok(None) };
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(ConfigError::Invalid { name: "APP_OTLP_ENDPOINT", expected: "an http(s):// URL" });
    }
    let protocol = match get("APP_OTLP_PROTOCOL").as_deref() {
        None | Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
        Some("http/json") => OtlpProtocol::HttpJson,
        Some(_) => {
            return Err(ConfigError::Invalid {
                name: "APP_OTLP_PROTOCOL",
                expected: "http/protobuf or http/json",
            });
        }
    };
    let sample_ratio = match get("APP_OTLP_SAMPLE_RATIO") {
        None => 1.0,
        Some(v) => match v.parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => r,
            _ => {
                return Err(ConfigError::Invalid {
                    name: "APP_OTLP_SAMPLE_RATIO",
                    expected: "a number from 0 to 1",
                });
            }
        },
    };
    Ok(Some(OtlpSettings { endpoint, protocol, sample_ratio }))
}

/// `APP_MEDIA_*`: the store and the limits of photos.
fn media_settings(get: &impl Fn(&str) -> Option<String>) -> Result<MediaSettings, ConfigError> {
    let store = match get("APP_MEDIA_STORE").as_deref() {
        None | Some("fs") => MediaStoreSettings::Filesystem(
            get("APP_MEDIA_DIR").map_or_else(|| PathBuf::from("./data/media"), PathBuf::from),
        ),
        Some("s3") => {
            const WITH_S3: &str = "set when APP_MEDIA_STORE=s3";
            let required =
                |name: &'static str| get(name).ok_or(ConfigError::Invalid { name, expected: WITH_S3 });
            let endpoint = required("APP_MEDIA_S3_ENDPOINT")?;
            if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
                return Err(ConfigError::Invalid {
                    name: "APP_MEDIA_S3_ENDPOINT",
                    expected: "an http(s) URL",
                });
            }
            MediaStoreSettings::S3(crate::media::store::S3Config {
                endpoint,
                bucket: required("APP_MEDIA_S3_BUCKET")?,
                region: get("APP_MEDIA_S3_REGION").unwrap_or_else(|| "us-east-1".to_owned()),
                access_key_id: required("APP_MEDIA_S3_ACCESS_KEY_ID")?,
                secret_access_key: SecretString::from(required("APP_MEDIA_S3_SECRET_ACCESS_KEY")?),
                path_style: parse(get, "APP_MEDIA_S3_PATH_STYLE", true, "true or false")?,
            })
        }
        Some(_) => return Err(ConfigError::Invalid { name: "APP_MEDIA_STORE", expected: "fs or s3" }),
    };
    Ok(MediaSettings {
        store,
        max_bytes: positive(get, "APP_MEDIA_MAX_BYTES", 15 * 1024 * 1024)? as usize,
        max_pixels: u64::from(positive(get, "APP_MEDIA_MAX_PIXELS", 50_000_000)?),
        max_edge: positive(get, "APP_MEDIA_MAX_EDGE", 2048)?.max(64),
        url_ttl: secs(u64::from(positive(get, "APP_MEDIA_URL_TTL_SECS", 600)?)),
        timeout: millis(u64::from(positive(get, "APP_MEDIA_TIMEOUT_MS", 10_000)?)),
        poll_interval: millis(parse(get, "APP_MEDIA_POLL_INTERVAL_MS", 1000, "milliseconds")?),
    })
}

/// `APP_PUSH_PROVIDERS` and each provider's settings (see [`PushProviders`]). The key files are
/// read when the server starts (`service::push::sender_from_settings`).
fn push_providers(get: &impl Fn(&str) -> Option<String>) -> Result<PushProviders, ConfigError> {
    const PROVIDERS: &str = "APP_PUSH_PROVIDERS";
    const EXPECTED: &str = "log, fcm, apns or fcm,apns";
    let mut providers = PushProviders::default();
    let value = get(PROVIDERS).unwrap_or_else(|| "log".to_owned());
    let names: Vec<&str> = value.split(',').map(str::trim).collect();
    if names == ["log"] {
        return Ok(providers);
    }
    let mut distinct = names.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != names.len() || !names.iter().all(|n| matches!(*n, "fcm" | "apns")) {
        return Err(ConfigError::Invalid { name: PROVIDERS, expected: EXPECTED });
    }
    let required =
        |name: &'static str, expected: &'static str| get(name).ok_or(ConfigError::Invalid { name, expected });
    let url = |name: &'static str, default: &str| match get(name) {
        None => Ok(default.to_owned()),
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => Ok(u),
        Some(_) => Err(ConfigError::Invalid { name, expected: "an http(s) URL" }),
    };
    for name in names {
        match name {
            "fcm" => {
                providers.fcm = Some(FcmConfig {
                    credentials_file: required(
                        "APP_PUSH_FCM_CREDENTIALS_FILE",
                        "the service-account key file (APP_PUSH_PROVIDERS has fcm)",
                    )?
                    .into(),
                    url: url("APP_PUSH_FCM_URL", "https://fcm.googleapis.com")?,
                });
            }
            "apns" => {
                const WITH_APNS: &str = "set when APP_PUSH_PROVIDERS has apns";
                providers.apns = Some(ApnsConfig {
                    key_file: required("APP_PUSH_APNS_KEY_FILE", WITH_APNS)?.into(),
                    key_id: required("APP_PUSH_APNS_KEY_ID", WITH_APNS)?,
                    team_id: required("APP_PUSH_APNS_TEAM_ID", WITH_APNS)?,
                    topic: required("APP_PUSH_APNS_TOPIC", WITH_APNS)?,
                    url: url("APP_PUSH_APNS_URL", "https://api.push.apple.com")?,
                });
            }
            _ => return Err(ConfigError::Invalid { name: PROVIDERS, expected: EXPECTED }),
        }
    }
    Ok(providers)
}

/// `APP_SMS_PROVIDER` and the gateway's settings (see [`SmsGateway`]).
fn sms_gateway(get: &impl Fn(&str) -> Option<String>, dev: bool) -> Result<Option<SmsGateway>, ConfigError> {
    const PROVIDER: &str = "APP_SMS_PROVIDER";
    match get(PROVIDER).as_deref() {
        None | Some("log") if dev => return Ok(None),
        None => return Err(ConfigError::MissingInProduction(PROVIDER)),
        Some("log") => {
            return Err(ConfigError::Invalid {
                name: PROVIDER,
                expected: "http in production (the log sender prints one-time codes in the log)",
            });
        }
        Some("http") => {}
        Some(_) => return Err(ConfigError::Invalid { name: PROVIDER, expected: "log or http" }),
    }
    let url = match get("APP_SMS_GATEWAY_URL") {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => u,
        Some(_) => {
            return Err(ConfigError::Invalid { name: "APP_SMS_GATEWAY_URL", expected: "an http(s) URL" });
        }
        None => {
            return Err(ConfigError::Invalid {
                name: "APP_SMS_GATEWAY_URL",
                expected: "the gateway URL (APP_SMS_PROVIDER=http)",
            });
        }
    };
    let auth = match get("APP_SMS_GATEWAY_AUTH").as_deref() {
        None | Some("bearer") => GatewayAuth::Bearer,
        Some("basic") => GatewayAuth::Basic,
        Some("body") => GatewayAuth::InBody,
        Some(h) if h.starts_with("header:") && h.len() > 7 => GatewayAuth::Header(h[7..].to_owned()),
        Some(_) => {
            return Err(ConfigError::Invalid {
                name: "APP_SMS_GATEWAY_AUTH",
                expected: "bearer, basic, body or header:<name>",
            });
        }
    };
    let template = match get("APP_SMS_GATEWAY_TEMPLATE") {
        None => serde_json::json!({ "to": "{{phone}}", "text": "{{text}}" }),
        Some(t) => match serde_json::from_str::<serde_json::Value>(&t) {
            Ok(v) if v.is_object() => v,
            _ => {
                return Err(ConfigError::Invalid {
                    name: "APP_SMS_GATEWAY_TEMPLATE",
                    expected: "a JSON object with {{placeholders}} in its strings",
                });
            }
        },
    };
    let success = match get("APP_SMS_GATEWAY_SUCCESS") {
        None => None,
        Some(s) => match s.split_once('=') {
            Some((pointer, value)) if pointer.starts_with('/') => {
                Some((pointer.to_owned(), value.to_owned()))
            }
            _ => {
                return Err(ConfigError::Invalid {
                    name: "APP_SMS_GATEWAY_SUCCESS",
                    expected: "a JSON pointer and a value, e.g. /CodeResult=100",
                });
            }
        },
    };
    Ok(Some(SmsGateway {
        url,
        key: get("APP_SMS_GATEWAY_KEY").map(SecretString::from),
        auth,
        template,
        success,
        timeout: millis(parse(get, "APP_SMS_GATEWAY_TIMEOUT_MS", 5_000, "milliseconds")?),
    }))
}

/// `APP_MFA_REQUIRED_ROLES`: role names and `SYSTEM_ADMIN`, comma-separated, or `none`. By
/// default the roles that see the most sensitive data in production, none in development (the
/// demo accounts sign in with a password; a developer turns it on to try it).
fn mfa_roles(
    value: Option<String>,
    dev: bool,
) -> Result<(Vec<entities::officer_role::Role>, bool), ConfigError> {
    let value = value
        .unwrap_or_else(|| if dev { "none".into() } else { "CASE_OFFICER,UNIT_ADMIN,SYSTEM_ADMIN".into() });
    let mut roles = Vec::new();
    let mut system_admins = false;
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty() && *n != "none") {
        match (name, entities::officer_role::Role::parse(name)) {
            ("SYSTEM_ADMIN", _) => system_admins = true,
            (_, Some(role)) => roles.push(role),
            (_, None) => {
                return Err(ConfigError::Invalid {
                    name: "APP_MFA_REQUIRED_ROLES",
                    expected: "role names (CASE_OFFICER, UNIT_ADMIN, UNIT_OFFICER, BRANCH_LEADER, SYSTEM_ADMIN) or none",
                });
            }
        }
    }
    Ok((roles, system_admins))
}

/// The version of a notice: a short label such as `2026-12` (the first published version).
fn version(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<String, ConfigError> {
    match get(name) {
        None => Ok(FIRST_NOTICE_VERSION.to_owned()),
        Some(v) if v.len() <= 32 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)) => {
            Ok(v)
        }
        Some(_) => Err(ConfigError::Invalid {
            name,
            expected: "a version label of at most 32 letters, digits, - . _",
        }),
    }
}

/// The version of the privacy and sensitive-data notices first published.
pub const FIRST_NOTICE_VERSION: &str = "2026-12";

/// A limit that must be at least 1 (0 would lock everyone out).
fn positive(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u32,
) -> Result<u32, ConfigError> {
    match parse(get, name, default, "a positive integer")? {
        0 => Err(ConfigError::Invalid { name, expected: "a positive integer" }),
        n => Ok(n),
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// At least one millisecond: a zero period would make a timer spin (or panic).
fn millis(n: u64) -> Duration {
    Duration::from_millis(n.max(1))
}

fn parse<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    expected: &'static str,
) -> Result<T, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| ConfigError::Invalid { name, expected }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_check_in_window_is_at_most_thirty_days() {
        let ok = Settings::from_vars(&vars(&[("APP_CHECK_IN_OPENS_BEFORE_SECS", "86400")])).unwrap();
        assert_eq!(ok.check_in_opens_before, Duration::from_secs(86400));
        let err = Settings::from_vars(&vars(&[("APP_CHECK_IN_OPENS_BEFORE_SECS", "99999999999")])).err();
        assert!(matches!(err, Some(ConfigError::Invalid { name: "APP_CHECK_IN_OPENS_BEFORE_SECS", .. })));
    }

    #[test]
    fn development_defaults_need_nothing() {
        let s = Settings::from_vars(&vars(&[])).unwrap();
        assert_eq!(s.port, 8080);
        assert_eq!(s.host, "127.0.0.1");
        assert!(s.graphiql && s.introspection && s.seed_demo_data);
        assert!(s.database_url.starts_with("sqlite://./data/"));
        assert!(s.redis_url.is_none());
        assert_eq!(s.push_poll_interval, Duration::from_secs(1));
        assert_eq!(s.push_backoff_base, Duration::from_secs(30));
        assert!(s.push_batch_size >= 1 && s.push_max_attempts >= 1);
        assert_eq!(s.fanout_poll_interval, Duration::from_secs(1));
        assert_eq!(s.fanout_batch_size, 500);
    }

    #[test]
    fn fanout_batches_are_bounded() {
        let s = Settings::from_vars(&vars(&[
            ("APP_FANOUT_BATCH_SIZE", "2"),
            ("APP_FANOUT_POLL_INTERVAL_MS", "0"),
        ]))
        .unwrap();
        assert_eq!(s.fanout_batch_size, 2);
        assert_eq!(s.fanout_poll_interval, Duration::from_millis(1));
        for bad in ["0", "10001", "-1", "many"] {
            assert!(Settings::from_vars(&vars(&[("APP_FANOUT_BATCH_SIZE", bad)])).is_err(), "{bad}");
        }
        assert!(Settings::from_vars(&vars(&[("APP_FANOUT_POLL_INTERVAL_MS", "soon")])).is_err());
    }

    #[test]
    fn production_refuses_to_start_without_a_jwt_secret() {
        let err = Settings::from_vars(&vars(&[("APP_ENV", "production"), ("DATABASE_URL", "postgres://x")]));
        assert!(matches!(err, Err(ConfigError::MissingInProduction("APP_JWT_SECRET"))));
    }

    #[test]
    fn production_turns_graphiql_and_introspection_off_unless_asked() {
        let base = [
            ("APP_ENV", "production"),
            ("DATABASE_URL", "postgres://x"),
            ("APP_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("APP_REPORT_KEYS", REPORT_KEYS),
            ("APP_SMS_PROVIDER", "http"),
            ("APP_SMS_GATEWAY_URL", "https://sms.example.vn/send"),
        ];
        let s = Settings::from_vars(&vars(&base)).unwrap();
        assert!(!s.graphiql && !s.introspection && !s.seed_demo_data);
        let mut on = base.to_vec();
        on.push(("APP_INTROSPECTION", "true"));
        on.push(("APP_GRAPHIQL", "true"));
        let s = Settings::from_vars(&vars(&on)).unwrap();
        assert!(s.graphiql && s.introspection);
    }

    #[test]
    fn production_refuses_the_development_key_and_demo_data() {
        let base = [("APP_ENV", "production"), ("DATABASE_URL", "postgres://x")];
        let mut dev_key = base.to_vec();
        dev_key.push(("APP_JWT_SECRET", DEV_JWT_SECRET));
        assert!(Settings::from_vars(&vars(&dev_key)).is_err());
        let mut demo = base.to_vec();
        demo.push(("APP_JWT_SECRET", "0123456789abcdef0123456789abcdef"));
        demo.push(("APP_SEED_DEMO_DATA", "true"));
        assert!(Settings::from_vars(&vars(&demo)).is_err());
    }

    const REPORT_KEYS: &str = "1:dGVzdC1yZXBvcnQta2V5LTAxMjM0NTY3ODlhYmNkZWY=";

    #[test]
    fn production_needs_report_keys_and_refuses_bad_ones() {
        let base = [
            ("APP_ENV", "production"),
            ("DATABASE_URL", "postgres://x"),
            ("APP_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ];
        let err = Settings::from_vars(&vars(&base));
        assert!(matches!(err, Err(ConfigError::MissingInProduction("APP_REPORT_KEYS"))));
        let mut bad = base.to_vec();
        bad.push(("APP_REPORT_KEYS", "1:c2hvcnQ="));
        let err = Settings::from_vars(&vars(&bad)).unwrap_err();
        assert!(matches!(err, ConfigError::ReportKeys(_)));
        let mut named = vars(&[]);
        named.insert("APP_REPORT_KEYS".into(), "k1:dGVzdC1yZXBvcnQta2V5LTAxMjM0NTY3ODlhYmNkZWY=".into());
        let err = Settings::from_vars(&named).unwrap_err().to_string();
        assert!(err.contains("key id must be a number"), "{err}");
        assert!(!err.contains("dGVzdC1yZXBvcnQ"), "the key is never echoed: {err}");
        assert!(!err.to_string().contains("c2hvcnQ="), "the value is never echoed");
        let mut good = base.to_vec();
        good.push(("APP_REPORT_KEYS", REPORT_KEYS));
        good.push(("APP_SMS_PROVIDER", "http"));
        good.push(("APP_SMS_GATEWAY_URL", "https://sms.example.vn/send"));
        let s = Settings::from_vars(&vars(&good)).unwrap();
        assert_eq!(s.report_keys.map(|k| k.current_key_id()), Some(1));
        // Development generates one instead (see `report_key_file`).
        assert!(Settings::from_vars(&vars(&[])).unwrap().report_keys.is_none());
    }

    #[test]
    fn production_refuses_the_log_sms_sender_and_needs_a_gateway() {
        let base = [
            ("APP_ENV", "production"),
            ("DATABASE_URL", "postgres://x"),
            ("APP_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("APP_REPORT_KEYS", REPORT_KEYS),
        ];
        let err = Settings::from_vars(&vars(&base)).unwrap_err();
        assert!(matches!(err, ConfigError::MissingInProduction("APP_SMS_PROVIDER")), "{err}");
        let mut log = base.to_vec();
        log.push(("APP_SMS_PROVIDER", "log"));
        assert!(matches!(
            Settings::from_vars(&vars(&log)),
            Err(ConfigError::Invalid { name: "APP_SMS_PROVIDER", .. })
        ));
        let mut http = base.to_vec();
        http.push(("APP_SMS_PROVIDER", "http"));
        assert!(matches!(
            Settings::from_vars(&vars(&http)),
            Err(ConfigError::Invalid { name: "APP_SMS_GATEWAY_URL", .. })
        ));
        http.extend([
            ("APP_SMS_GATEWAY_URL", "https://sms.example.vn/send"),
            ("APP_SMS_GATEWAY_AUTH", "header:access_token"),
            ("APP_SMS_GATEWAY_KEY", "gateway-key"),
            ("APP_SMS_GATEWAY_SUCCESS", "/error=0"),
            (
                "APP_SMS_GATEWAY_TEMPLATE",
                r#"{"phone":"{{phone_digits}}","template_data":{"otp":"{{code}}"}}"#,
            ),
        ]);
        let gateway = Settings::from_vars(&vars(&http)).unwrap().sms_gateway.unwrap();
        assert_eq!(gateway.auth, GatewayAuth::Header("access_token".into()));
        assert_eq!(gateway.success, Some(("/error".into(), "0".into())));
        assert_eq!(gateway.template["template_data"]["otp"], "{{code}}");
        let debug = format!("{gateway:?}");
        assert!(!debug.contains("gateway-key"), "the key never reaches a Debug output: {debug}");
        for (name, bad) in [
            ("APP_SMS_GATEWAY_TEMPLATE", "not json"),
            ("APP_SMS_GATEWAY_AUTH", "digest"),
            ("APP_SMS_GATEWAY_SUCCESS", "error"),
        ] {
            let mut v = vars(&http);
            v.insert(name.into(), bad.into());
            assert!(
                matches!(Settings::from_vars(&v), Err(ConfigError::Invalid { name: n, .. }) if n == name),
                "{name}"
            );
        }
        // Development prints codes in the log unless a gateway is configured.
        assert!(Settings::from_vars(&vars(&[])).unwrap().sms_gateway.is_none());
    }

    #[test]
    fn limits_of_zero_are_refused() {
        assert!(Settings::from_vars(&vars(&[("APP_LOGIN_MAX_FAILURES_PER_PHONE", "0")])).is_err());
        assert!(Settings::from_vars(&vars(&[("APP_QUERY_DEPTH_LIMIT", "0")])).is_err());
    }

    #[test]
    fn short_secret_and_bad_numbers_are_refused() {
        assert!(Settings::from_vars(&vars(&[("APP_JWT_SECRET", "short")])).is_err());
        assert!(Settings::from_vars(&vars(&[("APP_PORT", "eighty")])).is_err());
    }

    #[test]
    fn push_providers_are_named_and_each_needs_its_settings() {
        let none = Settings::from_vars(&vars(&[])).unwrap();
        assert!(none.push_providers.fcm.is_none() && none.push_providers.apns.is_none());
        assert_eq!(none.push_timeout, Duration::from_secs(10));
        let invalid = |pairs: &[(&str, &str)]| match Settings::from_vars(&vars(pairs)) {
            Err(ConfigError::Invalid { name, .. }) => name,
            other => panic!("{:?}", other.map(|_| ())),
        };
        assert_eq!(invalid(&[("APP_PUSH_PROVIDERS", "fcm,pigeon")]), "APP_PUSH_PROVIDERS");
        assert_eq!(invalid(&[("APP_PUSH_PROVIDERS", "fcm")]), "APP_PUSH_FCM_CREDENTIALS_FILE");
        let fcm = [("APP_PUSH_PROVIDERS", "fcm"), ("APP_PUSH_FCM_CREDENTIALS_FILE", "/run/secrets/fcm.json")];
        let with = |extra: &[(&'static str, &'static str)]| [&fcm[..], extra].concat();
        assert_eq!(invalid(&with(&[("APP_PUSH_FCM_URL", "fcm.googleapis.com")])), "APP_PUSH_FCM_URL");
        let s = Settings::from_vars(&vars(&fcm)).unwrap();
        let c = s.push_providers.fcm.unwrap();
        assert_eq!(
            (c.credentials_file.to_str(), c.url.as_str()),
            (Some("/run/secrets/fcm.json"), "https://fcm.googleapis.com")
        );
        assert!(s.push_providers.apns.is_none());

        let apns = [
            ("APP_PUSH_PROVIDERS", "fcm, apns"),
            ("APP_PUSH_FCM_CREDENTIALS_FILE", "/run/secrets/fcm.json"),
            ("APP_PUSH_APNS_KEY_FILE", "/run/secrets/AuthKey.p8"),
            ("APP_PUSH_APNS_KEY_ID", "ABC123DEFG"),
            ("APP_PUSH_APNS_TEAM_ID", "DEF123GHIJ"),
            ("APP_PUSH_APNS_TOPIC", "vn.phunuthudo.app"),
            ("APP_PUSH_TIMEOUT_MS", "3000"),
        ];
        let s = Settings::from_vars(&vars(&apns)).unwrap();
        let a = s.push_providers.apns.unwrap();
        assert_eq!((a.key_id.as_str(), a.team_id.as_str()), ("ABC123DEFG", "DEF123GHIJ"));
        assert_eq!((a.topic.as_str(), a.url.as_str()), ("vn.phunuthudo.app", "https://api.push.apple.com"));
        assert!(s.push_providers.fcm.is_some());
        assert_eq!(s.push_timeout, Duration::from_secs(3));
        for missing in
            ["APP_PUSH_APNS_KEY_FILE", "APP_PUSH_APNS_KEY_ID", "APP_PUSH_APNS_TEAM_ID", "APP_PUSH_APNS_TOPIC"]
        {
            let partial: Vec<_> = apns.iter().copied().filter(|(k, _)| *k != missing).collect();
            assert_eq!(invalid(&partial), missing);
        }
        assert_eq!(invalid(&[&apns[..], &[("APP_PUSH_TIMEOUT_MS", "0")]].concat()), "APP_PUSH_TIMEOUT_MS");
    }
}
