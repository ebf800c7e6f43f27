//! Taking one job from its payload to its final update.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kiln_api::feature_flags::FeatureFlag;
use kiln_api::{FailureReason, FeaturesInfo, JobResponse};
use tokio::sync::oneshot;

use crate::config::RunnerConfig;
use crate::executor::{ExecutorSettings, Providers};
use crate::job::{JobControl, JobOutcome, JobRunner, JobSettings, build_masker, feature_flag};
use crate::metrics::{Metrics, RunningJob};
use crate::network::{Client, TraceSender, TraceSettings};
use crate::trace::{JobTrace, TraceOptions};

/// What happened to one job, for logs and tests.
#[derive(Debug, Clone)]
pub struct JobReport {
    pub id: i64,
    pub outcome: Option<JobOutcome>,
    pub duration: std::time::Duration,
}

/// Everything `process_job` needs besides the job.
#[derive(Clone)]
pub struct WorkerContext {
    pub client: Client,
    pub runner: Arc<RunnerConfig>,
    pub system_id: String,
    pub providers: Providers,
    pub helper: Vec<String>,
    pub working_dir: PathBuf,
    pub trace_settings: TraceSettings,
    pub metrics: Arc<Metrics>,
    pub info_features: FeaturesInfo,
    /// Where job logs are buffered while they stream ([`crate::trace::TraceOptions::dir`]).
    pub trace_dir: Option<PathBuf>,
}

impl std::fmt::Debug for WorkerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerContext").field("runner", &self.runner.name).finish_non_exhaustive()
    }
}

/// Runs one job: accept, stream the log, run every stage, send the final state.
pub async fn process_job(
    ctx: &WorkerContext,
    job: JobResponse,
    control: Arc<JobControl>,
    concurrent_id: usize,
    project_concurrent_id: usize,
) -> JobReport {
    let started = Instant::now();
    let job = Arc::new(job);
    let runner = ctx.runner.clone();
    let id = job.id;
    let short = runner.short_token();
    let shell = runner.shell.clone().unwrap_or_else(|| "bash".into());
    let info = crate::version::version_info(&runner.executor, &shell, ctx.info_features);
    let trace = match JobTrace::new(TraceOptions {
        masker: build_masker(&job, &runner),
        limit: runner.output_limit_bytes(),
        sections: job.features.trace_sections,
        timestamps: feature_flag(&job, &runner, FeatureFlag::Timestamps),
        clock: crate::trace::system_clock,
        dir: ctx.trace_dir.clone(),
    }) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            tracing::error!(job = id, "failed to create the job log: {e}");
            let update = kiln_api::UpdateJobRequest {
                token: job.token.clone(),
                state: kiln_api::JobState::Failed,
                failure_reason: Some(FailureReason::RunnerSystemFailure),
                info,
                ..Default::default()
            };
            let _ = ctx.client.update_job(&runner.url, id, &update).await;
            return JobReport { id, outcome: None, duration: started.elapsed() };
        }
    };
    let sender = TraceSender {
        client: ctx.client.clone(),
        url: runner.url.clone(),
        job_id: id,
        token: job.token.clone(),
        trace: trace.clone(),
        control: control.clone(),
        info,
        debug_trace: job.variable("CI_DEBUG_TRACE") == Some("true") && !runner.debug_trace_disabled,
        failure_reasons: job.features.failure_reasons.clone(),
        settings: TraceSettings {
            final_retry_limit: runner.final_update_retry_limit(),
            ..ctx.trace_settings
        },
    };
    if !sender.accept().await {
        tracing::warn!(job = id, "the coordinator no longer wants this job; dropping it");
        return JobReport { id, outcome: None, duration: started.elapsed() };
    }
    let (tx, rx) = oneshot::channel();
    let send_task = tokio::spawn(sender.run(rx));
    let stage = Arc::new(Mutex::new(String::from("prepare_executor")));
    ctx.metrics.job_started(RunningJob {
        id,
        url: crate::metrics::job_url(&job.git_info.repo_url, id),
        runner: short.clone(),
        runner_name: runner.name.clone(),
        system_id: ctx.system_id.clone(),
        stage: stage.clone(),
        started: Instant::now(),
    });
    tracing::info!(job = id, project = job.job_info.project_id, runner = %short, "job received");
    let executor = match runner.executor_kind().and_then(|k| ctx.providers.get(k)) {
        Some(provider) => provider.create(&runner, &ExecutorSettings { helper: ctx.helper.clone() }),
        None => Err(crate::executor::ExecError::SystemFailure(format!(
            "executor {:?} is not supported by this runner",
            runner.executor
        ))),
    };
    let outcome = match executor {
        Ok(executor) => {
            let settings = JobSettings {
                runner: runner.clone(),
                system_id: ctx.system_id.clone(),
                helper: ctx.helper.clone(),
                working_dir: ctx.working_dir.clone(),
                concurrent_id,
                project_concurrent_id,
                cache_urls: crate::cache::url_fn(runner.cache.as_ref(), &short),
            };
            JobRunner { job: job.clone(), settings, trace: trace.clone(), control, stage }.run(executor).await
        }
        Err(e) => {
            trace.error(&format!("Job failed (system failure): {e}"));
            trace.finish();
            JobOutcome {
                succeeded: false,
                failure_reason: Some(FailureReason::RunnerSystemFailure),
                exit_code: None,
                message: e.to_string(),
            }
        }
    };
    let _ = tx.send(outcome.clone());
    let _ = send_task.await;
    let reason =
        outcome.failure_reason.as_ref().map(|r| r.for_coordinator(&job.features.failure_reasons).to_string());
    ctx.metrics.job_finished(id, &short, &runner.name, reason.as_deref());
    let duration = started.elapsed();
    tracing::info!(
        job = id,
        project = job.job_info.project_id,
        runner = %short,
        duration_s = duration.as_secs_f64(),
        status = if outcome.succeeded { "success" } else { "failed" },
        failure_reason = reason.as_deref().unwrap_or(""),
        "job finished"
    );
    JobReport { id, outcome: Some(outcome), duration }
}
