//! GitLab's predefined variables, group by group, each in the order GitLab
//! appends them: the job's persisted ones (`Ci::Build#persisted_variables`),
//! the job's own (`Variables::Builder#predefined_variables`), the server's and
//! project's (`Project#predefined_variables`), the pipeline's
//! (`Variables::Builder::Pipeline`), the runner's and the user's.
//!
//! Left out on purpose, because Kiln has no such service: `CI_REGISTRY*`,
//! `CI_DEPENDENCY_PROXY_*`, `CI_DEPLOY_*`, `CI_PAGES_*`, Kubernetes, merge
//! request and external pull request variables, `CI_KUBERNETES_ACTIVE`,
//! `CI_DEPLOY_FREEZE`, `CI_OPEN_MERGE_REQUESTS`, ID tokens.

use kiln_config::context::ref_slug;
use kiln_config::plan::spec::{JobSpec, JobWhen};

use crate::Item;
use crate::environment::Environment;
use crate::facts::{JobFacts, PipelineFacts, ProjectFacts, RunnerFacts, ServerFacts, UserFacts};

/// The value of `CI_COMMIT_BEFORE_SHA` when there is no previous commit.
pub const BLANK_SHA: &str = "0000000000000000000000000000000000000000";

/// GitLab truncates commit messages longer than this many bytes.
const MAX_COMMIT_MESSAGE_BYTES: usize = 100_000;

/// `CI_PIPELINE_ID`, `CI_PIPELINE_URL` and the job's persisted variables.
pub(crate) fn persisted(
    server: &ServerFacts,
    project: &ProjectFacts,
    pipeline: &PipelineFacts,
    job: &JobFacts,
    repo_url: &str,
) -> Vec<Item> {
    let web = project.web_url(server);
    vec![
        Item::public("CI_PIPELINE_ID", pipeline.id.to_string()),
        Item::public("CI_PIPELINE_URL", format!("{web}/-/pipelines/{}", pipeline.id)),
        Item::public("CI_JOB_ID", job.id.to_string()),
        Item::public("CI_JOB_URL", format!("{web}/-/jobs/{}", job.id)),
        Item::secret("CI_JOB_TOKEN", &job.token).masked(),
        Item::public("CI_JOB_STARTED_AT", job.started_at.clone().unwrap_or_default()),
        Item::secret("CI_REPOSITORY_URL", repo_url),
    ]
}

/// The job's identity: name, stage, manual, trigger, `parallel` and environment.
pub(crate) fn job(spec: &JobSpec, pipeline: &PipelineFacts, environment: Option<&Environment>) -> Vec<Item> {
    let mut vars = vec![
        Item::public("CI_JOB_NAME", &spec.name),
        Item::public("CI_JOB_NAME_SLUG", ref_slug(&spec.name)),
        Item::public("CI_JOB_GROUP_NAME", group_name(&spec.name)),
        Item::public("CI_JOB_STAGE", &spec.stage),
    ];
    if matches!(spec.when, JobWhen::Manual | JobWhen::Delayed) {
        vars.push(Item::public("CI_JOB_MANUAL", "true"));
    }
    if let Some(token) = &pipeline.trigger_short_token {
        vars.push(Item::public("CI_PIPELINE_TRIGGERED", "true"));
        vars.push(Item::public("CI_TRIGGER_SHORT_TOKEN", token));
    }
    if let Some(p) = &spec.parallel {
        vars.push(Item::public("CI_NODE_INDEX", p.index.to_string()));
    }
    vars.push(Item::public("CI_NODE_TOTAL", spec.parallel.as_ref().map_or(1, |p| p.total).to_string()));
    if let Some(env) = environment {
        vars.push(Item::public("CI_ENVIRONMENT_NAME", &env.name));
        vars.push(Item::public("CI_ENVIRONMENT_ACTION", &env.action));
        vars.push(Item::public("CI_ENVIRONMENT_TIER", &env.tier));
        if let Some(url) = &env.url {
            vars.push(Item::public("CI_ENVIRONMENT_URL", url));
        }
    }
    vars
}

