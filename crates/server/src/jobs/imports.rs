//! `imports.run`: imports a CSV file's rows (see `rapport_api::routes::customers::import`).
//! It needs the API's state, since each row is written as the API writes a customer; an
//! import that fails its last attempt ends as `failed`, keeping the rows imported before.

use actix_web::web;
use rapport_api::AppState;
use rapport_api::routes::customers::import;
use uuid::Uuid;

use super::handler::{Handler, JobContext, JobFailure};

pub use rapport_domain::import::RUN_JOB as RUN;

pub struct Run {
    state: web::Data<AppState>,
}

impl Run {
    pub fn new(state: web::Data<AppState>) -> Run {
        Run { state }
    }
}

#[async_trait::async_trait]
impl Handler for Run {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let id: Uuid = serde_json::from_value(ctx.job.payload["import_id"].clone())
            .map_err(|e| JobFailure(format!("the job names no import: {e}")))?;
        let Err(e) = import::run(&self.state, id).await else {
            return Ok(());
        };
        if ctx.job.attempts >= ctx.job.max_attempts {
            let reason = format!("Importing failed on every attempt: {e}");
            if let Err(stop) = import::stop(&self.state, id, &reason).await {
                tracing::warn!(import_id = %id, error = %stop, "could not mark the import failed");
            }
        }
        Err(JobFailure(e.to_string()))
    }
}
