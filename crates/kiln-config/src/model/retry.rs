//! `retry:` as a number or `max` / `when` / `exit_codes`.

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Retry {
    /// 0..=2.
    pub max: Option<u8>,
    /// Empty means `always`.
    pub when: Vec<RetryWhen>,
    pub exit_codes: Vec<i64>,
}

macro_rules! retry_whens {
    ($($variant:ident = $name:literal,)*) => {
        /// A failure reason for `retry:when`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum RetryWhen { $($variant,)* }

        impl RetryWhen {
            pub const ALL: &'static [RetryWhen] = &[$(RetryWhen::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(RetryWhen::$variant => $name,)* }
            }

            pub fn parse(s: &str) -> Option<RetryWhen> {
                match s { $($name => Some(RetryWhen::$variant),)* _ => None }
            }
        }
    };
}

retry_whens! {
    Always = "always",
    UnknownFailure = "unknown_failure",
    ScriptFailure = "script_failure",
    ApiFailure = "api_failure",
    StuckOrTimeoutFailure = "stuck_or_timeout_failure",
    RunnerSystemFailure = "runner_system_failure",
    RunnerUnsupported = "runner_unsupported",
    StaleSchedule = "stale_schedule",
    JobExecutionTimeout = "job_execution_timeout",
    ArchivedFailure = "archived_failure",
    UnmetPrerequisites = "unmet_prerequisites",
    SchedulerFailure = "scheduler_failure",
    DataIntegrityFailure = "data_integrity_failure",
}
