//! Follow-ups that effects wrote to the store's outbox in their own
//! transaction: downstream pipelines, cancelling child pipelines, resource
//! group assignment. Each is done, then acknowledged; a crash in between
//! repeats it, and every follow-up is idempotent.

use kiln_pipeline::resource_group::next_to_assign;
use kiln_pipeline::{CancelRequest, Effect, Event, PipelineId};
use kiln_store::effects::{ApplyOptions, OutboxItem};
use kiln_store::pipelines::PipelineFilter;

use crate::app::App;
use crate::ci::downstream;

/// Handles what is in the outbox now; returns how many items it took.
pub(crate) async fn drain(app: &App) -> usize {
    let items = match app.store.take_outbox(32).await {
        Ok(items) => items,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the outbox");
            return 0;
        }
    };
    let count = items.len();
    for item in items {
        handle(app, &item).await;
        if let Err(e) = app.store.outbox_done(item.id).await {
            tracing::warn!(error = %e, "cannot acknowledge an outbox item");
        }
    }
    count
}

async fn handle(app: &App, item: &OutboxItem) {
    match &item.effect {
        Effect::TriggerDownstream { bridge } => downstream::trigger(app, item.pipeline, *bridge).await,
        Effect::CancelChildPipelines { auto_canceled_by } => {
            let filter = PipelineFilter { parent_pipeline: Some(item.pipeline), ..PipelineFilter::default() };
            let Ok(children) = app.store.list_pipelines(&filter, kiln_store::Page::all()).await else {
                return;
            };
            let request = CancelRequest {
                interruptible_only: false,
                cascade: true,
                auto_canceled_by: *auto_canceled_by,
            };
            for child in children.items.iter().filter(|c| c.status.is_cancelable()) {
                let _ = app
                    .store
                    .handle_event(child.id, &Event::CancelPipeline(request), ApplyOptions::now())
                    .await;
            }
        }
        Effect::RequestResource { group } | Effect::ReleaseResource { group, .. } => {
            assign_resource(app, item.pipeline, group).await;
        }
        _ => {}
    }
}

/// Gives a free resource to the job GitLab would pick, and tells its pipeline.
async fn assign_resource(app: &App, pipeline: PipelineId, group: &str) {
    let Ok(p) = app.store.pipeline(pipeline).await else { return };
    let Ok(rg) = app.store.resource_group(p.project_id, group).await else { return };
    let Ok(candidates) = app.store.resource_group_candidates(p.project_id, group).await else { return };
    let mode = rg.process_mode;
    let Some(next) = next_to_assign(mode, rg.holder.is_none(), &candidates) else { return };
    let Ok(job) = app.store.job_by_number(next.pipeline, next.job).await else { return };
    if matches!(app.store.grant_resource(p.project_id, group, job.id).await, Ok(true)) {
        let event = Event::ResourceGranted { job: next.job };
        if let Err(e) = app.store.handle_event(next.pipeline, &event, ApplyOptions::now()).await {
            tracing::warn!(error = %e, "resource grant not applied");
        }
    }
}
