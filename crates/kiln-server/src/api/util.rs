//! Small helpers the endpoint modules share.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::{ApiError, ApiResult};

/// A numeric path parameter; anything else is Grape's `<name> is invalid`.
pub(crate) fn parse_id(value: &str, name: &str) -> ApiResult<i64> {
    value.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| ApiError::params(format!("{name} is invalid")))
}

/// `201 Created` with a JSON body.
pub(crate) fn created<T: Serialize>(body: T) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `200 OK` with a JSON body.
pub(crate) fn ok<T: Serialize>(body: T) -> Response {
    (StatusCode::OK, Json(body)).into_response()
}

/// `204 No Content`.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// GitLab's `202 Accepted` body for deletions done in the background.
pub(crate) fn accepted() -> Response {
    (StatusCode::ACCEPTED, Json(serde_json::json!({"message": "202 Accepted"}))).into_response()
}
