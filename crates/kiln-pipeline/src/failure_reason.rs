//! GitLab's job failure reasons (`Enums::Ci::CommitStatus.failure_reasons`), with
//! their exact names and database codes.
//!
//! A failing job is data, never a Rust error. The names are persisted by the
//! coordinator and sent on the wire, so they are GitLab's snake_case names.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! failure_reasons {
    ($($variant:ident = $name:literal => $code:expr,)*) => {
        /// Why a job failed, as GitLab names it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum FailureReason {
            $($variant,)*
        }

        impl FailureReason {
            /// Every reason, in GitLab's enum order.
            pub const ALL: &'static [FailureReason] = &[$(FailureReason::$variant,)*];

            /// GitLab's name for the reason.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(FailureReason::$variant => $name,)*
                }
            }

            /// GitLab's integer code in `ci_builds.failure_reason` (`unknown_failure` is `NULL`).
            pub fn code(self) -> Option<u16> {
                match self {
                    $(FailureReason::$variant => $code,)*
                }
            }
        }
    };
}

failure_reasons! {
    UnknownFailure = "unknown_failure" => None,
    ScriptFailure = "script_failure" => Some(1),
    ApiFailure = "api_failure" => Some(2),
    StuckOrTimeoutFailure = "stuck_or_timeout_failure" => Some(3),
    RunnerSystemFailure = "runner_system_failure" => Some(4),
    MissingDependencyFailure = "missing_dependency_failure" => Some(5),
    RunnerUnsupported = "runner_unsupported" => Some(6),
    StaleSchedule = "stale_schedule" => Some(7),
    JobExecutionTimeout = "job_execution_timeout" => Some(8),
    ArchivedFailure = "archived_failure" => Some(9),
    UnmetPrerequisites = "unmet_prerequisites" => Some(10),
    SchedulerFailure = "scheduler_failure" => Some(11),
    DataIntegrityFailure = "data_integrity_failure" => Some(12),
    ForwardDeploymentFailure = "forward_deployment_failure" => Some(13),
    UserBlocked = "user_blocked" => Some(14),
    ProjectDeleted = "project_deleted" => Some(15),
    CiQuotaExceeded = "ci_quota_exceeded" => Some(16),
    PipelineLoopDetected = "pipeline_loop_detected" => Some(17),
    NoMatchingRunner = "no_matching_runner" => Some(18),
    TraceSizeExceeded = "trace_size_exceeded" => Some(19),
    BuildsDisabled = "builds_disabled" => Some(20),
    EnvironmentCreationFailure = "environment_creation_failure" => Some(21),
    DeploymentRejected = "deployment_rejected" => Some(22),
    FailedOutdatedDeploymentJob = "failed_outdated_deployment_job" => Some(23),
    JobExecutionServerTimeout = "job_execution_server_timeout" => Some(24),
    StuckPendingWithMatchingRunners = "stuck_pending_with_matching_runners" => Some(25),
    StuckPendingNoMatchingRunners = "stuck_pending_no_matching_runners" => Some(26),
    NoUpdatesRunning = "no_updates_running" => Some(27),
    NoUpdatesCanceling = "no_updates_canceling" => Some(28),
    ServerTimeoutRunning = "server_timeout_running" => Some(29),
    ServerTimeoutCanceling = "server_timeout_canceling" => Some(30),
    RunnerConfigurationError = "runner_configuration_error" => Some(31),
    RunnerExternalDependencyFailure = "runner_external_dependency_failure" => Some(32),
    RunnerInterrupted = "runner_interrupted" => Some(33),
    ProtectedEnvironmentFailure = "protected_environment_failure" => Some(1_000),
    InsufficientBridgePermissions = "insufficient_bridge_permissions" => Some(1_001),
    DownstreamBridgeProjectNotFound = "downstream_bridge_project_not_found" => Some(1_002),
    InvalidBridgeTrigger = "invalid_bridge_trigger" => Some(1_003),
    UpstreamBridgeProjectNotFound = "upstream_bridge_project_not_found" => Some(1_004),
    InsufficientUpstreamPermissions = "insufficient_upstream_permissions" => Some(1_005),
    BridgePipelineIsChildPipeline = "bridge_pipeline_is_child_pipeline" => Some(1_006),
    DownstreamPipelineCreationFailed = "downstream_pipeline_creation_failed" => Some(1_007),
    SecretsProviderNotFound = "secrets_provider_not_found" => Some(1_008),
    ReachedMaxDescendantPipelinesDepth = "reached_max_descendant_pipelines_depth" => Some(1_009),
    IpRestrictionFailure = "ip_restriction_failure" => Some(1_010),
    ReachedMaxPipelineHierarchySize = "reached_max_pipeline_hierarchy_size" => Some(1_011),
    ReachedDownstreamPipelineTriggerRateLimit = "reached_downstream_pipeline_trigger_rate_limit" => Some(1_012),
    DuoWorkflowNotAllowed = "duo_workflow_not_allowed" => Some(1_013),
    JobRouterFailure = "job_router_failure" => Some(1_014),
    JobTokenExpired = "job_token_expired" => Some(1_015),
    IdTokenBurnedProjectPath = "id_token_burned_project_path" => Some(1_016),
    DownstreamProjectTriggerResolvedToEmpty = "downstream_project_trigger_resolved_to_empty" => Some(1_017),
}

