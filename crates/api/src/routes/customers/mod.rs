//! Customers and what hangs off them: contacts, timeline, duplicates and merges, bulk export,
//! personal data export and erasure.

pub mod access;
mod batch;
pub(crate) mod change;
mod create;
mod export;
mod grading;
pub mod import;
pub mod input;
pub(crate) mod list;
mod merge;
mod privacy;
mod timeline;
pub mod types;
mod write;

pub use write::{record_stage, reindex};

use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    // `/customers/duplicates`, `/customers/grading/run` and `/customers/batch` before
    // `/customers/{id}`, which would take them for an id.
    cfg.service(merge::list_duplicates)
        .service(grading::run_grading)
        .service(list::list_customers)
        .service(export::export_customers)
        .service(create::create_customer)
        .service(batch::batch_customers)
        .service(change::get_customer)
        .service(change::update_customer)
        .service(change::delete_customer)
        .service(change::restore_customer)
        .service(merge::merge_customers)
        .service(timeline::customer_timeline)
        .service(privacy::export_customer)
        .service(privacy::erase_customer)
        .service(import::import_customers)
        .service(import::get_import)
        .service(import::list_import_errors);
}
