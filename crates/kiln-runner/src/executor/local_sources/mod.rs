//! Running a [`LocalSources`] step: `get_sources` from a repository on this machine,
//! printing what the stage's script would print.
//!
//! The script's `git init`, `git remote add` and `git fetch` become a few files
//! written here: the repository skeleton, the remote, `objects/info/alternates`
//! pointing at the source's objects (as `git clone --shared` does), the fetched refs
//! and the `shallow` list a depth-limited fetch leaves ([`shallow`]). `git checkout`,
//! `git clean` and the LFS steps still run as git processes with the script's
//! environment. Where the source holds something a real fetch would bring along that
//! this does not (a tag outside the refspecs, which `git fetch` follows) or a ref it
//! cannot read, `git fetch` itself runs, with the script's arguments.

mod refs;
mod shallow;

pub use shallow::WalkCache;

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use crate::executor::ExecError;
use crate::executor::process::{KillTimeouts, ProcessSpec, Sink, run_streams};
use crate::script::native::LocalSources;
use crate::script::stages::GitStrategy;
use crate::trace::{TraceStream, ansi};

/// Where the step writes.
pub(crate) struct Output<'a> {
    pub(crate) stdout: &'a TraceStream,
    pub(crate) stderr: &'a TraceStream,
}

impl Output<'_> {
    fn line(&self, text: &str) {
        self.stdout.write(format!("{text}\n").as_bytes());
    }

    fn notice(&self, text: &str) {
        self.line(&format!("{}{text}{}", ansi::BOLD_GREEN, ansi::RESET));
    }

    /// The stage fails as the script's `errexit` would after a failed command.
    fn fail(&self, message: &str, exit_code: i32) -> ExecError {
        self.stderr.write(format!("{message}\n").as_bytes());
        ExecError::BuildFailure { exit_code }
    }
}

/// Runs the step with the project directory `dir` and the job's temporary area `tmp`.
pub(crate) async fn run(
    s: &LocalSources,
    dir: &Path,
    tmp: &Path,
    walks: &WalkCache,
    out: &Output<'_>,
) -> Result<(), ExecError> {
    std::fs::create_dir_all(tmp).map_err(|e| out.fail(&format!("mkdir: {}: {e}", tmp.display()), 1))?;
    for (path, content) in &s.files {
        std::fs::write(path, content).map_err(|e| out.fail(&format!("{}: {e}", path.display()), 1))?;
    }
    match s.strategy {
        GitStrategy::None => {
            out.notice("Skipping Git repository setup");
            return make_dir(dir, out);
        }
        GitStrategy::Empty => {
            out.notice("Skipping Git repository setup and creating an empty build directory");
            remove_dir(dir, out)?;
            return make_dir(dir, out);
        }
        GitStrategy::Clone => remove_dir(dir, out)?,
        GitStrategy::Fetch => {}
    }
    // Nothing in the directory yet: the checkout is all it will hold, so `git clean`
    // has nothing to remove and the LFS check may read the checked-out files.
    let fresh = std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none());
    let git = dir.join(".git");
    let existing = git.is_dir();
    if existing {
        out.line(&format!("Reinitialized existing Git repository in {}/", git.display()));
    } else {
        init(&git, &s.url)
            .map_err(|e| out.fail(&format!("fatal: cannot create {}: {e}", git.display()), 128))?;
        out.line(&format!("Initialized empty Git repository in {}/", git.display()));
    }
    // Stale lock files from an interrupted job would make every later fetch fail.
    for lock in ["index.lock", "shallow.lock", "HEAD.lock", "config.lock"] {
        let _ = std::fs::remove_file(git.join(lock));
    }
    let git_cmd = Git { dir, env: &s.env, out };
    if !existing {
        out.notice("Created fresh repository.");
    } else if !has_remote(&git, &s.url) {
        if git_cmd.quiet(&["remote", "add", "origin", &s.url]).await? {
            out.notice("Created fresh repository.");
        } else {
            git_cmd.must(&["remote", "set-url", "origin", &s.url]).await?;
        }
    }
    if s.depth > 0 {
        out.notice(&format!("Fetching changes with git depth set to {}...", s.depth));
    } else {
        out.notice("Fetching changes...");
    }
    if !borrow(s, &git, walks).await.map_err(|e| out.fail(&format!("fatal: {e}"), 128))? {
        git_cmd.must(&fetch_args(s, &git)).await?;
    }
    if !s.checkout {
        out.notice("Skipping Git checkout");
    } else {
        let short: String = s.sha.chars().take(8).collect();
        out.notice(&format!("Checking out {short} as detached HEAD (ref is {})...", s.ref_name));
        git_cmd.must(&["-c", "submodule.recurse=false", "checkout", "-f", "-q", &s.sha]).await?;
        if let Some(flags) = s.clean_flags.as_ref().filter(|_| !fresh) {
            let mut args = vec!["clean"];
            args.extend(flags.iter().map(String::as_str));
            git_cmd.must(&args).await?;
        }
        // `-ffdx` leaves nothing but the checkout either (untracked, ignored, nested
        // repositories: all gone).
        let only_checkout = fresh || s.clean_flags.as_deref().is_some_and(|f| f == ["-ffdx"]);
        if s.lfs {
            let wanted = if only_checkout {
                attributes_ask_for_lfs(dir)
            } else {
                let pathspec = ":(glob)**/.gitattributes";
                git_cmd.quiet(&["grep", "-q", "-F", "-e", "filter=lfs", &s.sha, "--", pathspec]).await?
            };
            if wanted && git_cmd.quiet(&["lfs", "version"]).await? {
                git_cmd.must(&["lfs", "pull"]).await?;
            }
        }
    }
    out.notice("Skipping Git submodules setup");
    Ok(())
}