/// `CI`, `GITLAB_CI`, `CI_SERVER_*`, `CI_PROJECT_*`, `CI_DEFAULT_BRANCH`,
/// `CI_CONFIG_PATH`, `CI_API_*`.
pub(crate) fn project(server: &ServerFacts, project: &ProjectFacts) -> Vec<Item> {
    let (protocol, host, port) = server.parts();
    let default_port = if protocol == "http" { 80 } else { 443 };
    let fqdn = if port == default_port { host.to_string() } else { format!("{host}:{port}") };
    let (major, minor, patch) = version_parts(&server.version);
    let base = server.url.trim_end_matches('/');
    let namespace = project.namespace();
    let title = if project.title.is_empty() { project.name() } else { project.title.as_str() };
    vec![
        Item::public("CI", "true"),
        Item::public("GITLAB_CI", "true"),
        Item::public("CI_SERVER_FQDN", fqdn),
        Item::public("CI_SERVER_URL", base),
        Item::public("CI_SERVER_HOST", host),
        Item::public("CI_SERVER_PORT", port.to_string()),
        Item::public("CI_SERVER_PROTOCOL", protocol),
        Item::public("CI_SERVER_SHELL_SSH_HOST", server.ssh_host.as_deref().unwrap_or(host)),
        Item::public("CI_SERVER_SHELL_SSH_PORT", server.ssh_port.to_string()),
        Item::public("CI_SERVER_NAME", "GitLab"),
        Item::public("CI_SERVER_VERSION", &server.version),
        Item::public("CI_SERVER_VERSION_MAJOR", major),
        Item::public("CI_SERVER_VERSION_MINOR", minor),
        Item::public("CI_SERVER_VERSION_PATCH", patch),
        Item::public("CI_SERVER_REVISION", &server.revision),
        Item::public("GITLAB_FEATURES", ""),
        Item::public("CI_PROJECT_ID", project.id.to_string()),
        Item::public("CI_PROJECT_NAME", project.name()),
        Item::public("CI_PROJECT_TITLE", title),
        Item::public("CI_PROJECT_DESCRIPTION", &project.description),
        Item::public("CI_PROJECT_PATH", &project.path),
        Item::public("CI_PROJECT_PATH_SLUG", ref_slug(&project.path)),
        Item::public("CI_PROJECT_NAMESPACE", namespace),
        Item::public("CI_PROJECT_NAMESPACE_SLUG", ref_slug(namespace)),
        Item::public("CI_PROJECT_NAMESPACE_ID", project.namespace_id.to_string()),
        Item::public("CI_PROJECT_ROOT_NAMESPACE", project.path.split('/').next().unwrap_or("")),
        Item::public("CI_PROJECT_URL", project.web_url(server)),
        Item::public("CI_PROJECT_VISIBILITY", &project.visibility),
        Item::public("CI_PROJECT_REPOSITORY_LANGUAGES", ""),
        Item::public("CI_PROJECT_CLASSIFICATION_LABEL", ""),
        Item::public("CI_DEFAULT_BRANCH", &project.default_branch),
        Item::public("CI_CONFIG_PATH", &project.config_path),
        Item::public("CI_API_V4_URL", format!("{base}/api/v4")),
        Item::public("CI_API_GRAPHQL_URL", format!("{base}/api/graphql")),
        Item::public("CI_TEMPLATE_REGISTRY_HOST", "registry.gitlab.com"),
    ]
}

/// `CI_PIPELINE_*` and, for a pipeline with a commit, `CI_COMMIT_*`.
pub(crate) fn pipeline(p: &PipelineFacts) -> Vec<Item> {
    let mut vars = vec![
        Item::public("CI_PIPELINE_IID", p.iid.to_string()),
        Item::public("CI_PIPELINE_SOURCE", p.source.as_str()),
        Item::public("CI_PIPELINE_CREATED_AT", &p.created_at),
        Item::public("CI_PIPELINE_NAME", p.name.clone().unwrap_or_default()),
    ];
    if let Some(d) = &p.schedule_description {
        vars.push(Item::public("CI_PIPELINE_SCHEDULE_DESCRIPTION", d));
    }
    let c = &p.commit;
    if !c.sha.is_empty() {
        let truncated = c.message.len() > MAX_COMMIT_MESSAGE_BYTES;
        let cut =
            |s: &str| if truncated { truncate_bytes(s, MAX_COMMIT_MESSAGE_BYTES) } else { s.to_string() };
        let (title, description) = title_and_description(&c.message);
        vars.extend([
            Item::public("CI_COMMIT_SHA", &c.sha),
            Item::public("CI_COMMIT_SHORT_SHA", c.sha.get(..8).unwrap_or(&c.sha)),
            Item::public("CI_COMMIT_BEFORE_SHA", c.before_sha.as_deref().unwrap_or(BLANK_SHA)),
            Item::public("CI_COMMIT_REF_NAME", &p.ref_name),
            Item::public("CI_COMMIT_REF_SLUG", ref_slug(&p.ref_name)),
        ]);
        if !p.tag {
            vars.push(Item::public("CI_COMMIT_BRANCH", &p.ref_name));
        }
        vars.extend([
            Item::public("CI_COMMIT_MESSAGE", cut(&c.message)),
            Item::public("CI_COMMIT_MESSAGE_IS_TRUNCATED", truncated.to_string()),
            Item::public("CI_COMMIT_TITLE", cut(title)),
            Item::public("CI_COMMIT_DESCRIPTION", cut(description)),
            Item::public("CI_COMMIT_REF_PROTECTED", p.protected.to_string()),
            Item::public("CI_COMMIT_TIMESTAMP", &c.timestamp),
            Item::public("CI_COMMIT_AUTHOR", format!("{} <{}>", c.author_name, c.author_email)),
        ]);
    }
    if p.tag {
        vars.push(Item::public("CI_COMMIT_TAG", &p.ref_name));
        vars.push(Item::public("CI_COMMIT_TAG_MESSAGE", p.tag_message.clone().unwrap_or_default()));
    }
    vars
}

