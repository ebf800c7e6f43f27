//! The stages of a job, with GitLab Runner's names: one vocabulary for the job lifecycle,
//! the generated scripts, the log sections and the custom executor's `run_exec` argument.

use std::fmt;

/// One stage of a job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Stage {
    PrepareExecutor,
    PrepareScript,
    GetSources,
    ClearWorktree,
    RestoreCache,
    DownloadArtifacts,
    /// A user step: `step_script`, `step_release`, ... (the payload's step name).
    Step(String),
    AfterScript,
    ArchiveCache,
    ArchiveCacheOnFailure,
    UploadArtifactsOnSuccess,
    UploadArtifactsOnFailure,
    CleanupFileVariables,
}

impl Stage {
    /// The stage name as it appears in log sections and metrics.
    pub fn name(&self) -> String {
        match self {
            Self::PrepareExecutor => "prepare_executor".into(),
            Self::PrepareScript => "prepare_script".into(),
            Self::GetSources => "get_sources".into(),
            Self::ClearWorktree => "clear_worktree".into(),
            Self::RestoreCache => "restore_cache".into(),
            Self::DownloadArtifacts => "download_artifacts".into(),
            Self::Step(name) => format!("step_{name}"),
            Self::AfterScript => "after_script".into(),
            Self::ArchiveCache => "archive_cache".into(),
            Self::ArchiveCacheOnFailure => "archive_cache_on_failure".into(),
            Self::UploadArtifactsOnSuccess => "upload_artifacts_on_success".into(),
            Self::UploadArtifactsOnFailure => "upload_artifacts_on_failure".into(),
            Self::CleanupFileVariables => "cleanup_file_variables".into(),
        }
    }

    /// The name the custom executor's `run_exec` receives: the `script` step is passed as
    /// `build_script` for backward compatibility, everything else keeps its name.
    pub fn custom_executor_name(&self) -> String {
        match self {
            Self::Step(name) if name == "script" => "build_script".into(),
            other => other.name(),
        }
    }

    /// The cyan title GitLab Runner prints at the start of the stage's section.
    pub fn title(&self) -> String {
        match self {
            Self::PrepareExecutor => "Preparing the executor".into(),
            Self::PrepareScript => "Preparing environment".into(),
            Self::GetSources => "Getting source from Git repository".into(),
            Self::ClearWorktree => {
                "Deleting all tracked and untracked files due to source fetch failure".into()
            }
            Self::RestoreCache => "Restoring cache".into(),
            Self::DownloadArtifacts => "Downloading artifacts".into(),
            Self::Step(_) => format!("Executing \"{}\" stage of the job script", self.name()),
            Self::AfterScript => "Running after_script".into(),
            Self::ArchiveCache => "Saving cache for successful job".into(),
            Self::ArchiveCacheOnFailure => "Saving cache for failed job".into(),
            Self::UploadArtifactsOnSuccess => "Uploading artifacts for successful job".into(),
            Self::UploadArtifactsOnFailure => "Uploading artifacts for failed job".into(),
            Self::CleanupFileVariables => "Cleaning up project directory and file based variables".into(),
        }
    }

    /// Whether GitLab Runner runs this stage in its helper ("predefined") container rather
    /// than in the job's image (`getPredefinedEnv`): every stage but `prepare_script`, the
    /// steps and `after_script`.
    pub fn is_predefined(&self) -> bool {
        !matches!(self, Self::PrepareExecutor | Self::PrepareScript | Self::Step(_) | Self::AfterScript)
    }

    /// Whether this stage runs user-written commands (the `step_*` stages and
    /// `after_script`), which are what a graceful cancel interrupts.
    pub fn is_user_script(&self) -> bool {
        matches!(self, Self::Step(_) | Self::AfterScript)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}
