//! Automation rules: when something happens (a record event) or is due (a time trigger), if
//! the rule's conditions hold for the record, its actions run, each audited with the rule as
//! its actor. The API checks and runs the actions; this module holds what they are.

pub mod action;
pub mod condition;
pub mod rule;
pub mod run;
pub mod schedule;
pub mod template;
pub mod trigger;