/// `CI_RUNNER_ID`, `CI_RUNNER_DESCRIPTION`, `CI_RUNNER_TAGS`.
pub(crate) fn runner(r: &RunnerFacts) -> Vec<Item> {
    vec![
        Item::public("CI_RUNNER_ID", r.id.to_string()),
        Item::public("CI_RUNNER_DESCRIPTION", &r.description),
        Item::public("CI_RUNNER_TAGS", r.tags.join(", ")),
    ]
}

/// `GITLAB_USER_*`.
pub(crate) fn user(u: Option<&UserFacts>) -> Vec<Item> {
    let Some(u) = u else { return Vec::new() };
    vec![
        Item::public("GITLAB_USER_ID", u.id.to_string()),
        Item::public("GITLAB_USER_EMAIL", &u.email),
        Item::public("GITLAB_USER_LOGIN", &u.login),
        Item::public("GITLAB_USER_NAME", &u.name),
    ]
}

/// `CI_ENVIRONMENT_SLUG` and the unexpanded `CI_ENVIRONMENT_URL`, which
/// GitLab appends last so that the runner expands the URL with every other
/// variable in place.
pub(crate) fn environment(env: Option<&Environment>) -> Vec<Item> {
    let Some(env) = env else { return Vec::new() };
    let mut vars = vec![Item::public("CI_ENVIRONMENT_SLUG", &env.slug)];
    if let Some(url) = &env.url {
        vars.push(Item::public("CI_ENVIRONMENT_URL", url));
    }
    vars
}

/// GitLab's `Gitlab::Utils::Job.group_name`: `test 1/3` and `build: [linux]`
/// belong to the groups `test` and `build` (up to three trailing `N/M` or
/// `[...]` markers are removed).
pub fn group_name(name: &str) -> String {
    // The pattern is anchored at the end, where a marker ends in `]` or a digit:
    // most names end otherwise, and skip compiling it (once per job payload).
    if !name.trim_end().ends_with(|c: char| c == ']' || c.is_ascii_digit()) {
        return name.trim().to_string();
    }
    // Ruby's `[\b\s:]` is a backspace, a space or a colon.
    match regex::Regex::new(r"([\x08\s:]+((\[.*\])|(\d+[\s:/\\]+\d+))){1,3}\s*\z") {
        Ok(re) => re.replace(name, "").trim().to_string(),
        Err(_) => name.trim().to_string(),
    }
}

fn version_parts(v: &str) -> (String, String, String) {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let mut it = core.split('.');
    let mut part = || it.next().unwrap_or("0").to_string();
    (part(), part(), part())
}

/// GitLab's `Commit#full_title` and `#description`: the first line, and the
/// message after the first newline (leading blank lines included, one
/// trailing newline removed), or the whole message when the title is longer
/// than 100 characters.
fn title_and_description(message: &str) -> (&str, &str) {
    let title = message.split(['\r', '\n']).next().unwrap_or("");
    let title_end = message.find('\n');
    let long_title = match title_end {
        None => message.chars().count() > 100,
        Some(end) => message[..end].chars().count() > 100,
    };
    let description =
        if long_title { message } else { message.split_once('\n').map_or("", |(_, rest)| rest) };
    (title, description.strip_suffix('\n').unwrap_or(description))
}

fn truncate_bytes(s: &str, max: usize) -> String {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names() {
        assert_eq!(group_name("test 1/3"), "test");
        assert_eq!(group_name("build: [linux, amd64]"), "build");
        assert_eq!(group_name("rspec 2:4"), "rspec");
        assert_eq!(group_name("deploy"), "deploy");
        assert_eq!(group_name("a 1/2 [x]"), "a");
        assert_eq!(group_name("v1.2"), "v1.2");
        assert_eq!(group_name("  lint  "), "lint");
        assert_eq!(group_name("test 1/3  "), "test");
    }

    #[test]
    fn titles_and_descriptions() {
        assert_eq!(title_and_description("one line"), ("one line", ""));
        assert_eq!(title_and_description("title\n\nbody\nmore\n"), ("title", "\nbody\nmore"));
        let long = "x".repeat(101);
        assert_eq!(title_and_description(&long), (long.as_str(), long.as_str()));
    }

    #[test]
    fn versions() {
        assert_eq!(version_parts("18.4.1-ee"), ("18".into(), "4".into(), "1".into()));
        assert_eq!(version_parts("0.1"), ("0".into(), "1".into(), "0".into()));
    }
}
