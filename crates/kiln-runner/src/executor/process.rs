//! Running one child process for a job: its own process group, stdout and stderr read as
//! two streams (as gitlab-runner does: they become the log's `O` and `E` streams),
//! cancellation as SIGTERM to the group, a grace period, then SIGKILL.
//!
//! When the main process exits, whatever is left in its group (background jobs of the
//! script) is killed, so no process outlives its stage.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct ProcessSpec {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Added to (or, with `clear_env`, replacing) the runner's environment.
    pub env: Vec<(OsString, OsString)>,
    pub clear_env: bool,
    pub cwd: Option<PathBuf>,
}

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessExit {
    /// The exit code, if it exited normally.
    pub code: Option<i32>,
    /// The terminating signal, if any.
    pub signal: Option<i32>,
    /// Whether the run was canceled through the token.
    pub canceled: bool,
}

impl ProcessExit {
    /// Exit code as a shell would report it (`128 + signal` for signals).
    pub fn shell_code(&self) -> i32 {
        self.code.or(self.signal.map(|s| 128 + s)).unwrap_or(-1)
    }
}

/// Grace periods for stopping a process group.
#[derive(Debug, Clone, Copy)]
pub struct KillTimeouts {
    /// SIGTERM → SIGKILL.
    pub graceful: Duration,
    /// SIGKILL → give up waiting.
    pub force: Duration,
}

impl Default for KillTimeouts {
    fn default() -> Self {
        KillTimeouts { graceful: Duration::from_secs(600), force: Duration::from_secs(10) }
    }
}

/// After the main process exits, how long stray writers may keep the pipe open.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

fn command(spec: &ProcessSpec) -> Command {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args);
    if spec.clear_env {
        cmd.env_clear();
    }
    cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    cmd.process_group(0);
    cmd.stdin(Stdio::null());
    cmd.kill_on_drop(true);
    cmd
}

/// Where a process's output goes.
pub type Sink<'a> = &'a (dyn Fn(&[u8]) + Sync);

/// Runs a process feeding every chunk of its stdout and stderr to the matching sink.
pub async fn run_streams(
    spec: &ProcessSpec,
    stdout: Sink<'_>,
    stderr: Sink<'_>,
    cancel: &CancellationToken,
    timeouts: KillTimeouts,
) -> std::io::Result<ProcessExit> {
    let mut cmd = command(spec);
    cmd.stdout(Stdio::piped());
    cmd.stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    drop(cmd);
    let mut pumps: Vec<(Reader, Sink<'_>)> = Vec::new();
    if let Some(o) = child.stdout.take() {
        pumps.push((Box::new(o), stdout));
    }
    if let Some(e) = child.stderr.take() {
        pumps.push((Box::new(e), stderr));
    }
    supervise(child, pumps, cancel, timeouts).await
}

/// Runs a process capturing stdout, feeding stderr to `sink`; returns stdout too.
pub async fn run_capture(
    spec: &ProcessSpec,
    sink: Sink<'_>,
    cancel: &CancellationToken,
    timeouts: KillTimeouts,
) -> std::io::Result<(ProcessExit, Vec<u8>)> {
    let mut cmd = command(spec);
    cmd.stdout(Stdio::piped());
    cmd.stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    drop(cmd);
    let stdout = child.stdout.take();
    let pumps: Vec<(Reader, Sink<'_>)> =
        child.stderr.take().map(|e| (Box::new(e) as Reader, sink)).into_iter().collect();
    let capture = async move {
        let mut buf = Vec::new();
        if let Some(mut o) = stdout {
            let _ = o.read_to_end(&mut buf).await;
        }
        buf
    };
    let (result, captured) = tokio::join!(supervise(child, pumps, cancel, timeouts), capture);
    result.map(|exit| (exit, captured))
}

type Reader = Box<dyn tokio::io::AsyncRead + Unpin + Send>;

async fn pump(mut reader: Reader, sink: Sink<'_>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => sink(&buf[..n]),
        }
    }
}

async fn supervise(
    mut child: tokio::process::Child,
    pumps: Vec<(Reader, Sink<'_>)>,
    cancel: &CancellationToken,
    timeouts: KillTimeouts,
) -> std::io::Result<ProcessExit> {
    let pgid = child.id().and_then(|id| i32::try_from(id).ok()).map(Pid::from_raw);
    let pump = futures::future::join_all(pumps.into_iter().map(|(r, s)| pump(r, s)));
    tokio::pin!(pump);
    let mut pump_done = false;
    let mut canceled = false;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            _ = &mut pump, if !pump_done => pump_done = true,
            () = cancel.cancelled(), if !canceled => {
                canceled = true;
                if let Some(pgid) = pgid {
                    let _ = killpg(pgid, Signal::SIGTERM);
                }
                match tokio::time::timeout(timeouts.graceful, child.wait()).await {
                    Ok(status) => break status?,
                    Err(_) => {
                        if let Some(pgid) = pgid {
                            let _ = killpg(pgid, Signal::SIGKILL);
                        }
                        match tokio::time::timeout(timeouts.force, child.wait()).await {
                            Ok(status) => break status?,
                            Err(_) => return Err(std::io::Error::other("process did not stop after SIGKILL")),
                        }
                    }
                }
            }
        }
    };
    // Nothing of this stage may outlive it: background jobs go too.
    if let Some(pgid) = pgid {
        let _ = killpg(pgid, Signal::SIGKILL);
    }
    if !pump_done {
        let _ = tokio::time::timeout(DRAIN_AFTER_EXIT, &mut pump).await;
    }
    use std::os::unix::process::ExitStatusExt;
    Ok(ProcessExit { code: status.code(), signal: status.signal(), canceled })
}
