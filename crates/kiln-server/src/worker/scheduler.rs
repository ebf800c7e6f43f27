//! The scheduler loop: runs every due pipeline schedule once. The claim is a
//! compare-and-set on the schedule's `next_run_at` in the database, so two
//! replicas, or a restart, never run one occurrence twice; missed occurrences
//! while the server was down run once at the next start, as GitLab does.

use std::time::Duration;

use kiln_store::Millis;
use kiln_store::pipelines::PipelineSource;
use kiln_store::schedules::Schedule;
use tokio::sync::watch;

use crate::api::pipelines::resolve_project_ref;
use crate::app::App;
use crate::ci::create::{self, ConfigSource, CreateRequest, Creation};
use crate::ci::cron;

const POLL: Duration = Duration::from_secs(5);

pub(crate) async fn run(app: App, mut stop: watch::Receiver<bool>) {
    loop {
        match app.store.due_schedules(Millis::now(), 32).await {
            Ok(due) => {
                for schedule in due {
                    claim_and_run(&app, &schedule).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read due schedules"),
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn claim_and_run(app: &App, schedule: &Schedule) {
    let Some(seen) = schedule.next_run_at else { return };
    let next = cron::Schedule::parse(&schedule.cron, &schedule.cron_timezone)
        .ok()
        .and_then(|s| s.next_after(Millis::now().max(seen)));
    match app.store.advance_schedule(schedule.id, seen, next).await {
        Ok(true) => run_schedule(app, schedule).await,
        Ok(false) => {}
        Err(e) => tracing::warn!(schedule = schedule.id.0, error = %e, "cannot claim schedule"),
    }
}

/// Creates the schedule's pipeline now (the loop after a claim, or "play").
pub(crate) async fn run_schedule(app: &App, schedule: &Schedule) {
    let result = async {
        let project = app.store.project(schedule.project_id).await?;
        let user = match schedule.owner_id {
            Some(id) => Some(app.store.user(id).await?),
            None => None,
        };
        let git_ref = resolve_project_ref(app, project.id, &schedule.ref_name).await?;
        let request = CreateRequest {
            project,
            git_ref,
            sha: None,
            before_sha: None,
            source: PipelineSource::Schedule,
            user,
            variables: schedule.variables.clone(),
            trigger: None,
            schedule: Some(schedule.id),
            parent: None,
            config: ConfigSource::Project,
            honour_skip_ci: false,
            push_option_skip: false,
            save_on_errors: true,
        };
        create::create(app, request).await
    }
    .await;
    match result {
        Ok(Creation::Pipeline(p)) => {
            if let Err(e) = app.store.set_schedule_last_pipeline(schedule.id, p.id).await {
                tracing::warn!(schedule = schedule.id.0, error = %e, "cannot record the schedule's pipeline");
            }
        }
        Ok(Creation::NotCreated { reason }) => {
            tracing::info!(schedule = schedule.id.0, %reason, "schedule created no pipeline")
        }
        Ok(Creation::Invalid { .. }) => {}
        Err(e) => tracing::warn!(schedule = schedule.id.0, error = ?e, "schedule run failed"),
    }
}
