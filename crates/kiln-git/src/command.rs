//! Running one git process: argument list (never a shell), a clean
//! environment, a timeout, bounded output.

use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::error::GitError;
use crate::settings::Settings;

/// Largest amount of stderr kept for an error message.
const MAX_STDERR: usize = 16 * 1024;

/// What a finished git process printed.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: String,
}

impl Output {
    /// Turns a non-zero exit into an error that carries stderr.
    pub(crate) fn ok(self, command: &str) -> Result<Output, GitError> {
        if self.status.success() {
            Ok(self)
        } else {
            Err(GitError::Failed {
                command: command.to_string(),
                status: self.status.to_string(),
                stderr: self.stderr.trim().to_string(),
            })
        }
    }
}

/// A `git` command with the environment every invocation gets: no user or
/// system configuration, no prompts, the C locale, and none of the `GIT_*`
/// variables the server process itself may have inherited.
pub(crate) fn base_command(settings: &Settings) -> Command {
    let mut cmd = Command::new(&settings.program);
    cmd.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    } else {
        cmd.env("PATH", "/usr/local/bin:/usr/bin:/bin");
    }
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_ATTR_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .env("HOME", "/nonexistent");
    cmd.kill_on_drop(true);
    cmd
}

/// Runs `git --git-dir=<git_dir> <args>` to completion and collects its output.
/// `name` names the subcommand in errors; `limit` bounds stdout.
pub(crate) async fn run(
    settings: &Settings,
    git_dir: &Path,
    name: &str,
    args: &[OsString],
    stdin: Option<Vec<u8>>,
    limit: usize,
) -> Result<Output, GitError> {
    let mut cmd = base_command(settings);
    let mut dir_arg = OsString::from("--git-dir=");
    dir_arg.push(git_dir.as_os_str());
    cmd.arg(dir_arg).args(args);
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let timeout = settings.command_timeout;
    let work = async {
        let mut child = cmd
            .spawn()
            .map_err(|source| GitError::Spawn { program: settings.program.display().to_string(), source })?;
        let input = child.stdin.take();
        let out = child.stdout.take();
        let err = child.stderr.take();
        let feed = async move {
            if let (Some(mut pipe), Some(data)) = (input, stdin) {
                // A process that exits early closes its stdin; its exit status tells why.
                let _ = pipe.write_all(&data).await;
                let _ = pipe.shutdown().await;
            }
        };
        let (_, stdout, stderr) = tokio::join!(feed, read_bounded(out, limit), read_capped(err, MAX_STDERR));
        let stdout = match stdout {
            Some(bytes) => bytes,
            None => {
                let _ = child.kill().await;
                return Err(GitError::OutputTooLarge { command: name.to_string(), limit });
            }
        };
        let stderr = String::from_utf8_lossy(&stderr).into_owned();
        let status = child
            .wait()
            .await
            .map_err(|source| GitError::Spawn { program: settings.program.display().to_string(), source })?;
        Ok(Output { status, stdout, stderr })
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(GitError::Timeout { command: name.to_string(), seconds: timeout.as_secs() }),
    }
}

/// Reads a pipe to its end; `None` when it carries more than `limit` bytes.
async fn read_bounded<R: AsyncRead + Unpin>(pipe: Option<R>, limit: usize) -> Option<Vec<u8>> {
    let Some(pipe) = pipe else { return Some(Vec::new()) };
    let mut buf = Vec::new();
    let mut limited = pipe.take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1));
    // A read error ends the output; the exit status says what went wrong.
    let _ = limited.read_to_end(&mut buf).await;
    (buf.len() <= limit).then_some(buf)
}

/// Keeps the first `cap` bytes of a pipe and drains the rest, so a chatty
/// process never blocks on a full pipe.
pub(crate) async fn read_capped<R: AsyncRead + Unpin>(pipe: Option<R>, cap: usize) -> Vec<u8> {
    let Some(mut pipe) = pipe else { return Vec::new() };
    let mut kept = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(chunk.get(..n.min(room)).unwrap_or_default());
            }
        }
    }
}
