//! One bare repository: creation, ref lookup, and reads at a commit.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::command::{Output, run};
use crate::error::GitError;
use crate::oid::Oid;
use crate::refname::{validate_branch_name, validate_ref_name, validate_tag_name};
use crate::settings::Settings;

mod history;

/// Output limit for commands whose answer is a line or two.
const SMALL: usize = 64 * 1024;

/// A bare repository on disk.
#[derive(Debug, Clone)]
pub struct Repository {
    path: PathBuf,
    settings: Arc<Settings>,
}

/// A branch or tag and what it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefEntry {
    /// The full name: `refs/heads/main`, `refs/tags/v1`.
    pub name: String,
    /// The object the ref names (a tag object for annotated tags).
    pub target: Oid,
    /// The commit an annotated tag points at; `None` for other refs.
    pub peeled: Option<Oid>,
}

impl RefEntry {
    /// The commit this ref leads to.
    pub fn commit(&self) -> &Oid {
        self.peeled.as_ref().unwrap_or(&self.target)
    }
}

/// What GitLab shows of a commit (and the `CI_COMMIT_*` variables need).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub sha: Oid,
    pub parents: Vec<Oid>,
    /// The full message, as written.
    pub message: String,
    pub author_name: String,
    pub author_email: String,
    /// Seconds since the epoch.
    pub authored_at: i64,
    /// Strict ISO 8601 with the author's offset.
    pub authored_iso: String,
    pub committer_name: String,
    pub committer_email: String,
    pub committed_at: i64,
    pub committed_iso: String,
}

impl CommitInfo {
    /// The first line of the message.
    pub fn title(&self) -> &str {
        self.message.lines().next().unwrap_or("")
    }
}

