//! The Prometheus endpoint and `/debug/jobs/list` while the real loop runs jobs against
//! the in-test coordinator: gitlab-runner's metric names, labels and list format.

mod support;

use std::sync::Arc;
use std::time::Duration;

use kiln_runner::commands::{RunControl, RunOptions, serve};
use kiln_runner::metrics::Metrics;
use kiln_runner::network::TraceSettings;
use support::*;

async fn get(url: &str) -> (String, String) {
    let r = reqwest::get(url).await.unwrap();
    let version = r.headers().get("X-List-Version").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (version, r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_the_job_list_while_jobs_run() {
    let (coord, url) = start().await;
    let dir = temp();
    let mut slow = job(60, &["echo started", "sleep 3"]);
    slow.git_info.repo_url = "https://gitlab-ci-token:glcbt-x@gitlab.example.com/acme/widget.git".into();
    coord.lock().unwrap().queue.push_back(slow);

    let metrics = Arc::new(Metrics::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let control = RunControl::default();
    tokio::spawn(kiln_runner::metrics::serve(listener, metrics.clone(), control.abort.clone()));
    let mut r = runner(&url, dir.path());
    r.limit = 4;
    let opts = RunOptions {
        working_dir: dir.path().to_path_buf(),
        helper: helper(),
        trace_settings: TraceSettings { update_interval: Duration::from_millis(200), ..Default::default() },
        ..Default::default()
    };
    let (_tx, rx) = tokio::sync::watch::channel(Arc::new(config(r, 2)));
    let run = tokio::spawn(serve(rx, "s_0123456789ab".into(), opts, control.clone(), metrics.clone()));

    // While job 60 sleeps, the list shows it in gitlab-runner's format.
    let mut list = String::new();
    for _ in 0..100 {
        let (version, body) = get(&format!("{base}/debug/jobs/list")).await;
        assert_eq!(version, "2");
        if body.contains("stage=step_script") {
            list = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let line = list.lines().find(|l| l.contains("/-/jobs/60")).unwrap_or_else(|| panic!("{list}"));
    assert!(
        line.starts_with(
            "url=https://gitlab.example.com/acme/widget/-/jobs/60 state=running stage=step_script executor_stage=step_script duration="
        ),
        "{line}"
    );
    assert!(!list.contains("glcbt-x"), "no credentials in job URLs: {list}");
    let (_, text) = get(&format!("{base}/metrics")).await;
    let labels = r#"runner="testtoken",runner_name="test-runner",system_id="s_0123456789ab""#;
    assert!(
        text.contains(&format!(
            r#"gitlab_runner_jobs{{{labels},state="running",stage="step_script",executor_stage="step_script"}} 1"#
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            r#"gitlab_runner_jobs{{{labels},state="idle",stage="idle",executor_stage="idle"}} 0"#
        )),
        "{text}"
    );

    // A failing job joins; both jobs finish and the counters say so.
    coord.lock().unwrap().queue.push_back(job(61, &["exit 7"]));
    for _ in 0..200 {
        if coord.lock().unwrap().finals.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, text) = get(&format!("{base}/metrics")).await;
    control.stop.cancel();
    run.await.unwrap().unwrap();
    for want in [
        format!("gitlab_runner_jobs_total{{{labels}}} 2"),
        r#"gitlab_runner_failed_jobs_total{runner="testtoken",runner_name="test-runner",failure_reason="script_failure",mode="script"} 1"#.to_string(),
        "gitlab_runner_concurrent 2".to_string(),
        format!("gitlab_runner_limit{{{labels}}} 4"),
        r#"gitlab_runner_api_request_statuses_total{runner="testtoken",system_id="s_0123456789ab",endpoint="request_job",status="201",method="post"} 2"#.to_string(),
        r#"gitlab_runner_api_request_duration_seconds_count{runner="testtoken",system_id="s_0123456789ab",endpoint="update_job",status_class="2xx",method="put"}"#.to_string(),
        r#"gitlab_runner_version_info{name="kiln-runner""#.to_string(),
        "process_resident_memory_bytes ".to_string(),
        "# TYPE gitlab_runner_jobs gauge".to_string(),
        "# TYPE gitlab_runner_jobs_total counter".to_string(),
    ] {
        assert!(text.contains(&want), "missing {want} in\n{text}");
    }
    assert!(!list.is_empty());
}
