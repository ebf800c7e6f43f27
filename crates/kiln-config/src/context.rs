//! What a pipeline is being created for: its source, ref, commit and the
//! variables that `workflow:rules`, `include:rules` and job `rules` can see.
//!
//! The caller (lint, exec, the coordinator) fills this in; the processor never
//! looks at git or a database itself.

use std::collections::BTreeMap;
use std::fmt;

/// Why a pipeline runs: GitLab's `CI_PIPELINE_SOURCE` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PipelineSource {
    #[default]
    Push,
    Web,
    Api,
    Schedule,
    Trigger,
    MergeRequestEvent,
    ExternalPullRequestEvent,
    Pipeline,
    ParentPipeline,
    Chat,
    Webide,
    OndemandDastScan,
    OndemandDastValidation,
    SecurityOrchestrationPolicy,
}

impl PipelineSource {
    pub const ALL: [PipelineSource; 14] = [
        PipelineSource::Push,
        PipelineSource::Web,
        PipelineSource::Api,
        PipelineSource::Schedule,
        PipelineSource::Trigger,
        PipelineSource::MergeRequestEvent,
        PipelineSource::ExternalPullRequestEvent,
        PipelineSource::Pipeline,
        PipelineSource::ParentPipeline,
        PipelineSource::Chat,
        PipelineSource::Webide,
        PipelineSource::OndemandDastScan,
        PipelineSource::OndemandDastValidation,
        PipelineSource::SecurityOrchestrationPolicy,
    ];

    /// The value of `CI_PIPELINE_SOURCE`.
    pub fn as_str(self) -> &'static str {
        match self {
            PipelineSource::Push => "push",
            PipelineSource::Web => "web",
            PipelineSource::Api => "api",
            PipelineSource::Schedule => "schedule",
            PipelineSource::Trigger => "trigger",
            PipelineSource::MergeRequestEvent => "merge_request_event",
            PipelineSource::ExternalPullRequestEvent => "external_pull_request_event",
            PipelineSource::Pipeline => "pipeline",
            PipelineSource::ParentPipeline => "parent_pipeline",
            PipelineSource::Chat => "chat",
            PipelineSource::Webide => "webide",
            PipelineSource::OndemandDastScan => "ondemand_dast_scan",
            PipelineSource::OndemandDastValidation => "ondemand_dast_validation",
            PipelineSource::SecurityOrchestrationPolicy => "security_orchestration_policy",
        }
    }

    pub fn parse(s: &str) -> Option<PipelineSource> {
        PipelineSource::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for PipelineSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the pipeline's ref is a branch or a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RefKind {
    #[default]
    Branch,
    Tag,
}

/// The commit a pipeline runs for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    /// The previous tip of the branch for pushes (`CI_COMMIT_BEFORE_SHA`);
    /// all zeros when unknown, as GitLab sends it.
    pub before_sha: Option<String>,
    pub message: String,
    pub author_name: String,
    pub author_email: String,
    /// ISO 8601, as `CI_COMMIT_TIMESTAMP`.
    pub timestamp: String,
}

impl Commit {
    /// The first line of the message (`CI_COMMIT_TITLE`).
    pub fn title(&self) -> &str {
        self.message.lines().next().unwrap_or("")
    }
}

/// The project a pipeline belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Project {
    pub id: u64,
    /// `group/subgroup/project`
    pub path: String,
    pub default_branch: String,
    /// Web URL of the project (`CI_PROJECT_URL`).
    pub url: String,
    /// Base URL of the server (`CI_SERVER_URL`).
    pub server_url: String,
}

impl Project {
    /// The last path segment (`CI_PROJECT_NAME`).
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// Everything before the last segment (`CI_PROJECT_NAMESPACE`).
    pub fn namespace(&self) -> &str {
        self.path.rsplit_once('/').map_or("", |(ns, _)| ns)
    }
}

/// Everything rules can depend on, for one pipeline.
#[derive(Debug, Clone, Default)]
pub struct PipelineContext {
    pub source: PipelineSource,
    /// Branch or tag name, without `refs/heads/` or `refs/tags/`.
    pub ref_name: String,
    pub ref_kind: RefKind,
    /// Whether the ref is protected (`CI_COMMIT_REF_PROTECTED`).
    pub ref_protected: bool,
    pub commit: Commit,
    pub project: Project,
    /// Paths changed by the push (or against `compare_to`); `None` when the
    /// pipeline has no meaningful diff, in which case GitLab treats every
    /// `rules:changes` as true.
    pub changed_paths: Option<Vec<String>>,
    /// Variables defined outside the YAML that rules can see: instance,
    /// group and project CI/CD variables, trigger, schedule and API
    /// variables. Later entries win over earlier ones with the same name.
    pub variables: Vec<(String, String)>,
}