impl FailureReason {
    /// Parses GitLab's name for a reason.
    pub fn from_name(name: &str) -> Option<FailureReason> {
        FailureReason::ALL.iter().copied().find(|r| r.as_str() == name)
    }

    /// The reasons a legacy name stands for in `retry:when` (GitLab's
    /// `failure_reason_aliases`): GitLab split `stuck_or_timeout_failure` and
    /// `job_execution_timeout` into granular server-side reasons, and the old names
    /// keep matching what they used to.
    pub fn aliases(self) -> &'static [FailureReason] {
        use FailureReason::*;
        match self {
            StuckOrTimeoutFailure => &[
                StuckPendingWithMatchingRunners,
                StuckPendingNoMatchingRunners,
                NoUpdatesRunning,
                NoUpdatesCanceling,
            ],
            JobExecutionTimeout => &[ServerTimeoutRunning, ServerTimeoutCanceling],
            _ => &[],
        }
    }

    /// `Gitlab::Ci::Build::AutoRetry::RETRY_OVERRIDES`: reasons never retried automatically,
    /// whatever `retry:` says.
    pub fn never_auto_retried(self) -> bool {
        use FailureReason::*;
        matches!(
            self,
            CiQuotaExceeded
                | NoMatchingRunner
                | MissingDependencyFailure
                | ForwardDeploymentFailure
                | EnvironmentCreationFailure
        )
    }

    /// `AutoRetry::DEFAULT_RETRIES`: retries granted when `retry:` does not cover the reason.
    pub fn default_retries(self) -> u32 {
        match self {
            FailureReason::SchedulerFailure => 2,
            _ => 0,
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FailureReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FailureReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FailureReason, D::Error> {
        let name = String::deserialize(deserializer)?;
        FailureReason::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown failure reason `{name}`")))
    }
}

/// One entry of `retry:when`: `always`, or a failure reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryOn {
    Always,
    Reason(FailureReason),
}

impl RetryOn {
    /// Whether a job that failed for `reason` is covered by this entry (legacy names match
    /// the granular reasons that replaced them).
    pub fn matches(self, reason: FailureReason) -> bool {
        match self {
            RetryOn::Always => true,
            RetryOn::Reason(r) => r == reason || r.aliases().contains(&reason),
        }
    }

    /// Parses `always` or a failure reason name.
    pub fn from_name(name: &str) -> Option<RetryOn> {
        if name == "always" {
            Some(RetryOn::Always)
        } else {
            FailureReason::from_name(name).map(RetryOn::Reason)
        }
    }

    /// The `retry:when` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RetryOn::Always => "always",
            RetryOn::Reason(r) => r.as_str(),
        }
    }
}

impl Serialize for RetryOn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RetryOn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RetryOn, D::Error> {
        let name = String::deserialize(deserializer)?;
        RetryOn::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown retry:when value `{name}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for r in FailureReason::ALL {
            assert!(seen.insert(r.as_str()), "duplicate {r}");
            assert_eq!(FailureReason::from_name(r.as_str()), Some(*r));
        }
        assert_eq!(FailureReason::ALL.len(), 52);
    }

    #[test]
    fn legacy_retry_names_match_granular_reasons() {
        let legacy = RetryOn::Reason(FailureReason::StuckOrTimeoutFailure);
        assert!(legacy.matches(FailureReason::NoUpdatesRunning));
        assert!(!legacy.matches(FailureReason::ScriptFailure));
        assert!(
            RetryOn::Reason(FailureReason::JobExecutionTimeout).matches(FailureReason::ServerTimeoutRunning)
        );
    }
}
