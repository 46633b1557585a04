//! Builds the application: connects and migrates the database, loads demo data when asked,
//! connects the cache, starts the workers (push, SMS, fan-out, media, escalation, webhooks, revocation guard),
//! binds the listener. `Application::build` is what `main` and the tests both call (tests with
//! port 0; `build_with` injects the push and SMS senders).

use std::{
    net::TcpListener,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use actix_web::{App, HttpServer, dev::Server, middleware::from_fn, web};
use tokio::sync::mpsc;

use crate::{
    graphql::build_engine,
    graphql::documents::Persisted,
    http::{self, request_id},
};
use service::{
    auth::TokenKeys,
    cache::Cache,
    config::Settings,
    db,
    events::EventBus,
    fanout::{self, FanoutConfig},
    identity,
    integrations::webhooks::delivery as webhooks,
    push::{self, PushConfig, PushSender},
    seed,
    sms::{self, SmsConfig, SmsSender},
    state::{AppState, DbStats},
    worker::PollingWorker,
};

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    #[error("start-up task failed")]
    Task,
    #[error("APP_GEOIP_DB cannot be read as a MaxMind DB: {0}")]
    GeoIp(String),
    #[error("APP_TRUSTED_DOCUMENTS_MANIFEST: {0}")]
    Documents(String),
    #[error("webhook HTTP client could not be built")]
    Webhooks,
    #[error("SMS gateway: {0}")]
    Sms(#[from] service::sms::SmsError),
    #[error("{0}")]
    Media(service::media::store::StoreError),
    #[error("push provider: {0}")]
    Push(#[from] service::push::PushSetupError),
    #[error(
        "this database holds demo accounts that sign in with the public demo password ({0}); \
         remove them with `api remove-demo-accounts` (same DATABASE_URL and APP_ENV) before \
         starting in production"
    )]
    DemoAccounts(String),
    #[error("report keys: {0}")]
    Keys(#[from] service::crypto::KeyringError),
    #[error(
        "the database does not take writes ({0}); check that the data directory and its files \
         are writable and the disk has room"
    )]
    NotWritable(sea_orm::DbErr),
}

/// A built, not yet running, server.
pub struct Application {
    port: u16,
    server: Server,
    draining: Draining,
    state: AppState,
    seeded: bool,
    push_worker: PollingWorker,
    sms_worker: PollingWorker,
    fanout_worker: PollingWorker,
    media_worker: PollingWorker,
    escalation_worker: PollingWorker,
    webhook_worker: PollingWorker,
    idempotency_sweeper: PollingWorker,
    revocation_guard: Option<PollingWorker>,
    /// Pays back the cost points requests did not use (see `graphql::quota`).
    refunds: PollingWorker,
}

/// Connects to the database (migrating it) and to Redis when configured: the shared state,
/// without a server (used by `Application::build` and by `api bootstrap`).
pub async fn connect(settings: Settings) -> Result<AppState, StartupError> {
    let settings = Arc::new(settings);
    let stats = Arc::new(DbStats::default());
    db::migrate(&settings).await?;
    let db = db::connect(&settings, stats.clone()).await?;
    // A read-only data directory (or a full disk) would otherwise start fine and fail every
    // write with `INTERNAL`.
    db::check_writable(&db).await.map_err(StartupError::NotWritable)?;
    let (cache, events) = match &settings.redis_url {
        Some(url) => {
            let client = redis::Client::open(url.as_str())?;
            let conn = redis_connection(&client, &settings).await?;
            let events = EventBus::with_redis(client, conn.clone(), &settings.redis_prefix).await?;
            (Cache::redis(conn, &settings.redis_prefix, settings.redis_timeout), events)
        }
        None => (Cache::memory(), EventBus::in_process()),
    };
    let report_keys = match &settings.report_keys {
        Some(keys) => keys.clone(),
        None => service::crypto::Keyring::load_or_create(&settings.report_key_file)?,
    };
    let missing = service::violence::missing_report_keys(&db, &report_keys).await?;
    if !missing.is_empty() {
        let ids: Vec<String> = missing.iter().map(u16::to_string).collect();
        return Err(StartupError::Keys(service::crypto::KeyringError(format!(
            "reports in this database were sealed with key id(s) {} that this instance does not have; \
             every instance must share the same APP_REPORT_KEYS",
            ids.join(", ")
        ))));
    }
    let geoip = match &settings.geoip_db {
        Some(path) => Some(Arc::new(
            maxminddb::Reader::open_readfile(path).map_err(|e| StartupError::GeoIp(e.to_string()))?,
        )),
        None => None,
    };
    let media = service::media::Media::from_settings(&settings.media).map_err(StartupError::Media)?;
    Ok(AppState {
        media: Arc::new(media),
        pools: Arc::new(std::sync::Mutex::new(vec![db.clone()])),
        db,
        cache,
        events,
        tokens: Arc::new(TokenKeys::new(&settings)),
        settings,
        stats,
        report_keys: Arc::new(report_keys),
        in_flight: Arc::default(),
        sms_queued: Arc::default(),
        webhooks_queued: Arc::default(),
        clock: Arc::default(),
        geoip,
        public_statistics: Arc::default(),
    })
}

