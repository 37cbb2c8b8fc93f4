//! Black-box API tests. Each test runs twice: `<name>::sqlite` and `<name>::postgres`.

// The test bodies are plain async fns the generated `#[test]`s call: clippy does not see them
// as tests.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod activities;
mod articles;
mod audit;
mod audit_chain;
mod auth;
mod automation;
mod automation_email;
mod automation_events;
mod automation_time;
mod backup;
mod batch;
mod browser;
mod campaign_email;
mod campaigns;
mod change_feed;
mod clients;
mod concurrency;
mod contact_birthday;
mod crash;
mod customers;
mod exports;
mod faults;
mod grading;
mod http;
mod hygiene;
mod imports;
mod jobs;
mod list_feeds;
mod login_limits;
mod loyalty;
mod masking;
mod operations;
mod ownership;
mod rate_limits;
mod reports;
mod retention;
mod sales;
mod scale_out;
mod search;
mod search_typing;
mod sessions;
mod sla;
mod surveys;
mod teams;
mod tickets;
mod tokens;
mod users;
mod webhooks;
