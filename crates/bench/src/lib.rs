//! The code of `rapport-bench` (timings of the store and of the release server under `wrk`)
//! and of `rapport-soak` (a mixed load for a bounded time, with gates on errors, latency and
//! memory growth), shared by both binaries: fresh databases, the seeded data, and the server
//! started as a child process.

pub mod data;
pub mod db;
pub mod history;
pub mod http;
pub mod measure;
pub mod report;
pub mod seed;
pub mod soak;
mod vocab;
