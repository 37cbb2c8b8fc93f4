//! sea-orm entities: one per table, private to the store. Repositories map them to domain
//! types, so nothing outside this crate sees a `Model`.

pub mod audit_event;
pub mod client;
pub mod refresh_token;
pub mod team;
pub mod user;
