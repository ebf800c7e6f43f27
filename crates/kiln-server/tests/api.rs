//! The REST API against a real server: variables and masking, protected
//! refs, members and permissions, and GitLab's answers to bad input.

mod common;

use common::{Api, ServerProcess};
use kiln_store::Backend;
use serde_json::{Value, json};

async fn project(api: &Api, name: &str) -> i64 {
    let (status, body) = api.post("/projects", json!({ "name": name })).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

/// A second user with a token, created through the admin API.
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

#[tokio::test]
async fn variables_follow_gitlab_rules() {
    let server = ServerProcess::start(Backend::Sqlite);
    let api = server.api();
    let id = project(&api, "vars").await;
    let base = format!("/projects/{id}/variables");

    let (status, body) =
        api.post(&base, json!({"key": "TOKEN", "value": "s3cr3t-value", "masked": true})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body,
        json!({"variable_type": "env_var", "key": "TOKEN", "value": null, "hidden": false, "protected": false,
               "masked": true, "raw": false, "environment_scope": "*", "description": null})
    );
    // A masked value is never answered back; an update without a value keeps it.
    let (_, shown) = api.get(&format!("{base}/TOKEN")).await;
    assert_eq!(shown["value"], json!(null), "{shown}");
    let (status, _) = api.put(&format!("{base}/TOKEN"), json!({"protected": true})).await;
    assert_eq!(status, 200);
    let (status, plain) = api.put(&format!("{base}/TOKEN"), json!({"masked": false})).await;
    assert_eq!(status, 200);
    assert_eq!(plain["value"], "s3cr3t-value", "{plain}");
    let (status, _) = api.put(&format!("{base}/TOKEN"), json!({"masked": true})).await;
    assert_eq!(status, 200);
    // Masking rules, with the reasons.
    let (status, body) = api.post(&base, json!({"key": "SHORT", "value": "a b", "masked": "true"})).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"message": {"value": [
            "is invalid",
            "This value cannot be masked because it contains the following characters: whitespace characters.",
            "The value must have at least 8 characters."
        ]}})
    );
    let (status, body) = api.post(&base, json!({"key": "BAD-KEY", "value": "x"})).await;
    assert_eq!(
        (status.as_u16(), body),
        (400, json!({"message": {"key": ["can contain only letters, digits and '_'."]}}))
    );
    let (status, body) = api.post(&base, json!({"key": "TOKEN", "value": "other"})).await;
    assert_eq!(
        (status.as_u16(), body),
        (400, json!({"message": {"key": ["(TOKEN) has already been taken"]}}))
    );
    let (status, body) = api.post(&base, json!({"masked": 3})).await;
    assert_eq!(
        (status.as_u16(), body),
        (400, json!({"error": "key is missing, value is missing, masked is invalid"}))
    );

    let (status, body) =
        api.put(&format!("{base}/TOKEN"), json!({"value": "new-secret-value", "protected": true})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["value"].clone(), body["protected"].clone()), (json!(null), json!(true)));
    let (status, body) = api.put(&format!("{base}/TOKEN"), json!({"value": "no"})).await;
    assert_eq!(status, 400, "{body}");
    let (status, list) = api.get(&base).await;
    assert_eq!((status.as_u16(), list.as_array().unwrap().len()), (200, 1));
    assert_eq!(api.delete(&format!("{base}/TOKEN")).await.0, 204);
    let (status, body) = api.get(&format!("{base}/TOKEN")).await;
    assert_eq!((status.as_u16(), body), (404, json!({"message": "404 Variable Not Found"})));

    // Instance variables are for administrators.
    let (status, _) = api.post("/admin/ci/variables", json!({"key": "GLOBAL", "value": "1"})).await;
    assert_eq!(status, 201);
    let (_, bob) = user(&api, "bob").await;
    assert_eq!(bob.get("/admin/ci/variables").await.0, 403);
}

