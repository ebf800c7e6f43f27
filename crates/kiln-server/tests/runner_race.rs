//! Exactly-once job assignment under contention: two `kiln-server` processes
//! share one database (an SQLite file, or one PostgreSQL database) and one data
//! directory; 200 concurrent requesters, spread over both processes and 20
//! runners, long-poll `POST /jobs/request` while 10,000 jobs become pending
//! (100 pipelines of 100 parallel jobs). Every job must be handed out exactly
//! once, and none may be left pending.

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ServerProcess, commit, git_ok, work_tree};
use kiln_store::Backend;
use kiln_store::runners::NewRunner;
use kiln_store::testing::free_port;
use serde_json::{Value, json};

const PIPELINES: usize = 100;
const JOBS_PER_PIPELINE: usize = 100;
const REQUESTERS: usize = 200;
const RUNNERS: usize = 20;

/// The second replica: same database, same data directory, its own port.
struct Replica {
    child: Child,
    url: String,
}

impl Replica {
    fn start(first: &ServerProcess) -> Replica {
        let port = free_port().unwrap();
        let log = std::fs::File::create(first.dir.path().join("replica.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_kiln-server"))
            .arg("--data-dir")
            .arg(first.data_dir())
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--database-url")
            .arg(&first.database_url)
            .args(["--long-poll-timeout", "1"])
            .env("KILN_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the replica did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Replica { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn race(backend: Backend) {
    let server = ServerProcess::start_with(backend, &["--long-poll-timeout", "1"]);
    let replica = Replica::start(&server);
    let api = server.api();
    let (status, project) = api.post("/projects", json!({"name": "race"})).await;
    assert_eq!(status, 201, "{project}");
    let project_id = project["id"].as_i64().unwrap();
    let config = format!("work:\n  script: echo $CI_NODE_INDEX\n  parallel: {JOBS_PER_PIPELINE}\n");
    let work = server.dir.path().join("work");
    work_tree(&work, &[(".gitlab-ci.yml", config.as_str())], "jobs [skip ci]");
    commit(&work, &[], "again [skip ci]");
    git_ok(&work, &["push", "--quiet", &server.git_url("root/race"), "main"]);

    let store = kiln_store::Store::open(&server.database_url).await.unwrap();
    let mut tokens = Vec::new();
    for _ in 0..RUNNERS {
        tokens.push(store.create_runner(&NewRunner::instance()).await.unwrap().1);
    }

    let total = PIPELINES * JOBS_PER_PIPELINE;
    let claimed: Arc<Mutex<HashMap<i64, usize>>> = Arc::default();
    // Answers other than 201/204/409, kept (not panicked on in the task) so the
    // failure can show the servers' logs.
    let unexpected: Arc<Mutex<Vec<String>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut requesters = Vec::new();
    for i in 0..REQUESTERS {
        let base = if i % 2 == 0 { server.url.clone() } else { replica.url.clone() };
        let token = tokens[i % RUNNERS].clone();
        let claimed = Arc::clone(&claimed);
        let count = Arc::clone(&count);
        let unexpected = Arc::clone(&unexpected);
        requesters.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let body = json!({
                "token": token,
                "system_id": format!("s_race{i:08}"),
                "info": {"name": "race", "version": "19.4.0", "features": {"cancel_gracefully": true}},
            });
            let mut errors = 0;
            while count.load(Ordering::SeqCst) < total && Instant::now() < deadline {
                let response = match http.post(format!("{base}/api/v4/jobs/request")).json(&body).send().await
                {
                    Ok(r) => r,
                    Err(_) => {
                        errors += 1;
                        continue;
                    }
                };
                match response.status().as_u16() {
                    201 => {
                        let job: Value = response.json().await.unwrap();
                        let id = job["id"].as_i64().unwrap();
                        *claimed.lock().unwrap().entry(id).or_default() += 1;
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    204 | 409 => {}
                    other => {
                        let body = response.text().await.unwrap_or_default();
                        unexpected.lock().unwrap().push(format!("{other} from {base}: {body}"));
                        break;
                    }
                }
            }
            errors
        }));
    }

    // Jobs become pending while the requesters wait, through both replicas.
    let creators: Vec<_> = (0..PIPELINES)
        .map(|n| {
            let base = if n % 2 == 0 { server.url.clone() } else { replica.url.clone() };
            let api = common::Api { base: format!("{base}/api/v4"), ..api.clone() };
            tokio::spawn(async move {
                let (status, body) =
                    api.post(&format!("/projects/{project_id}/pipeline"), json!({"ref": "main"})).await;
                assert_eq!(status, 201, "{body}");
            })
        })
        .collect();
    for c in creators {
        c.await.unwrap();
    }
    let mut transport_errors = 0;
    for r in requesters {
        transport_errors += r.await.unwrap();
    }

    let unexpected = std::mem::take(&mut *unexpected.lock().unwrap());
    if !unexpected.is_empty() {
        let replica_log = std::fs::read_to_string(server.dir.path().join("replica.log")).unwrap_or_default();
        let first_log = server.log();
        let problems: Vec<&str> = first_log
            .lines()
            .chain(replica_log.lines())
            .filter(|l| l.contains("ERROR") || l.contains("WARN"))
            .take(40)
            .collect();
        panic!("job requests answered {unexpected:?}\nserver warnings and errors:\n{}", problems.join("\n"));
    }
    let claimed = std::mem::take(&mut *claimed.lock().unwrap());
    let doubles: Vec<_> = claimed.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubles.is_empty(), "jobs handed out more than once: {doubles:?}");
    assert_eq!(transport_errors, 0, "requests failed on the wire");
    assert_eq!(claimed.len(), total, "every job was handed out");
    assert_eq!(store.pending_count().await.unwrap(), 0, "no job left pending");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_one_sqlite_file_assign_each_job_once() {
    race(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_one_postgres_database_assign_each_job_once() {
    race(Backend::Postgres).await;
}
