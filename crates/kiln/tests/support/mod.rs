//! Shared harness for the end-to-end tests of the `kiln` binary: a `kiln server`
//! process on a temporary data directory (SQLite or a private PostgreSQL cluster), a
//! small REST client, real `git` clients, and `kiln runner run` processes.
//!
//! Every process is started here and stopped here, by its PID (dropping the handle
//! kills it), so a failing test leaves nothing behind.

#![allow(dead_code, unreachable_pub, unused_imports)]

pub mod api;
pub mod git;
pub mod runner;
pub mod server;

use std::time::{Duration, Instant};

pub use api::Api;
pub use git::{commit, git, git_ok, work_tree};
pub use runner::RunnerProcess;
pub use server::ServerProcess;

/// The `kiln` binary under test.
pub fn kiln_bin() -> &'static str {
    env!("CARGO_BIN_EXE_kiln")
}

/// Polls `check` every 50 ms until it returns `Some`, or panics after `limit` with
/// `what` and the last value `describe` gives.
pub async fn eventually<T>(
    what: &str,
    limit: Duration,
    mut check: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) => {
                assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}: {last}");
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether a process with this PID still exists (`kill(pid, 0)`); zombies of
/// processes we did not start count as gone only once reaped, so callers poll.
pub fn process_alive(pid: i32) -> bool {
    use nix::sys::signal::kill;
    use nix::unistd::Pid;
    match kill(Pid::from_raw(pid), None) {
        Ok(()) => !is_zombie(pid),
        Err(_) => false,
    }
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// The last `max` bytes of `text` (at a character boundary), for failure messages.
pub fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}
