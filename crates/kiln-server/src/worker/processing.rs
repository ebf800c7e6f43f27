//! The processing loop: every pipeline with a processing request is handed
//! to `kiln-pipeline` (through the store's compare-and-set loop) until it
//! settles; requests survive crashes in the database, so a restarted server
//! continues where the previous one stopped, and two replicas may process
//! the same pipeline at once without harm.

use std::time::Duration;

use kiln_pipeline::{Event, PipelineId};
use kiln_store::effects::ApplyOptions;
use tokio::sync::watch;

use crate::app::App;

/// How many requests one pass takes.
const BATCH: i64 = 64;
/// How often the loop looks even when nobody woke it (another replica's work).
const POLL: Duration = Duration::from_secs(1);

pub(crate) async fn run(app: App, mut stop: watch::Receiver<bool>) {
    let mut last_tick = tokio::time::Instant::now();
    loop {
        if last_tick.elapsed() >= super::tick::EVERY {
            super::tick::tick(&app).await;
            last_tick = tokio::time::Instant::now();
        }
        while super::outbox::drain(&app).await > 0 {}
        if *stop.borrow() {
            return;
        }
        let more = match app.store.pipelines_to_process(BATCH).await {
            Ok(requests) => {
                let full = requests.len() as i64 == BATCH;
                for (pipeline, requested_at) in requests {
                    process(&app, pipeline).await;
                    if let Err(e) = app.store.processing_done(pipeline, requested_at).await {
                        tracing::warn!(pipeline = pipeline.0, error = %e, "cannot clear processing request");
                    }
                }
                full
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read processing requests");
                false
            }
        };
        if more {
            continue;
        }
        tokio::select! {
            () = app.processing.notified() => {}
            () = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Processes one pipeline until it settles.
pub(crate) async fn process(app: &App, pipeline: PipelineId) {
    // A pipeline created without jobs (invalid configuration, skipped) keeps
    // the status it was created with: processing would derive a new one.
    match app.store.pipeline_state(pipeline).await {
        Ok(state) if state.jobs.is_empty() => return,
        Ok(_) => {}
        Err(kiln_store::Error::NotFound(_)) => return,
        Err(e) => {
            tracing::warn!(pipeline = pipeline.0, error = %e, "cannot load pipeline");
            return;
        }
    }
    match app.store.handle_event(pipeline, &Event::Process, ApplyOptions::now()).await {
        Ok(_) => {
            if let Ok(p) = app.store.pipeline(pipeline).await {
                crate::ci::downstream::report_status(app, &p).await;
            }
        }
        Err(kiln_store::Error::NotFound(_)) => {}
        Err(e) => tracing::warn!(pipeline = pipeline.0, error = %e, "processing failed"),
    }
}
