//! Authentication (who is calling: tokens, passwords, secrets) and authorization (what it may
//! do: scopes, checked by one extractor so a handler cannot forget).

pub mod caller;
pub mod jwt;
pub mod password;
pub mod rate_limit;
pub mod scopes;
pub mod secret;
pub mod token_checks;

pub use caller::{Authorized, Caller, Principal, Staff};
