//! Outside control of a running job: graceful cancel (`Job-Status: canceling`), abort
//! (`canceled`/`failed`/403, runner shutdown) and the job timeout, each with its reason.

use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

/// Why a job was stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortReason {
    /// The coordinator canceled the job (or it is gone): stop now.
    Canceled,
    /// The runner is shutting down (SIGTERM/SIGINT).
    Interrupted,
    /// The job ran over its timeout.
    Timeout,
}

/// Shared between the job task, the trace sender and the runner.
#[derive(Debug, Default)]
pub struct JobControl {
    /// Canceled on abort or timeout: every command stops.
    pub abort: CancellationToken,
    /// Canceled on graceful cancel: user scripts stop, `after_script` and the failure
    /// stages still run.
    pub graceful: CancellationToken,
    reason: Mutex<Option<AbortReason>>,
}

impl JobControl {
    /// A fresh control.
    pub fn new() -> JobControl {
        JobControl::default()
    }

    /// Stops the job now (first reason wins).
    pub fn abort(&self, reason: AbortReason) {
        {
            let mut r = self.reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if r.is_none() {
                *r = Some(reason);
            }
        }
        self.abort.cancel();
    }

    /// Asks the job to stop its scripts and finish gracefully.
    pub fn cancel_gracefully(&self) {
        self.graceful.cancel();
    }

    /// Why the job was aborted, if it was.
    pub fn abort_reason(&self) -> Option<AbortReason> {
        *self.reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a graceful cancel was requested.
    pub fn is_canceling(&self) -> bool {
        self.graceful.is_cancelled()
    }
}
