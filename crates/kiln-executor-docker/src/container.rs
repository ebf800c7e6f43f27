//! Running one stage script in the job's build container, as GitLab Runner does: the
//! container's command is a shell that reads its script from stdin (`OpenStdin`,
//! `StdinOnce`), so each stage attaches, starts the container, writes the script, closes
//! stdin and waits for the exit code. When the script ends the shell (PID 1) ends and
//! the container stops, taking every process of the stage with it; files persist to the
//! next stage because it is the same container.
//!
//! Cancel: every process but PID 1 gets SIGTERM from a small script run with `exec`
//! (the script's `trap 'exit 1' TERM` then ends the shell), and the container is killed
//! when it has not stopped after the grace period.

use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use futures::StreamExt;
use kiln_runner::executor::ExecError;
use kiln_runner::script::ShellKind;
use kiln_runner::trace::{JobTrace, STREAM_WORK, StreamKind};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use crate::engine::describe;

/// How long processes have after SIGTERM before the container is killed.
pub const GRACE: Duration = Duration::from_secs(10);

/// After SIGKILL, how long to wait for the engine to report the container stopped.
const FORCE_WAIT: Duration = Duration::from_secs(10);

/// Starts the first shell found, bash preferred (GitLab Runner's `BashDetectShellScript`).
const DETECT_BASH: &str = "if [ -x /usr/local/bin/bash ]; then\n\texec /usr/local/bin/bash\nelif [ -x /usr/bin/bash ]; then\n\texec /usr/bin/bash\nelif [ -x /bin/bash ]; then\n\texec /bin/bash\nelif [ -x /usr/local/bin/sh ]; then\n\texec /usr/local/bin/sh\nelif [ -x /usr/bin/sh ]; then\n\texec /usr/bin/sh\nelif [ -x /bin/sh ]; then\n\texec /bin/sh\nelif [ -x /busybox/sh ]; then\n\texec /busybox/sh\nelse\n\techo shell not found\n\texit 1\nfi\n";

/// The same for `shell = "sh"`: bash is not tried.
const DETECT_SH: &str = "if [ -x /usr/local/bin/sh ]; then\n\texec /usr/local/bin/sh\nelif [ -x /usr/bin/sh ]; then\n\texec /usr/bin/sh\nelif [ -x /bin/sh ]; then\n\texec /bin/sh\nelif [ -x /busybox/sh ]; then\n\texec /busybox/sh\nelse\n\techo shell not found\n\texit 1\nfi\n";

/// SIGTERM to every process but PID 1 and this script, newest first; no tools needed
/// beyond the shell.
const TERMINATE: &str = "for d in /proc/[0-9]*; do p=${d#/proc/}; if [ \"$p\" != 1 ] && [ \"$p\" != $$ ]; then set -- \"$p\" \"$@\"; fi; done; for p in \"$@\"; do kill -TERM \"$p\" 2>/dev/null; done; exit 0";

