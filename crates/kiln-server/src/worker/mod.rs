//! Background loops, one task each, all stopped by the shutdown signal:
//! processing pipelines whose state changed (and the follow-ups their
//! effects left in the outbox), running due pipeline schedules, and
//! deleting expired artifacts.

mod cleanup;
mod outbox;
mod processing;
pub(crate) mod scheduler;
mod tick;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::App;

/// Starts every loop; they end when `stop` turns true.
pub(crate) fn spawn(app: App, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(processing::run(app.clone(), stop.clone())),
        tokio::spawn(cleanup::run(app.clone(), stop.clone())),
        tokio::spawn(scheduler::run(app, stop)),
    ]
}
