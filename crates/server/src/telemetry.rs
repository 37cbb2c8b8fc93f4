//! Logging setup: `tracing` to stderr, as text or JSON lines. Each line written while serving
//! a request carries the request's span (`rapport_api::middleware::span`): in text as
//! `request{request_id=… method=… route=… user_id=… role=…}:`, in JSON as its `span` object.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Safe to call twice (the second call does nothing), which
/// tests that start several servers rely on.
pub fn init(filter: &str, json: bool) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        // The innermost span is the request's (its fields are all we need); the list of
        // every enclosing span would repeat it on each line.
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        // Colours only for a person at a terminal: a file or a log collector gets plain text.
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
}
