//! What a process that embeds the coordinator (`kiln up`) may ask of it
//! besides HTTP: the same actions a user's REST call would take, through the
//! running server's own store and wake-ups, not a second connection.

use kiln_pipeline::event::Event;
use kiln_store::jobs::JobFilter;
use kiln_store::{Page, RunnerId};

use crate::api::pipelines::apply;
use crate::app::App;
use crate::error::ServerError;

/// A handle on a started server; cheap to clone, valid while it runs.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    pub(crate) app: App,
}

impl ServerHandle {
    /// Cancels every running job of a runner as the Cancel button would (the
    /// runner hears `canceling` and runs `after_script`); returns how many
    /// were canceled. Jobs that end meanwhile are left as they end.
    pub async fn cancel_runner_jobs(&self, runner: i64) -> Result<usize, ServerError> {
        let filter = JobFilter {
            runner: Some(RunnerId(runner)),
            statuses: vec![kiln_pipeline::Status::Running],
            ..JobFilter::default()
        };
        let jobs = self.app.store.list_jobs(&filter, Page { offset: 0, limit: 1000 }).await?;
        let mut canceled = 0;
        for job in &jobs.items {
            let event = Event::CancelJob { job: job.number };
            match apply(&self.app, job.pipeline_id, &event, None).await {
                Ok(Ok(_)) => canceled += 1,
                // It ended meanwhile.
                Ok(Err(_)) | Err(kiln_store::Error::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(canceled)
    }
}
