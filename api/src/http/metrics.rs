//! `GET /metrics`: the process's metrics in the Prometheus text format (see `service::metrics`
//! and `docs/operations.md`), for a scraper that sends `Authorization: Bearer
//! <APP_METRICS_TOKEN>`. Without a token configured the endpoint does not exist (404); a wrong
//! or missing one answers 401. Not public: operation names, error rates and backlogs tell an
//! outsider more than they should.
//!
//! Besides the counters kept as things happen, each scrape reads what is a state rather than an
//! event: the database pools' connections (idle, in use, the most they open: the shared pool and
//! each HTTP worker's together) and how long taking one takes now; the backlogs of the push, SMS and webhook outboxes and of notification
//! fan-outs, with the age of the oldest item waiting; and the violence reports nobody has
//! acknowledged, those past their escalation deadline (the escalation worker should have moved
//! them: alert when it stays above 0) and how far past it the oldest is. These reads take at
//! most two seconds; when the database does not answer, `phunu_metrics_database_up` is 0 and the
//! counters are still served.

use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect, sea_query::Expr,
};
use service::{
    metrics::{Sampled, collect},
    state::AppState,
};

/// How long the scrape's database reads may take in all.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(expected) = state.settings.metrics_token.as_ref().map(secrecy::ExposeSecret::expose_secret)
    else {
        return HttpResponse::NotFound().finish();
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .unwrap_or("");
    if !service::crypto::constant_time_eq(given.trim().as_bytes(), expected.as_bytes()) {
        return HttpResponse::Unauthorized().insert_header((header::WWW_AUTHENTICATE, "Bearer")).finish();
    }
    let sampled = sample(&state).await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(collect(&sampled))
}

fn gauge(name: &'static str, help: &'static str, value: f64) -> Sampled {
    Sampled { name, help, label: None, values: vec![(String::new(), value)] }
}

/// The states read at each scrape (see the module docs).
async fn sample(state: &AppState) -> Vec<Sampled> {
    let mut out = pool(state).await;
    let now = Utc::now();
    match tokio::time::timeout(READ_TIMEOUT, backlogs(&state.db, now)).await {
        Ok(Ok(mut read)) => {
            out.append(&mut read);
            out.push(gauge("phunu_metrics_database_up", "Whether this scrape could read the database.", 1.0));
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: the backlogs could not be read");
            out.push(gauge("phunu_metrics_database_up", "Whether this scrape could read the database.", 0.0));
        }
        Err(_) => {
            out.push(gauge("phunu_metrics_database_up", "Whether this scrape could read the database.", 0.0))
        }
    }
    out
}

/// A pool's open and idle connections and its maximum.
fn pool_size(db: &DatabaseConnection) -> (u32, usize, u32) {
    fn of<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> (u32, usize, u32) {
        (pool.size(), pool.num_idle(), pool.options().get_max_connections())
    }
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => of(db.get_postgres_connection_pool()),
        _ => of(db.get_sqlite_connection_pool()),
    }
}

/// How long taking a connection from `db` took (`None` past a second).
async fn acquire_time(db: &DatabaseConnection) -> Option<Duration> {
    async fn of<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> Option<Duration> {
        let started = Instant::now();
        let taken = tokio::time::timeout(Duration::from_secs(1), pool.acquire()).await;
        matches!(taken, Ok(Ok(_))).then(|| started.elapsed())
    }
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => of(db.get_postgres_connection_pool()).await,
        _ => of(db.get_sqlite_connection_pool()).await,
    }
}

/// The connections of every pool of the instance (the shared one and each HTTP worker's), and
/// how long taking one from the scraping worker's pool takes now (at most a second).
async fn pool(state: &AppState) -> Vec<Sampled> {
    let pools = state.pools.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let (size, idle, max) =
        pools.iter().map(pool_size).fold((0, 0, 0), |(s, i, m), (ps, pi, pm)| (s + ps, i + pi, m + pm));
    let acquire = acquire_time(&state.db).await;
    vec![
        Sampled {
            name: "phunu_db_pool_connections",
            help: "Database connections open, by state (idle or in_use).",
            label: Some("state"),
            values: vec![("idle".into(), idle as f64), ("in_use".into(), f64::from(size) - idle as f64)],
        },
        gauge(
            "phunu_db_pool_max_connections",
            "The most database connections the pool opens.",
            f64::from(max),
        ),
        gauge(
            "phunu_db_pool_acquire_seconds",
            "How long taking a connection from the pool took at this scrape (1 when it timed out after a second).",
            acquire.map_or(1.0, |d| d.as_secs_f64()),
        ),
    ]
}

