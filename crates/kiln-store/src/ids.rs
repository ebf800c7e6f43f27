//! Typed row ids, so a project id cannot be passed where a user id is expected.
//! Pipelines use [`kiln_pipeline::PipelineId`]; a job's number inside its pipeline is
//! [`kiln_pipeline::JobId`], and its instance-wide id (GitLab's build id) is [`BuildId`].

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! ids {
    ($($(#[$m:meta])* $name:ident,)*) => {$(
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

ids! {
    /// A user.
    UserId,
    /// A personal access token.
    TokenId,
    /// A namespace: a user's personal namespace or a group.
    NamespaceId,
    /// A project.
    ProjectId,
    /// A CI/CD variable (instance, group or project).
    VariableId,
    /// A protected branch or tag rule.
    ProtectedRefId,
    /// A job, instance-wide (GitLab's `ci_builds.id`, the id runners see).
    BuildId,
    /// A runner (its authentication token identifies it).
    RunnerId,
    /// One machine serving a runner (`system_id`), GitLab's runner manager.
    RunnerManagerId,
    /// A pipeline schedule.
    ScheduleId,
    /// A pipeline trigger token.
    TriggerId,
    /// An audit event.
    AuditEventId,
    /// A stored artifact file.
    ArtifactId,
    /// A follow-up action recorded with pipeline effects.
    OutboxId,
}

/// Pipeline ids are `u64` in `kiln-pipeline` and `BIGINT` in the database.
pub(crate) fn pipeline_db(id: kiln_pipeline::PipelineId) -> i64 {
    i64::try_from(id.0).unwrap_or(i64::MAX)
}

pub(crate) fn pipeline_id(v: i64) -> kiln_pipeline::PipelineId {
    kiln_pipeline::PipelineId(u64::try_from(v).unwrap_or(0))
}
