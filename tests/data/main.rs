//! Black-box tests of data hygiene and privacy: duplicates and merges, idempotent writes,
//! personal data export and erasure. Each test runs on SQLite and PostgreSQL.

// The test bodies are plain async fns the generated `#[test]`s call: clippy does not see them
// as tests.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod duplicates;
mod idempotency;
mod merge;
mod privacy;
