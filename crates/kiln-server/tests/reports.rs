//! Job artifacts and reports through the REST API against a real server on
//! SQLite and PostgreSQL: the pipeline's JUnit test report and summary from
//! stored (gzipped) `junit` artifacts, the job JSON's artifact list, archive
//! downloads (by job and by ref), files out of the zip (with escapes refused),
//! keeping and deleting artifacts, and the cleanup loop removing expired
//! artifacts and their blobs (keeping those of the newest successful pipeline).

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Api, ServerProcess, commit, git_ok, work_tree};
use kiln_store::artifacts::{Artifact, ArtifactFormat, ArtifactType, NewArtifact};
use kiln_store::{Backend, BlobStore, BuildId, Millis, Store};
use serde_json::{Value, json};

const CI: &str = "rspec:\n  parallel: 2\n  script: rspec\nlint:\n  script: lint\n";

async fn user(api: &Api, username: &str) -> (i64, Api) {
    let (status, user) = api
        .post(
            "/users",
            json!({"username": username, "name": username, "email": format!("{username}@example.com")}),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    let id = user["id"].as_i64().unwrap();
    let (status, token) = api
        .post(&format!("/users/{id}/personal_access_tokens"), json!({"name": "t", "scopes": ["api"]}))
        .await;
    assert_eq!(status, 201, "{token}");
    (id, api.with_token(token["token"].as_str()))
}

/// A GET whose body is bytes, with its headers.
async fn get_bytes(api: &Api, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = api.client.get(format!("{}{path}", api.base));
    if let Some(token) = &api.token {
        request = request.header("PRIVATE-TOKEN", token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

fn gzip(xml: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(xml.as_bytes()).unwrap();
    e.finish().unwrap()
}

fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    for (name, bytes) in files {
        zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    out.into_inner()
}

/// Stores an artifact as the runner API would after an upload.
async fn upload(
    store: &Store,
    blobs: &BlobStore,
    job: i64,
    file_type: ArtifactType,
    format: ArtifactFormat,
    bytes: Vec<u8>,
    expire_at: Option<Millis>,
) -> Artifact {
    let file_name = match format {
        ArtifactFormat::Zip => "artifacts.zip",
        ArtifactFormat::Gzip => "junit.xml.gz",
        ArtifactFormat::Raw => "report",
    };
    let new = NewArtifact {
        job: BuildId(job),
        file_type,
        file_format: format,
        file_name: file_name.into(),
        expire_at,
    };
    let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(bytes))]);
    store.store_artifact(blobs, &new, body, None).await.unwrap()
}

fn id_of(jobs: &Value, name: &str) -> i64 {
    jobs.as_array().unwrap().iter().find(|j| j["name"] == name).unwrap()["id"].as_i64().unwrap()
}

async fn succeed(store: &Store, job: i64) {
    use kiln_pipeline::Event;
    use kiln_store::effects::ApplyOptions;
    let job = store.job(BuildId(job)).await.unwrap();
    let running = Event::JobRunning { job: job.number, graceful_cancel: true };
    store.handle_event(job.pipeline_id, &running, ApplyOptions::now()).await.unwrap();
    store
        .handle_event(job.pipeline_id, &Event::JobSucceeded { job: job.number }, ApplyOptions::now())
        .await
        .unwrap();
}

async fn reports(backend: Backend) {
    let server = ServerProcess::start(backend);
    let admin = server.api();
    let anonymous = admin.with_token(None);
    let (rita_id, rita) = user(&admin, "rita").await;
    let (_, olga) = user(&admin, "olga").await;
    let (status, project) = admin.post("/projects", json!({"name": "suite"})).await;
    assert_eq!(status, 201, "{project}");
    let id = project["id"].as_i64().unwrap();
    let (status, _) =
        admin.post(&format!("/projects/{id}/members"), json!({"user_id": rita_id, "access_level": 20})).await;
    assert_eq!(status, 201);
    let work = server.dir.path().join("work");
    work_tree(&work, &[(".gitlab-ci.yml", CI)], "ci");
    git_ok(&work, &["push", "--quiet", &server.git_url("root/suite"), "main"]);
    let jobs = admin
        .wait_for(&format!("/projects/{id}/jobs"), "three pending jobs", |v| {
            v.as_array().is_some_and(|a| a.len() == 3 && a.iter().all(|j| j["status"] == "pending"))
        })
        .await;
    let pid = jobs[0]["pipeline"]["id"].as_i64().unwrap();
    let (r1, r2, lint) = (id_of(&jobs, "rspec 1/2"), id_of(&jobs, "rspec 2/2"), id_of(&jobs, "lint"));

    let store = Store::open(&server.database_url).await.unwrap();
    let blobs = BlobStore::local(server.data_dir().join("blobs")).unwrap();
    let (junit, gz) = (ArtifactType::Junit, ArtifactFormat::Gzip);
    upload(&store, &blobs, r1, junit, gz, gzip(r#"<?xml version="1.0"?>
        <testsuites><testsuite name="models">
          <testcase classname="User" name="is valid" time="1.25" file="spec/user_spec.rb"/>
          <testcase classname="User" name="has a name" time="0"><failure message="expected true">expected true, got false</failure></testcase>
        </testsuite></testsuites>"#), None).await;
    let mut two_files =
        gzip("<testsuite><testcase classname='Api' name='later'><skipped/></testcase></testsuite>");
    two_files.extend(gzip("<testsuite><testcase classname='Api' name='boom' time='0.5'><error message='NoMethodError'/></testcase></testsuite>"));
    upload(&store, &blobs, r2, junit, gz, two_files, None).await;
    upload(&store, &blobs, lint, junit, gz, gzip("<testsuite><testcase name='x'>"), None).await;
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let archive = zip(&[("out/report.txt", b"all good\n"), ("out/big.bin", &big), ("../escape.txt", b"x")]);
    let (zip_fmt, kind) = (ArtifactFormat::Zip, ArtifactType::Archive);
    let r1_archive = upload(&store, &blobs, r1, kind, zip_fmt, archive.clone(), None).await;
    let day = 24 * 3600 * 1000;
    let kept =
        upload(&store, &blobs, r2, kind, zip_fmt, zip(&[("a", b"a")]), Some(Millis::now().plus_ms(day)))
            .await;

    // The test report: one suite per job name, failures first.
    let report_path = format!("/projects/{id}/pipelines/{pid}/test_report");
    let (status, report) = rita.get(&report_path).await;
    assert_eq!(status, 200, "{report}");
    let counts = |v: &Value| {
        ["total_time", "total_count", "success_count", "failed_count", "skipped_count", "error_count"]
            .map(|k| v[k].clone())
    };
    assert_eq!(counts(&report), [json!(1.75), json!(4), json!(1), json!(1), json!(1), json!(1)]);
    let suites = report["test_suites"].as_array().unwrap();
    assert_eq!(suites.iter().map(|s| s["name"].as_str().unwrap()).collect::<Vec<_>>(), ["lint", "rspec"]);
    assert!(
        suites[0]["suite_error"].as_str().unwrap().starts_with("JUnit XML parsing failed"),
        "{}",
        suites[0]
    );
    assert_eq!((counts(&suites[0])[1].clone(), &suites[0]["test_cases"]), (json!(0), &json!([])));
    assert_eq!(suites[1]["suite_error"], Value::Null);
    let cases = suites[1]["test_cases"].as_array().unwrap();
    let seen: Vec<_> =
        cases.iter().map(|c| (c["status"].as_str().unwrap(), c["name"].as_str().unwrap())).collect();
    assert_eq!(
        seen,
        [("failed", "has a name"), ("error", "boom"), ("skipped", "later"), ("success", "is valid")]
    );
    assert_eq!(
        cases[0],
        json!({"status": "failed", "name": "has a name", "classname": "User", "file": null, "execution_time": 0.0,
               "system_output": "expected true, got false", "stack_trace": null, "recent_failures": null})
    );
    assert_eq!((&cases[3]["file"], &cases[3]["execution_time"]), (&json!("spec/user_spec.rb"), &json!(1.25)));

    let (status, summary) = rita.get(&format!("{report_path}_summary")).await;
    assert_eq!(status, 200, "{summary}");
    let total = &summary["total"];
    assert_eq!(
        ["time", "count", "success", "failed", "skipped", "error"].map(|k| total[k].clone()),
        [json!(1.75), json!(4), json!(1), json!(1), json!(1), json!(1)]
    );
    assert!(total["suite_error"].as_str().is_some());
    let rspec = &summary["test_suites"][1];
    assert_eq!(
        (&rspec["name"], &rspec["build_ids"], &rspec["total_count"]),
        (&json!("rspec"), &json!([r1, r2]), &json!(4))
    );
    assert!(rspec.get("test_cases").is_none());

    assert_eq!(anonymous.get(&report_path).await.0, 401);
    assert_eq!(olga.get(&report_path).await.0, 404);
    assert_eq!(admin.get(&format!("/projects/{id}/pipelines/99999/test_report")).await.0, 404);
    let (_, other) = admin.post("/projects", json!({"name": "other"})).await;
    let other = other["id"].as_i64().unwrap();
    assert_eq!(admin.get(&format!("/projects/{other}/pipelines/{pid}/test_report")).await.0, 404);

    // The job JSON lists its artifacts.
    let (status, job) = rita.get(&format!("/projects/{id}/jobs/{r1}")).await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["artifacts_file"], json!({"filename": "artifacts.zip", "size": archive.len()}));
    let mut listed: Vec<_> = job["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["file_type"].clone(), a["file_format"].clone()))
        .collect();
    listed.sort_by_key(|(t, _)| t.to_string());
    assert_eq!(listed, [(json!("archive"), json!("zip")), (json!("junit"), json!("gzip"))]);
    let (_, job) = rita.get(&format!("/projects/{id}/jobs/{lint}")).await;
    assert_eq!(job.get("artifacts_file"), None);

    // Files out of the archive, streamed; escapes refused.
    let base = format!("/projects/{id}/jobs/{r1}/artifacts");
    let (status, headers, body) = get_bytes(&rita, &format!("{base}/out/report.txt")).await;
    assert_eq!((status, body.as_slice()), (200, &b"all good\n"[..]));
    assert_eq!(headers["content-disposition"], "attachment; filename=\"report.txt\"");
    let (status, _, body) = get_bytes(&rita, &format!("{base}/out/big.bin")).await;
    assert_eq!((status, body.len()), (200, big.len()));
    assert!(body == big);
    assert_eq!(get_bytes(&rita, &format!("{base}/out/missing.txt")).await.0, 404);
    assert_eq!(get_bytes(&rita, &format!("{base}/out")).await.0, 404);
    for escape in ["out%2F..%2F..%2Fescape.txt", "..%2Fescape.txt", "%2Fetc%2Fpasswd"] {
        let (status, _, body) = get_bytes(&rita, &format!("{base}/{escape}")).await;
        assert_eq!(status, 400, "{escape}: {}", String::from_utf8_lossy(&body));
    }
    assert_eq!(get_bytes(&olga, &format!("{base}/out/report.txt")).await.0, 404);
    assert_eq!(get_bytes(&anonymous, &format!("{base}/out/report.txt")).await.0, 401);
    let (status, _, body) = get_bytes(&rita, &base).await;
    assert_eq!((status, body == archive), (200, true));
    assert_eq!(get_bytes(&rita, &format!("/projects/{id}/jobs/{lint}/artifacts/x")).await.0, 404);

    // By ref: the latest successful pipeline's job of that name.
    let by_ref = format!("/projects/{id}/jobs/artifacts/main");
    assert_eq!(
        get_bytes(&rita, &format!("{by_ref}/download?job=rspec%201%2F2")).await.0,
        404,
        "not successful yet"
    );
    for job in [r1, r2, lint] {
        succeed(&store, job).await;
    }
    admin
        .wait_for(&format!("/projects/{id}/pipelines/{pid}"), "a successful pipeline", |p| {
            p["status"] == "success"
        })
        .await;
    let (status, _, body) = get_bytes(&rita, &format!("{by_ref}/download?job=rspec%201%2F2")).await;
    assert_eq!((status, body == archive), (200, true));
    let (status, _, body) = get_bytes(&rita, &format!("{by_ref}/raw/out/report.txt?job=rspec%201%2F2")).await;
    assert_eq!((status, body.as_slice()), (200, &b"all good\n"[..]));
    assert_eq!(get_bytes(&rita, &format!("{by_ref}/download?job=nope")).await.0, 404);
    let (status, _, body) = get_bytes(&rita, &format!("{by_ref}/download")).await;
    assert_eq!(
        (status, serde_json::from_slice::<Value>(&body).unwrap()),
        (400, json!({"error": "job is missing"}))
    );

    // Deleting a job's artifacts: maintainers; rows and blobs go.
    let blob_path = |a: &Artifact| server.data_dir().join("blobs").join(&a.blob_key);
    assert!(blob_path(&r1_archive).exists());
    assert_eq!(rita.delete(&base).await.0, 403);
    assert_eq!(admin.delete(&base).await.0, 204);
    assert!(!blob_path(&r1_archive).exists());
    assert_eq!(store.job_artifacts(BuildId(r1)).await.unwrap(), vec![]);
    assert_eq!(get_bytes(&rita, &base).await.0, 404);
    assert_eq!(admin.delete(&base).await.0, 404);
    let (_, report) = rita.get(&report_path).await;
    assert_eq!(report["total_count"], 2, "{report}");

    // Keeping artifacts: developers, and they no longer expire.
    let keep = format!("/projects/{id}/jobs/{r2}/artifacts/keep");
    assert_eq!(rita.post(&keep, json!({})).await.0, 403);
    let (status, job) = admin.post(&keep, json!({})).await;
    assert_eq!((status.as_u16(), &job["id"], &job["artifacts_expire_at"]), (200, &json!(r2), &Value::Null));
    assert_eq!(store.job_artifact(BuildId(r2), ArtifactType::Archive).await.unwrap().expire_at, None);
    assert_eq!(admin.post(&format!("/projects/{id}/jobs/{r1}/artifacts/keep"), json!({})).await.0, 404);

    // The cleanup loop removes expired artifacts with their blobs, except
    // those no newer successful pipeline on their ref has replaced yet.
    let past = Millis(Millis::now().0 - 1000);
    let replaced = upload(&store, &blobs, lint, kind, zip_fmt, zip(&[("old", b"old")]), Some(past)).await;
    commit(&work, &[("README", "second")], "second");
    git_ok(&work, &["push", "--quiet", &server.git_url("root/suite"), "main"]);
    let pipelines = admin
        .wait_for(&format!("/projects/{id}/pipelines"), "a second pipeline", |v| {
            v.as_array().is_some_and(|a| a.len() == 2 && a[0]["status"] == "pending")
        })
        .await;
    let pid2 = pipelines[0]["id"].as_i64().unwrap();
    let jobs2 = admin
        .wait_for(&format!("/projects/{id}/pipelines/{pid2}/jobs"), "its pending jobs", |v| {
            v.as_array().is_some_and(|a| a.len() == 3 && a.iter().all(|j| j["status"] == "pending"))
        })
        .await;
    let lint2 = id_of(&jobs2, "lint");
    let newest = upload(&store, &blobs, lint2, kind, zip_fmt, zip(&[("new", b"new")]), Some(past)).await;
    for job in [id_of(&jobs2, "rspec 1/2"), id_of(&jobs2, "rspec 2/2"), lint2] {
        succeed(&store, job).await;
    }
    admin
        .wait_for(&format!("/projects/{id}/pipelines/{pid2}"), "the second pipeline's success", |p| {
            p["status"] == "success"
        })
        .await;
    let deadline = Instant::now() + Duration::from_secs(40);
    while store.job_artifact(BuildId(lint), ArtifactType::Archive).await.is_ok() {
        assert!(Instant::now() < deadline, "the replaced expired artifact is still there");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!blob_path(&replaced).exists(), "its blob went with it");
    assert!(
        store.job_artifacts(BuildId(lint)).await.unwrap().iter().any(|a| a.file_type == ArtifactType::Junit)
    );
    assert_eq!(store.job_artifact(BuildId(lint2), ArtifactType::Archive).await.unwrap().id, newest.id);
    assert!(blob_path(&newest).exists(), "the newest successful pipeline keeps its artifacts");
    assert!(blob_path(&kept).exists());
    assert_eq!(store.job_artifact(BuildId(r2), ArtifactType::Archive).await.unwrap().id, kept.id);
    store.close().await;
}

#[tokio::test]
async fn reports_and_artifacts_on_sqlite() {
    reports(Backend::Sqlite).await;
}

#[tokio::test]
async fn reports_and_artifacts_on_postgres() {
    reports(Backend::Postgres).await;
}
