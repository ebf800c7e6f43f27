//! The working tree as a commit the runner can fetch, uncommitted changes and
//! untracked files included, without touching the user's repository.
//!
//! A bare repository under `.kiln/repo.git` borrows the project's objects
//! (`objects/info/alternates`), so only changed files are hashed into it. Its
//! own index (seeded from the project's, so unchanged files are not read
//! again) records the whole tree; a clean tree reuses `HEAD` itself. The
//! branch or tag and the pipeline's persistent ref `refs/pipelines/<id>` point
//! at the result, which is what the runner's refspecs fetch.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Why the snapshot could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("failed to run git: {0}")]
    Spawn(std::io::Error),
    #[error("`git {args}` failed: {stderr}")]
    Git { args: String, stderr: String },
    #[error("failed to prepare {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The commit jobs check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The bare repository jobs fetch from.
    pub repository: PathBuf,
    pub sha: String,
    /// `HEAD`, when the project has a commit.
    pub head: Option<String>,
    /// True when the tree differs from `HEAD` (a new commit was made).
    pub dirty: bool,
}

/// Identity for the snapshot's commit when `HEAD` has none to lend.
const IDENTITY: [(&str, &str); 4] = [
    ("GIT_AUTHOR_NAME", "kiln exec"),
    ("GIT_AUTHOR_EMAIL", "kiln@localhost"),
    ("GIT_COMMITTER_NAME", "kiln exec"),
    ("GIT_COMMITTER_EMAIL", "kiln@localhost"),
];

fn run(cmd: &mut Command) -> Result<String, SnapshotError> {
    let out = cmd.output().map_err(SnapshotError::Spawn)?;
    checked(cmd, out)
}

/// [`run`] with `input` on standard input.
fn run_with_input(cmd: &mut Command, input: &[u8]) -> Result<String, SnapshotError> {
    use std::io::Write;
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().map_err(SnapshotError::Spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).map_err(SnapshotError::Spawn)?;
    }
    let out = child.wait_with_output().map_err(SnapshotError::Spawn)?;
    checked(cmd, out)
}