/// An auto-reconnecting Redis connection whose calls are bounded, so an outage fails them fast
/// instead of queueing them for seconds.
async fn redis_connection(
    client: &redis::Client,
    settings: &Settings,
) -> Result<redis::aio::ConnectionManager, redis::RedisError> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(settings.redis_timeout))
        .set_response_timeout(Some(settings.redis_timeout))
        .set_number_of_retries(1)
        .set_max_delay(std::time::Duration::from_secs(1));
    client.get_connection_manager_with_config(config).await
}

/// The state one HTTP worker serves its requests with: `shared`, with a database pool
/// (PostgreSQL) and a Redis connection of its own, opened on the worker's runtime. A socket is
/// read by the runtime it was opened on: through the shared ones every reply would wake the
/// main thread, which would then wake the worker's. What cannot be opened now (Redis away at
/// start-up) is shared instead, with a warning.
async fn worker_state(shared: AppState) -> AppState {
    let mut state = shared;
    let settings = state.settings.clone();
    if db::worker_pools(&settings) {
        match db::connect_worker(&settings, state.stats.clone()).await {
            Ok(pool) => {
                let mut pools = state.pools.lock().unwrap_or_else(|p| p.into_inner());
                // A worker that died and was restarted replaces its pool (the shared one stays
                // first).
                if pools.len() > settings.workers {
                    pools.remove(1);
                }
                pools.push(pool.clone());
                drop(pools);
                state.db = pool;
            }
            Err(e) => tracing::warn!(error = %e, "an HTTP worker uses the shared database pool"),
        }
    }
    if let Some(url) = &settings.redis_url {
        let conn = match redis::Client::open(url.as_str()) {
            Ok(client) => redis_connection(&client, &settings).await,
            Err(e) => Err(e),
        };
        match conn {
            Ok(conn) => state.cache = state.cache.on_connection(conn),
            Err(e) => tracing::warn!(error = ?e.kind(), "an HTTP worker uses the shared Redis connection"),
        }
    }
    state
}

/// Who delivers what the workers send.
#[derive(Default)]
pub struct Senders {
    /// `None`: the providers `APP_PUSH_PROVIDERS` names.
    pub push: Option<Arc<dyn PushSender>>,
    /// `None`: the sender `APP_SMS_PROVIDER` names.
    pub sms: Option<Arc<dyn SmsSender>>,
}