fn make_dir(dir: &Path, out: &Output<'_>) -> Result<(), ExecError> {
    std::fs::create_dir_all(dir).map_err(|e| out.fail(&format!("mkdir: {}: {e}", dir.display()), 1))
}

fn remove_dir(dir: &Path, out: &Output<'_>) -> Result<(), ExecError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(out.fail(&format!("rm: {}: {e}", dir.display()), 1))
        }
        _ => Ok(()),
    }
}

/// What `git init --template <t>` (a template holding only `fetch.recurseSubmodules =
/// false`) and `git remote add origin <url>` leave.
fn init(git: &Path, url: &str) -> std::io::Result<()> {
    for sub in ["objects/info", "objects/pack", "refs/heads", "refs/tags"] {
        std::fs::create_dir_all(git.join(sub))?;
    }
    std::fs::write(git.join("HEAD"), "ref: refs/heads/master\n")?;
    let config = format!(
        "[fetch]\n\trecurseSubmodules = false\n[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\
         \tbare = false\n\tlogallrefupdates = true\n[remote \"origin\"]\n\turl = {}\n\
         \tfetch = +refs/heads/*:refs/remotes/origin/*\n",
        config_value(url)
    );
    std::fs::write(git.join("config"), config)
}

/// A value as git's config file needs it: quoted when it has characters that would
/// otherwise start a comment or be trimmed, with backslashes and quotes escaped.
fn config_value(value: &str) -> String {
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").replace('\t', "\\t");
    let plain = !value.contains(['#', ';', '"', '\\', '\n', '\t']) && value.trim() == value;
    if plain { escaped } else { format!("\"{escaped}\"") }
}

/// Whether `origin` is already the remote with this URL, as this step writes it (any
/// other spelling gets git's own `remote add` / `set-url`).
fn has_remote(git: &Path, url: &str) -> bool {
    let config = std::fs::read_to_string(git.join("config")).unwrap_or_default();
    let mut lines = config.lines().map(str::trim).skip_while(|l| *l != "[remote \"origin\"]").skip(1);
    let wanted = format!("url = {}", config_value(url));
    lines.any(|l| l == wanted)
}

