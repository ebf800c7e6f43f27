//! 50 jobs at once on one runner with `concurrent = 50`: each job waits at a barrier
//! until all 50 have started (so they provably run together), prints numbered lines,
//! and its log holds exactly its own lines, in order.

use std::time::Duration;

use kiln_store::Backend;

use crate::support::runner::RunnerOptions;
use crate::support::{RunnerProcess, ServerProcess, git_ok, work_tree};

const JOBS: usize = 50;
const LINES: usize = 200;

fn pipeline() -> String {
    format!(
        r#"
wide:
  parallel: {JOBS}
  script:
    - test "$(cat data.txt)" = "from the repository"
    - touch "$MARKER_DIR/started-$CI_NODE_INDEX"
    - |
      waited=0
      while [ "$(ls "$MARKER_DIR" | grep -c started-)" -lt {JOBS} ]; do
        sleep 0.2; waited=$((waited + 1))
        if [ $waited -gt 300 ]; then echo "not all jobs ran at once"; exit 1; fi
      done
    - for i in $(seq 1 {LINES}); do echo "node=$CI_NODE_INDEX line=$i"; done
"#
    )
}

/// `(node, line)` of every output line of the form `node=N line=M`.
fn numbered_lines(log: &str) -> Vec<(usize, usize)> {
    log.lines()
        .filter_map(|l| {
            let at = l.find("node=")?;
            let rest = &l[at + 5..];
            let (node, rest) = rest.split_once(" line=")?;
            let line: String = rest.chars().take_while(char::is_ascii_digit).collect();
            Some((node.parse().ok()?, line.parse().ok()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_jobs_at_once_on_one_runner() {
    let server = ServerProcess::start(Backend::Sqlite);
    let api = server.api();
    let project = api.create_project("wide").await;
    let markers = tempfile::Builder::new().prefix("kiln-e2e-markers-").tempdir().unwrap();
    api.add_variable(project, "MARKER_DIR", &markers.path().display().to_string(), false).await;
    let (_, token) = server.runner_token("wide runner").await;
    let options = RunnerOptions { concurrent: JOBS, request_concurrency: 8, ..RunnerOptions::default() };
    let _runner = RunnerProcess::start(&server.url, &token, &options);

    let work = server.dir.path().join("work");
    let ci = pipeline();
    work_tree(&work, &[(".gitlab-ci.yml", ci.as_str()), ("data.txt", "from the repository")], "wide");
    git_ok(&work, &["push", "--quiet", &server.git_url("root/wide"), "main"]);
    let pipeline = api.nth_pipeline(project, 1).await;
    let done = api.wait_pipeline_done(project, pipeline, Duration::from_secs(150)).await;
    let jobs = api.jobs(project, pipeline).await;
    let described = api.describe(project, &jobs).await;
    assert_eq!(jobs.len(), JOBS, "{described}");
    assert_eq!(done["status"], "success", "{done}\n{described}");
    for job in &jobs {
        let name = job["name"].as_str().unwrap();
        let node: usize = name.trim_start_matches("wide ").split('/').next().unwrap().parse().unwrap();
        let log = api.trace(project, job["id"].as_i64().unwrap()).await;
        let expected: Vec<(usize, usize)> = (1..=LINES).map(|i| (node, i)).collect();
        assert_eq!(numbered_lines(&log), expected, "log of {name}:\n{log}");
    }
}
