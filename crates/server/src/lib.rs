//! The `rapport` server: configuration, startup, background jobs and subcommands. The binary
//! (`main.rs`) only parses the command line; tests start [`startup::Application`] directly.

pub mod backup;
pub mod bootstrap;
pub mod config;
pub mod database;
pub mod import_client;
pub mod jobs;
pub mod private_files;
pub mod reindex;
pub mod startup;
pub mod telemetry;
pub mod tls;
