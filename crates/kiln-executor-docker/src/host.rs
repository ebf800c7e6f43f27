//! Predefined stages (`get_sources`, caches, artifacts, file variable cleanup) on the
//! runner's machine, in the host directory that is bind-mounted into the job's
//! containers: where GitLab Runner uses its helper container, this executor runs the
//! same scripts as the shell executor would, with `umask 0000` as the helper does so a
//! non-root image user can write what they create.

use std::path::Path;
use std::sync::Arc;

use kiln_runner::executor::ExecError;
use kiln_runner::executor::process::{KillTimeouts, ProcessSpec, run_streams};
use kiln_runner::script::ShellKind;
use kiln_runner::trace::{JobTrace, STREAM_WORK, StreamKind};
use tokio_util::sync::CancellationToken;

/// Runs one script file's worth of stage on the host.
pub async fn run_stage(
    dir: &Path,
    stage: &str,
    shell: ShellKind,
    script: &str,
    cwd: &Path,
    trace: &Arc<JobTrace>,
    cancel: &CancellationToken,
) -> Result<(), ExecError> {
    let path = dir.join(format!("{stage}.{}", shell.extension()));
    std::fs::write(&path, script.as_bytes())
        .map_err(|e| ExecError::SystemFailure(format!("failed to write {}: {e}", path.display())))?;
    let argv = shell.command(&path.to_string_lossy());
    // `sh -c 'umask 0000 && exec "$0" "$@"' <shell> <script>`
    let mut args: Vec<std::ffi::OsString> = vec!["-c".into(), "umask 0000 && exec \"$0\" \"$@\"".into()];
    args.extend(argv.iter().map(Into::into));
    let spec = ProcessSpec {
        program: "sh".into(),
        args,
        env: Vec::new(),
        clear_env: false,
        cwd: Some(cwd.to_path_buf()),
    };
    let stdout = trace.stream(STREAM_WORK, StreamKind::Stdout);
    let stderr = trace.stream(STREAM_WORK, StreamKind::Stderr);
    let exit = run_streams(
        &spec,
        &|b: &[u8]| stdout.write(b),
        &|b: &[u8]| stderr.write(b),
        cancel,
        KillTimeouts { graceful: crate::container::GRACE, ..KillTimeouts::default() },
    )
    .await
    .map_err(|e| ExecError::SystemFailure(format!("failed to run {}: {e}", shell.name())));
    stdout.close();
    stderr.close();
    let _ = std::fs::remove_file(&path);
    let exit = exit?;
    if exit.canceled {
        return Err(ExecError::Canceled);
    }
    match exit.code {
        Some(0) => Ok(()),
        _ => Err(ExecError::BuildFailure { exit_code: exit.shell_code() }),
    }
}
