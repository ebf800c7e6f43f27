//! HTTP header names of the runner API.

/// The runner token on register/verify/unregister/request-job.
pub const RUNNER_TOKEN: &str = "RUNNER-TOKEN";
/// The job token on job update, trace and artifacts.
pub const JOB_TOKEN: &str = "JOB-TOKEN";
/// A personal access token (reset token with PAT).
pub const PRIVATE_TOKEN: &str = "PRIVATE-TOKEN";
/// The coordinator's queue version, echoed back as `last_update`.
pub const LAST_UPDATE: &str = "X-GitLab-Last-Update";
/// How often (seconds) the runner should send trace updates.
pub const TRACE_UPDATE_INTERVAL: &str = "X-GitLab-Trace-Update-Interval";
/// The job's current status on update and trace answers.
pub const JOB_STATUS: &str = "Job-Status";
/// Correlation id.
pub const REQUEST_ID: &str = "X-Request-Id";
/// Set by Workhorse on long-polled job requests.
pub const BUILDS_POLLING: &str = "Gitlab-Ci-Builds-Polling";
/// Rate-limit reset time (RFC 1123 date).
pub const RATE_LIMIT_RESET_TIME: &str = "RateLimit-ResetTime";
