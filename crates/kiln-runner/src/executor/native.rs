//! Running a [`NativeScript`] in this process: what the stage's script would print,
//! without the shell and the helper process (see [`crate::script::native`]).

use std::io::Write;

use kiln_api::JobVariable;
use tokio_util::sync::CancellationToken;

pub use crate::executor::local_sources::WalkCache;
use crate::executor::{ExecError, local_sources};
use crate::helper;
use crate::script::native::{NativeScript, NativeStep};
use crate::trace::{STREAM_WORK, StreamKind, TraceStream, ansi};

/// Variables a helper process would read from its environment (proxies, TLS roots):
/// a job that sets one gets the script, so its helper sees them.
const HELPER_ENVIRONMENT: [&str; 6] =
    ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR"];

/// Whether a job with these final variables may have its stages run in process.
pub fn allowed(variables: &[JobVariable]) -> bool {
    !variables.iter().any(|v| HELPER_ENVIRONMENT.iter().any(|k| k.eq_ignore_ascii_case(&v.key)))
}

/// Whether `GITLAB_ENV` (`<tmp>/gitlab_runner_env`) is empty: variables an earlier stage
/// left there are exported by the script before it calls the helper.
fn env_file_is_empty(script: &NativeScript) -> bool {
    std::fs::metadata(script.tmp_dir.join("gitlab_runner_env")).map_or(true, |m| m.len() == 0)
}

/// `Write` over a trace stream, for the helpers' messages.
struct StreamWriter<'a>(&'a TraceStream);

impl Write for StreamWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The machine's host name, as bash's `$HOSTNAME` has it.
fn host_name() -> String {
    nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "localhost".into())
}

/// Runs `script` in process when there is one and the job allows it ([`allowed`], and no
/// variables waiting in `GITLAB_ENV`); `None` when the executor must run the stage's script.
/// For executors whose stages (or predefined stages) run on this machine, as this user.
/// `local_checkout`: the provider's shallow walks ([`WalkCache`]) when the job's later
/// stages run on this machine too, so a checkout that borrows objects from here works
/// for them; `None` (a build container cannot see those paths) leaves such a stage
/// ([`NativeScript::borrows_objects`]) to its script.
pub async fn run_if_usable(
    script: Option<&NativeScript>,
    allowed: bool,
    local_checkout: Option<&WalkCache>,
    trace: &std::sync::Arc<crate::trace::JobTrace>,
    cancel: &CancellationToken,
) -> Option<Result<(), ExecError>> {
    let script = script.filter(|s| allowed && env_file_is_empty(s))?;
    let walks = match local_checkout {
        Some(walks) => walks,
        None if script.borrows_objects() => return None,
        None => &WalkCache::default(),
    };
    let stdout = trace.stream(STREAM_WORK, StreamKind::Stdout);
    let stderr = trace.stream(STREAM_WORK, StreamKind::Stderr);
    let result = run(script, &stdout, &stderr, walks, cancel).await;
    stdout.close();
    stderr.close();
    Some(result)
}

/// Runs the steps in order; a failing helper prints its error as the helper binary does
/// and, outside a [`NativeStep::Try`], fails the stage with exit code 1 as the script's
/// `errexit` would.
async fn run(
    script: &NativeScript,
    stdout: &TraceStream,
    stderr: &TraceStream,
    walks: &WalkCache,
    cancel: &CancellationToken,
) -> Result<(), ExecError> {
    tokio::select! {
        result = run_steps(script, &script.steps, stdout, stderr, walks) => result,
        () = cancel.cancelled() => Err(ExecError::Canceled),
    }
}

fn run_steps<'a>(
    script: &'a NativeScript,
    steps: &'a [NativeStep],
    stdout: &'a TraceStream,
    stderr: &'a TraceStream,
    walks: &'a WalkCache,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ExecError>> + Send + 'a>> {
    Box::pin(async move {
        let mut out = StreamWriter(stdout);
        for step in steps {
            match step {
                NativeStep::HostLine => {
                    let _ = writeln!(out, "Running on {}...", host_name());
                }
                NativeStep::Notice(text) => {
                    let _ = writeln!(out, "{}{text}{}", ansi::BOLD_GREEN, ansi::RESET);
                }
                NativeStep::Warning(text) => {
                    let _ = writeln!(out, "{}WARNING: {text}{}", ansi::YELLOW, ansi::RESET);
                }
                NativeStep::Helper(cmd) => {
                    if !helper(script, cmd, stdout, stderr).await? {
                        return Err(ExecError::BuildFailure { exit_code: 1 });
                    }
                }
                NativeStep::Try { helper: cmd, ok, failed } => {
                    let next = if helper(script, cmd, stdout, stderr).await? { ok } else { failed };
                    run_steps(script, next, stdout, stderr, walks).await?;
                }
                NativeStep::Sources(sources) => {
                    let out = local_sources::Output { stdout, stderr };
                    local_sources::run(sources, &script.dir, &script.tmp_dir, walks, &out).await?;
                }
            }
        }
        Ok(())
    })
}

/// One helper run in the project directory: whether it succeeded. The script would
/// not get this far without the directory (its `cd` fails the stage).
async fn helper(
    script: &NativeScript,
    cmd: &helper::HelperCommand,
    stdout: &TraceStream,
    stderr: &TraceStream,
) -> Result<bool, ExecError> {
    if !script.dir.is_dir() {
        let _ = writeln!(StreamWriter(stderr), "cd: {}: No such file or directory", script.dir.display());
        return Err(ExecError::BuildFailure { exit_code: 1 });
    }
    let tmp = script.tmp_dir.is_dir().then_some(script.tmp_dir.as_path());
    match helper::run_in(cmd.clone(), &script.dir, tmp, &mut StreamWriter(stdout)).await {
        Ok(()) => Ok(true),
        Err(e) => {
            let _ = writeln!(StreamWriter(stderr), "{}ERROR: {e}{}", ansi::BOLD_RED, ansi::RESET);
            Ok(false)
        }
    }
}
