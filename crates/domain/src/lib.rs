//! Rapport's domain: the value types that can only hold valid values, the entities' rules
//! (lifecycle transitions, lead follow-up, ownership) and the role → scope policy.
//!
//! Plain Rust with no I/O: no web framework, no database, no clock of its own (callers pass
//! the time in), so every rule is a unit test away.

pub mod access;
pub mod activity;
pub mod address;
pub mod article;
pub mod assignment;
pub mod audit;
pub mod audit_chain;
pub mod auth;
pub mod automation;
pub mod birthday;
pub mod campaign;
pub mod campaign_email;
pub mod clock;
pub mod contact;
pub mod country;
pub mod currency;
pub mod customer;
pub mod dedupe;
pub mod digest;
pub mod email;
pub mod enums;
pub mod grading;
pub mod identity;
pub mod import;
pub mod job;
pub mod lifecycle;
pub mod loyalty;
pub mod markdown;
pub mod masking;
pub mod money;
pub mod name;
pub mod notification;
pub mod opportunity;
pub mod password;
pub mod phone;
pub mod pipeline;
pub mod pricing;
pub mod product;
pub mod quote;
pub mod registration_number;
pub mod report;
pub mod search;
mod serde_str;
pub mod sla;
pub mod survey;
pub mod tag;
pub mod ticket;
pub mod validation;
pub mod web_url;
pub mod webhook;

pub use validation::{FieldError, Invalid, ValidationErrors};

/// For the exported macros (`string_enum!`), so that their users need no serde of their own.
#[doc(hidden)]
pub use serde as __serde;
