//! Rapport's schema. Each migration runs on SQLite and PostgreSQL; backend-specific parts
//! (full-text search) branch on the backend inside the migration.

pub use sea_orm_migration::prelude::*;

mod m20261129_000001_identity;
mod m20261129_000002_audit;
mod m20261129_000003_customers;
mod m20261129_000004_idempotency;
mod m20261129_000005_audit_customer;
mod m20261129_000006_customer_terms;
mod m20261201_000007_session_limits;
mod m20261201_000008_encrypted_fields;
mod m20261202_000009_auth_epoch;
mod m20261202_000010_search_index;
mod m20261203_000011_terms_without_pending_list;
mod m20261203_000012_jobs;
mod m20261203_000013_tickets;
mod m20261203_000014_sla_policies;
mod m20261203_000015_breaches_and_notifications;
mod m20261203_000016_lead_escalations;
mod m20261203_000017_assignment;
mod m20261203_000018_ticket_reminders;
mod m20261204_000019_knowledge_base;
mod m20261204_000020_sales;
mod m20261204_000021_surveys;
mod m20261205_000022_grading;
mod m20261205_000023_duplicate_groups;
mod m20261205_000024_report_indexes;
mod m20261206_000025_webhooks;
mod m20261206_000026_customer_changes;
mod m20261206_000027_external_id_keys;
mod m20261206_000028_ticket_changes;
mod m20261207_000029_imports;
mod m20261208_000030_deletions;
mod m20261209_000031_audit_chain;
mod m20261210_000032_campaigns;
mod m20261211_000033_loyalty;
mod m20261212_000034_campaign_email;
mod m20261213_000035_contact_birthday;
mod m20261214_000036_automation;
mod m20261215_000037_automation_examples;
mod m20261216_000038_search_prefixes;
mod m20261217_000039_search_merges;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_identity::Migration),
            Box::new(m20261129_000002_audit::Migration),
            Box::new(m20261129_000003_customers::Migration),
            Box::new(m20261129_000004_idempotency::Migration),
            Box::new(m20261129_000005_audit_customer::Migration),
            Box::new(m20261129_000006_customer_terms::Migration),
            Box::new(m20261201_000007_session_limits::Migration),
            Box::new(m20261201_000008_encrypted_fields::Migration),
            Box::new(m20261202_000009_auth_epoch::Migration),
            Box::new(m20261202_000010_search_index::Migration),
            Box::new(m20261203_000011_terms_without_pending_list::Migration),
            Box::new(m20261203_000012_jobs::Migration),
            Box::new(m20261203_000013_tickets::Migration),
            Box::new(m20261203_000014_sla_policies::Migration),
            Box::new(m20261203_000015_breaches_and_notifications::Migration),
            Box::new(m20261203_000016_lead_escalations::Migration),
            Box::new(m20261203_000017_assignment::Migration),
            Box::new(m20261203_000018_ticket_reminders::Migration),
            Box::new(m20261204_000019_knowledge_base::Migration),
            Box::new(m20261204_000020_sales::Migration),
            Box::new(m20261204_000021_surveys::Migration),
            Box::new(m20261205_000022_grading::Migration),
            Box::new(m20261205_000023_duplicate_groups::Migration),
            Box::new(m20261205_000024_report_indexes::Migration),
            Box::new(m20261206_000025_webhooks::Migration),
            Box::new(m20261206_000026_customer_changes::Migration),
            Box::new(m20261206_000027_external_id_keys::Migration),
            Box::new(m20261206_000028_ticket_changes::Migration),
            Box::new(m20261207_000029_imports::Migration),
            Box::new(m20261208_000030_deletions::Migration),
            Box::new(m20261209_000031_audit_chain::Migration),
            Box::new(m20261210_000032_campaigns::Migration),
            Box::new(m20261211_000033_loyalty::Migration),
            Box::new(m20261212_000034_campaign_email::Migration),
            Box::new(m20261213_000035_contact_birthday::Migration),
            Box::new(m20261214_000036_automation::Migration),
            Box::new(m20261215_000037_automation_examples::Migration),
            Box::new(m20261216_000038_search_prefixes::Migration),
            Box::new(m20261217_000039_search_merges::Migration),
        ]
    }
}
