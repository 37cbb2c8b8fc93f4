//! Rapport's HTTP API: actix-web handlers, request and response types with their OpenAPI
//! schemas, authentication and scopes, and problem+json errors.

pub mod allowed_methods;
pub mod app;
pub mod audit;
pub mod auth;
pub mod automation;
pub mod batch;
pub mod buckets;
pub mod client_ip;
pub mod csv_file;
pub mod error;
pub mod extract;
pub mod feed;
pub mod i18n;
pub mod invitations;
pub mod middleware;
pub mod money;
pub mod openapi;
pub mod outbound;
pub mod pagination;
pub mod patch;
pub mod recent_writers;
pub mod references;
pub mod respond;
pub mod routes;
pub mod schemas;
pub mod state;
pub mod table;

pub use error::ApiError;
pub use state::{ApiSettings, AppState};
