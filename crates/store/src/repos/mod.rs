//! Repositories: one module per aggregate, functions that take a connection and speak domain
//! types.

pub mod audit;
pub mod clients;
pub mod refresh_tokens;
pub mod teams;
pub mod users;
