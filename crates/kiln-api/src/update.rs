//! `PUT /jobs/:id`: job state updates, and the failure reasons they carry.

use serde::{Deserialize, Serialize};

use crate::request::VersionInfo;
use crate::wire_enum::wire_enum;

wire_enum! {
    /// `state` of a job update.
    #[derive(Default)]
    pub enum JobState {
        Pending = "pending",
        #[default]
        Running = "running",
        Success = "success",
        Failed = "failed",
    }
}

wire_enum! {
    /// Failure reasons. The first block is what a runner may send; the rest are Rails'
    /// enum values a coordinator may list in `features.failure_reasons` or set itself.
    pub enum FailureReason {
        ScriptFailure = "script_failure",
        RunnerSystemFailure = "runner_system_failure",
        JobExecutionTimeout = "job_execution_timeout",
        ImagePullFailure = "image_pull_failure",
        UnknownFailure = "unknown_failure",
        RunnerConfigurationError = "runner_configuration_error",
        RunnerExternalDependencyFailure = "runner_external_dependency_failure",
        RunnerInterrupted = "runner_interrupted",
        /// Runner-internal only; never sent as such.
        JobCanceled = "job_canceled",
        ApiFailure = "api_failure",
        StuckOrTimeoutFailure = "stuck_or_timeout_failure",
        MissingDependencyFailure = "missing_dependency_failure",
        RunnerUnsupported = "runner_unsupported",
        StaleSchedule = "stale_schedule",
        ArchivedFailure = "archived_failure",
        UnmetPrerequisites = "unmet_prerequisites",
        SchedulerFailure = "scheduler_failure",
        DataIntegrityFailure = "data_integrity_failure",
        TraceSizeExceeded = "trace_size_exceeded",
        JobTokenExpired = "job_token_expired",
    }
}

impl FailureReason {
    /// The reason to send to a coordinator that listed `supported` in
    /// `features.failure_reasons`, mapped as gitlab-runner's `failure_reason_mapper.go`
    /// does: always-supported reasons are kept, listed ones are kept, a few have a
    /// compatibility mapping, anything else becomes `unknown_failure`.
    pub fn for_coordinator(&self, supported: &[String]) -> FailureReason {
        match self {
            Self::ScriptFailure | Self::RunnerSystemFailure | Self::JobExecutionTimeout => {
                return self.clone();
            }
            _ => {}
        }
        if supported.iter().any(|s| s == self.as_str()) {
            return self.clone();
        }
        let compat = match self {
            Self::ImagePullFailure | Self::RunnerExternalDependencyFailure => Some(Self::RunnerSystemFailure),
            Self::RunnerConfigurationError => Some(Self::ScriptFailure),
            _ => None,
        };
        compat.unwrap_or(Self::UnknownFailure)
    }

    /// Whether GitLab Runner prints this as a system failure (`Job failed (system failure):`).
    pub fn is_system_failure(&self) -> bool {
        matches!(
            self,
            Self::RunnerSystemFailure
                | Self::ImagePullFailure
                | Self::RunnerExternalDependencyFailure
                | Self::RunnerConfigurationError
                | Self::RunnerInterrupted
        )
    }
}

/// `output` of a job update: the trace checksum and size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobTraceOutput {
    /// `crc32:%08x` over every trace byte.
    pub checksum: String,
    pub bytesize: u64,
}

/// The body of `PUT /jobs/:id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateJobRequest {
    pub token: String,
    pub state: JobState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<FailureReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Deprecated duplicate of `output.checksum`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub checksum: String,
    pub output: JobTraceOutput,
    pub info: VersionInfo,
}

/// Formats a CRC-32 (IEEE) as the wire wants it: `crc32:` and 8 lower-case hex digits.
pub fn format_checksum(crc: u32) -> String {
    format!("crc32:{crc:08x}")
}