/// How many items wait and since when.
type Waiting = (i64, Option<DateTime<Utc>>);

/// How many rows of `E` match `filter`, and the least `since` among them.
async fn waiting<E: EntityTrait>(
    db: &DatabaseConnection,
    since: E::Column,
    filter: sea_orm::Condition,
) -> Result<Waiting, DbErr> {
    let found = E::find()
        .select_only()
        .expr(Expr::cust("COUNT(*)"))
        .expr(sea_orm::sea_query::Func::min(Expr::col(since)))
        .filter(filter)
        .into_tuple::<Waiting>()
        .one(db)
        .await?;
    Ok(found.unwrap_or((0, None)))
}

async fn backlogs(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<Vec<Sampled>, DbErr> {
    use entities::{fanout_job, push_outbox, sms_outbox, violence_report as report, webhook_delivery};
    use sea_orm::Condition;
    let submitted = report::Column::Status.eq(report::ReportStatus::Submitted.as_str());
    let (push, sms, webhooks, fanout, unacknowledged, overdue) = tokio::try_join!(
        waiting::<push_outbox::Entity>(
            db,
            push_outbox::Column::CreatedAt,
            Condition::all().add(push_outbox::Column::Status.eq("PENDING")),
        ),
        waiting::<sms_outbox::Entity>(
            db,
            sms_outbox::Column::CreatedAt,
            Condition::all().add(sms_outbox::Column::Status.eq(sms_outbox::SmsStatus::Pending)),
        ),
        waiting::<webhook_delivery::Entity>(
            db,
            webhook_delivery::Column::CreatedAt,
            Condition::all()
                .add(webhook_delivery::Column::Status.eq(webhook_delivery::DeliveryStatus::Pending)),
        ),
        waiting::<fanout_job::Entity>(
            db,
            fanout_job::Column::CreatedAt,
            Condition::all().add(fanout_job::Column::Status.eq("PENDING")),
        ),
        waiting::<report::Entity>(db, report::Column::SubmittedAt, Condition::all().add(submitted.clone())),
        waiting::<report::Entity>(
            db,
            report::Column::EscalateAt,
            Condition::all().add(submitted).add(report::Column::EscalateAt.lte(now)),
        ),
    )?;
    let age = |since: Option<DateTime<Utc>>| {
        since.map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
    };
    let queues = [("push", push), ("sms", sms), ("webhook", webhooks), ("fanout", fanout)];
    Ok(vec![
        Sampled {
            name: "phunu_queue_backlog",
            help: "Items waiting in each background queue (push, sms, webhook outboxes; fanout jobs).",
            label: Some("queue"),
            values: queues.iter().map(|(q, (n, _))| ((*q).to_owned(), *n as f64)).collect(),
        },
        Sampled {
            name: "phunu_queue_oldest_age_seconds",
            help: "How long the oldest item waiting in each background queue has waited (0 when none).",
            label: Some("queue"),
            values: queues.iter().map(|(q, (_, since))| ((*q).to_owned(), age(*since))).collect(),
        },
        gauge(
            "phunu_violence_reports_unacknowledged",
            "Violence reports submitted and not yet acknowledged by a case officer.",
            unacknowledged.0 as f64,
        ),
        gauge(
            "phunu_violence_reports_unacknowledged_oldest_age_seconds",
            "How long the oldest unacknowledged violence report has waited.",
            age(unacknowledged.1),
        ),
        gauge(
            "phunu_violence_reports_overdue",
            "Unacknowledged violence reports past their escalation deadline: the escalation worker should have moved them (alert when above 0 for minutes).",
            overdue.0 as f64,
        ),
        gauge(
            "phunu_violence_escalation_lag_seconds",
            "How far past its escalation deadline the most overdue report is (0 when none).",
            age(overdue.1),
        ),
    ])
}
