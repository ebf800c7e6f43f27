//! The plain facts a payload is computed from: the server, the project, the
//! pipeline, the user who started it, the runner that takes the job, and the
//! job itself. The coordinator fills them from its database, `kiln exec` from
//! git and its command line; nothing here is looked up.
//!
//! They are serde types so that tests can keep them as JSON fixtures.

use kiln_config::context::{Commit, PipelineContext, PipelineSource, Project, RefKind};
use serde::{Deserialize, Serialize};

/// The GitLab-compatible server (`CI_SERVER_*`, `CI_API_*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerFacts {
    /// Base URL, `https://gitlab.example.com` (no trailing slash).
    pub url: String,
    /// `CI_SERVER_VERSION`: `major.minor.patch[-suffix]`.
    pub version: String,
    /// `CI_SERVER_REVISION`.
    #[serde(default)]
    pub revision: String,
    /// `CI_SERVER_SHELL_SSH_HOST`; the URL's host when unset.
    #[serde(default)]
    pub ssh_host: Option<String>,
    /// `CI_SERVER_SHELL_SSH_PORT`.
    #[serde(default = "default_ssh_port")]
    pub ssh_port: u16,
}

fn default_ssh_port() -> u16 {
    22
}

impl ServerFacts {
    /// `(protocol, host, port)` of the URL, with the scheme's default port.
    pub fn parts(&self) -> (&str, &str, u16) {
        let (protocol, rest) = self.url.split_once("://").unwrap_or(("https", self.url.as_str()));
        let authority = rest.split('/').next().unwrap_or("");
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let default_port = if protocol == "http" { 80 } else { 443 };
        match authority.rsplit_once(':') {
            // `[::1]` has colons but no port.
            Some((host, port)) if !port.contains(']') => {
                (protocol, host, port.parse().unwrap_or(default_port))
            }
            _ => (protocol, authority, default_port),
        }
    }
}

/// The project the pipeline belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectFacts {
    pub id: u64,
    /// `group/subgroup/project`.
    pub path: String,
    /// `CI_PROJECT_TITLE` (the display name).
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub namespace_id: u64,
    /// `private`, `internal` or `public`.
    #[serde(default = "default_visibility")]
    pub visibility: String,
    pub default_branch: String,
    /// `CI_CONFIG_PATH`.
    #[serde(default = "default_config_path")]
    pub config_path: String,
    /// The clone URL the runner fetches from; `<server>/<path>.git` when unset.
    /// GitLab puts `gitlab-ci-token:<job token>@` into `http(s)` URLs only.
    #[serde(default)]
    pub repository_url: Option<String>,
    /// "Git strategy: fetch" in the project's CI/CD settings.
    #[serde(default = "yes")]
    pub allow_git_fetch: bool,
    /// `ci_default_git_depth` (GitLab's default for new projects is 20; `None`
    /// is a full clone).
    #[serde(default)]
    pub default_git_depth: Option<u32>,
    /// The project's job timeout in seconds (GitLab's default is one hour).
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    /// "Use separate caches for protected branches" (GitLab's default is on).
    #[serde(default = "yes")]
    pub separated_caches: bool,
    /// Bumped by "Clear runner caches"; appended to every cache key.
    #[serde(default)]
    pub cache_index: Option<u32>,
}

fn default_visibility() -> String {
    "private".into()
}

fn default_config_path() -> String {
    ".gitlab-ci.yml".into()
}

fn default_timeout() -> u64 {
    3600
}

fn yes() -> bool {
    true
}

impl ProjectFacts {
    /// The project's last path segment (`CI_PROJECT_NAME`).
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// Everything before the last segment (`CI_PROJECT_NAMESPACE`).
    pub fn namespace(&self) -> &str {
        self.path.rsplit_once('/').map_or("", |(ns, _)| ns)
    }

    /// The web URL (`CI_PROJECT_URL`).
    pub fn web_url(&self, server: &ServerFacts) -> String {
        format!("{}/{}", server.url.trim_end_matches('/'), self.path)
    }

    /// The clone URL without credentials.
    pub fn http_url_to_repo(&self, server: &ServerFacts) -> String {
        self.repository_url.clone().unwrap_or_else(|| format!("{}.git", self.web_url(server)))
    }
}

/// The commit a pipeline runs for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitFacts {
    pub sha: String,
    /// `CI_COMMIT_BEFORE_SHA`; all zeros when unknown.
    #[serde(default)]
    pub before_sha: Option<String>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub author_name: String,
    #[serde(default)]
    pub author_email: String,
    /// ISO 8601.
    #[serde(default)]
    pub timestamp: String,
}

