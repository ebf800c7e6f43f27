//! Errors: [`ServerError`] for starting and running the server, and the REST
//! API's [`ApiError`], rendered with GitLab's status codes and bodies.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("store: {0}")]
    Store(#[from] kiln_store::Error),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("git: {0}")]
    Git(#[from] kiln_git::GitError),
}

/// A REST API error. The body shapes are GitLab's: `{"message": ...}` for
/// most errors, `{"error": ...}` for parameter validation (Grape's), and
/// `{"message": {"field": ["..."]}}` for model validation.
#[derive(Debug)]
pub(crate) enum ApiError {
    Message(StatusCode, String),
    Error(StatusCode, String),
    Fields(BTreeMap<String, Vec<String>>),
    /// Something failed on our side; logged, answered with GitLab's 500 body.
    Internal(String),
}

impl ApiError {
    /// `404 <What> Not Found`.
    pub(crate) fn not_found(what: &str) -> ApiError {
        ApiError::Message(StatusCode::NOT_FOUND, format!("404 {what} Not Found"))
    }

    /// `404 Not found`, GitLab's answer for a record that is not there.
    pub(crate) fn record_not_found() -> ApiError {
        ApiError::Message(StatusCode::NOT_FOUND, "404 Not found".into())
    }

    pub(crate) fn unauthorized() -> ApiError {
        ApiError::Message(StatusCode::UNAUTHORIZED, "401 Unauthorized".into())
    }

    pub(crate) fn forbidden() -> ApiError {
        ApiError::Message(StatusCode::FORBIDDEN, "403 Forbidden".into())
    }

    /// `403 Forbidden - <reason>`.
    pub(crate) fn forbidden_because(reason: &str) -> ApiError {
        ApiError::Message(StatusCode::FORBIDDEN, format!("403 Forbidden - {reason}"))
    }

    /// `400 Bad request - <reason>`.
    pub(crate) fn bad_request(reason: &str) -> ApiError {
        ApiError::Message(StatusCode::BAD_REQUEST, format!("400 Bad request - {reason}"))
    }

    /// A 400 whose message is given as is.
    pub(crate) fn bad_request_message(message: impl Into<String>) -> ApiError {
        ApiError::Message(StatusCode::BAD_REQUEST, message.into())
    }

    /// Grape's parameter errors (`key is missing, value is invalid`).
    pub(crate) fn params(message: impl Into<String>) -> ApiError {
        ApiError::Error(StatusCode::BAD_REQUEST, message.into())
    }

    /// One field's validation message, as Rails models report them.
    pub(crate) fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Fields(BTreeMap::from([(field.to_string(), vec![message.into()])]))
    }

    pub(crate) fn too_large() -> ApiError {
        ApiError::Message(StatusCode::PAYLOAD_TOO_LARGE, "413 Request Entity Too Large".into())
    }

    pub(crate) fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::Message(StatusCode::CONFLICT, message.into())
    }

    pub(crate) fn internal(what: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(what.to_string())
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::Message(s, _) | ApiError::Error(s, _) => *s,
            ApiError::Fields(_) => StatusCode::BAD_REQUEST,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match self {
            ApiError::Message(_, message) => json!({ "message": message }),
            ApiError::Error(_, message) => json!({ "error": message }),
            ApiError::Fields(fields) => json!({ "message": fields }),
            ApiError::Internal(what) => {
                tracing::error!(error = %what, "request failed");
                json!({ "message": "500 Internal Server Error" })
            }
        };
        (status, Json(body)).into_response()
    }
}

impl From<kiln_store::Error> for ApiError {
    fn from(e: kiln_store::Error) -> ApiError {
        use kiln_store::Error as E;
        match e {
            E::NotFound(_) => ApiError::record_not_found(),
            E::Conflict(_) => ApiError::conflict("409 Conflict: Resource lock"),
            E::Invalid(message) => ApiError::bad_request_message(message),
            E::Rejected(rejected) => ApiError::bad_request_message(rejected.to_string()),
            other => ApiError::internal(other),
        }
    }
}

impl From<kiln_git::GitError> for ApiError {
    fn from(e: kiln_git::GitError) -> ApiError {
        use kiln_git::GitError as E;
        match e {
            E::InvalidRefName { .. } | E::InvalidOid(_) | E::InvalidPath { .. } => {
                ApiError::bad_request_message(e.to_string())
            }
            other => ApiError::internal(other),
        }
    }
}

/// The result type of API handlers.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
