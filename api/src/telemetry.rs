//! Structured logging with `tracing`. Pretty lines in development, JSON in production; the
//! filter comes from `APP_LOG`. Nothing logs passwords, tokens, GraphQL variables or query
//! strings: secrets are `SecretString`s and sensitive GraphQL arguments are marked `secret`.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use service::config::{LogFormat, Settings};

/// Installs the global subscriber (a second call, as in tests, is a no-op).
pub fn init(settings: &Settings) {
    let filter = EnvFilter::try_new(&settings.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match settings.log_format {
        LogFormat::Json => registry.with(fmt::layer().json().with_current_span(true)).try_init(),
        LogFormat::Pretty => registry.with(fmt::layer().compact()).try_init(),
    };
}