#[tokio::test]
async fn access_levels_are_enforced() {
    let server = ServerProcess::start(Backend::Sqlite);
    let api = server.api();
    let id = project(&api, "private").await;
    let (bob_id, bob) = user(&api, "bob").await;

    let (status, body) = bob.get(&format!("/projects/{id}")).await;
    assert_eq!((status.as_u16(), body), (404, json!({"message": "404 Project Not Found"})));
    assert_eq!(bob.get("/projects/root%2Fprivate").await.0, 404);

    let (status, body) =
        api.post(&format!("/projects/{id}/members"), json!({"user_id": bob_id, "access_level": 20})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["access_level"], 20);
    assert_eq!(bob.get(&format!("/projects/{id}")).await.0, 200);
    assert_eq!(bob.get("/projects/root%2Fprivate").await.0, 200);
    assert_eq!(bob.get(&format!("/projects/{id}/pipelines")).await.0, 200);
    let (status, body) = bob.post(&format!("/projects/{id}/pipeline"), json!({"ref": "main"})).await;
    assert_eq!((status.as_u16(), body), (403, json!({"message": "403 Forbidden"})));
    assert_eq!(bob.get(&format!("/projects/{id}/variables")).await.0, 403);

    let (status, _) = api.put(&format!("/projects/{id}/members/{bob_id}"), json!({"access_level": 40})).await;
    assert_eq!(status, 200);
    assert_eq!(bob.get(&format!("/projects/{id}/variables")).await.0, 200);
    assert_eq!(bob.delete(&format!("/projects/{id}")).await.0, 403, "only owners delete projects");

    // Protected branches: maintainers manage them.
    let (status, body) = bob
        .post(&format!("/projects/{id}/protected_branches"), json!({"name": "main", "push_access_level": 40}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["push_access_levels"][0]["access_level_description"], "Maintainers");
    let (status, body) =
        bob.post(&format!("/projects/{id}/protected_branches"), json!({"name": "main"})).await;
    assert_eq!((status.as_u16(), body), (409, json!({"message": "Protected branch 'main' already exists"})));
    let (status, _) = bob
        .post(&format!("/projects/{id}/protected_tags"), json!({"name": "v*", "create_access_level": 30}))
        .await;
    assert_eq!(status, 201);
    assert_eq!(bob.delete(&format!("/projects/{id}/protected_branches/main")).await.0, 204);
    assert_eq!(bob.get(&format!("/projects/{id}/protected_branches/main")).await.0, 404);
}

#[tokio::test]
async fn bad_input_gets_gitlab_answers_never_500() {
    let server = ServerProcess::start_with(Backend::Sqlite, &["--max-request-body", "4096"]);
    let api = server.api();
    let id = project(&api, "bad").await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}/api/v4{path}", server.url);

    let response = client
        .post(url("/projects"))
        .header("PRIVATE-TOKEN", &server.token)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"error": "message body does not match declared format"})
    );

    let big = "x".repeat(10_000);
    let response = client
        .post(url("/projects"))
        .header("PRIVATE-TOKEN", &server.token)
        .json(&json!({ "name": big }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"message": "413 Request Entity Too Large"}));

    let cases: Vec<(reqwest::Method, String, Option<Value>, u16, Value)> = vec![
        (
            reqwest::Method::GET,
            "/projects/999".into(),
            None,
            404,
            json!({"message": "404 Project Not Found"}),
        ),
        (
            reqwest::Method::GET,
            format!("/projects/{id}/pipelines/abc"),
            None,
            400,
            json!({"error": "pipeline_id is invalid"}),
        ),
        (
            reqwest::Method::GET,
            format!("/projects/{id}/pipelines/12345"),
            None,
            404,
            json!({"message": "404 Not found"}),
        ),
        (
            reqwest::Method::GET,
            format!("/projects/{id}/jobs/12345"),
            None,
            404,
            json!({"message": "404 Not found"}),
        ),
        (
            reqwest::Method::POST,
            format!("/projects/{id}/pipeline"),
            Some(json!({})),
            400,
            json!({"error": "ref is missing"}),
        ),
        (
            reqwest::Method::POST,
            format!("/projects/{id}/pipeline"),
            Some(json!({"ref": "nope"})),
            400,
            json!({"message": {"base": ["Reference not found"]}}),
        ),
        (
            reqwest::Method::POST,
            format!("/projects/{id}/pipeline"),
            Some(json!({"ref": "main", "variables": "x"})),
            400,
            json!({"error": "variables is invalid"}),
        ),
        (
            reqwest::Method::GET,
            format!("/projects/{id}/jobs?scope[]=bogus"),
            None,
            400,
            json!({"message": "Scope contains invalid value(s)"}),
        ),
        (reqwest::Method::GET, "/nothing/here".into(), None, 404, json!({"error": "404 Not Found"})),
        (reqwest::Method::PUT, "/projects".into(), Some(json!({})), 405, json!({"error": "405 Not Allowed"})),
        (
            reqwest::Method::POST,
            "/projects".into(),
            Some(json!({"name": "a/b"})),
            400,
            json!({"message": {"name": [
                "can contain only letters, digits, emoji, '_', '.', '+', dashes, or spaces. It must start with a letter, digit, emoji, or '_'."
            ]}}),
        ),
        (
            reqwest::Method::POST,
            "/projects".into(),
            Some(json!({"name": "bad"})),
            400,
            json!({"message": {"name": ["has already been taken"], "path": ["has already been taken"]}}),
        ),
        (
            reqwest::Method::PUT,
            format!("/projects/{id}"),
            Some(json!({"build_timeout": "soon"})),
            400,
            json!({"error": "build_timeout is invalid"}),
        ),
    ];
    for (method, path, body, status, expected) in cases {
        let (got_status, got) = api.request(method.clone(), &path, body).await;
        assert_eq!((got_status.as_u16(), &got), (status, &expected), "{method} {path}");
    }

    // Tokens: invalid ones are 401 everywhere, missing ones where authentication is needed.
    let nobody = api.with_token(Some("glpat-not-a-real-token"));
    assert_eq!(
        nobody.get(&format!("/projects/{id}")).await,
        (reqwest::StatusCode::UNAUTHORIZED, json!({"message": "401 Unauthorized"}))
    );
    assert_eq!(api.with_token(None).get("/user").await.0, 401);
    assert_eq!(api.with_token(None).get(&format!("/projects/{id}")).await.0, 404);
    let bearer = client.get(url("/user")).bearer_auth(&server.token).send().await.unwrap();
    assert_eq!(bearer.status(), 200);
    assert!(!server.log().contains("request failed"), "a 500 was logged:\n{}", server.log());
}
