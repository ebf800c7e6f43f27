//! `cache:key:files` and `cache:key:files_commits`: the keys a runner gets
//! are GitLab's, computed from the pushed commit (blob ids of the files,
//! `**` patterns included, or the last commits that changed them), and they
//! do not move when a later commit leaves the files alone.

mod common;

use common::{ServerProcess, commit, git_ok, work_tree};
use kiln_store::Backend;
use serde_json::{Value, json};
use sha1::Digest;

const CONFIG: &str = r#"
build:
  script: echo build
  cache:
    - key:
        files: [lock.txt, "**/pkg.json"]
      paths: [deps/]
    - key:
        files_commits: [lock.txt]
        prefix: commits
      paths: [vendor/]
    - key:
        files: [missing.txt]
      paths: [other/]
"#;

fn digest(mut ids: Vec<String>) -> String {
    ids.sort();
    ids.dedup();
    hex::encode(sha1::Sha1::digest(ids.join("-").as_bytes()))
}

async fn runner_keys(server: &ServerProcess, token: &str) -> Vec<String> {
    let http = reqwest::Client::new();
    for _ in 0..50 {
        let response = http
            .post(format!("{}/api/v4/jobs/request", server.url))
            .json(&json!({"token": token, "info": {"features": {}}}))
            .send()
            .await
            .unwrap();
        if response.status() == 201 {
            let job: Value = response.json().await.unwrap();
            return job["cache"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["key"].as_str().unwrap().to_string())
                .collect();
        }
    }
    panic!("no job was handed out");
}

#[tokio::test]
async fn cache_keys_from_the_commit() {
    let server = ServerProcess::start_with(Backend::Sqlite, &["--long-poll-timeout", "1"]);
    let api = server.api();
    let (status, _) = api.post("/projects", json!({"name": "keys"})).await;
    assert_eq!(status, 201);
    let token = {
        let store = kiln_store::Store::open(&server.database_url).await.unwrap();
        let registration = store.reset_runner_registration_token().await.unwrap();
        let (status, reg) = api
            .post("/runners", json!({"token": registration, "description": "keys", "run_untagged": true}))
            .await;
        assert_eq!(status, 201, "{reg}");
        reg["token"].as_str().unwrap().to_string()
    };

    let work = server.dir.path().join("work");
    let first = work_tree(
        &work,
        &[(".gitlab-ci.yml", CONFIG), ("lock.txt", "v1\n"), ("a/b/pkg.json", "{}\n"), ("pkg.json", "[]\n")],
        "first",
    );
    git_ok(&work, &["push", "--quiet", &server.git_url("root/keys"), "main"]);
    let blob = |path: &str| git_ok(&work, &["rev-parse", &format!("HEAD:{path}")]).trim().to_string();
    // `**/pkg.json` needs a directory before the name, as in GitLab.
    let contents = digest(vec![blob("lock.txt"), blob("a/b/pkg.json")]);
    let commits = digest(vec![first.clone()]);
    let keys = runner_keys(&server, &token).await;
    assert_eq!(keys.len(), 3);
    let bare: Vec<&str> =
        keys.iter().map(|k| k.strip_suffix("-protected").expect("main is protected")).collect();
    assert_eq!(bare, [format!("0-{contents}"), format!("commits-{commits}"), "2-default".to_string()]);

    // A commit that leaves the files alone keeps both keys.
    commit(&work, &[("README.md", "hello\n")], "docs");
    git_ok(&work, &["push", "--quiet", &server.git_url("root/keys"), "main"]);
    assert_eq!(runner_keys(&server, &token).await, keys);

    // Changing the lock file changes both.
    let third = commit(&work, &[("lock.txt", "v2\n")], "bump");
    git_ok(&work, &["push", "--quiet", &server.git_url("root/keys"), "main"]);
    let changed = runner_keys(&server, &token).await;
    let bare: Vec<&str> =
        changed.iter().map(|k| k.strip_suffix("-protected").expect("main is protected")).collect();
    let contents = digest(vec![blob("lock.txt"), blob("a/b/pkg.json")]);
    assert_eq!(
        bare,
        [format!("0-{contents}"), format!("commits-{}", digest(vec![third])), "2-default".to_string()]
    );
}
