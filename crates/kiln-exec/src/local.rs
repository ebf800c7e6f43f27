//! The facts of a local pipeline, read from git and the command line: what
//! the server would know from its database.

use std::path::Path;
use std::process::Command;

use kiln_config::context::PipelineSource;
use kiln_payload::{CommitFacts, PipelineFacts, ProjectFacts, RunnerFacts, ServerFacts, UserFacts};
use serde::{Deserialize, Serialize};

use crate::workdir::git::GitFacts;

/// Numbers that keep counting across runs, as a server's ids do
/// (`.kiln/state.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counters {
    pub pipelines: u64,
    pub jobs: u64,
}

impl Counters {
    pub fn load(kiln_dir: &Path) -> Counters {
        std::fs::read(kiln_dir.join("state.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, kiln_dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(kiln_dir)?;
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(kiln_dir.join("state.json"), text)
    }
}

/// The ref the pipeline runs for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefChoice {
    pub name: String,
    pub tag: bool,
}

fn git_ok(root: &Path, args: &[&str]) -> bool {
    Command::new("git").arg("-C").arg(root).args(args).output().is_ok_and(|o| o.status.success())
}

fn git_out(root: &Path, args: &[&str]) -> Option<String> {
    let o = Command::new("git").arg("-C").arg(root).args(args).output().ok()?;
    let s = String::from_utf8(o.stdout).ok()?.trim().to_string();
    (o.status.success() && !s.is_empty()).then_some(s)
}

/// `--ref`, else the checked-out branch, else a tag at `HEAD`, else the
/// default branch. A name that is a tag but not a branch is a tag.
pub fn choose_ref(root: &Path, facts: &GitFacts, given: Option<&str>, default_branch: &str) -> RefChoice {
    match given {
        Some(name) => {
            let is_tag = git_ok(root, &["show-ref", "-q", "--verify", &format!("refs/tags/{name}")])
                && !git_ok(root, &["show-ref", "-q", "--verify", &format!("refs/heads/{name}")]);
            RefChoice { name: name.to_string(), tag: is_tag }
        }
        None => match (&facts.branch, &facts.tag) {
            (Some(b), _) => RefChoice { name: b.clone(), tag: false },
            (None, Some(t)) => RefChoice { name: t.clone(), tag: true },
            (None, None) => RefChoice { name: default_branch.to_string(), tag: false },
        },
    }
}

/// The server the project's `origin` points at (`https://<host>`), else
/// `https://localhost`.
pub fn server(facts: &GitFacts) -> ServerFacts {
    ServerFacts {
        url: format!("https://{}", facts.server_host.as_deref().unwrap_or("localhost")),
        version: "18.4.0".into(),
        revision: "kiln".into(),
        ssh_host: None,
        ssh_port: 22,
    }
}

/// The project: `origin`'s path, else `local/<directory name>`.
pub fn project(
    facts: &GitFacts,
    root: &Path,
    default_branch: &str,
    config_path: &str,
    repo: &Path,
) -> ProjectFacts {
    let fallback =
        root.file_name().map_or_else(|| "project".to_string(), |n| n.to_string_lossy().into_owned());
    let path = facts.project_path.clone().unwrap_or_else(|| format!("local/{fallback}"));
    ProjectFacts {
        id: 1,
        title: path.rsplit('/').next().unwrap_or(&path).to_string(),
        path,
        description: String::new(),
        namespace_id: 1,
        visibility: "private".into(),
        default_branch: default_branch.to_string(),
        config_path: config_path.to_string(),
        repository_url: Some(format!("file://{}", repo.display())),
        allow_git_fetch: true,
        default_git_depth: Some(20),
        timeout: 3600,
        separated_caches: true,
        cache_index: None,
    }
}

/// The pipeline for `commit` at `sha`.
pub fn pipeline(
    id: u64,
    source: PipelineSource,
    r: &RefChoice,
    protected: bool,
    facts: &GitFacts,
    sha: &str,
) -> PipelineFacts {
    PipelineFacts {
        id,
        iid: id,
        source,
        ref_name: r.name.clone(),
        tag: r.tag,
        protected,
        commit: CommitFacts {
            sha: sha.to_string(),
            before_sha: None,
            message: facts.commit.message.clone(),
            author_name: facts.commit.author_name.clone(),
            author_email: facts.commit.author_email.clone(),
            timestamp: facts.commit.timestamp.clone(),
        },
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        name: None,
        trigger_short_token: None,
        schedule_description: None,
        tag_message: None,
    }
}

/// The person at the keyboard, from git's configuration.
pub fn user(root: &Path) -> UserFacts {
    // Both keys from one git process; the last value of a key wins, as `git config <key>` has it.
    let (mut name, mut email) = (None, None);
    for line in
        git_out(root, &["config", "--get-regexp", r"^user\.(name|email)$"]).unwrap_or_default().lines()
    {
        match line.split_once(' ') {
            Some(("user.name", v)) if !v.is_empty() => name = Some(v.to_string()),
            Some(("user.email", v)) if !v.is_empty() => email = Some(v.to_string()),
            _ => {}
        }
    }
    let name = name.unwrap_or_else(|| "kiln".into());
    let email = email.unwrap_or_else(|| "kiln@localhost".into());
    let login = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "kiln".into());
    UserFacts { id: 1, login, email, name }
}

