//! The runner administration API against a real server on SQLite and
//! PostgreSQL: creating runners (`glrt-` token shown once, stored hashed),
//! GitLab's JSON shapes, permissions (401/403/404), filters, pagination,
//! project and group runners, managers, jobs, token reset, and the instance's
//! registration settings.

mod common;

use std::collections::BTreeSet;

use common::{Api, ServerProcess, git_ok, work_tree};
use kiln_store::runners::ManagerInfo;
use kiln_store::{Backend, Millis, RunnerId, Store};
use serde_json::{Value, json};

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

fn ids(list: &Value) -> BTreeSet<i64> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// A list request with its pagination headers.
async fn get_paged(api: &Api, path: &str) -> (Value, reqwest::header::HeaderMap) {
    let response = api
        .client
        .get(format!("{}{path}", api.base))
        .header("PRIVATE-TOKEN", api.token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    (response.json().await.unwrap(), headers)
}

/// The stored digest of a runner's token, read straight from the database.
async fn stored_digest(server: &ServerProcess, id: i64) -> String {
    let sql = "SELECT token_digest FROM runners WHERE id = $1";
    if server.database_url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&server.database_url).await.unwrap();
        let digest: String = sqlx::query_scalar(sql).bind(id).fetch_one(&pool).await.unwrap();
        pool.close().await;
        digest
    } else {
        let pool = sqlx::SqlitePool::connect(&server.database_url).await.unwrap();
        let digest: String = sqlx::query_scalar(sql).bind(id).fetch_one(&pool).await.unwrap();
        pool.close().await;
        digest
    }
}