/// The script's fetch, for when the source cannot be borrowed.
fn fetch_args(s: &LocalSources, git: &Path) -> Vec<String> {
    let mut args: Vec<String> = vec!["fetch".into(), "origin".into(), "--no-recurse-submodules".into()];
    args.extend(s.refspecs.iter().cloned());
    if s.depth > 0 {
        args.extend(["--depth".into(), s.depth.to_string()]);
    }
    args.extend(["--prune".into(), "--quiet".into()]);
    if s.depth <= 0 && git.join("shallow").is_file() {
        args.push("--unshallow".into());
    }
    args
}

/// Does the fetch by borrowing the source's objects: `false` when `git fetch` must.
async fn borrow(s: &LocalSources, git: &Path, walks: &WalkCache) -> std::io::Result<bool> {
    let Some(source) = refs::git_dir(&s.source) else { return Ok(false) };
    let source_refs = refs::SourceRefs::open(&source);
    // (source name, our name, object); and the prefixes a pattern fetches, which
    // `--prune` keeps to what the source has.
    let mut updates: Vec<(String, String, String)> = Vec::new();
    let mut pruned: Vec<&str> = Vec::new();
    for spec in &s.refspecs {
        let Some((src, dst)) = spec.strip_prefix('+').and_then(|r| r.split_once(':')) else {
            return Ok(false);
        };
        let names = match (src.strip_suffix('*'), dst.strip_suffix('*')) {
            (Some(from), Some(to)) if from.ends_with('/') && to.ends_with('/') => {
                if refs::packs_any_under(git, to) {
                    return Ok(false);
                }
                pruned.push(to);
                let names = source_refs.names_under(from);
                names.iter().map(|n| (n.clone(), format!("{to}{}", &n[from.len()..]))).collect()
            }
            _ => vec![(src.to_string(), dst.to_string())],
        };
        for (src, dst) in names {
            let Some(oid) = source_refs.resolve(&src).filter(|oid| oid.len() == 40) else { return Ok(false) };
            if !refs::plausible(&dst) {
                return Ok(false);
            }
            updates.push((src, dst, oid));
        }
    }
    // `git fetch` also brings the tags that point into what it fetched.
    if source_refs.tags().iter().any(|t| !updates.iter().any(|(src, _, _)| src == t)) {
        return Ok(false);
    }
    let objects = std::fs::canonicalize(source.join("objects"))?;
    let alternates = git.join("objects/info/alternates");
    let mut listed = std::fs::read_to_string(&alternates).unwrap_or_default();
    let line = objects.to_string_lossy();
    if !listed.lines().any(|l| l == line) {
        if !listed.is_empty() && !listed.ends_with('\n') {
            listed.push('\n');
        }
        listed.push_str(&format!("{line}\n"));
        std::fs::create_dir_all(git.join("objects/info"))?;
        std::fs::write(&alternates, listed)?;
    }
    let shallow_file = git.join("shallow");
    if s.depth > 0 {
        let tips: Vec<String> = updates.iter().map(|(_, _, oid)| oid.clone()).collect();
        let depth = s.depth.unsigned_abs();
        let walk = match walks.get(&objects, &tips, depth) {
            Some(walk) => walk,
            None => {
                let mut reader = shallow::Objects::spawn(git, &s.env)?;
                let walk = shallow::walk(&mut reader, &tips, depth).await;
                reader.close().await;
                let walk = walk?;
                walks.put(&objects, &tips, depth, &walk);
                walk
            }
        };
        let old: Vec<String> =
            std::fs::read_to_string(&shallow_file).unwrap_or_default().lines().map(str::to_string).collect();
        let list = walk.apply(&old);
        if list.is_empty() {
            remove_file(&shallow_file)?;
        } else {
            let tmp = git.join("shallow.kiln-tmp");
            std::fs::write(&tmp, list.iter().map(|c| format!("{c}\n")).collect::<String>())?;
            std::fs::rename(&tmp, &shallow_file)?;
        }
    } else if let Ok(list) = std::fs::read(source.join("shallow")) {
        // The full history is all the source has: a shallow source's boundary is
        // where an unshallowing fetch from it stops too.
        let tmp = git.join("shallow.kiln-tmp");
        std::fs::write(&tmp, list)?;
        std::fs::rename(&tmp, &shallow_file)?;
    } else {
        remove_file(&shallow_file)?;
    }
    for (_, dst, oid) in &updates {
        refs::write(git, dst, oid)?;
    }
    for prefix in pruned {
        for name in refs::loose_names_under(git, prefix) {
            if !updates.iter().any(|(_, dst, _)| *dst == name) {
                remove_file(&git.join(&name))?;
            }
        }
    }
    Ok(true)
}

