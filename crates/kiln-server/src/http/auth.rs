//! Who is calling: a personal access token (`PRIVATE-TOKEN`, `Authorization:
//! Bearer`, `?private_token=`), a CI job token (`JOB-TOKEN`, `?job_token=`,
//! or a `glcbt-` bearer token), or nobody. A token that is given but not
//! valid is a 401 everywhere, as in GitLab.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use kiln_store::Millis;
use kiln_store::jobs::JobRecord;
use kiln_store::users::{TokenScope, User};
use serde_json::json;

use crate::app::App;
use crate::error::ApiError;

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    Anonymous,
    /// A user with a personal access token.
    User {
        user: User,
        scopes: Vec<TokenScope>,
    },
    /// A running job's token: acts as the job's user, limited to what job
    /// tokens may do, on the job's project.
    Job {
        job: Box<JobRecord>,
        user: Option<User>,
    },
}

/// The credential a request carries, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Credential {
    Personal(String),
    Job(String),
}

impl Caller {
    /// The user behind the request, if any (also for job tokens).
    pub(crate) fn user(&self) -> Option<&User> {
        match self {
            Caller::Anonymous => None,
            Caller::User { user, .. } => Some(user),
            Caller::Job { user, .. } => user.as_ref(),
        }
    }

    /// A user with a personal token; job tokens and anonymous calls get 401.
    pub(crate) fn require_user(&self) -> Result<&User, ApiError> {
        match self {
            Caller::User { user, .. } => Ok(user),
            _ => Err(ApiError::unauthorized()),
        }
    }

    /// Anyone authenticated (personal or job token).
    pub(crate) fn require_authenticated(&self) -> Result<(), ApiError> {
        match self {
            Caller::Anonymous => Err(ApiError::unauthorized()),
            _ => Ok(()),
        }
    }

    /// The job of a job-token call.
    pub(crate) fn job(&self) -> Option<&JobRecord> {
        match self {
            Caller::Job { job, .. } => Some(job),
            _ => None,
        }
    }

    pub(crate) fn has_scope(&self, wanted: &[TokenScope]) -> bool {
        match self {
            Caller::User { scopes, .. } => scopes.iter().any(|s| wanted.contains(s)),
            _ => false,
        }
    }
}

/// Finds the credential in the headers or query of a request.
pub(crate) fn credential(parts: &Parts) -> Option<Credential> {
    let header =
        |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.trim().to_string());
    if let Some(token) = header("private-token") {
        return Some(Credential::Personal(token));
    }
    if let Some(token) = header("job-token") {
        return Some(Credential::Job(token));
    }
    if let Some(auth) = header("authorization")
        && let Some((scheme, token)) = auth.split_once(' ')
        && scheme.eq_ignore_ascii_case("bearer")
    {
        let token = token.trim().to_string();
        return Some(if token.starts_with("glcbt-") {
            Credential::Job(token)
        } else {
            Credential::Personal(token)
        });
    }
    let query = parts.uri.query()?;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "private_token" | "access_token" => return Some(Credential::Personal(value.into_owned())),
            "job_token" => return Some(Credential::Job(value.into_owned())),
            _ => {}
        }
    }
    None
}

/// Checks a credential. `Ok(None)` when it is not valid (the caller answers 401).
pub(crate) async fn authenticate(app: &App, credential: &Credential) -> Result<Option<Caller>, ApiError> {
    match credential {
        Credential::Personal(token) => {
            match app.store.authenticate_personal_access_token(token, Millis::now()).await {
                Ok((user, record)) => Ok(Some(Caller::User { user, scopes: record.scopes })),
                Err(kiln_store::Error::NotFound(_)) => Ok(None),
                Err(e) => Err(e.into()),
            }
        }
        Credential::Job(token) => {
            let job = match app.store.job_by_token(token).await {
                Ok(job) => job,
                Err(kiln_store::Error::NotFound(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            // A job token is valid only while its job runs.
            if !matches!(job.status, kiln_pipeline::Status::Running | kiln_pipeline::Status::Canceling) {
                return Ok(None);
            }
            let user = match job.user_id {
                Some(id) => app.store.user(id).await.ok(),
                None => None,
            };
            Ok(Some(Caller::Job { job: Box::new(job), user }))
        }
    }
}

/// A personal token without a scope that allows the request.
pub(crate) struct InsufficientScope;

impl IntoResponse for InsufficientScope {
    fn into_response(self) -> Response {
        (
            StatusCode::FORBIDDEN,
            Json(json!({
                "error": "insufficient_scope",
                "error_description": "The request requires higher privileges than provided by the access token.",
                "scope": "api",
            })),
        )
            .into_response()
    }
}

/// The API's extractor: authenticates and checks the token's scope for the method.
pub(crate) enum CallerRejection {
    Api(ApiError),
    Scope(InsufficientScope),
}

impl IntoResponse for CallerRejection {
    fn into_response(self) -> Response {
        match self {
            CallerRejection::Api(e) => e.into_response(),
            CallerRejection::Scope(s) => s.into_response(),
        }
    }
}

impl FromRequestParts<App> for Caller {
    type Rejection = CallerRejection;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Caller, CallerRejection> {
        let Some(credential) = credential(parts) else { return Ok(Caller::Anonymous) };
        let caller = authenticate(app, &credential)
            .await
            .map_err(CallerRejection::Api)?
            .ok_or(CallerRejection::Api(ApiError::unauthorized()))?;
        if let Caller::User { scopes, .. } = &caller {
            let read_only = matches!(parts.method, Method::GET | Method::HEAD);
            let allowed =
                scopes.contains(&TokenScope::Api) || (read_only && scopes.contains(&TokenScope::ReadApi));
            if !allowed {
                return Err(CallerRejection::Scope(InsufficientScope));
            }
        }
        Ok(caller)
    }
}
