//! What a job kind does: a [`Handler`] per kind, registered in [`Handlers`]. A handler may
//! run more than once for one job (its worker died after the work, before saying so), so it
//! is idempotent: it writes what it writes in one transaction, or checks what is done.

use std::collections::HashMap;
use std::sync::Arc;

use rapport_domain::clock::Clock;
use rapport_domain::job::{BadKind, Job, JobKind};
use rapport_store::{Store, StoreError};

/// What a handler gets: the job (its payload, its attempt) and the server's store and clock.
pub struct JobContext {
    pub job: Job,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// The worker running it (`pid-1234-0a1b2c3d`), for a handler's own logs.
    pub worker: Arc<str>,
}

/// Why a run failed, kept on the job for the admin (`last_error`): say what failed, never a
/// secret or personal data.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct JobFailure(pub String);

impl From<StoreError> for JobFailure {
    fn from(err: StoreError) -> Self {
        JobFailure(err.to_string())
    }
}

#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    /// # Errors
    /// The run failed: the job is retried after a backoff, and is dead after its last attempt.
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure>;
}

/// The handler of each kind this server runs. A worker claims only jobs of these kinds, so an
/// instance of an older version leaves a newer kind to the instances that know it.
#[derive(Clone, Default)]
pub struct Handlers {
    by_kind: HashMap<JobKind, Arc<dyn Handler>>,
}

impl Handlers {
    /// Adds the handler of `kind`.
    ///
    /// # Errors
    /// `kind` is not a job kind's name.
    pub fn with(mut self, kind: &str, handler: impl Handler) -> Result<Handlers, BadKind> {
        self.by_kind
            .insert(JobKind::parse(kind)?, Arc::new(handler));
        Ok(self)
    }

    pub fn get(&self, kind: &JobKind) -> Option<Arc<dyn Handler>> {
        self.by_kind.get(kind).cloned()
    }

    pub fn kinds(&self) -> Vec<&str> {
        let mut kinds: Vec<&str> = self.by_kind.keys().map(JobKind::as_str).collect();
        kinds.sort_unstable();
        kinds
    }
}
