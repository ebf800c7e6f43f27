//! Streaming a job's log to the coordinator and sending its final state.
//!
//! Incremental `PATCH`es of at most 1 MiB from the acknowledged offset, at the interval the
//! coordinator asks for; `416` moves the offset to the coordinator's size; `Job-Status`
//! `canceling` cancels gracefully, `canceled`/`failed`/`403` abort. At the end the rest of
//! the log is sent and the final `PUT` (checksum, size, exit code) is repeated until the
//! coordinator accepts it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kiln_api::{FailureReason, JobState, JobTraceOutput, UpdateJobRequest, VersionInfo};
use tokio::sync::oneshot;

use crate::job::{AbortReason, JobControl, JobOutcome};
use crate::network::{Client, PatchAnswer, UpdateAnswer};
use crate::trace::JobTrace;

/// Timing of the sender.
#[derive(Debug, Clone, Copy)]
pub struct TraceSettings {
    /// Default interval between patches (3 s), replaced by the coordinator's.
    pub update_interval: Duration,
    /// A keep-alive `PUT running` after this long without contact (30 s).
    pub force_send_interval: Duration,
    /// Final update attempts (`job_status_final_update_retry_limit`).
    pub final_retry_limit: u32,
}

impl Default for TraceSettings {
    fn default() -> Self {
        TraceSettings {
            update_interval: Duration::from_secs(3),
            force_send_interval: Duration::from_secs(30),
            final_retry_limit: 10,
        }
    }
}

/// Sends one job's log and state.
#[derive(Debug)]
pub struct TraceSender {
    pub client: Client,
    pub url: String,
    pub job_id: i64,
    pub token: String,
    pub trace: Arc<JobTrace>,
    pub control: Arc<JobControl>,
    pub info: VersionInfo,
    pub debug_trace: bool,
    /// The coordinator's `features.failure_reasons`.
    pub failure_reasons: Vec<String>,
    pub settings: TraceSettings,
}

const MAX_INTERVAL: Duration = Duration::from_secs(15 * 60);

struct State {
    sent: u64,
    interval: Duration,
    last_contact: Instant,
    stopped: bool,
}

impl TraceSender {
    fn update(&self, state: JobState, outcome: Option<&JobOutcome>) -> UpdateJobRequest {
        let checksum = self.trace.checksum();
        let (failure_reason, exit_code) = match outcome {
            Some(o) if !o.succeeded => (
                Some(
                    o.failure_reason
                        .clone()
                        .unwrap_or(FailureReason::ScriptFailure)
                        .for_coordinator(&self.failure_reasons),
                ),
                o.exit_code.filter(|c| *c != 0),
            ),
            _ => (None, None),
        };
        UpdateJobRequest {
            token: self.token.clone(),
            state,
            failure_reason,
            exit_code,
            checksum: checksum.clone(),
            output: JobTraceOutput { checksum, bytesize: self.trace.size() },
            info: self.info.clone(),
        }
    }

    fn react(&self, status: u16, job_status: Option<&str>) {
        match job_status {
            Some("canceling") => self.control.cancel_gracefully(),
            Some("canceled") | Some("failed") => self.control.abort(AbortReason::Canceled),
            _ if status == 403 => self.control.abort(AbortReason::Canceled),
            _ => {}
        }
    }

    /// Two-phase commit: tells the coordinator the job was accepted (`PUT running`).
    /// `false` means the job must be dropped.
    pub async fn accept(&self) -> bool {
        match self.client.update_job(&self.url, self.job_id, &self.update(JobState::Running, None)).await {
            Ok(a) => {
                let job_status = a.job_status.as_deref();
                if a.status == 403
                    || a.status == 404
                    || matches!(job_status, Some("canceled") | Some("failed"))
                {
                    return false;
                }
                if job_status == Some("canceling") {
                    self.control.cancel_gracefully();
                }
                true
            }
            Err(e) => {
                tracing::warn!(job = self.job_id, "failed to accept the job: {e}");
                true
            }
        }
    }