async fn runner_admin(backend: Backend) {
    let server = ServerProcess::start(backend);
    let admin = server.api();
    let anonymous = admin.with_token(None);
    let (bob_id, bob) = user(&admin, "bob").await;
    let (_, carol) = user(&admin, "carol").await;

    // Creating runners: instance runners are for administrators.
    let (status, created) = admin
        .post(
            "/user/runners",
            json!({"runner_type": "instance_type", "description": "shared", "tag_list": "linux, docker",
                   "run_untagged": false, "maximum_timeout": 3600}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(keys(&created), ["id", "token", "token_expires_at"].map(String::from).into());
    let shared = created["id"].as_i64().unwrap();
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("glrt-") && token.len() > 30, "{token}");
    let digest = stored_digest(&server, shared).await;
    assert_ne!(digest, token);
    assert_eq!(digest, kiln_store::token::digest(&token), "the database keeps only the token's digest");

    let (status, body) = bob.post("/user/runners", json!({"runner_type": "instance_type"})).await;
    assert_eq!((status.as_u16(), body), (403, json!({"message": "403 Forbidden"})));
    assert_eq!(anonymous.post("/user/runners", json!({"runner_type": "instance_type"})).await.0, 401);
    let (status, body) = admin.post("/user/runners", json!({"description": "x"})).await;
    assert_eq!((status.as_u16(), body), (400, json!({"error": "runner_type is missing"})));
    let (status, body) = admin.post("/user/runners", json!({"runner_type": "group_type"})).await;
    assert_eq!((status.as_u16(), body), (400, json!({"error": "group_id is missing"})));
    let (status, body) = admin.post("/user/runners", json!({"runner_type": "cloud"})).await;
    assert_eq!((status.as_u16(), body), (400, json!({"error": "runner_type does not have a valid value"})));
    let (status, body) =
        admin.post("/user/runners", json!({"runner_type": "instance_type", "run_untagged": false})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["message"]["tags_list"][0],
        "can not be empty when runner is not allowed to pick untagged jobs"
    );

    // Project runners: maintainers of the project; group runners: group owners.
    let (status, p1) = bob.post("/projects", json!({"name": "p1"})).await;
    assert_eq!(status, 201, "{p1}");
    let p1 = p1["id"].as_i64().unwrap();
    let (_, p2) = bob.post("/projects", json!({"name": "p2"})).await;
    let p2 = p2["id"].as_i64().unwrap();
    let (status, created) = bob
        .post("/user/runners", json!({"runner_type": "project_type", "project_id": p1, "tag_list": ["ruby"]}))
        .await;
    assert_eq!(status, 201, "{created}");
    let project_runner = created["id"].as_i64().unwrap();
    assert_eq!(
        carol.post("/user/runners", json!({"runner_type": "project_type", "project_id": p1})).await.0,
        403
    );
    let (status, group) = admin.post("/groups", json!({"name": "g", "path": "g"})).await;
    assert_eq!(status, 201, "{group}");
    let group = group["id"].as_i64().unwrap();
    assert_eq!(
        bob.post("/user/runners", json!({"runner_type": "group_type", "group_id": group})).await.0,
        403
    );
    let (status, _) =
        admin.post(&format!("/groups/{group}/members"), json!({"user_id": bob_id, "access_level": 50})).await;
    assert_eq!(status, 201);
    let (status, created) = bob
        .post("/user/runners", json!({"runner_type": "group_type", "group_id": group, "paused": true}))
        .await;
    assert_eq!(status, 201, "{created}");
    let group_runner = created["id"].as_i64().unwrap();

    // Details: GitLab's `RunnerDetails`, never the token.
    let (status, details) = admin.get(&format!("/runners/{shared}")).await;
    assert_eq!(status, 200, "{details}");
    let expected: BTreeSet<String> = [
        "id",
        "description",
        "ip_address",
        "active",
        "paused",
        "is_shared",
        "runner_type",
        "name",
        "online",
        "status",
        "tag_list",
        "run_untagged",
        "locked",
        "maximum_timeout",
        "access_level",
        "version",
        "revision",
        "platform",
        "architecture",
        "contacted_at",
        "created_at",
        "maintenance_note",
        "projects",
        "groups",
    ]
    .map(String::from)
    .into();
    assert_eq!(keys(&details), expected);
    assert_eq!(details["tag_list"], json!(["docker", "linux"]));
    assert_eq!(
        (&details["status"], &details["online"], &details["is_shared"], &details["runner_type"]),
        (&json!("never_contacted"), &json!(false), &json!(true), &json!("instance_type"))
    );
    assert_eq!((&details["maximum_timeout"], &details["run_untagged"]), (&json!(3600), &json!(false)));
    assert!(!details.to_string().contains(&token));
    let (_, details) = bob.get(&format!("/runners/{project_runner}")).await;
    assert_eq!(details["projects"][0]["path_with_namespace"], "bob/p1");
    assert_eq!(details["projects"][0]["name_with_namespace"], "bob / p1");
    let (_, details) = bob.get(&format!("/runners/{group_runner}")).await;
    assert_eq!((details["groups"][0]["id"].as_i64(), &details["paused"]), (Some(group), &json!(true)));

    // Read access: instance runners for everyone signed in, others for their owners.
    assert_eq!(bob.get(&format!("/runners/{shared}")).await.0, 200);
    assert_eq!(anonymous.get(&format!("/runners/{shared}")).await.0, 401);
    let (status, body) = carol.get(&format!("/runners/{project_runner}")).await;
    assert_eq!((status.as_u16(), body), (403, json!({"message": "403 Forbidden - No access granted"})));
    let (status, body) = admin.get("/runners/99999").await;
    assert_eq!((status.as_u16(), body), (404, json!({"message": "404 Runner Not Found"})));
    assert_eq!(admin.get("/runners/abc").await.0, 404);

    // Managers, contact and status (what a runner's requests record).
    let store = Store::open(&server.database_url).await.unwrap();
    let info = ManagerInfo {
        system_id: "s_0123456789ab".into(),
        version: "17.5.0".into(),
        revision: "abcdef12".into(),
        platform: "linux".into(),
        architecture: "amd64".into(),
        executor: "shell".into(),
        ip_address: "127.0.0.1".into(),
    };
    let manager = store.touch_runner_manager(RunnerId(shared), &info, Millis::now()).await.unwrap();
    let (_, details) = admin.get(&format!("/runners/{shared}")).await;
    assert_eq!((&details["status"], &details["online"]), (&json!("online"), &json!(true)));
    assert_eq!((&details["version"], &details["ip_address"]), (&json!("17.5.0"), &json!("127.0.0.1")));
    let (status, managers) = admin.get(&format!("/runners/{shared}/managers")).await;
    assert_eq!(status, 200, "{managers}");
    let m = &managers[0];
    assert_eq!(
        (&m["system_id"], &m["status"], &m["executor_type"], &m["platform"], &m["architecture"]),
        (&json!("s_0123456789ab"), &json!("online"), &json!("shell"), &json!("linux"), &json!("amd64"))
    );
    assert_eq!(bob.get(&format!("/runners/{shared}/managers")).await.0, 403);

    // Lists: `/runners/all` for administrators, with filters and pagination.
    let (all, headers) = get_paged(&admin, "/runners/all").await;
    assert_eq!(ids(&all), [shared, project_runner, group_runner].into());
    assert_eq!(headers["x-total"], "3");
    assert_eq!(keys(&all[0]).len(), 10, "{}", all[0]);
    let (page, headers) = get_paged(&admin, "/runners/all?per_page=2&page=2").await;
    assert_eq!(
        (ids(&page), &headers["x-total-pages"], &headers["x-prev-page"]),
        ([group_runner].into(), &"2".parse().unwrap(), &"1".parse().unwrap())
    );
    for (query, expected) in [
        ("type=project_type", vec![project_runner]),
        ("type=instance_type", vec![shared]),
        ("status=online", vec![shared]),
        ("status=never_contacted", vec![project_runner, group_runner]),
        ("paused=true", vec![group_runner]),
        ("tag_list=linux", vec![shared]),
        ("tag_list=linux,docker", vec![shared]),
        ("tag_list[]=ruby", vec![project_runner]),
        ("tag_list=linux,ruby", vec![]),
        ("version_prefix=17.5", vec![shared]),
        ("version_prefix=16", vec![]),
    ] {
        let (list, _) = get_paged(&admin, &format!("/runners/all?{query}")).await;
        assert_eq!(ids(&list), expected.into_iter().collect(), "{query}");
    }
    let (status, body) = admin.get("/runners/all?type=cloud").await;
    assert_eq!((status.as_u16(), body), (400, json!({"error": "type does not have a valid value"})));
    assert_eq!(bob.get("/runners/all").await.0, 403);
    assert_eq!(anonymous.get("/runners/all").await.0, 401);
    // `/runners`: the caller's own runners (not instance runners).
    let (mine, _) = get_paged(&bob, "/runners").await;
    assert_eq!(ids(&mine), [project_runner, group_runner].into());
    let (mine, _) = get_paged(&carol, "/runners").await;
    assert_eq!(ids(&mine), BTreeSet::new());
    let (mine, _) = get_paged(&admin, "/runners").await;
    assert_eq!(ids(&mine), [group_runner].into(), "the admin owns group g");

    // Changes.
    let (status, updated) = bob
        .put(
            &format!("/runners/{project_runner}"),
            json!({"description": "builder", "tag_list": ["ruby", "pg"], "locked": true, "access_level": "ref_protected",
                   "maximum_timeout": 1200}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        (
            &updated["description"],
            &updated["tag_list"],
            &updated["locked"],
            &updated["access_level"],
            &updated["maximum_timeout"]
        ),
        (&json!("builder"), &json!(["pg", "ruby"]), &json!(true), &json!("ref_protected"), &json!(1200))
    );
    let (status, body) = bob.put(&format!("/runners/{project_runner}"), json!({"maximum_timeout": 60})).await;
    assert_eq!(
        (status.as_u16(), body),
        (400, json!({"message": {"maximum_timeout": ["needs to be at least 10 minutes"]}}))
    );
    let (status, body) = bob.put(&format!("/runners/{project_runner}"), json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("at least one parameter must be provided"), "{body}");
    let (status, body) = bob.put(&format!("/runners/{shared}"), json!({"paused": true})).await;
    assert_eq!((status.as_u16(), body), (403, json!({"message": "403 Forbidden - No access granted"})));
    let (status, updated) = admin.put(&format!("/runners/{shared}"), json!({"active": false})).await;
    assert_eq!((status.as_u16(), &updated["paused"], &updated["active"]), (200, &json!(true), &json!(false)));

    // Project and group runner lists and assignments.
    let (list, _) = get_paged(&bob, &format!("/projects/{p1}/runners")).await;
    assert_eq!(ids(&list), [shared, project_runner].into());
    let (list, _) = get_paged(&bob, &format!("/projects/{p1}/runners?type=project_type")).await;
    assert_eq!(ids(&list), [project_runner].into());
    assert_eq!(carol.get(&format!("/projects/{p1}/runners")).await.0, 404);
    let (list, _) = get_paged(&admin, &format!("/groups/{group}/runners")).await;
    assert_eq!(ids(&list), [shared, group_runner].into());
    assert_eq!(carol.get(&format!("/groups/{group}/runners")).await.0, 404, "a private group is not visible");

    let assign = format!("/projects/{p2}/runners");
    let (status, body) = bob.post(&assign, json!({"runner_id": group_runner})).await;
    assert_eq!(
        (status.as_u16(), body),
        (403, json!({"message": "403 Forbidden - Runner is a group runner"}))
    );
    let (status, body) = bob.post(&assign, json!({"runner_id": project_runner})).await;
    assert_eq!((status.as_u16(), body), (403, json!({"message": "403 Forbidden - Runner is locked"})));
    bob.put(&format!("/runners/{project_runner}"), json!({"locked": false})).await;
    let (status, body) = bob.post(&assign, json!({"runner_id": project_runner})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["id"].as_i64(), Some(project_runner));
    assert_eq!(bob.post(&assign, json!({"runner_id": project_runner})).await.0, 400);
    let (_, details) = bob.get(&format!("/runners/{project_runner}")).await;
    assert_eq!(ids(&details["projects"]), [p1, p2].into());
    let (status, body) = bob.delete(&format!("/projects/{p1}/runners/{project_runner}")).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(bob.delete(&format!("/projects/{p2}/runners/{project_runner}")).await.0, 204);
    let (status, body) = bob.delete(&format!("/projects/{p2}/runners/{project_runner}")).await;
    assert_eq!((status.as_u16(), body), (404, json!({"message": "404 Runner Not Found"})));

    // Jobs a runner ran.
    let (status, project) = admin.post("/projects", json!({"name": "app"})).await;
    assert_eq!(status, 201);
    let app_id = project["id"].as_i64().unwrap();
    let work = server.dir.path().join("work");
    work_tree(&work, &[(".gitlab-ci.yml", "build:\n  tags: [linux]\n  script: make\n")], "ci");
    git_ok(&work, &["push", "--quiet", &server.git_url("root/app"), "main"]);
    admin
        .wait_for(&format!("/projects/{app_id}/jobs"), "a pending job", |v| {
            v.as_array().is_some_and(|a| a.len() == 1 && a[0]["status"] == "pending")
        })
        .await;
    admin.put(&format!("/runners/{shared}"), json!({"paused": false})).await;
    let runner = store.runner(RunnerId(shared)).await.unwrap();
    let matcher = store.runner_match(&runner, manager.id).await.unwrap();
    let claimed =
        store.claim_job(&matcher, true, Millis::now()).await.unwrap().expect("a job for the runner");
    let (status, jobs) = admin.get(&format!("/runners/{shared}/jobs")).await;
    assert_eq!(status, 200, "{jobs}");
    assert_eq!(ids(&jobs), [claimed.job.id.0].into());
    assert_eq!(
        (&jobs[0]["status"], &jobs[0]["project"]["path_with_namespace"]),
        (&json!("running"), &json!("root/app"))
    );
    assert_eq!(admin.get(&format!("/runners/{shared}/jobs?status=success")).await.1, json!([]));
    assert_eq!(
        ids(&admin.get(&format!("/runners/{shared}/jobs?status=running&sort=asc")).await.1),
        [claimed.job.id.0].into()
    );
    assert_eq!(admin.get(&format!("/runners/{shared}/jobs?status=bogus")).await.0, 400);
    assert_eq!(bob.get(&format!("/runners/{shared}/jobs")).await.0, 403);

    // Token reset: a new token, the old one stops working.
    let (status, reset) =
        admin.post(&format!("/runners/{shared}/reset_authentication_token"), json!({})).await;
    assert_eq!(status, 201, "{reset}");
    let new_token = reset["token"].as_str().unwrap();
    assert!(new_token.starts_with("glrt-") && new_token != token);
    assert!(store.runner_by_token(&token, Millis::now()).await.is_err());
    assert_eq!(store.runner_by_token(new_token, Millis::now()).await.unwrap().id.0, shared);
    assert_eq!(bob.post(&format!("/runners/{shared}/reset_authentication_token"), json!({})).await.0, 403);

    // Deletion.
    assert_eq!(carol.delete(&format!("/runners/{group_runner}")).await.0, 403);
    assert_eq!(bob.delete(&format!("/runners/{group_runner}")).await.0, 204);
    assert_eq!(admin.get(&format!("/runners/{group_runner}")).await.0, 404);
    store.close().await;
}

#[tokio::test]
async fn runner_admin_on_sqlite() {
    runner_admin(Backend::Sqlite).await;
}

#[tokio::test]
async fn runner_admin_on_postgres() {
    runner_admin(Backend::Postgres).await;
}

/// Legacy registration tokens: an administrator gets one, and can switch
/// registration with them off for the instance.
async fn registration_settings(backend: Backend) {
    let server = ServerProcess::start(backend);
    let admin = server.api();
    let (_, bob) = user(&admin, "bob").await;
    let (status, settings) = admin.get("/application/settings").await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["allow_runner_registration_token"], true);
    assert_eq!(bob.get("/application/settings").await.0, 403);
    assert_eq!(
        bob.put("/application/settings", json!({"allow_runner_registration_token": false})).await.0,
        403
    );
    assert_eq!(bob.post("/runners/reset_registration_token", json!({})).await.0, 403);

    let (status, body) = admin.post("/runners/reset_registration_token", json!({})).await;
    assert_eq!(status, 201, "{body}");
    let registration = body["token"].as_str().unwrap().to_string();
    let store = Store::open(&server.database_url).await.unwrap();
    store.check_runner_registration_token(&registration).await.unwrap();

    let (status, body) = admin
        .put(
            "/application/settings",
            json!({"allow_runner_registration_token": false, "default_artifacts_expire_in": "2 days"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["allow_runner_registration_token"], &body["default_artifacts_expire_in"]),
        (&json!(false), &json!("172800 seconds"))
    );
    assert!(store.check_runner_registration_token(&registration).await.is_err(), "registration is off");
    let (status, body) = admin.post("/runners/reset_registration_token", json!({})).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) =
        admin.put("/application/settings", json!({"default_artifacts_expire_in": "soon"})).await;
    assert_eq!((status.as_u16(), body), (400, json!({"error": "default_artifacts_expire_in is invalid"})));
    store.close().await;
}

#[tokio::test]
async fn registration_settings_on_sqlite() {
    registration_settings(Backend::Sqlite).await;
}

#[tokio::test]
async fn registration_settings_on_postgres() {
    registration_settings(Backend::Postgres).await;
}
