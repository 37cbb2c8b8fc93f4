//! The routes, one module per resource. Each module's `configure` registers its handlers so
//! that utoipa-actix-web collects their OpenAPI operations.

pub mod activities;
pub mod article_categories;
pub mod articles;
pub mod audit_events;
pub mod automation_rules;
pub mod campaign_sends;
pub mod campaigns;
pub mod clients;
pub mod contact_batch;
pub mod contacts;
pub mod customers;
pub mod health;
pub mod jobs;
pub mod line_items;
pub mod loyalty;
pub mod me;
pub mod notifications;
pub mod opportunities;
pub mod orders;
pub mod pipelines;
pub mod products;
pub mod public_articles;
pub mod public_email;
pub mod public_surveys;
pub mod quotes;
pub mod reports;
pub mod service_levels;
pub mod sla_policies;
pub mod survey_invitations;
pub mod survey_results;
pub mod survey_triggers;
pub mod surveys;
pub mod tasks;
pub mod teams;
pub mod ticket_articles;
pub mod tickets;
pub mod token;
pub mod users;
pub mod webhooks;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers every documented route.
pub fn configure(cfg: &mut ServiceConfig) {
    health::configure(cfg);
    cfg.service(
        utoipa_actix_web::scope("/v1")
            .configure(token::configure)
            .configure(me::configure)
            .configure(notifications::configure)
            .configure(users::configure)
            .configure(teams::configure)
            .configure(clients::configure)
            .configure(webhooks::configure)
            .configure(automation_rules::configure)
            .configure(audit_events::configure)
            .configure(customers::configure)
            .configure(contacts::configure)
            .configure(activities::configure)
            .configure(tasks::configure)
            .configure(tickets::configure)
            .configure(sla_policies::configure)
            .configure(surveys::configure)
            .configure(survey_invitations::configure)
            .configure(survey_triggers::configure)
            .configure(survey_results::configure)
            .configure(pipelines::configure)
            .configure(opportunities::configure)
            .configure(products::configure)
            .configure(quotes::configure)
            .configure(orders::configure)
            .configure(loyalty::configure)
            .configure(campaigns::configure)
            .configure(reports::configure)
            .configure(service_levels::configure)
            .configure(articles::configure)
            .configure(article_categories::configure)
            .configure(ticket_articles::configure)
            .configure(public_articles::configure)
            .configure(public_surveys::configure)
            .configure(public_email::configure)
            .configure(campaign_sends::configure)
            .configure(jobs::configure),
    );
}
