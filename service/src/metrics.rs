//! The process's metrics, in the Prometheus text format (served at `/metrics`, see
//! `docs/operations.md`). Counters and histograms are fed as things happen: GraphQL operations
//! by name, type and outcome, errors by code, HTTP answers by route and status, SQL statements,
//! Redis failures, WebSocket connections and operations, background worker rounds. What is a
//! state of the database rather than an event (pool use, the outboxes' backlogs, overdue
//! reports) is read when scraped (see [`collect`]).
//!
//! One registry per process: every label set is bounded (an operation name the process has not
//! seen before takes one of [`MAX_OPERATION_NAMES`] places, then counts as `other`).

use std::{
    collections::HashSet,
    sync::{LazyLock, Mutex},
    time::Duration,
};

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// How many distinct operation names get series of their own.
pub const MAX_OPERATION_NAMES: usize = 200;

/// Latency buckets, in seconds: 1 ms to 10 s.
const SECONDS: [f64; 14] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0];

pub struct Metrics {
    registry: Registry,
    /// `phunu_graphql_operations_total{operation, type, outcome}`.
    pub operations: IntCounterVec,
    /// `phunu_graphql_operation_duration_seconds{operation, type}`.
    pub operation_seconds: HistogramVec,
    /// `phunu_graphql_errors_total{code}`: every error of every answer.
    pub errors: IntCounterVec,
    /// `phunu_http_responses_total{route, status}`.
    pub http_responses: IntCounterVec,
    /// `phunu_db_statements_total` and `phunu_db_statement_duration_seconds` (execution, the
    /// wait for a connection aside).
    pub statements: IntCounter,
    pub statement_seconds: Histogram,
    /// `phunu_db_statement_errors_total`.
    pub statement_errors: IntCounter,
    /// `phunu_redis_errors_total{kind}`: `error` or `timeout`.
    pub redis_errors: IntCounterVec,
    /// `phunu_ws_connections`: open GraphQL WebSocket connections.
    pub ws_connections: IntGauge,
    /// `phunu_ws_operations`: operations running over them (subscriptions, mostly).
    pub ws_operations: IntGauge,
    /// `phunu_worker_rounds_total{worker, outcome}`: `ok` or `error`.
    pub worker_rounds: IntCounterVec,
    /// `phunu_worker_last_round_timestamp_seconds{worker}`: when a worker last finished a round
    /// without error (a stuck worker stops moving it).
    pub worker_last_round: prometheus::GaugeVec,
    operation_names: Mutex<HashSet<String>>,
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels).unwrap_or_else(|e| panic!("{name}: {e}"));
    registry.register(Box::new(metric.clone())).unwrap_or_else(|e| panic!("{name}: {e}"));
    metric
}

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        let histogram_vec = |name: &str, help: &str, labels: &[&str]| {
            let opts = HistogramOpts::new(name, help).buckets(SECONDS.to_vec());
            let metric = HistogramVec::new(opts, labels).unwrap_or_else(|e| panic!("{name}: {e}"));
            registry.register(Box::new(metric.clone())).unwrap_or_else(|e| panic!("{name}: {e}"));
            metric
        };
        let int_gauge = |name: &str, help: &str| {
            let metric = IntGauge::new(name, help).unwrap_or_else(|e| panic!("{name}: {e}"));
            registry.register(Box::new(metric.clone())).unwrap_or_else(|e| panic!("{name}: {e}"));
            metric
        };
        let statements = IntCounter::new("phunu_db_statements_total", "SQL statements executed.")
            .unwrap_or_else(|e| panic!("{e}"));
        registry.register(Box::new(statements.clone())).unwrap_or_else(|e| panic!("{e}"));
        let statement_errors =
            IntCounter::new("phunu_db_statement_errors_total", "SQL statements that failed.")
                .unwrap_or_else(|e| panic!("{e}"));
        registry.register(Box::new(statement_errors.clone())).unwrap_or_else(|e| panic!("{e}"));
        let statement_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "phunu_db_statement_duration_seconds",
                "Time SQL statements took to execute (not counting the wait for a connection).",
            )
            .buckets(SECONDS.to_vec()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        registry.register(Box::new(statement_seconds.clone())).unwrap_or_else(|e| panic!("{e}"));
        let worker_last_round = prometheus::GaugeVec::new(
            Opts::new(
                "phunu_worker_last_round_timestamp_seconds",
                "When each background worker last finished a round without error (Unix time).",
            ),
            &["worker"],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        registry.register(Box::new(worker_last_round.clone())).unwrap_or_else(|e| panic!("{e}"));
        Self {
            operations: counter_vec(
                &registry,
                "phunu_graphql_operations_total",
                "GraphQL operations over HTTP, by operation name, type and outcome (OK or the first error's code).",
                &["operation", "type", "outcome"],
            ),
            operation_seconds: histogram_vec(
                "phunu_graphql_operation_duration_seconds",
                "Time GraphQL operations over HTTP took, from parsing to the answer.",
                &["operation", "type"],
            ),
            errors: counter_vec(
                &registry,
                "phunu_graphql_errors_total",
                "Errors in GraphQL answers, by code.",
                &["code"],
            ),
            http_responses: counter_vec(
                &registry,
                "phunu_http_responses_total",
                "HTTP answers, by route and status.",
                &["route", "status"],
            ),
            statements,
            statement_seconds,
            statement_errors,
            redis_errors: counter_vec(
                &registry,
                "phunu_redis_errors_total",
                "Redis calls that failed (error) or did not answer in time (timeout).",
                &["kind"],
            ),
            ws_connections: int_gauge("phunu_ws_connections", "Open GraphQL WebSocket connections."),
            ws_operations: int_gauge(
                "phunu_ws_operations",
                "Operations (subscriptions) running over WebSockets.",
            ),
            worker_rounds: counter_vec(
                &registry,
                "phunu_worker_rounds_total",
                "Background worker rounds, by worker and outcome (ok or error).",
                &["worker", "outcome"],
            ),
            worker_last_round,
            operation_names: Mutex::new(HashSet::new()),
            registry,
        }
    }

    /// The label for an operation name: itself (letters, digits and `_`, at most 64 of them)
    /// while fewer than [`MAX_OPERATION_NAMES`] are known, `anonymous` without one, `other`
    /// past the limit.
    pub fn operation_label(&self, name: Option<&str>) -> String {
        let Some(name) = name.filter(|n| !n.is_empty()) else { return "anonymous".to_owned() };
        let clean: String =
            name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
        let mut known = self.operation_names.lock().unwrap_or_else(|p| p.into_inner());
        if known.contains(&clean) {
            return clean;
        }
        if known.len() < MAX_OPERATION_NAMES && !clean.is_empty() {
            known.insert(clean.clone());
            return clean;
        }
        "other".to_owned()
    }

    /// Records one GraphQL operation over HTTP.
    pub fn record_operation(&self, name: Option<&str>, kind: &str, outcome: &str, took: Duration) {
        let operation = self.operation_label(name);
        self.operations.with_label_values(&[operation.as_str(), kind, outcome]).inc();
        self.operation_seconds.with_label_values(&[operation.as_str(), kind]).observe(took.as_secs_f64());
    }

    /// Records a worker's round.
    pub fn record_round(&self, worker: &str, ok: bool) {
        self.worker_rounds.with_label_values(&[worker, if ok { "ok" } else { "error" }]).inc();
        if ok {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            self.worker_last_round.with_label_values(&[worker]).set(now.as_secs_f64());
        }
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// A gauge read when scraped: its name, help, and its values by label set.
pub struct Sampled {
    pub name: &'static str,
    pub help: &'static str,
    pub label: Option<&'static str>,
    pub values: Vec<(String, f64)>,
}

/// The text exposition of every metric, with the `sampled` gauges after them.
pub fn collect(sampled: &[Sampled]) -> String {
    let mut families = metrics().registry.gather();
    for gauge in sampled {
        let vec = prometheus::GaugeVec::new(Opts::new(gauge.name, gauge.help), gauge.label.as_slice());
        let Ok(vec) = vec else { continue };
        for (label, value) in &gauge.values {
            let labels: Vec<&str> = gauge.label.map(|_| label.as_str()).into_iter().collect();
            vec.with_label_values(&labels).set(*value);
        }
        families.extend(prometheus::core::Collector::collect(&vec));
    }
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
        tracing::error!(error = %e, "metrics could not be encoded");
    }
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_cleaned_and_bounded() {
        let m = Metrics::new();
        assert_eq!(m.operation_label(None), "anonymous");
        assert_eq!(m.operation_label(Some("Home")), "Home");
        assert_eq!(m.operation_label(Some("Bad\"}\nname")), "Badname");
        for i in 0..MAX_OPERATION_NAMES {
            m.operation_label(Some(&format!("Op{i}")));
        }
        assert_eq!(m.operation_label(Some("Home")), "Home", "a known name keeps its place");
        assert_eq!(m.operation_label(Some("Newcomer")), "other");
    }

    #[test]
    fn sampled_gauges_follow_the_registry() {
        let text = collect(&[Sampled {
            name: "phunu_test_backlog",
            help: "A backlog.",
            label: Some("queue"),
            values: vec![("push".into(), 3.0), ("sms".into(), 0.0)],
        }]);
        assert!(text.contains("phunu_test_backlog{queue=\"push\"} 3"), "{text}");
        assert!(text.contains("# TYPE phunu_ws_connections gauge"), "{text}");
    }
}