/// The local runner.
pub fn runner() -> RunnerFacts {
    RunnerFacts { id: 1, description: "kiln exec".into(), tags: Vec::new(), maximum_timeout: None }
}

/// What `cache:key:files` keys are computed from (`kiln_payload::key_string`):
/// the snapshot commit's files, their blob ids and their last commits.
#[derive(Debug, Clone)]
pub struct GitCacheKeys {
    pub repository: std::path::PathBuf,
    pub sha: String,
}

impl GitCacheKeys {
    fn git(&self, args: &[&str], input: Option<&str>) -> Option<String> {
        use std::io::Write;
        let mut child = Command::new("git")
            .arg("--git-dir")
            .arg(&self.repository)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let mut stdin = child.stdin.take()?;
        if let Some(text) = input {
            stdin.write_all(text.as_bytes()).ok()?;
        }
        drop(stdin);
        let out = child.wait_with_output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl kiln_payload::CacheKeyFiles for GitCacheKeys {
    fn list_files(&self) -> Vec<String> {
        self.git(&["ls-tree", "-r", "-z", "--name-only", "--full-tree", &self.sha], None)
            .map(|out| out.split('\0').filter(|p| !p.is_empty()).map(String::from).collect())
            .unwrap_or_default()
    }

    fn blob_ids(&self, paths: &[String]) -> Vec<Option<String>> {
        // Line breaks cannot be part of a `<rev>:<path>` line: such a path is absent.
        let input: String =
            paths.iter().map(|p| format!("{}:{}\n", self.sha, p.replace(['\n', '\r'], "\u{1}"))).collect();
        let out = self.git(&["cat-file", "--batch-check=%(objectname) %(objecttype)"], Some(&input));
        let lines: Vec<Option<String>> = out
            .unwrap_or_default()
            .lines()
            .map(|l| match l.split_once(' ') {
                Some((id, "blob")) => Some(id.to_string()),
                _ => None,
            })
            .collect();
        if lines.len() == paths.len() { lines } else { vec![None; paths.len()] }
    }

    fn last_commit(&self, path: &str) -> Option<String> {
        let out =
            self.git(&["--literal-pathspecs", "log", "-1", "--format=%H", &self.sha, "--", path], None)?;
        Some(out.trim().to_string()).filter(|id| !id.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    #[test]
    fn the_user_comes_from_git_config_and_the_last_value_wins() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            assert!(Command::new("git").arg("-C").arg(dir.path()).args(args).status().unwrap().success());
        };
        git(&["init", "-q"]);
        git(&["config", "user.name", "First Name"]);
        git(&["config", "--add", "user.name", "Ada Lovelace"]);
        git(&["config", "user.email", "ada@example.com"]);
        let user = super::user(dir.path());
        assert_eq!((user.name.as_str(), user.email.as_str()), ("Ada Lovelace", "ada@example.com"));
    }
}
