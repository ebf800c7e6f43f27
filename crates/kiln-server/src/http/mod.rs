//! HTTP plumbing shared by every API handler: parameters, the caller's
//! identity, pagination and time rendering.

pub(crate) mod auth;
pub(crate) mod pagination;
pub(crate) mod params;
pub(crate) mod time;

use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};

use crate::app::App;
use crate::error::ApiError;
use crate::http::params::Params;

/// The request's parameters (query and body), read with the configured body
/// size limit: a larger body is a 413, never a 500.
pub(crate) struct Input(pub(crate) Params);

impl FromRequest<App> for Input {
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &App) -> Result<Input, ApiError> {
        let limit = app.config.limits.max_request_body;
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit) {
            return Err(ApiError::too_large());
        }
        let content_type = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
        let query = req.uri().query().map(str::to_string);
        let body = read_body(req.into_body(), limit).await?;
        Params::parse(query.as_deref(), content_type.as_deref(), &body).map(Input)
    }
}

/// Reads a whole body, refusing more than `limit` bytes.
pub(crate) async fn read_body(body: axum::body::Body, limit: u64) -> Result<Vec<u8>, ApiError> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::bad_request("the request body could not be read"))?;
        if (out.len() + chunk.len()) as u64 > limit {
            return Err(ApiError::too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
