//! sea-orm entities: one per table, private to the store. Repositories map them to domain
//! types, so nothing outside this crate sees a `Model`.

pub mod activity;
pub mod article;
pub mod article_category;
pub mod article_version;
pub mod assignment_turn;
pub mod audit_event;
pub mod client;
pub mod contact;
pub mod customer;
pub mod grade_change;
pub mod idempotency_key;
pub mod job;
pub mod lead_escalation;
pub mod notification;
pub mod opportunity;
pub mod opportunity_stage_move;
pub mod order;
pub mod pipeline;
pub mod pipeline_stage;
pub mod product;
pub mod quote;
pub mod refresh_token;
pub mod sla_policy;
pub mod stage_change;
pub mod survey;
pub mod survey_invitation;
pub mod survey_trigger;
pub mod task;
pub mod team;
pub mod ticket;
pub mod ticket_article;
pub mod ticket_comment;
pub mod user;
pub mod webhook;
pub mod webhook_delivery;