/// The trimmed standard output of a git run, or its command line and stderr.
fn checked(cmd: &Command, out: std::process::Output) -> Result<String, SnapshotError> {
    if !out.status.success() {
        let args = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
        return Err(SnapshotError::Git {
            args,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

fn git_in(root: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C").arg(root);
    c
}

/// A git command on the snapshot repository with `root` as its work tree.
fn snap(repo: &Path, root: &Path, index: &Path) -> Command {
    let mut c = Command::new("git");
    c.env("GIT_DIR", repo).env("GIT_WORK_TREE", root).env("GIT_INDEX_FILE", index).current_dir(root);
    c
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io { path: path.to_path_buf(), source }
}

/// Snapshots `root` into `<kiln_dir>/repo.git`; [`point`] then names it. (The
/// two are apart so the snapshot need not wait for the facts that choose the
/// ref: `kiln exec` reads those at the same time.)
pub fn take(root: &Path, kiln_dir: &Path) -> Result<Snapshot, SnapshotError> {
    let repo = kiln_dir.join("repo.git");
    // `HEAD` and its tree at once, asked while the tree is written; an unborn `HEAD`
    // fails, and then there is neither. (`--` keeps a file named like a revision from
    // making them ambiguous; it is echoed last.)
    let mut head_query = git_in(root);
    head_query.args(["rev-parse", "HEAD^{commit}", "HEAD^{tree}", "--"]);
    head_query.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let head_child = head_query.spawn().map_err(SnapshotError::Spawn)?;
    if !repo.join("HEAD").is_file() {
        run(Command::new("git").args(["init", "--bare", "-q"]).arg(&repo))?;
    }
    // One git process for the four paths (each process is a few milliseconds of startup).
    let paths = run(git_in(root).args([
        "rev-parse",
        "--path-format=absolute",
        "--git-path",
        "objects",
        "--git-path",
        "index",
        "--git-path",
        "info/exclude",
        "--git-path",
        "shallow",
    ]))?;
    let mut paths = paths.lines();
    let (objects, main_index, exclude, shallow) = (
        paths.next().unwrap_or_default(),
        paths.next().unwrap_or_default(),
        paths.next().unwrap_or_default(),
        paths.next().unwrap_or_default(),
    );
    let alternates = repo.join("objects/info/alternates");
    std::fs::write(&alternates, format!("{objects}\n")).map_err(io(&alternates))?;
    // A project that is itself a shallow clone lends objects without the history
    // behind its boundary: the snapshot repository must know that boundary, or a
    // fetch from it walks into parents nobody has ("unable to parse commit").
    let own_shallow = repo.join("shallow");
    match std::fs::read(shallow) {
        Ok(list) => std::fs::write(&own_shallow, list).map_err(io(&own_shallow))?,
        Err(_) => match std::fs::remove_file(&own_shallow) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&own_shallow)(e)),
            _ => {}
        },
    }
    let index = repo.join("kiln-index");
    if !index.is_file() && !main_index.is_empty() && Path::new(main_index).is_file() {
        std::fs::copy(main_index, &index).map_err(io(&index))?;
    }
    // The project's own excludes apply, and `.kiln` itself is never part of the tree.
    let mut excludes = std::fs::read_to_string(exclude).unwrap_or_default();
    excludes.push_str("\n/.kiln/\n");
    let info = repo.join("info");
    std::fs::create_dir_all(&info).map_err(io(&info))?;
    let own_exclude = info.join("exclude");
    std::fs::write(&own_exclude, excludes).map_err(io(&own_exclude))?;
    let mut add = snap(&repo, root, &index);
    add.args(["add", "-A", "--ignore-errors"]);
    run(&mut add)?;
    let tree = run(snap(&repo, root, &index).args(["write-tree"]))?;
    let head_answer = head_child.wait_with_output().map_err(SnapshotError::Spawn)?;
    let (head, head_tree) = match checked(&head_query, head_answer) {
        Ok(out) => {
            let mut lines = out.lines().map(str::to_string);
            (lines.next().filter(|s| !s.is_empty()), lines.next().filter(|s| !s.is_empty()))
        }
        Err(_) => (None, None),
    };
    let (sha, dirty) = if head_tree.as_deref() == Some(tree.as_str()) {
        (head.clone().unwrap_or_default(), false)
    } else {
        let mut commit = snap(&repo, root, &index);
        commit.args(["commit-tree", &tree]);
        match &head {
            Some(h) => {
                let info = run(git_in(root).args(["log", "-1", "--format=%an%x00%ae%x00%aI%x00%B", h]))?;
                let mut parts = info.splitn(4, '\0');
                let (name, email, date) =
                    (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let message = parts.next().unwrap_or("").trim_end();
                commit.args(["-p", h, "-m", if message.is_empty() { "kiln exec snapshot" } else { message }]);
                commit.envs(IDENTITY);
                if !name.is_empty() {
                    commit
                        .env("GIT_AUTHOR_NAME", name)
                        .env("GIT_AUTHOR_EMAIL", email)
                        .env("GIT_AUTHOR_DATE", date);
                }
            }
            None => {
                commit.args(["-m", "kiln exec snapshot"]).envs(IDENTITY);
            }
        }
        (run(&mut commit)?, true)
    };
    Ok(Snapshot { repository: repo, sha, head, dirty })
}

/// Points `refs` (full ref names) of the snapshot repository at the snapshot.
pub fn point(snapshot: &Snapshot, refs: &[String]) -> Result<(), SnapshotError> {
    if refs.is_empty() {
        return Ok(());
    }
    let mut update = Command::new("git");
    update.env("GIT_DIR", &snapshot.repository).args(["update-ref", "--stdin"]);
    update.stdin(std::process::Stdio::piped());
    let commands: String = refs.iter().map(|r| format!("update {r} {}\n", snapshot.sha)).collect();
    run_with_input(&mut update, commands.as_bytes())?;
    Ok(())
}