impl PipelineContext {
    /// The predefined variables GitLab makes available to `workflow:rules`,
    /// `include:rules` and job `rules` (pipeline-level only; job-level ones
    /// such as `CI_JOB_NAME` are added per job by the planner), followed by
    /// [`PipelineContext::variables`], which win.
    pub fn predefined_variables(&self) -> BTreeMap<String, String> {
        let mut vars = self.pipeline_predefined_variables();
        for (k, v) in &self.variables {
            vars.insert(k.clone(), v.clone());
        }
        vars
    }

    /// Only the predefined pipeline variables, without
    /// [`PipelineContext::variables`] (the planner puts YAML variables
    /// between the two, as GitLab's precedence says).
    pub fn pipeline_predefined_variables(&self) -> BTreeMap<String, String> {
        let mut vars = BTreeMap::new();
        let mut set = |k: &str, v: &str| {
            vars.insert(k.to_string(), v.to_string());
        };
        set("CI", "true");
        set("GITLAB_CI", "true");
        set("CI_PIPELINE_SOURCE", self.source.as_str());
        set("CI_COMMIT_REF_NAME", &self.ref_name);
        set("CI_COMMIT_REF_SLUG", &ref_slug(&self.ref_name));
        set("CI_COMMIT_REF_PROTECTED", if self.ref_protected { "true" } else { "false" });
        match self.ref_kind {
            RefKind::Branch => set("CI_COMMIT_BRANCH", &self.ref_name),
            RefKind::Tag => {
                set("CI_COMMIT_TAG", &self.ref_name);
                set("CI_COMMIT_TAG_MESSAGE", "");
            }
        }
        set("CI_COMMIT_SHA", &self.commit.sha);
        set("CI_COMMIT_SHORT_SHA", self.commit.sha.get(..8).unwrap_or(&self.commit.sha));
        set(
            "CI_COMMIT_BEFORE_SHA",
            self.commit.before_sha.as_deref().unwrap_or("0000000000000000000000000000000000000000"),
        );
        set("CI_COMMIT_MESSAGE", &self.commit.message);
        set("CI_COMMIT_TITLE", self.commit.title());
        let description =
            self.commit.message.split_once('\n').map_or("", |(_, rest)| rest.trim_start_matches('\n'));
        set("CI_COMMIT_DESCRIPTION", description);
        set("CI_COMMIT_AUTHOR", &format!("{} <{}>", self.commit.author_name, self.commit.author_email));
        set("CI_COMMIT_TIMESTAMP", &self.commit.timestamp);
        set("CI_DEFAULT_BRANCH", &self.project.default_branch);
        set("CI_PROJECT_PATH", &self.project.path);
        set("CI_PROJECT_PATH_SLUG", &ref_slug(&self.project.path));
        set("CI_PROJECT_NAME", self.project.name());
        set("CI_PROJECT_NAMESPACE", self.project.namespace());
        set("CI_PROJECT_ROOT_NAMESPACE", self.project.path.split('/').next().unwrap_or(""));
        set("CI_PROJECT_ID", &self.project.id.to_string());
        set("CI_PROJECT_URL", &self.project.url);
        set("CI_SERVER_URL", &self.project.server_url);
        if let Some(host) = host_of(&self.project.server_url) {
            set("CI_SERVER_HOST", host);
            set("CI_SERVER_FQDN", host);
        }
        vars
    }
}

/// GitLab's slug: lowercase, anything but `0-9a-z` becomes `-`, at most 63
/// bytes, no leading or trailing `-`.
pub fn ref_slug(s: &str) -> String {
    let lowered: String =
        s.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let truncated: String = lowered.chars().take(63).collect();
    truncated.trim_matches('-').to_string()
}

fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let host_port = rest.split('/').next()?;
    let host = host_port.rsplit_once('@').map_or(host_port, |(_, h)| h);
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::ref_slug;

    #[test]
    fn slugs_are_gitlab_slugs() {
        assert_eq!(ref_slug("feature/Add_Thing"), "feature-add-thing");
        assert_eq!(ref_slug("-v1.2-"), "v1-2");
        assert_eq!(ref_slug(&"a".repeat(70)).len(), 63);
    }
}
