//! What `kiln lint` and `kiln exec` know about a pipeline from the git work
//! tree around the file, when there is one: branch or tag, commit, project
//! path and default branch. Flags override every value.

use std::path::Path;
use std::process::{Command, Stdio};

use kiln_config::context::{Commit, PipelineContext, Project};

/// Facts read from git; `None` where git has no answer.
#[derive(Debug, Default)]
pub struct GitFacts {
    pub branch: Option<String>,
    pub commit: Commit,
    pub project_path: Option<String>,
    /// The host of the `origin` remote, taken as the server's.
    pub server_host: Option<String>,
    pub default_branch: Option<String>,
    /// A tag pointing at `HEAD`, for a detached checkout of a tag.
    pub tag: Option<String>,
}

/// `git` started with its output captured, for [`answer`] to collect.
fn start(dir: &Path, args: &[&str]) -> Option<std::process::Child> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

/// Its trimmed standard output when it succeeded with some.
fn answer(child: Option<std::process::Child>) -> Option<String> {
    let out = child?.wait_with_output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim_end_matches('\n').to_string();
    (!text.is_empty()).then_some(text)
}

pub fn read(dir: &Path) -> GitFacts {
    // Four independent questions, asked at once: each is a process of a few milliseconds.
    let branch = start(dir, &["symbolic-ref", "--short", "-q", "HEAD"]);
    let log = start(dir, &["log", "-1", "--format=%H%x00%an%x00%ae%x00%cI%x00%B"]);
    let origin = start(dir, &["remote", "get-url", "origin"]);
    let default_branch = start(dir, &["symbolic-ref", "--short", "-q", "refs/remotes/origin/HEAD"]);
    let mut facts = GitFacts { branch: answer(branch), ..GitFacts::default() };
    if let Some(line) = answer(log) {
        let mut parts = line.splitn(5, '\0');
        facts.commit = Commit {
            sha: parts.next().unwrap_or_default().to_string(),
            author_name: parts.next().unwrap_or_default().to_string(),
            author_email: parts.next().unwrap_or_default().to_string(),
            timestamp: parts.next().unwrap_or_default().to_string(),
            message: parts.next().unwrap_or_default().trim_end().to_string(),
            before_sha: None,
        };
    }
    let origin = answer(origin);
    facts.project_path = origin.as_deref().and_then(project_path_of);
    facts.server_host = origin.as_deref().and_then(host_of);
    facts.default_branch = answer(default_branch).map(|r| r.trim_start_matches("origin/").to_string());
    if facts.branch.is_none() {
        facts.tag = answer(start(dir, &["describe", "--tags", "--exact-match", "HEAD"]));
    }
    facts
}

/// `group/project` from `git@host:group/project.git` or `https://host/group/project.git`.
pub fn project_path_of(url: &str) -> Option<String> {
    let rest = if let Some((_, after)) = url.split_once("://") {
        after.split_once('/')?.1
    } else {
        url.split_once(':')?.1
    };
    let path = rest.trim_end_matches('/').trim_end_matches(".git").trim_start_matches('/');
    (!path.is_empty()).then(|| path.to_string())
}

/// The host of `git@host:group/project.git` or `https://user@host:port/...`.
pub fn host_of(url: &str) -> Option<String> {
    let rest = match url.split_once("://") {
        Some((_, after)) => after.split('/').next()?,
        None => url.split_once(':')?.0,
    };
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host = host.split(':').next()?;
    (!host.is_empty()).then(|| host.to_string())
}

/// A context for linting: defaults a user would expect when nothing else is known.
pub fn context(facts: GitFacts, fallback_name: &str) -> PipelineContext {
    let project_path = facts.project_path.unwrap_or_else(|| format!("local/{fallback_name}"));
    let default_branch = facts.default_branch.unwrap_or_else(|| "main".to_string());
    let server_url = format!("https://{}", facts.server_host.as_deref().unwrap_or("localhost"));
    PipelineContext {
        ref_name: facts.branch.unwrap_or_else(|| default_branch.clone()),
        commit: facts.commit,
        project: Project {
            id: 1,
            url: format!("{server_url}/{project_path}"),
            server_url,
            path: project_path,
            default_branch,
        },
        ..PipelineContext::default()
    }
}

#[cfg(test)]
mod tests {
    use super::project_path_of;

    #[test]
    fn remote_urls_give_project_paths() {
        assert_eq!(
            project_path_of("git@gitlab.com:gcl/test-project.git").as_deref(),
            Some("gcl/test-project")
        );
        assert_eq!(project_path_of("https://gitlab.com/a/b/c.git").as_deref(), Some("a/b/c"));
        assert_eq!(project_path_of("ssh://git@host:22/a/b").as_deref(), Some("a/b"));
        assert_eq!(project_path_of("nonsense"), None);
        assert_eq!(super::host_of("git@gitlab.com:gcl/test-project.git").as_deref(), Some("gitlab.com"));
        assert_eq!(super::host_of("https://me@host.example:8443/a/b.git").as_deref(), Some("host.example"));
    }
}
