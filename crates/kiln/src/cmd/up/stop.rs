//! Stopping `kiln up` on Ctrl-C (or SIGTERM): the runner stops taking jobs, then
//! running jobs either finish, or are canceled through the coordinator as a user's
//! Cancel would (the runner hears `canceling`, runs `after_script`, and the job ends
//! `canceled`). Jobs still running after the grace period, or after a second Ctrl-C,
//! are aborted by the runner.

use std::time::Duration;

use kiln_runner::commands::RunControl;
use kiln_server::ServerHandle;

use super::{OnStop, say};

/// How long canceled jobs get before they are aborted: a runner hears of a cancel
/// only with its next log update, up to 30 s later when nobody watches the log
/// (the coordinator's `X-GitLab-Trace-Update-Interval`), and then gets 30 s for its
/// `after_script`. A shorter grace could abort a job that was about to hear.
const CANCEL_GRACE: Duration = Duration::from_secs(60);

/// Waits for the first signal and stops the runner as `on_stop` says.
pub(crate) async fn wait_for_stop(
    control: &RunControl,
    on_stop: OnStop,
    server: &ServerHandle,
    runner_id: i64,
) {
    kiln_server::shutdown_signal().await;
    control.stop.cancel();
    let abort = control.abort.clone();
    match on_stop {
        OnStop::Cancel => {
            match server.cancel_runner_jobs(runner_id).await {
                Ok(0) => say("Stopping: no job is running."),
                Ok(n) => say(&format!("Stopping: canceled {n} running job(s); their after_script runs now.")),
                Err(e) => {
                    say(&format!("Stopping: could not cancel running jobs ({e:#}); aborting them."));
                    abort.cancel();
                }
            }
            tokio::spawn(async move {
                tokio::select! {
                    () = tokio::time::sleep(CANCEL_GRACE) => {}
                    () = kiln_server::shutdown_signal() => {}
                }
                abort.cancel();
            });
        }
        OnStop::Finish => {
            say("Stopping: no new jobs; running jobs finish first (Ctrl-C again cancels them).");
            tokio::spawn(async move {
                kiln_server::shutdown_signal().await;
                say("Aborting running jobs.");
                abort.cancel();
            });
        }
    }
}
