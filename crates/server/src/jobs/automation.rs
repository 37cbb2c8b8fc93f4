//! `automation.run`: one firing of an automation rule (see `rapport_api::automation`). It
//! needs the API's state: each action is done as the API does it.

use actix_web::web;
use rapport_api::AppState;
use rapport_api::automation;
use rapport_store::repos::automation::Firing;

use super::handler::{Handler, JobContext, JobFailure};

pub use rapport_store::repos::automation::RUN_JOB as RUN;

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
        let firing: Firing = serde_json::from_value(ctx.job.payload.clone())
            .map_err(|e| JobFailure(format!("the job names no firing: {e}")))?;
        automation::execute(&self.state, &firing)
            .await
            .map_err(|e| JobFailure(e.to_string()))
    }
}