/// The build container's command: a shell reading the stage script from stdin.
pub fn shell_command(shell: ShellKind) -> Vec<String> {
    match shell {
        ShellKind::Bash => vec!["sh".into(), "-c".into(), DETECT_BASH.into()],
        ShellKind::Sh => vec!["sh".into(), "-c".into(), DETECT_SH.into()],
        ShellKind::Pwsh | ShellKind::Powershell => [
            "pwsh",
            "-NoProfile",
            "-NoLogo",
            "-InputFormat",
            "text",
            "-OutputFormat",
            "text",
            "-NonInteractive",
            "-ExecutionPolicy",
            "Bypass",
            "-Command",
            "-",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    }
}

/// Runs one stage script in a created (stopped) container.
pub async fn run_stage(
    docker: &Docker,
    id: &str,
    script: &str,
    trace: &Arc<JobTrace>,
    cancel: &CancellationToken,
) -> Result<(), ExecError> {
    let system = |what: &str, e: &bollard::errors::Error| {
        ExecError::SystemFailure(format!("failed to {what} the build container: {}", describe(e)))
    };
    let options = bollard::query_parameters::AttachContainerOptions {
        stdin: true,
        stdout: true,
        stderr: true,
        stream: true,
        logs: false,
        ..Default::default()
    };
    let attached = docker.attach_container(id, Some(options)).await.map_err(|e| system("attach to", &e))?;
    docker.start_container(id, None).await.map_err(|e| system("start", &e))?;
    let stdout = trace.stream(STREAM_WORK, StreamKind::Stdout);
    let stderr = trace.stream(STREAM_WORK, StreamKind::Stderr);
    let mut input = attached.input;
    let mut output = attached.output;
    let feed = async {
        // A failed write means the shell is gone; its exit code tells the rest.
        let _ = input.write_all(script.as_bytes()).await;
        let _ = input.shutdown().await;
    };
    let pump = async {
        while let Some(item) = output.next().await {
            match item {
                Ok(LogOutput::StdErr { message }) => stderr.write(&message),
                Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => stdout.write(&message),
                Ok(LogOutput::StdIn { .. }) => {}
                Err(_) => break,
            }
        }
    };
    let io = async { tokio::join!(feed, pump) };
    tokio::select! {
        _ = io => {}
        () = cancel.cancelled() => {
            stop(docker, id).await;
            stdout.close();
            stderr.close();
            return Err(ExecError::Canceled);
        }
    }
    stdout.close();
    stderr.close();
    let code = tokio::select! {
        code = exit_code(docker, id) => code?,
        () = cancel.cancelled() => {
            stop(docker, id).await;
            return Err(ExecError::Canceled);
        }
    };
    match code {
        0 => Ok(()),
        code => Err(ExecError::BuildFailure { exit_code: i32::try_from(code).unwrap_or(-1) }),
    }
}

/// The exit code once the container is not running.
async fn exit_code(docker: &Docker, id: &str) -> Result<i64, ExecError> {
    let options = bollard::query_parameters::WaitContainerOptions { condition: "not-running".into() };
    let mut wait = docker.wait_container(id, Some(options));
    match wait.next().await {
        Some(Ok(r)) => Ok(r.status_code),
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(e)) => {
            Err(ExecError::SystemFailure(format!("failed to wait for the build container: {}", describe(&e))))
        }
        None => Err(ExecError::SystemFailure("the engine ended the wait for the build container".into())),
    }
}

/// Whether the container stops within `within`.
async fn stopped_within(docker: &Docker, id: &str, within: Duration) -> bool {
    tokio::time::timeout(within, exit_code(docker, id)).await.is_ok()
}

/// Stops a running stage: SIGTERM to its processes, then SIGKILL to the container.
pub async fn stop(docker: &Docker, id: &str) {
    if terminate_processes(docker, id).await && stopped_within(docker, id, GRACE).await {
        return;
    }
    let options = bollard::query_parameters::KillContainerOptions { signal: "SIGKILL".into() };
    if let Err(e) = docker.kill_container(id, Some(options)).await {
        tracing::debug!(container = id, "kill: {}", describe(&e));
    }
    if !stopped_within(docker, id, FORCE_WAIT).await {
        tracing::warn!(container = id, "the container did not stop after SIGKILL");
    }
}

/// Runs the termination script in the container; false when it could not run.
async fn terminate_processes(docker: &Docker, id: &str) -> bool {
    let exec = bollard::models::ExecConfig {
        cmd: Some(vec!["sh".into(), "-c".into(), TERMINATE.into()]),
        attach_stdout: Some(false),
        attach_stderr: Some(false),
        ..Default::default()
    };
    let created = match docker.create_exec(id, exec).await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(container = id, "terminate: {}", describe(&e));
            return false;
        }
    };
    let start = bollard::exec::StartExecOptions { detach: true, ..Default::default() };
    docker.start_exec(&created.id, Some(start)).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_is_detected_in_the_image() {
        let bash = shell_command(ShellKind::Bash);
        assert_eq!(&bash[..2], ["sh", "-c"]);
        assert!(bash[2].starts_with("if [ -x /usr/local/bin/bash ]"));
        assert!(!shell_command(ShellKind::Sh)[2].contains("bash"));
        assert_eq!(shell_command(ShellKind::Pwsh).last().map(String::as_str), Some("-"));
    }

    #[test]
    fn the_termination_script_spares_pid_one_and_itself() {
        assert!(TERMINATE.contains("\"$p\" != 1"));
        assert!(TERMINATE.contains("\"$p\" != $$"));
    }
}
