//! Pipeline sources besides a plain push: the API with variables, triggers,
//! schedules (the loop and "play"), `[skip ci]` and `ci.skip`, broken
//! configurations and `workflow:rules`; audit events record them.

mod common;

use common::{ServerProcess, commit, git, git_ok, work_tree};
use kiln_store::Backend;
use serde_json::json;

const CI: &str = "workflow:\n  rules:\n    - if: $CI_COMMIT_BRANCH == \"skipme\"\n      when: never\n    - when: always\ntest:\n  script: echo $FOO\n";

async fn setup(server: &ServerProcess) -> (i64, std::path::PathBuf) {
    let api = server.api();
    let (status, project) = api.post("/projects", json!({"name": "src"})).await;
    assert_eq!(status, 201, "{project}");
    let work = server.dir.path().join("work");
    work_tree(&work, &[(".gitlab-ci.yml", CI)], "ci");
    git_ok(&work, &["push", "--quiet", &server.git_url("root/src"), "main"]);
    let id = project["id"].as_i64().unwrap();
    api.wait_for(&format!("/projects/{id}/pipelines"), "push pipeline", |v| {
        v.as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
    (id, work)
}

#[tokio::test]
async fn api_trigger_and_schedule_pipelines() {
    let server = ServerProcess::start(Backend::Sqlite);
    let api = server.api();
    let (id, _) = setup(&server).await;

    let (status, p) = api
        .post(
            &format!("/projects/{id}/pipeline"),
            json!({"ref": "main", "variables": [{"key": "FOO", "value": "from-api"}]}),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["source"], "api");
    let (_, vars) = api.get(&format!("/projects/{id}/pipelines/{}/variables", p["id"])).await;
    assert_eq!(vars, json!([{"variable_type": "env_var", "key": "FOO", "value": "from-api"}]));

    // Triggers: the token is shown once; a form-encoded trigger call needs no other credential.
    let (status, trigger) =
        api.post(&format!("/projects/{id}/triggers"), json!({"description": "deploys"})).await;
    assert_eq!(status, 201, "{trigger}");
    let token = trigger["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("glptt-"));
    let (_, listed) = api.get(&format!("/projects/{id}/triggers")).await;
    assert_ne!(listed[0]["token"], json!(token), "only a hint after creation");
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/api/v4/projects/{id}/trigger/pipeline", server.url))
        .form(&[("token", token.as_str()), ("ref", "main"), ("variables[FOO]", "triggered")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let p: serde_json::Value = response.json().await.unwrap();
    assert_eq!((p["source"].clone(), p["user"]["username"].clone()), (json!("trigger"), json!("root")));
    let (_, vars) = api.get(&format!("/projects/{id}/pipelines/{}/variables", p["id"])).await;
    assert_eq!(vars[0]["value"], "triggered");
    let response = client
        .post(format!("{}/api/v4/projects/{id}/trigger/pipeline", server.url))
        .form(&[("token", "glptt-wrong"), ("ref", "main")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    // Schedules: play runs one now; the loop runs a due one exactly once.
    let (status, schedule) = api
        .post(&format!("/projects/{id}/pipeline_schedules"), json!({"description": "nightly", "ref": "main", "cron": "0 4 * * *", "cron_timezone": "Europe/Berlin"}))
        .await;
    assert_eq!(status, 201, "{schedule}");
    let sid = schedule["id"].as_i64().unwrap();
    let (status, _) = api
        .post(
            &format!("/projects/{id}/pipeline_schedules/{sid}/variables"),
            json!({"key": "FOO", "value": "nightly"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, bad) = api
        .post(
            &format!("/projects/{id}/pipeline_schedules"),
            json!({"description": "x", "ref": "main", "cron": "every day"}),
        )
        .await;
    assert_eq!((status.as_u16(), bad), (400, json!({"message": {"cron": ["is invalid syntax"]}})));
    assert_eq!(api.post(&format!("/projects/{id}/pipeline_schedules/{sid}/play"), json!({})).await.0, 201);
    let scheduled = api
        .wait_for(&format!("/projects/{id}/pipelines?source=schedule"), "the played schedule", |v| {
            v.as_array().is_some_and(|a| a.len() == 1)
        })
        .await;
    let (_, vars) = api.get(&format!("/projects/{id}/pipelines/{}/variables", scheduled[0]["id"])).await;
    assert_eq!(vars[0]["value"], "nightly");

    let store = kiln_store::Store::open(&server.database_url).await.unwrap();
    let past = kiln_store::Millis(kiln_store::Millis::now().0 - 60_000);
    let update =
        kiln_store::schedules::ScheduleUpdate { next_run_at: Some(Some(past)), ..Default::default() };
    store.update_schedule(kiln_store::ScheduleId(sid), &update).await.unwrap();
    api.wait_for(&format!("/projects/{id}/pipelines?source=schedule"), "the due schedule", |v| {
        v.as_array().is_some_and(|a| a.len() == 2)
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let (_, all) = api.get(&format!("/projects/{id}/pipelines?source=schedule")).await;
    assert_eq!(all.as_array().unwrap().len(), 2, "a due schedule runs once");
    let (_, detail) = api.get(&format!("/projects/{id}/pipeline_schedules/{sid}")).await;
    assert!(detail["next_run_at"].as_str().unwrap() > detail["created_at"].as_str().unwrap());
    assert_eq!(detail["last_pipeline"]["id"], all[0]["id"]);

    let (status, events) = api.get("/audit_events?entity_type=Ci::Pipeline").await;
    assert_eq!(status, 200);
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 5, "push, api, trigger, play, schedule");
    assert!(
        events
            .iter()
            .all(|e| e["event_name"] == "pipeline_created" && e["details"]["author_name"] == "Administrator")
    );
    store.close().await;
}

#[tokio::test]
async fn skips_broken_configs_and_workflow_rules() {
    let server = ServerProcess::start(Backend::Sqlite);
    let api = server.api();
    let (id, work) = setup(&server).await;
    let url = server.git_url("root/src");

    // `[skip ci]` and `-o ci.skip` create skipped pipelines without jobs.
    commit(&work, &[("a", "1")], "docs only [skip ci]");
    git_ok(&work, &["push", "--quiet", &url, "main"]);
    commit(&work, &[("a", "2")], "more docs");
    git_ok(&work, &["push", "--quiet", "-o", "ci.skip", &url, "main"]);
    let pipelines = api
        .wait_for(&format!("/projects/{id}/pipelines?status=skipped"), "skipped pipelines", |v| {
            v.as_array().is_some_and(|a| a.len() == 2)
        })
        .await;
    let (_, jobs) = api.get(&format!("/projects/{id}/pipelines/{}/jobs", pipelines[0]["id"])).await;
    assert_eq!(jobs, json!([]));

    // A broken configuration: a failed pipeline carrying the errors.
    commit(&work, &[(".gitlab-ci.yml", "test:\n  scirpt: echo\n")], "typo");
    git_ok(&work, &["push", "--quiet", &url, "main"]);
    let failed = api
        .wait_for(&format!("/projects/{id}/pipelines?status=failed"), "the failed pipeline", |v| {
            v.as_array().is_some_and(|a| a.len() == 1)
        })
        .await;
    let (_, p) = api.get(&format!("/projects/{id}/pipelines/{}", failed[0]["id"])).await;
    let errors = p["yaml_errors"].as_str().unwrap();
    assert!(
        errors.contains("jobs test config should implement the script:, run:, or trigger: keyword"),
        "{errors}"
    );
    assert!(errors.starts_with(".gitlab-ci.yml:"), "errors carry their location: {errors}");
    // The API keeps nothing and answers 400 with the errors.
    let (status, body) = api.post(&format!("/projects/{id}/pipeline"), json!({"ref": "main"})).await;
    assert_eq!(status, 400);
    assert!(body["message"]["base"][0].as_str().unwrap().contains("should implement the script:"), "{body}");

    // workflow:rules that exclude the pipeline: nothing is created, the API says why.
    commit(&work, &[(".gitlab-ci.yml", CI)], "fixed");
    git_ok(&work, &["push", "--quiet", &url, "main", "main:skipme"]);
    let (status, body) = api.post(&format!("/projects/{id}/pipeline"), json!({"ref": "skipme"})).await;
    assert_eq!(
        (status.as_u16(), body),
        (400, json!({"message": {"base": ["Pipeline filtered out by workflow rules."]}}))
    );
    api.wait_for(&format!("/projects/{id}/pipelines?ref=main&status=pending"), "the fixed pipeline", |v| {
        v.as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    let (_, on_skipme) = api.get(&format!("/projects/{id}/pipelines?ref=skipme")).await;
    assert_eq!(on_skipme, json!([]));
    // Deleting a branch creates nothing.
    let before = api.get(&format!("/projects/{id}/pipelines")).await.1.as_array().unwrap().len();
    assert!(git(&work, &["push", "--quiet", &url, ":skipme"]).status.success());
    let after = api.get(&format!("/projects/{id}/pipelines")).await.1.as_array().unwrap().len();
    assert_eq!(before, after);
}
