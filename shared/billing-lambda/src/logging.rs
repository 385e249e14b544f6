//! Structured JSON logs for CloudWatch. Fields such as request id, tenant,
//! provider and event id are attached as span or event fields by handlers;
//! payloads, secrets and tokens are never logged.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber once per process; later calls are no-ops.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        // Lambda adds its own timestamp to every line.
        .without_time()
        .with_target(false)
        .try_init();
}
