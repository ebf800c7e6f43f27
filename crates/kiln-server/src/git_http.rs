//! Git smart HTTP at `/<namespace>/<project>.git/...`: clone and fetch for
//! whoever may read the project (personal access token as the password, or
//! `gitlab-ci-token` with a running job's token, read only), push for
//! developers with `write_repository` or `api` tokens. A push creates its
//! pipelines before the client hears that the push is done.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use kiln_git::{Endpoint, HttpError, HttpRequest, PushHandler};
use kiln_store::users::TokenScope;

use crate::access::{self, Action};
use crate::app::{App, route_not_found};
use crate::http::auth::{Caller, Credential, authenticate};

const NOT_FOUND: &str =
    "The project you were looking for could not be found or you don't have permission to view it.";
const DENIED: &str = "HTTP Basic: Access denied. If a password was provided for Git authentication, the password \
                      was incorrect or you're required to use a token instead of a password.";

/// Splits `/group/sub/project.git/info/refs` into the project path and the
/// part after `.git/`.
fn split_git_path(path: &str) -> Option<(&str, &str)> {
    let at = path.find(".git/")?;
    let project = path.get(1..at)?;
    let suffix = path.get(at + 5..)?;
    (!project.is_empty() && project.contains('/')).then_some((project, suffix))
}

fn text(status: StatusCode, body: &str) -> Response {
    (status, [(CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{body}\n")).into_response()
}

fn ask_for_credentials() -> Response {
    let mut response = text(StatusCode::UNAUTHORIZED, DENIED);
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Basic realm=\"GitLab\""));
    response
}

/// The credential of HTTP Basic auth: `gitlab-ci-token:<job token>`, or any
/// user name with a personal access token as the password.
fn basic_credential(headers: &HeaderMap) -> Option<Credential> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some(if user == "gitlab-ci-token" {
        Credential::Job(password.to_string())
    } else {
        Credential::Personal(password.to_string())
    })
}

/// Everything outside `/api/v4`: git requests, or GitLab's 404.
pub(crate) async fn fallback(State(app): State<App>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let Some((project_path, suffix)) = split_git_path(&path) else { return route_not_found() };
    let Some(endpoint) = Endpoint::parse(request.method().as_str(), suffix, request.uri().query()) else {
        return route_not_found();
    };
    match serve(&app, project_path, endpoint, request).await {
        Ok(response) => response,
        Err(response) => response,
    }
}

async fn serve(
    app: &App,
    project_path: &str,
    endpoint: Endpoint,
    request: Request,
) -> Result<Response, Response> {
    let caller = match basic_credential(request.headers()) {
        None => Caller::Anonymous,
        Some(credential) => match authenticate(app, &credential).await {
            Ok(Some(caller)) => caller,
            Ok(None) => return Err(ask_for_credentials()),
            Err(e) => return Err(e.into_response()),
        },
    };
    let project = match app.store.project_by_path(project_path).await {
        Ok(project) => project,
        Err(kiln_store::Error::NotFound(_)) => {
            return Err(if matches!(caller, Caller::Anonymous) {
                ask_for_credentials()
            } else {
                text(StatusCode::NOT_FOUND, NOT_FOUND)
            });
        }
        Err(e) => return Err(crate::error::ApiError::from(e).into_response()),
    };
    let access = match access::access_to(app, &caller, project).await {
        Ok(access) => access,
        Err(_) if matches!(caller, Caller::Anonymous) => return Err(ask_for_credentials()),
        Err(_) => return Err(text(StatusCode::NOT_FOUND, NOT_FOUND)),
    };
    let scopes_ok =
        |wanted: &[TokenScope]| !matches!(caller, Caller::User { .. }) || caller.has_scope(wanted);
    if endpoint.is_push() {
        if matches!(caller, Caller::Anonymous) {
            return Err(ask_for_credentials());
        }
        if caller.job().is_some()
            || !access.can(Action::Develop)
            || !scopes_ok(&[TokenScope::Api, TokenScope::WriteRepository])
        {
            return Err(text(StatusCode::FORBIDDEN, "You are not allowed to push code to this project."));
        }
    } else if !access.can(Action::ReadCode) {
        return Err(if matches!(caller, Caller::Anonymous) {
            ask_for_credentials()
        } else {
            text(StatusCode::NOT_FOUND, NOT_FOUND)
        });
    } else if !scopes_ok(&[TokenScope::Api, TokenScope::ReadRepository, TokenScope::WriteRepository]) {
        return Err(text(StatusCode::FORBIDDEN, "You are not allowed to download code from this project."));
    }

    let repo = match app.repos.create(access.project.id, &access.project.default_branch).await {
        Ok(repo) => repo,
        Err(e) => return Err(crate::error::ApiError::from(e).into_response()),
    };
    let headers = request.headers();
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let git_request = HttpRequest {
        endpoint,
        content_type: header(CONTENT_TYPE),
        content_length: header(CONTENT_LENGTH).and_then(|v| v.parse().ok()),
        content_encoding: header(axum::http::header::CONTENT_ENCODING),
        git_protocol: header(axum::http::HeaderName::from_static("git-protocol")),
        remote_user: caller.user().map(|u| u.username.clone()),
        remote_addr: None,
        body: request.into_body().into_data_stream(),
    };
    let on_push: Option<PushHandler> = if endpoint.is_push() {
        Some(crate::ci::push::handler(app.clone(), access.project.clone(), caller.user().cloned()))
    } else {
        None
    };
    match app.repos.http.serve(&repo, git_request, on_push).await {
        Ok(response) => {
            let mut builder = Response::builder().status(response.status);
            for (name, value) in response.headers {
                builder = builder.header(name, value);
            }
            builder
                .body(Body::from_stream(response.body))
                .map_err(|e| crate::error::ApiError::internal(e).into_response())
        }
        Err(HttpError::BodyTooLarge { .. }) => Err(crate::error::ApiError::too_large().into_response()),
        Err(HttpError::Timeout { .. }) => Err(text(StatusCode::GATEWAY_TIMEOUT, "git request timed out")),
        Err(e) => Err(crate::error::ApiError::internal(e).into_response()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_paths() {
        assert_eq!(split_git_path("/g/p.git/info/refs"), Some(("g/p", "info/refs")));
        assert_eq!(split_git_path("/g/s/p.git/git-upload-pack"), Some(("g/s/p", "git-upload-pack")));
        assert_eq!(split_git_path("/p.git/info/refs"), None);
        assert_eq!(split_git_path("/api/v4/x"), None);
    }

    #[test]
    fn basic_credentials() {
        let mut headers = HeaderMap::new();
        let encoded = base64::engine::general_purpose::STANDARD.encode("gitlab-ci-token:glcbt-abc");
        headers.insert("authorization", format!("Basic {encoded}").parse().unwrap());
        assert_eq!(basic_credential(&headers), Some(Credential::Job("glcbt-abc".into())));
        let encoded = base64::engine::general_purpose::STANDARD.encode("root:glpat-x");
        headers.insert("authorization", format!("Basic {encoded}").parse().unwrap());
        assert_eq!(basic_credential(&headers), Some(Credential::Personal("glpat-x".into())));
    }
}