fn remove_file(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether a checked-out `.gitattributes` routes files through the LFS filter: what
/// the script asks `git grep` of the commit, read from a checkout that holds nothing else.
fn attributes_ask_for_lfs(dir: &Path) -> bool {
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() && name != ".git" {
                stack.push(entry.path());
            } else if kind.is_file()
                && name == ".gitattributes"
                && std::fs::read(entry.path()).is_ok_and(|t| t.windows(10).any(|w| w == b"filter=lfs"))
            {
                return true;
            }
        }
    }
    false
}

/// git processes in the project directory with the script's environment.
struct Git<'a> {
    dir: &'a Path,
    env: &'a [(String, String)],
    out: &'a Output<'a>,
}

impl Git<'_> {
    async fn run(&self, args: &[&str], show: bool) -> Result<i32, ExecError> {
        let spec = ProcessSpec {
            program: "git".into(),
            args: args.iter().map(Into::into).collect(),
            env: self.env.iter().map(|(k, v)| (k.into(), v.into())).collect(),
            clear_env: false,
            cwd: Some(self.dir.to_path_buf()),
        };
        let (stdout, stderr) = (self.out.stdout, self.out.stderr);
        let keep = |b: &[u8]| stdout.write(b);
        let keep_err = |b: &[u8]| stderr.write(b);
        let drop_output = |_: &[u8]| {};
        let (o, e): (Sink<'_>, Sink<'_>) =
            if show { (&keep, &keep_err) } else { (&drop_output, &drop_output) };
        // Cancellation drops this future, which kills the process.
        let exit = run_streams(&spec, o, e, &CancellationToken::new(), KillTimeouts::default())
            .await
            .map_err(|e| self.out.fail(&format!("git: {e}"), 127))?;
        Ok(exit.shell_code())
    }

    /// A command whose failure fails the stage.
    async fn must(&self, args: &[impl AsRef<str>]) -> Result<(), ExecError> {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        match self.run(&args, true).await? {
            0 => Ok(()),
            code => Err(ExecError::BuildFailure { exit_code: code }),
        }
    }

    /// A command asked a question, its output hidden: whether it succeeded.
    async fn quiet(&self, args: &[&str]) -> Result<bool, ExecError> {
        Ok(self.run(args, false).await? == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_values_are_quoted_only_when_git_needs_it() {
        assert_eq!(config_value("file:///srv/repo.git"), "file:///srv/repo.git");
        assert_eq!(config_value("file:///a b/#1"), "\"file:///a b/#1\"");
        assert_eq!(config_value(r#"file:///a"b\c"#), r#""file:///a\"b\\c""#);
    }

    #[test]
    fn lfs_is_wanted_only_where_attributes_name_its_filter() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("assets/big")).unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/.gitattributes"), "*.bin filter=lfs\n").unwrap();
        std::fs::write(dir.path().join(".gitattributes"), "*.sh text eol=lf\n").unwrap();
        assert!(!attributes_ask_for_lfs(dir.path()));
        std::fs::write(dir.path().join("assets/big/.gitattributes"), "*.psd filter=lfs diff=lfs -text\n")
            .unwrap();
        assert!(attributes_ask_for_lfs(dir.path()));
    }
}
