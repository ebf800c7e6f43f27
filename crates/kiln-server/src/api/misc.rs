//! Small endpoints clients call first: `/version`, `/user`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::app::App;
use crate::entities::user::UserEntity;
use crate::error::ApiResult;
use crate::http::auth::Caller;

pub(crate) fn routes() -> Router<App> {
    Router::new().route("/version", get(version)).route("/user", get(current_user))
}

async fn version(caller: Caller) -> ApiResult<Json<Value>> {
    caller.require_authenticated()?;
    Ok(Json(json!({ "version": concat!("17.0.0-kiln-", env!("CARGO_PKG_VERSION")), "revision": "kiln" })))
}

async fn current_user(State(app): State<App>, caller: Caller) -> ApiResult<Json<UserEntity>> {
    let user = caller.require_user()?;
    Ok(Json(UserEntity::full(&app, user)))
}
