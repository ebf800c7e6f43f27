//! The shallow boundary a `git fetch --depth <n>` would leave, found by walking the
//! history through one `git cat-file --batch` process.
//!
//! Depth counts as git's does: the tips are at depth 1, and a commit at depth `n` that
//! has parents is recorded in `.git/shallow`, so its parents are treated as absent. A
//! parent that really is absent (the source is a shallow clone itself) makes its child
//! a boundary too.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Reads objects of one repository on request.
pub(super) struct Objects {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Objects {
    pub(super) fn spawn(git_dir: &Path, env: &[(String, String)]) -> std::io::Result<Objects> {
        let mut child = Command::new("git")
            .arg("--git-dir")
            .arg(git_dir)
            .args(["cat-file", "--batch"])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().ok_or_else(|| std::io::Error::other("no stdin"))?;
        let stdout = child.stdout.take().ok_or_else(|| std::io::Error::other("no stdout"))?;
        Ok(Objects { child, stdin, stdout: BufReader::new(stdout) })
    }

    /// The object's type and content, or `None` when the repository does not have it.
    pub(super) async fn read(&mut self, oid: &str) -> std::io::Result<Option<(String, Vec<u8>)>> {
        self.stdin.write_all(format!("{oid}\n").as_bytes()).await?;
        self.stdin.flush().await?;
        let mut header = String::new();
        if self.stdout.read_line(&mut header).await? == 0 {
            return Err(std::io::Error::other("git cat-file ended early"));
        }
        let mut fields = header.split_whitespace();
        let (Some(_), Some(kind)) = (fields.next(), fields.next()) else {
            return Err(std::io::Error::other(format!("unexpected git cat-file answer: {header:?}")));
        };
        if kind == "missing" || kind == "ambiguous" {
            return Ok(None);
        }
        let size: usize = fields
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("unexpected git cat-file answer: {header:?}")))?;
        let mut body = vec![0; size + 1];
        self.stdout.read_exact(&mut body).await?;
        body.truncate(size);
        Ok(Some((kind.to_string(), body)))
    }

    pub(super) async fn close(mut self) {
        drop(self.stdin);
        let _ = self.child.wait().await;
    }
}

/// The values of a commit's or tag's header lines named `key`.
fn header_values<'a>(body: &'a [u8], key: &'a str) -> impl Iterator<Item = String> + 'a {
    body.split(|&b| b == b'\n')
        .take_while(|line| !line.is_empty())
        .filter_map(move |line| line.strip_prefix(key.as_bytes())?.strip_prefix(b" "))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Walks this runner has made. The same tips at the same depth in the same source
/// always give the same walk (a commit's parents never change), and a local
/// pipeline's jobs all check out one commit: one walk serves them all.
#[derive(Debug, Clone, Default)]
pub struct WalkCache(Arc<Mutex<HashMap<WalkKey, Walk>>>);

/// The source's objects directory, the tips, the depth.
type WalkKey = (PathBuf, Vec<String>, u64);

/// Enough for the pipelines of a busy local runner; the oldest are not worth tracking.
const CACHED_WALKS: usize = 64;

impl WalkCache {
    pub(super) fn get(&self, source: &Path, tips: &[String], depth: u64) -> Option<Walk> {
        let cache = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.get(&(source.to_path_buf(), tips.to_vec(), depth)).cloned()
    }

    pub(super) fn put(&self, source: &Path, tips: &[String], depth: u64, walk: &Walk) {
        let mut cache = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CACHED_WALKS {
            cache.clear();
        }
        cache.insert((source.to_path_buf(), tips.to_vec(), depth), walk.clone());
    }
}

/// What a depth-limited walk found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Walk {
    /// Commits whose parents are cut off.
    pub(super) boundary: BTreeSet<String>,
    /// Commits whose parents are kept: no longer shallow if they were.
    pub(super) interior: HashSet<String>,
}

impl Walk {
    /// The repository's new shallow list from its old one, as a deepening fetch has it.
    pub(super) fn apply(self, old: &[String]) -> Vec<String> {
        let mut list: BTreeSet<String> =
            old.iter().filter(|c| !self.interior.contains(*c)).cloned().collect();
        list.extend(self.boundary);
        list.into_iter().collect()
    }
}

/// Walks `depth` generations back from `tips` (tags are peeled).
pub(super) async fn walk(objects: &mut Objects, tips: &[String], depth: u64) -> std::io::Result<Walk> {
    let mut result = Walk::default();
    let mut queue: VecDeque<(String, u64, Option<String>)> = VecDeque::new();
    for tip in tips {
        let mut oid = tip.clone();
        // A tag of a tag of ... a commit; git allows chains, not cycles.
        for _ in 0..16 {
            match objects.read(&oid).await? {
                Some((kind, body)) if kind == "tag" => match header_values(&body, "object").next() {
                    Some(next) => oid = next,
                    None => break,
                },
                Some((kind, _)) if kind == "commit" => {
                    queue.push_back((oid, 1, None));
                    break;
                }
                _ => break,
            }
        }
    }
    let mut seen = HashSet::new();
    while let Some((oid, level, child)) = queue.pop_front() {
        if !seen.insert(oid.clone()) {
            continue;
        }
        let Some((kind, body)) = objects.read(&oid).await? else {
            if let Some(child) = child {
                result.interior.remove(&child);
                result.boundary.insert(child);
            }
            continue;
        };
        if kind != "commit" {
            continue;
        }
        let parents: Vec<String> = header_values(&body, "parent").collect();
        if parents.is_empty() {
            result.interior.insert(oid);
        } else if level >= depth {
            result.boundary.insert(oid);
        } else {
            for parent in parents {
                queue.push_back((parent, level + 1, Some(oid.clone())));
            }
            result.interior.insert(oid);
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deepening_fetch_keeps_other_boundaries_and_drops_the_ones_it_walked_past() {
        let walk = Walk {
            boundary: ["c3".to_string()].into(),
            interior: ["c1".to_string(), "c2".to_string()].into(),
        };
        assert_eq!(walk.apply(&["c2".into(), "x9".into()]), ["c3", "x9"]);
    }

    #[test]
    fn header_lines_stop_at_the_message() {
        let body = b"tree t\nparent p1\nparent p2\nauthor a\n\nparent in the message\n";
        assert_eq!(header_values(body, "parent").collect::<Vec<_>>(), ["p1", "p2"]);
    }
}
