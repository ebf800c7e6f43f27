//! `run` keeps its configuration current: expiring tokens are rotated and saved in
//! `config.toml` with its comments; SIGHUP starts added runners, stops removed ones,
//! applies a new `concurrent`, and keeps the last good configuration when the file is
//! broken. Against the in-test coordinator.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kiln_runner::commands::{RunControl, RunOptions, run_with_signals, serve};
use kiln_runner::metrics::Metrics;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::*;

fn runner_toml(url: &str, token: &str, extra: &str) -> String {
    format!(
        "\n[[runners]]\n  # the {token} runner\n  name = \"{token}\"\n  url = \"{url}\"\n  token = \"{token}\"\n  executor = \"shell\"\n{extra}"
    )
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn requests_with(coord: &Shared, token: &str) -> usize {
    coord.lock().unwrap().request_tokens.iter().filter(|t| *t == token).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_token_is_rotated_and_saved_with_the_comments() {
    let (coord, url) = start().await;
    let dir = temp();
    let path = dir.path().join("config.toml");
    let now = chrono::Utc::now();
    let obtained = (now - chrono::TimeDelta::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let expires = (now + chrono::TimeDelta::minutes(10)).format("%Y-%m-%dT%H:%M:%SZ");
    let extra = format!("  token_obtained_at = {obtained}\n  token_expires_at = {expires}\n");
    let text = format!(
        "# keep me\nconcurrent = 1\ncheck_interval = 1\n{}",
        runner_toml(&url, "glrt-t1_oldtoken1", &extra)
    );
    std::fs::write(&path, text).unwrap();
    coord.lock().unwrap().reset_answer =
        Some(("glrt-t1_newtoken2".into(), "2099-01-01T00:00:00.000Z".into()));

    let config = kiln_runner::config::load(&path).unwrap().config;
    let (_tx, rx) = tokio::sync::watch::channel(Arc::new(config));
    let control = RunControl::default();
    let opts = RunOptions {
        config_path: path.clone(),
        working_dir: dir.path().to_path_buf(),
        helper: helper(),
        ..Default::default()
    };
    let run =
        tokio::spawn(serve(rx, "s_0123456789ab".into(), opts, control.clone(), Arc::new(Metrics::new())));
    wait_for("a job request with the new token", || requests_with(&coord, "glrt-t1_newtoken2") > 0).await;
    control.stop.cancel();
    run.await.unwrap().unwrap();

    assert_eq!(coord.lock().unwrap().resets, ["glrt-t1_oldtoken1"]);
    let saved = std::fs::read_to_string(&path).unwrap();
    assert!(saved.contains("# keep me") && saved.contains("# the glrt-t1_oldtoken1 runner"), "{saved}");
    assert!(
        saved.contains("token = \"glrt-t1_newtoken2\"") && !saved.contains("token = \"glrt-t1_oldtoken1\""),
        "{saved}"
    );
    assert!(saved.contains("\n  token_expires_at = 2099-01-01T00:00:00"), "indentation kept: {saved}");
    let reloaded = kiln_runner::config::load(&path).unwrap().config;
    assert_eq!(reloaded.runners[0].token, "glrt-t1_newtoken2");
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn sighup() {
    kill(Pid::this(), Signal::SIGHUP).unwrap();
}

async fn concurrent_metric(base: &str) -> String {
    let text = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    text.lines().find(|l| l.starts_with("gitlab_runner_concurrent ")).unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_adds_and_removes_runners_applies_concurrent_and_survives_a_broken_file() {
    let (coord, url) = start().await;
    let dir = temp();
    let path = dir.path().join("config.toml");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let head = |concurrent: usize| {
        format!("concurrent = {concurrent}\ncheck_interval = 1\nlisten_address = \"127.0.0.1:{port}\"\n")
    };
    write(&path, &format!("{}{}", head(1), runner_toml(&url, "glrt-runnerA", "")));
    let opts = RunOptions {
        config_path: path.clone(),
        working_dir: dir.path().to_path_buf(),
        helper: helper(),
        ..Default::default()
    };
    let run = tokio::spawn(run_with_signals(opts));
    let base = format!("http://127.0.0.1:{port}");
    wait_for("runner A asking for jobs", || requests_with(&coord, "glrt-runnerA") > 0).await;
    assert_eq!(concurrent_metric(&base).await, "gitlab_runner_concurrent 1");

    // A second runner and a larger `concurrent`.
    let both = format!(
        "{}{}{}",
        head(3),
        runner_toml(&url, "glrt-runnerA", ""),
        runner_toml(&url, "glrt-runnerB", "")
    );
    write(&path, &both);
    sighup();
    wait_for("runner B asking for jobs", || requests_with(&coord, "glrt-runnerB") > 0).await;
    assert_eq!(concurrent_metric(&base).await, "gitlab_runner_concurrent 3");

    // A broken file changes nothing: both runners keep asking.
    write(&path, "concurrent = [\n");
    sighup();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let b = requests_with(&coord, "glrt-runnerB");
    wait_for("runner B still asking", || requests_with(&coord, "glrt-runnerB") > b).await;
    assert_eq!(concurrent_metric(&base).await, "gitlab_runner_concurrent 3");

    // Runner A removed, `concurrent` lowered.
    write(&path, &format!("{}{}", head(2), runner_toml(&url, "glrt-runnerB", "")));
    sighup();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let a = requests_with(&coord, "glrt-runnerA");
    let b = requests_with(&coord, "glrt-runnerB");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(requests_with(&coord, "glrt-runnerA"), a, "a removed runner stops asking");
    assert!(requests_with(&coord, "glrt-runnerB") > b, "the other runner goes on");
    assert_eq!(concurrent_metric(&base).await, "gitlab_runner_concurrent 2");

    kill(Pid::this(), Signal::SIGQUIT).unwrap();
    tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap().unwrap();
}