    /// Streams until `done` delivers the outcome, then finishes the job.
    pub async fn run(self, mut done: oneshot::Receiver<JobOutcome>) {
        let mut st = State {
            sent: 0,
            interval: self.settings.update_interval,
            last_contact: Instant::now(),
            stopped: false,
        };
        let outcome = loop {
            tokio::select! {
                o = &mut done => break o.ok(),
                () = tokio::time::sleep(st.interval) => {}
            }
            if st.stopped {
                continue;
            }
            self.send_pending(&mut st).await;
            if st.last_contact.elapsed() >= self.settings.force_send_interval {
                if let Ok(a) = self
                    .client
                    .update_job(&self.url, self.job_id, &self.update(JobState::Running, None))
                    .await
                {
                    self.react(a.status, a.job_status.as_deref());
                }
                st.last_contact = Instant::now();
            }
        };
        let outcome = outcome.unwrap_or(JobOutcome {
            succeeded: false,
            failure_reason: Some(FailureReason::RunnerSystemFailure),
            exit_code: None,
            message: "the job task ended without an outcome".into(),
        });
        self.finish(&mut st, &outcome).await;
    }

    /// Sends everything not yet acknowledged, in patches of at most 1 MiB.
    async fn send_pending(&self, st: &mut State) {
        loop {
            let size = self.trace.size();
            if st.stopped || st.sent >= size {
                return;
            }
            let max =
                usize::try_from(size - st.sent).unwrap_or(usize::MAX).min(kiln_api::trace::MAX_PATCH_SIZE);
            let Ok(chunk) = self.trace.read(st.sent, max) else { return };
            if chunk.is_empty() {
                return;
            }
            let len = chunk.len() as u64;
            match self
                .client
                .patch_trace(
                    &self.url,
                    self.job_id,
                    &self.token,
                    st.sent,
                    Bytes::from(chunk),
                    self.debug_trace,
                )
                .await
            {
                Ok(a) => {
                    if !self.handle_patch(st, &a, len) {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(job = self.job_id, "failed to send the job log: {e}");
                    return;
                }
            }
        }
    }

    /// Applies a patch answer; `true` when the loop may go on.
    fn handle_patch(&self, st: &mut State, a: &PatchAnswer, len: u64) -> bool {
        if let Some(i) = a.interval.filter(|i| !i.is_zero()) {
            st.interval = i.min(MAX_INTERVAL);
        }
        self.react(a.status, a.job_status.as_deref());
        match a.status {
            202 => {
                st.sent += len;
                st.last_contact = Instant::now();
                true
            }
            416 => {
                if let Some(size) = a.range_size {
                    st.sent = size.min(self.trace.size());
                }
                true
            }
            403 | 404 => {
                st.stopped = true;
                false
            }
            _ => false,
        }
    }

    async fn finish(&self, st: &mut State, outcome: &JobOutcome) {
        let state = if outcome.succeeded { JobState::Success } else { JobState::Failed };
        let mut backoff = Duration::from_secs(1);
        let mut attempts = 0;
        loop {
            st.interval = self.settings.update_interval;
            self.send_pending(st).await;
            let request = self.update(state.clone(), Some(outcome));
            match self.client.update_job(&self.url, self.job_id, &request).await {
                Ok(UpdateAnswer { status: 200, .. }) => return,
                Ok(UpdateAnswer { status: 202, interval, .. }) => {
                    tokio::time::sleep(interval.unwrap_or(Duration::from_secs(1)).min(MAX_INTERVAL)).await;
                    continue;
                }
                Ok(UpdateAnswer { status: 403 | 404, .. }) => return,
                Ok(UpdateAnswer { status: 412, .. }) => {
                    st.sent = 0;
                    st.stopped = false;
                }
                Ok(a) => tracing::warn!(
                    job = self.job_id,
                    status = a.status,
                    "the final job update was not accepted"
                ),
                Err(e) => tracing::warn!(job = self.job_id, "the final job update failed: {e}"),
            }
            attempts += 1;
            if attempts >= self.settings.final_retry_limit {
                tracing::error!(job = self.job_id, "giving up on the final job update");
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(3600));
        }
    }
}