impl Application {
    /// Builds the server with the shipped senders (see [`Senders::default`]).
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with(settings, Senders::default()).await
    }

    /// Builds the server with the given senders (real providers, or test doubles).
    pub async fn build_with(settings: Settings, senders: Senders) -> Result<Self, StartupError> {
        sms::install_tls_provider();
        let sms_sender = match senders.sms {
            Some(sender) => sender,
            None => sms::sender_from_settings(&settings)?,
        };
        let push_sender = match senders.push {
            Some(sender) => sender,
            None => push::sender_from_settings(&settings)?,
        };
        match (&settings.push_providers.fcm, &settings.push_providers.apns) {
            (None, None) if settings.is_production() => {
                tracing::warn!(
                    "APP_PUSH_PROVIDERS=log: notifications reach the inbox, but no phone is pushed"
                );
            }
            (None, Some(_)) => {
                tracing::warn!(
                    "APP_PUSH_PROVIDERS=apns: pushes to Android and web devices fail (FAILED in the outbox)"
                );
            }
            _ => {}
        }
        let poster = webhooks::Poster::new(&settings.webhooks).map_err(|_| StartupError::Webhooks)?;
        let state = connect(settings).await?;
        let settings = state.settings.clone();
        if !settings.quota.buckets {
            tracing::warn!("APP_QUOTA_BUCKETS=false: no caller pays from a bucket of cost points");
        }
        // Anyone who read the README could sign in to them.
        if settings.is_production() {
            let present = seed::demo_accounts_present(&state).await.map_err(|_| StartupError::Task)?;
            if !present.is_empty() {
                return Err(StartupError::DemoAccounts(present.join(", ")));
            }
        }
        let seeded = if settings.seed_demo_data {
            let seeded = seed::load_demo_data(&state).await.map_err(|_| StartupError::Task)?;
            if settings.seed_demo_content {
                seed::load_demo_content(&state).await.map_err(|_| StartupError::Task)?;
            }
            seeded
        } else {
            false
        };
        identity::restore_revocations(&state).await.map_err(|_| StartupError::Task)?;

        let listener = TcpListener::bind((settings.host.as_str(), settings.port))?;
        // Started last, so a failed start-up leaves no worker behind (dropping them stops them).
        let push_worker =
            push::spawn_worker(state.db.clone(), PushConfig::from_settings(&settings), push_sender);
        let sms_worker = sms::spawn_worker(state.clone(), SmsConfig::from_settings(&settings), sms_sender);
        let fanout_worker = fanout::spawn_worker(state.clone(), FanoutConfig::from_settings(&settings));
        let media_worker = service::media::spawn_worker(state.clone(), settings.media.poll_interval);
        let escalation_worker = service::violence::escalation::spawn_worker(state.clone());
        let webhook_worker = webhooks::spawn_worker(state.clone(), Arc::new(poster));
        let idempotency_sweeper = service::idempotency::spawn_sweeper(state.clone());
        let revocation_guard = identity::spawn_revocation_guard(state.clone());
        let cache = state.cache.clone();
        let refunds = PollingWorker::spawn("refunds", std::time::Duration::from_secs(1), move || {
            let cache = cache.clone();
            async move { cache.settle_owed().await.map(|_| false) }
        });
        let port = listener.local_addr()?.port();
        // Traces: a span per SQL statement of a traced request (see `telemetry`).
        if settings.otlp.is_some() {
            let system = match state.db.get_database_backend() {
                sea_orm::DbBackend::Postgres => "postgresql",
                _ => "sqlite",
            };
            state.stats.watch(Box::new(move |sql, elapsed, failed| {
                crate::telemetry::statement_span(sql, elapsed, failed, system)
            }));
        }
        // The schema and its checks, with the parsed documents, shared by every worker thread.
        let engine = web::Data::new(build_engine(state.clone(), &settings));
        let app_state = state.clone();
        // The apps' trusted documents, and those persisted automatically.
        let persisted = web::Data::new(
            Persisted::load(settings.trusted_documents_manifest.as_deref(), settings.trusted_documents_only)
                .map_err(StartupError::Documents)?,
        );
        let body_limit = settings.max_body_bytes;
        let cors_origins = settings.cors_origins.clone();
        let draining = Draining::default();
        let probe = web::Data::new(draining.clone());
        let server = HttpServer::new(move || {
            let shared = app_state.clone();
            App::new()
                .wrap(http::cors(&cors_origins))
                .wrap(from_fn(request_id::middleware))
                .app_data(engine.clone())
                // Built on the worker's own runtime (see `worker_state`).
                .data_factory(move || {
                    let shared = shared.clone();
                    async move { Ok::<_, std::convert::Infallible>(worker_state(shared).await) }
                })
                .app_data(persisted.clone())
                .app_data(probe.clone())
                .app_data(web::PayloadConfig::new(body_limit))
                .configure(http::routes)
        })
        .workers(settings.workers)
        // Signals are ours (`run_until_stopped`): actix would close the listener at once and
        // drop the connections still queued, which a drain avoids.
        .disable_signals()
        .shutdown_timeout(settings.shutdown_timeout.as_secs())
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            draining,
            state,
            seeded,
            push_worker,
            sms_worker,
            fanout_worker,
            media_worker,
            escalation_worker,
            webhook_worker,
            idempotency_sweeper,
            revocation_guard,
            refunds,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests read the statement counter and the database through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Whether this start loaded the demo data.
    pub fn seeded_demo_data(&self) -> bool {
        self.seeded
    }

    /// Runs until SIGTERM or SIGINT, then stops as [`run_until`](Self::run_until) says; a second
    /// signal cuts the drain short, a third stops without waiting for in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (tx, rx) = mpsc::unbounded_channel();
        let signals = tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) =
                (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
            else {
                tracing::error!("cannot listen for SIGTERM/SIGINT");
                return;
            };
            loop {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                if tx.send(()).is_err() {
                    return;
                }
            }
        });
        let result = self.run_until(rx).await;
        signals.abort();
        result
    }

    /// Serves until the first stop request, then drains and stops:
    ///
    /// 1. `/readyz` answers 503 `draining` while every request, new ones included, is still
    ///    served, for `APP_SHUTDOWN_DRAIN_SECS` (a load balancer stops sending traffic; a
    ///    second request ends the drain early);
    /// 2. the listener closes and in-flight requests get up to `APP_SHUTDOWN_TIMEOUT_SECS` to
    ///    finish (a third request stops at once);
    /// 3. the push, SMS, fan-out, escalation and webhook workers finish their rounds and stop.
    ///
    /// Closing the listener at once would reset the connections the kernel had accepted but
    /// the server had not yet read: requests a client sent before the signal.
    pub async fn run_until(self, mut stop: mpsc::UnboundedReceiver<()>) -> std::io::Result<()> {
        let handle = self.server.handle();
        let draining = self.draining.clone();
        let drain = self.state.settings.shutdown_drain;
        let stopper = tokio::spawn(async move {
            if stop.recv().await.is_none() {
                return;
            }
            draining.start();
            tracing::info!(drain_secs = drain.as_secs(), "stop requested: draining");
            tokio::select! {
                () = tokio::time::sleep(drain) => {}
                _ = stop.recv() => tracing::info!("second stop request: drain cut short"),
            }
            tracing::info!("closing the listener; in-flight requests finish");
            tokio::select! {
                () = handle.stop(true) => {}
                Some(()) = stop.recv() => {
                    tracing::warn!("third stop request: stopping without waiting");
                    handle.stop(false).await;
                }
            }
        });
        let result = self.server.await;
        stopper.abort();
        let grace = self.state.settings.shutdown_timeout;
        tokio::join!(
            self.push_worker.stop(grace),
            self.sms_worker.stop(grace),
            self.fanout_worker.stop(grace),
            self.media_worker.stop(grace),
            self.escalation_worker.stop(grace),
            self.webhook_worker.stop(grace),
            self.idempotency_sweeper.stop(grace),
            async {
                // What the last requests did not use goes back before the process ends.
                self.refunds.stop(grace).await;
                if let Err(e) = self.state.cache.settle_owed().await {
                    tracing::warn!(error = %e, "unused cost points could not be given back");
                }
            },
            async {
                if let Some(guard) = self.revocation_guard {
                    guard.stop(grace).await;
                }
            }
        );
        result
    }
}

/// Whether the server is draining before a stop (`/readyz` then answers 503).
#[derive(Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    fn start(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