fn args<const N: usize>(list: [&str; N]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

impl Repository {
    /// A repository handle; nothing is checked until it is used.
    pub fn open(path: impl Into<PathBuf>, settings: Arc<Settings>) -> Repository {
        Repository { path: path.into(), settings }
    }

    /// Creates a bare repository at `path` (which must not exist yet) whose
    /// `HEAD` names `default_branch`, configured for serving over HTTP.
    pub async fn create(
        path: impl Into<PathBuf>,
        default_branch: &str,
        settings: Arc<Settings>,
    ) -> Result<Repository, GitError> {
        validate_branch_name(default_branch)?;
        let repo = Repository::open(path, settings);
        let mut cmd = crate::command::base_command(&repo.settings);
        let mut branch = OsString::from("--initial-branch=");
        branch.push(default_branch);
        cmd.arg("init").arg("--bare").arg("--quiet").arg(branch).arg("--").arg(&repo.path);
        let output = tokio::time::timeout(repo.settings.command_timeout, cmd.output())
            .await
            .map_err(|_| GitError::Timeout {
                command: "init".into(),
                seconds: repo.settings.command_timeout.as_secs(),
            })?
            .map_err(|source| GitError::Spawn {
                program: repo.settings.program.display().to_string(),
                source,
            })?;
        if !output.status.success() {
            return Err(GitError::Failed {
                command: "init".into(),
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        for (key, value) in [
            // `git push -o ci.skip` needs the server to advertise push options.
            ("receive.advertisePushOptions", "true"),
            // The server authenticates pushes itself before git sees them.
            ("http.receivepack", "true"),
            ("receive.fsckObjects", "true"),
            ("uploadpack.allowFilter", "true"),
            ("uploadpack.allowReachableSHA1InWant", "true"),
            ("core.logAllRefUpdates", "false"),
        ] {
            repo.git("config", args(["config", key, value]), SMALL).await?;
        }
        Ok(repo)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn settings(&self) -> &Arc<Settings> {
        &self.settings
    }

    async fn git(&self, name: &str, args: Vec<OsString>, limit: usize) -> Result<Output, GitError> {
        run(&self.settings, &self.path, name, &args, None, limit).await?.ok(name)
    }

    /// Points `HEAD` (the default branch) at `branch`.
    pub async fn set_default_branch(&self, branch: &str) -> Result<(), GitError> {
        validate_branch_name(branch)?;
        let target = format!("refs/heads/{branch}");
        self.git("symbolic-ref", args(["symbolic-ref", "HEAD", &target]), SMALL).await?;
        Ok(())
    }

    /// The commit a full ref name points at, `None` when the ref does not
    /// exist or does not lead to a commit.
    pub async fn resolve_ref(&self, full_name: &str) -> Result<Option<Oid>, GitError> {
        validate_ref_name(full_name)?;
        let spec = format!("{full_name}^{{commit}}");
        let out = run(
            &self.settings,
            &self.path,
            "rev-parse",
            &args(["rev-parse", "--verify", "--quiet", "--end-of-options", &spec]),
            None,
            SMALL,
        )
        .await?;
        if !out.status.success() {
            return Ok(None);
        }
        parse_oid_line(&out.stdout, "rev-parse").map(Some)
    }

    /// The commit at the tip of `branch`.
    pub async fn resolve_branch(&self, branch: &str) -> Result<Option<Oid>, GitError> {
        validate_branch_name(branch)?;
        self.resolve_ref(&format!("refs/heads/{branch}")).await
    }

    /// The commit `tag` points at (peeled through annotated tags).
    pub async fn resolve_tag(&self, tag: &str) -> Result<Option<Oid>, GitError> {
        validate_tag_name(tag)?;
        self.resolve_ref(&format!("refs/tags/{tag}")).await
    }

    /// Whether `oid` names a commit in this repository.
    pub async fn commit_exists(&self, oid: &Oid) -> Result<bool, GitError> {
        let out = run(
            &self.settings,
            &self.path,
            "cat-file",
            &args(["cat-file", "-t", "--end-of-options", oid.as_str()]),
            None,
            SMALL,
        )
        .await?;
        Ok(out.status.success() && out.stdout.trim_ascii() == b"commit")
    }

    /// Every branch and tag, sorted by name.
    pub async fn refs(&self) -> Result<Vec<RefEntry>, GitError> {
        self.refs_under(&["refs/heads/", "refs/tags/"]).await
    }

    /// Every ref under the given prefixes (each ending in `/`).
    pub async fn refs_under(&self, prefixes: &[&str]) -> Result<Vec<RefEntry>, GitError> {
        let mut argv = args(["for-each-ref", "--format=%(objectname) %(*objectname) %(refname)"]);
        for prefix in prefixes {
            validate_ref_name(prefix.trim_end_matches('/'))?;
            argv.push(OsString::from(prefix));
        }
        let out = self.git("for-each-ref", argv, self.settings.max_listing).await?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut refs = Vec::new();
        for line in text.lines() {
            let parse_err = || GitError::Parse { command: "for-each-ref".into(), detail: line.to_string() };
            let mut parts = line.splitn(3, ' ');
            let (Some(target), Some(peeled), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(parse_err());
            };
            refs.push(RefEntry {
                name: name.to_string(),
                target: Oid::parse(target)?,
                peeled: if peeled.is_empty() { None } else { Some(Oid::parse(peeled)?) },
            });
        }
        Ok(refs)
    }

    /// The message of an annotated tag (`CI_COMMIT_TAG_MESSAGE`); empty for
    /// lightweight tags.
    pub async fn tag_message(&self, tag: &str) -> Result<String, GitError> {
        validate_tag_name(tag)?;
        let full = format!("refs/tags/{tag}");
        let out = self
            .git("for-each-ref", args(["for-each-ref", "--format=%(objecttype)%00%(contents)", &full]), SMALL)
            .await?;
        let text = String::from_utf8_lossy(&out.stdout);
        match text.split_once('\0') {
            Some(("tag", contents)) => Ok(contents.trim_end_matches('\n').to_string()),
            _ => Ok(String::new()),
        }
    }

    /// Sets `full_name` to `new`, only if it currently is `expected`
    /// (`None`: must not exist yet). Used for refs the server keeps, such as
    /// `refs/pipelines/<id>`.
    pub async fn update_ref(
        &self,
        full_name: &str,
        new: &Oid,
        expected: Option<&Oid>,
    ) -> Result<(), GitError> {
        validate_ref_name(full_name)?;
        let old = expected.map_or_else(|| Oid::zero().to_string(), |o| o.to_string());
        self.git(
            "update-ref",
            args(["update-ref", "--no-deref", "--", full_name, new.as_str(), &old]),
            SMALL,
        )
        .await?;
        Ok(())
    }

    /// Deletes `full_name` if it exists.
    pub async fn delete_ref(&self, full_name: &str) -> Result<(), GitError> {
        validate_ref_name(full_name)?;
        self.git("update-ref", args(["update-ref", "--no-deref", "-d", "--", full_name]), SMALL).await?;
        Ok(())
    }

    /// The bytes of `path` at `commit`; `None` when there is no file there.
    pub async fn read_file(&self, commit: &Oid, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        let path = clean_path(path)?;
        let limit = self.settings.max_file_size;
        let input = format!("{commit}:{path}\n").into_bytes();
        let out = run(
            &self.settings,
            &self.path,
            "cat-file",
            &args(["cat-file", "--batch"]),
            Some(input),
            limit.saturating_add(256),
        )
        .await
        .map_err(|e| match e {
            GitError::OutputTooLarge { .. } => GitError::FileTooLarge { path: path.to_string(), limit },
            other => other,
        })?
        .ok("cat-file")?;
        let stdout = out.stdout;
        let newline = stdout.iter().position(|&b| b == b'\n').unwrap_or(stdout.len());
        let header = String::from_utf8_lossy(stdout.get(..newline).unwrap_or_default()).into_owned();
        let fields: Vec<&str> = header.split(' ').collect();
        match fields.as_slice() {
            [_, "blob", size] => {
                let size: usize = size
                    .parse()
                    .map_err(|_| GitError::Parse { command: "cat-file".into(), detail: header.clone() })?;
                if size > limit {
                    return Err(GitError::FileTooLarge { path: path.to_string(), limit });
                }
                let start = newline + 1;
                let body = stdout.get(start..start + size).ok_or_else(|| GitError::Parse {
                    command: "cat-file".into(),
                    detail: "short blob".into(),
                })?;
                Ok(Some(body.to_vec()))
            }
            // Missing paths, directories and submodules are "no file here".
            [.., "missing"] | [_, "tree" | "commit", _] => Ok(None),
            _ => Err(GitError::Parse { command: "cat-file".into(), detail: header }),
        }
    }

    /// Every file path (blobs and symlinks, not submodules) at `commit`.
    pub async fn list_files(&self, commit: &Oid) -> Result<Vec<String>, GitError> {
        let out = self
            .git(
                "ls-tree",
                args(["ls-tree", "-r", "-z", "--full-tree", "--end-of-options", commit.as_str()]),
                self.settings.max_listing,
            )
            .await?;
        let mut files = Vec::new();
        for entry in out.stdout.split(|&b| b == 0).filter(|e| !e.is_empty()) {
            let tab = entry.iter().position(|&b| b == b'\t').ok_or_else(|| GitError::Parse {
                command: "ls-tree".into(),
                detail: String::from_utf8_lossy(entry).into_owned(),
            })?;
            let (meta, path) = entry.split_at(tab);
            if meta.split(|&b| b == b' ').nth(1) == Some(b"blob") {
                files.push(String::from_utf8_lossy(path.get(1..).unwrap_or_default()).into_owned());
            }
        }
        Ok(files)
    }

    /// Paths that differ between two commits (both sides of a rename).
    pub async fn changed_paths(&self, from: &Oid, to: &Oid) -> Result<Vec<String>, GitError> {
        let out = self
            .git(
                "diff-tree",
                args([
                    "diff-tree",
                    "-r",
                    "-z",
                    "--name-only",
                    "--no-renames",
                    "--no-commit-id",
                    "--end-of-options",
                    from.as_str(),
                    to.as_str(),
                ]),
                self.settings.max_listing,
            )
            .await?;
        Ok(out
            .stdout
            .split(|&b| b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect())
    }

    /// The best common ancestor of two commits, if any.
    pub async fn merge_base(&self, a: &Oid, b: &Oid) -> Result<Option<Oid>, GitError> {
        let out = run(
            &self.settings,
            &self.path,
            "merge-base",
            &args(["merge-base", "--end-of-options", a.as_str(), b.as_str()]),
            None,
            SMALL,
        )
        .await?;
        if !out.status.success() {
            return Ok(None);
        }
        parse_oid_line(&out.stdout, "merge-base").map(Some)
    }

    /// Message, author and committer of a commit.
    pub async fn commit_info(&self, commit: &Oid) -> Result<CommitInfo, GitError> {
        const FORMAT: &str =
            "--format=%H%x00%P%x00%an%x00%ae%x00%at%x00%aI%x00%cn%x00%ce%x00%ct%x00%cI%x00%B";
        let out = self
            .git(
                "log",
                args(["log", "-1", "--no-show-signature", FORMAT, "--end-of-options", commit.as_str(), "--"]),
                self.settings.max_file_size,
            )
            .await?;
        let text = String::from_utf8_lossy(&out.stdout);
        let fields: Vec<&str> = text.splitn(11, '\0').collect();
        let parse_err =
            || GitError::Parse { command: "log".into(), detail: text.chars().take(200).collect() };
        let [sha, parents, an, ae, at, ai, cn, ce, ct, ci, body] = fields.as_slice() else {
            return Err(parse_err());
        };
        let parents = parents.split_whitespace().map(Oid::parse).collect::<Result<Vec<_>, _>>()?;
        Ok(CommitInfo {
            sha: Oid::parse(sha)?,
            parents,
            // `%B` plus the separator newline `log` adds.
            message: body.strip_suffix('\n').unwrap_or(body).to_string(),
            author_name: an.to_string(),
            author_email: ae.to_string(),
            authored_at: at.parse().map_err(|_| parse_err())?,
            authored_iso: ai.to_string(),
            committer_name: cn.to_string(),
            committer_email: ce.to_string(),
            committed_at: ct.parse().map_err(|_| parse_err())?,
            committed_iso: ci.to_string(),
        })
    }
}

fn parse_oid_line(stdout: &[u8], command: &str) -> Result<Oid, GitError> {
    let text = String::from_utf8_lossy(stdout);
    let line = text.lines().next().unwrap_or("");
    Oid::parse(line.trim()).map_err(|_| GitError::Parse { command: command.into(), detail: line.to_string() })
}

/// A repository path as git's `<rev>:<path>` syntax needs it: relative, no
/// `.` or `..` components, no characters that would end the batch line.
fn clean_path(path: &str) -> Result<&str, GitError> {
    let trimmed = path.trim_start_matches('/');
    let bad = |reason| Err(GitError::InvalidPath { path: path.to_string(), reason });
    if trimmed.is_empty() {
        return bad("is empty");
    }
    if trimmed.contains(['\n', '\r', '\0']) {
        return bad("contains a line break or NUL");
    }
    if trimmed.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return bad("contains an empty, . or .. component");
    }
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::clean_path;

    #[test]
    fn paths_are_relative_and_plain() {
        assert_eq!(clean_path("/ci/build.yml").ok(), Some("ci/build.yml"));
        for bad in ["", "/", "a/../b", "./a", "a//b", "a\nb", "a\0"] {
            assert!(clean_path(bad).is_err(), "{bad:?}");
        }
    }
}