/// One pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineFacts {
    pub id: u64,
    pub iid: u64,
    #[serde(with = "source_serde")]
    pub source: PipelineSource,
    /// Branch or tag name.
    #[serde(rename = "ref")]
    pub ref_name: String,
    #[serde(default)]
    pub tag: bool,
    /// Whether the ref is protected.
    #[serde(default)]
    pub protected: bool,
    pub commit: CommitFacts,
    /// ISO 8601 (`CI_PIPELINE_CREATED_AT`).
    pub created_at: String,
    /// `workflow:name`, expanded.
    #[serde(default)]
    pub name: Option<String>,
    /// Set when a trigger token started the pipeline (`CI_TRIGGER_SHORT_TOKEN`).
    #[serde(default)]
    pub trigger_short_token: Option<String>,
    /// The schedule's description for scheduled pipelines.
    #[serde(default)]
    pub schedule_description: Option<String>,
    /// The annotated tag's message for tag pipelines.
    #[serde(default)]
    pub tag_message: Option<String>,
}

impl PipelineFacts {
    /// The processor's view of the same pipeline, so `kiln-config` plans with
    /// exactly the facts the payload is built from. `variables` are the ones
    /// rules may see (instance, group, project, pipeline), lowest first.
    pub fn context(
        &self,
        server: &ServerFacts,
        project: &ProjectFacts,
        variables: Vec<(String, String)>,
    ) -> PipelineContext {
        PipelineContext {
            source: self.source,
            ref_name: self.ref_name.clone(),
            ref_kind: if self.tag { RefKind::Tag } else { RefKind::Branch },
            ref_protected: self.protected,
            commit: Commit {
                sha: self.commit.sha.clone(),
                before_sha: self.commit.before_sha.clone(),
                message: self.commit.message.clone(),
                author_name: self.commit.author_name.clone(),
                author_email: self.commit.author_email.clone(),
                timestamp: self.commit.timestamp.clone(),
            },
            project: Project {
                id: project.id,
                path: project.path.clone(),
                default_branch: project.default_branch.clone(),
                url: project.web_url(server),
                server_url: server.url.clone(),
            },
            changed_paths: None,
            variables,
        }
    }
}

/// The user who started the pipeline (`GITLAB_USER_*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserFacts {
    pub id: u64,
    pub login: String,
    pub email: String,
    pub name: String,
}

/// The runner that takes the job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerFacts {
    pub id: u64,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The runner's `maximum_timeout` in seconds; caps every job's timeout.
    #[serde(default)]
    pub maximum_timeout: Option<u64>,
}

/// The running job's own record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobFacts {
    pub id: u64,
    /// The job token (`glcbt-...`).
    pub token: String,
    /// ISO 8601, when the job started running (`CI_JOB_STARTED_AT`).
    #[serde(default)]
    pub started_at: Option<String>,
    /// Variables given when a person played or retried the job: they win
    /// over everything but the environment's.
    #[serde(default)]
    pub play_variables: Vec<(String, String)>,
    /// Seconds the job waited in the queue (`job_info.time_in_queue_seconds`).
    #[serde(default)]
    pub time_in_queue_seconds: Option<f64>,
}

/// A job whose artifacts the running job downloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyFacts {
    pub id: u64,
    pub name: String,
    /// The archive's file name and size, when the job uploaded one.
    #[serde(default)]
    pub artifacts_file: Option<(String, u64)>,
    /// Variables from the job's `artifacts:reports:dotenv`, in file order.
    #[serde(default)]
    pub dotenv: Vec<(String, String)>,
}

mod source_serde {
    use kiln_config::context::PipelineSource;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(s: &PipelineSource, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PipelineSource, D::Error> {
        let text = String::deserialize(d)?;
        PipelineSource::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown pipeline source `{text}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::ServerFacts;

    fn server(url: &str) -> ServerFacts {
        ServerFacts {
            url: url.into(),
            version: "18.0.0".into(),
            revision: String::new(),
            ssh_host: None,
            ssh_port: 22,
        }
    }

    #[test]
    fn server_url_parts() {
        assert_eq!(server("https://gitlab.example.com").parts(), ("https", "gitlab.example.com", 443));
        assert_eq!(server("http://127.0.0.1:8080").parts(), ("http", "127.0.0.1", 8080));
        assert_eq!(server("http://[::1]:9000/x").parts(), ("http", "[::1]", 9000));
    }
}
