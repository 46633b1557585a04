//! Structured logging with `tracing`, and OpenTelemetry traces when configured.
//!
//! **Logs.** Pretty lines in development, JSON in production; the filter comes from `APP_LOG`.
//! Nothing logs passwords, tokens, GraphQL variables or query strings: secrets are
//! `SecretString`s and sensitive GraphQL arguments are marked `secret`.
//!
//! **Traces** (`APP_OTLP_ENDPOINT`; off by default). Spans go to an OpenTelemetry collector over
//! OTLP/HTTP (protobuf, or JSON with `APP_OTLP_PROTOCOL=http/json`), batched on a thread of
//! their own: a slow or absent collector costs dropped spans, never a request's time. Each
//! request is a trace: the request's span (`request_id`, method, path, status), the GraphQL
//! operation's (its name and type), one per root field (the service call it makes), and one per
//! SQL statement (its kind and table, from the statement text with its placeholders). No span
//! holds an argument's value, a variable or a statement's parameters: what a violence report
//! says is sealed even from the traces. `APP_OTLP_SAMPLE_RATIO` keeps a share of the traces.

use std::time::{Duration, SystemTime};

use opentelemetry::{
    KeyValue,
    trace::{Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _},
};
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, filter::filter_fn, fmt, prelude::*};

use service::config::{LogFormat, OtlpProtocol, Settings};

/// The service's name in traces.
const SERVICE_NAME: &str = "phunu-api";

/// What [`init`] started: the trace pipeline, flushed and stopped by [`Telemetry::shutdown`].
#[derive(Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether traces are exported.
    pub fn tracing(&self) -> bool {
        self.provider.is_some()
    }

    /// Sends the spans still batched (at most a few seconds).
    pub fn flush(&self) {
        if let Some(provider) = &self.provider
            && let Err(e) = provider.force_flush()
        {
            tracing::warn!(error = %e, "traces could not be flushed");
        }
    }

    /// Flushes and stops the trace pipeline.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            tracing::warn!(error = %e, "the trace exporter did not stop cleanly");
        }
    }
}

/// Installs the global subscriber (a second call, as in tests, is a no-op) and, with
/// `APP_OTLP_ENDPOINT`, the trace exporter.
pub fn init(settings: &Settings) -> Telemetry {
    let filter = EnvFilter::try_new(&settings.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = match settings.log_format {
        LogFormat::Json => fmt::layer().json().with_current_span(true).with_filter(filter).boxed(),
        LogFormat::Pretty => fmt::layer().compact().with_filter(filter).boxed(),
    };
    // An `https://` collector is reached over rustls, like every other client here.
    service::sms::install_tls_provider();
    let provider = settings.otlp.as_ref().and_then(|otlp| match exporter(otlp) {
        Ok(provider) => Some(provider),
        Err(e) => {
            eprintln!("traces are off: the OTLP exporter could not be built: {e}");
            None
        }
    });
    let traces = provider.as_ref().map(|provider| {
        // The service's own spans, and no log event: a log line inside a traced request would
        // become a span event, and some carry what a trace must not (a slow statement's text).
        // The libraries' spans (actix, sqlx, h2) would only add noise.
        let ours = |target: &str| target.starts_with("api") || target.starts_with("service");
        let spans = filter_fn(move |meta| {
            meta.is_span() && ours(meta.target()) && *meta.level() <= tracing::Level::INFO
        });
        tracing_opentelemetry::layer().with_tracer(provider.tracer(SERVICE_NAME)).with_filter(spans)
    });
    let installed = tracing_subscriber::registry().with(logs).with(traces).try_init().is_ok();
    match provider {
        Some(provider) if installed => {
            opentelemetry::global::set_tracer_provider(provider.clone());
            Telemetry { provider: Some(provider) }
        }
        _ => Telemetry::default(),
    }
}

fn exporter(
    otlp: &service::config::OtlpSettings,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let protocol = match otlp.protocol {
        OtlpProtocol::HttpProtobuf => Protocol::HttpBinary,
        OtlpProtocol::HttpJson => Protocol::HttpJson,
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .with_endpoint(otlp.endpoint.clone())
        .with_timeout(Duration::from_secs(5))
        .build()?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(SERVICE_NAME)
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(otlp.sample_ratio))))
        .with_resource(resource)
        .build())
}

/// A span for an SQL statement that just ran, under the span current in the task that ran it
/// (see `service::state::DbStats::watch`). Named by the statement's kind and table: the text is
/// not kept, so nothing a statement carries can reach the traces.
pub fn statement_span(sql: &str, elapsed: Duration, failed: bool, system: &'static str) {
    let parent = tracing::Span::current().context();
    if !parent.span().span_context().is_valid() {
        // Not part of a traced request (a worker's polling).
        return;
    }
    let end = SystemTime::now();
    let (operation, table) = summary(sql);
    let name = match table {
        Some(table) => format!("{operation} {table}"),
        None => operation.to_owned(),
    };
    let mut attributes =
        vec![KeyValue::new("db.system.name", system), KeyValue::new("db.operation.name", operation)];
    if let Some(table) = table {
        attributes.push(KeyValue::new("db.collection.name", table.to_owned()));
    }
    let tracer = opentelemetry::global::tracer(SERVICE_NAME);
    let mut span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Client)
        .with_start_time(end.checked_sub(elapsed).unwrap_or(end))
        .with_attributes(attributes)
        .start_with_context(&tracer, &parent);
    if failed {
        span.set_status(Status::error("statement failed"));
    }
    span.end_with_timestamp(end);
}

/// The kind of a statement (`SELECT`, `INSERT`…) and the first table it names.
fn summary(sql: &str) -> (&'static str, Option<&str>) {
    const KINDS: [&str; 9] =
        ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT"];
    let mut words = sql.split_whitespace();
    let first = words.next().unwrap_or("").to_ascii_uppercase();
    let kind = KINDS.iter().find(|k| **k == first).copied().unwrap_or("SQL");
    let mut words = sql.split_whitespace().peekable();
    let mut table = None;
    while let Some(word) = words.next() {
        if ["FROM", "INTO", "UPDATE", "JOIN"].iter().any(|k| word.eq_ignore_ascii_case(k))
            && let Some(next) = words.peek()
        {
            let name = next.trim_matches(|c: char| c == '"' || c == '(' || c == ')' || c == ',');
            if !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '"')
            {
                table = Some(name.trim_matches('"'));
                break;
            }
        }
    }
    (kind, table)
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn statements_are_summarised_by_kind_and_table_only() {
        assert_eq!(
            summary(r#"SELECT "org_unit"."id" FROM "org_unit" WHERE "code" = $1"#),
            ("SELECT", Some("org_unit"))
        );
        assert_eq!(
            summary(r#"INSERT INTO "violence_report" ("id") VALUES ($1)"#),
            ("INSERT", Some("violence_report"))
        );
        assert_eq!(
            summary("UPDATE training SET confirmed_count = confirmed_count + 1"),
            ("UPDATE", Some("training"))
        );
        assert_eq!(summary("BEGIN"), ("BEGIN", None));
        assert_eq!(summary("VACUUM"), ("SQL", None));
    }
}
