//! The remote cache through `[runners.cache]` `Type = "s3"` against a real S3 API: moto's
//! server (`pip install 'moto[server]'`) on a free loopback port. One runner saves a cache
//! through presigned URLs; another runner, with an empty local cache directory, restores
//! it (also through a fallback key); object names follow `Path` and `Shared`.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kiln_api::job::CachePolicy;
use kiln_api::{CacheSpec, JobVariable};
use kiln_runner::config::{CacheConfig, RunnerConfig, S3Config};
use support::*;

const BUCKET: &str = "runner-cache";

/// A moto server, stopped on drop.
struct Moto {
    child: Child,
    address: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server is installed (pip install 'moto[server]')");
    let moto = Moto { child, address: format!("127.0.0.1:{port}") };
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http
            .put(format!("http://{}/{BUCKET}", moto.address))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return moto;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto_server did not start on {}", moto.address);
}

async fn object_names(moto: &Moto) -> String {
    let url = format!("http://{}/{BUCKET}?list-type=2", moto.address);
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

fn s3_runner(url: &str, dir: &std::path::Path, moto: &Moto, shared: bool) -> RunnerConfig {
    let mut r = runner(url, dir);
    r.cache = Some(CacheConfig {
        kind: "s3".into(),
        path: "team/ci".into(),
        shared,
        s3: Some(S3Config {
            server_address: moto.address.clone(),
            access_key: "AKIAEXAMPLE".into(),
            secret_key: "secretkeyexample".into(),
            bucket_name: BUCKET.into(),
            bucket_location: "us-east-1".into(),
            insecure: true,
            ..Default::default()
        }),
        ..Default::default()
    });
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_goes_through_s3_and_comes_back_on_another_runner() {
    let moto = moto().await;
    let (coord, url) = start().await;
    let cache = CacheSpec {
        key: "deps-$CI_COMMIT_REF_NAME".into(),
        paths: vec!["vendor".into()],
        ..Default::default()
    };

    let saver = temp();
    let mut a = job(40, &["mkdir -p vendor", "echo from-s3 > vendor/lib.txt"]);
    a.variables.push(JobVariable::public("CI_COMMIT_REF_NAME", "main"));
    a.cache = vec![cache.clone()];
    coord.lock().unwrap().queue.push_back(a);
    run_jobs(config(s3_runner(&url, saver.path(), &moto, false), 1), saver.path(), 1).await;
    let log = trace_of(&coord, 40);
    assert!(log.contains("Creating cache deps-main...") && log.contains("Created cache"), "{log}");
    assert!(log.contains("Uploading cache.zip to http://"), "{log}");
    let raw = raw_trace_of(&coord, 40);
    assert!(
        !raw.contains("X-Amz-Signature=") && !raw.contains("secretkeyexample"),
        "no credentials in the log: {log}"
    );
    // Not shared: the object lives under the runner's short token.
    let names = object_names(&moto).await;
    assert!(names.contains("<Key>team/ci/runner/testtoken/project/7/deps-main</Key>"), "{names}");

    // Another machine: its local cache directory is empty, so the archive can only come from S3.
    let restorer = temp();
    let mut b = job(41, &["cat vendor/lib.txt"]);
    b.variables.push(JobVariable::public("CI_COMMIT_REF_NAME", "main"));
    b.cache = vec![CacheSpec { policy: CachePolicy::Pull, ..cache.clone() }];
    coord.lock().unwrap().queue.push_back(b);
    let reports =
        run_jobs(config(s3_runner(&url, restorer.path(), &moto, false), 1), restorer.path(), 1).await;
    let log = trace_of(&coord, 41);
    assert!(reports[0].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(log.contains("Downloading cache.zip from http://"), "{log}");
    assert!(log.contains("\nfrom-s3\n") && log.contains("Successfully extracted cache"), "{log}");

    // A key nobody saved falls back to `fallback_keys`.
    let other = temp();
    let mut c = job(42, &["cat vendor/lib.txt"]);
    c.cache = vec![CacheSpec {
        key: "feature-branch".into(),
        fallback_keys: vec!["deps-main".into()],
        policy: CachePolicy::Pull,
        paths: vec!["vendor".into()],
        ..Default::default()
    }];
    coord.lock().unwrap().queue.push_back(c);
    let reports = run_jobs(config(s3_runner(&url, other.path(), &moto, false), 1), other.path(), 1).await;
    let log = trace_of(&coord, 42);
    assert!(reports[0].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(log.contains("Failed to extract cache for feature-branch"), "{log}");
    assert!(log.contains("Checking cache for deps-main...") && log.contains("\nfrom-s3\n"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_cache_is_named_without_the_runner() {
    let moto = moto().await;
    let (coord, url) = start().await;
    let dir = temp();
    let mut a = job(43, &["mkdir -p out", "echo x > out/f"]);
    a.cache = vec![CacheSpec { key: "shared-key".into(), paths: vec!["out".into()], ..Default::default() }];
    coord.lock().unwrap().queue.push_back(a);
    run_jobs(config(s3_runner(&url, dir.path(), &moto, true), 1), dir.path(), 1).await;
    let names = object_names(&moto).await;
    assert!(names.contains("<Key>team/ci/project/7/shared-key</Key>"), "{names}");
}
