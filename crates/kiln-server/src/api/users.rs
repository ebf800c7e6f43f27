//! Users: `GET /users` (admins see everyone, others search by username),
//! `GET /users/:id`, `POST /users` and `POST /users/:id/personal_access_tokens`
//! (administrators).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, post};
use kiln_store::users::{NewUser, TokenScope};
use kiln_store::{Millis, UserId};
use serde_json::json;

use crate::api::util::{created, ok, parse_id};
use crate::app::App;
use crate::entities::user::UserEntity;
use crate::error::{ApiError, ApiResult};
use crate::http::Input;
use crate::http::auth::Caller;
use crate::http::pagination::{Pagination, paginated};
use crate::http::time::{iso, iso_opt};

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users/{id}", get(show))
        .route("/users/{id}/personal_access_tokens", post(create_token))
}

fn require_admin(caller: &Caller) -> ApiResult<()> {
    if caller.require_user()?.admin { Ok(()) } else { Err(ApiError::forbidden()) }
}

async fn list(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let user = caller.require_user()?.clone();
    let username = params.string("username");
    let pagination = Pagination::from_params(&mut params);
    params.check()?;
    if let Some(name) = username {
        let found: Vec<UserEntity> =
            app.store.user_by_username(&name).await.ok().iter().map(|u| UserEntity::basic(&app, u)).collect();
        let total = found.len() as i64;
        return Ok(paginated(found, total, pagination, &app.config.external_url, &uri));
    }
    if !user.admin {
        return Ok(paginated(
            vec![UserEntity::basic(&app, &user)],
            1,
            pagination,
            &app.config.external_url,
            &uri,
        ));
    }
    let page = app.store.list_users(pagination.store_page()).await?;
    let items: Vec<UserEntity> = page.items.iter().map(|u| UserEntity::full(&app, u)).collect();
    Ok(paginated(items, page.total, pagination, &app.config.external_url, &uri))
}

async fn show(State(app): State<App>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let me = caller.require_user()?.clone();
    let id = parse_id(&id, "id")?;
    let user = app.store.user(UserId(id)).await.map_err(|_| ApiError::not_found("User"))?;
    Ok(ok(if me.admin || me.id == user.id {
        UserEntity::full(&app, &user)
    } else {
        UserEntity::basic(&app, &user)
    }))
}

async fn create(State(app): State<App>, caller: Caller, Input(mut params): Input) -> ApiResult<Response> {
    require_admin(&caller)?;
    let email = params.required_nonblank("email");
    let username = params.required_nonblank("username");
    let name = params.required_nonblank("name");
    let password = params.string("password");
    let admin = params.boolean("admin").unwrap_or(false);
    params.check()?;
    let password_digest = match password {
        Some(p) if p.len() < 8 => {
            return Err(ApiError::field("password", "is too short (minimum is 8 characters)"));
        }
        Some(p) => Some(crate::instance::hash_password(&p).map_err(ApiError::internal)?),
        None => None,
    };
    let new = NewUser { username, name, email, password_digest, admin };
    let user = match app.store.create_user(&new).await {
        Ok(user) => user,
        Err(kiln_store::Error::Conflict(_)) => {
            return Err(ApiError::conflict("Email has already been taken"));
        }
        Err(kiln_store::Error::Invalid(message)) => return Err(ApiError::bad_request_message(message)),
        Err(e) => return Err(e.into()),
    };
    Ok(created(UserEntity::full(&app, &user)))
}

async fn create_token(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    require_admin(&caller)?;
    let id = parse_id(&id, "id")?;
    let name = params.required_nonblank("name");
    let scopes = params.string_array("scopes");
    if scopes.is_none() && !params.has("scopes") {
        params.error("scopes is missing");
    }
    let expires_at = params.string("expires_at");
    params.check()?;
    let mut parsed = Vec::new();
    for scope in scopes.unwrap_or_default() {
        match TokenScope::from_name(&scope) {
            Some(s) => parsed.push(s),
            None => return Err(ApiError::params("scopes does not have a valid value")),
        }
    }
    let expires = match expires_at {
        Some(date) => {
            let day = chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d")
                .map_err(|_| ApiError::params("expires_at is invalid"))?;
            let at = day.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis());
            Some(Millis(at.ok_or_else(|| ApiError::params("expires_at is invalid"))?))
        }
        None => None,
    };
    let user = app.store.user(UserId(id)).await.map_err(|_| ApiError::not_found("User"))?;
    let (record, token) = app.store.create_personal_access_token(user.id, &name, &parsed, expires).await?;
    Ok(created(json!({
        "id": record.id.0,
        "name": record.name,
        "revoked": record.revoked,
        "created_at": iso(record.created_at),
        "scopes": record.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "user_id": record.user_id.0,
        "last_used_at": iso_opt(record.last_used_at),
        "active": record.is_active(Millis::now()),
        "expires_at": record.expires_at.map(|t| iso(t).get(..10).unwrap_or_default().to_string()),
        "token": token,
    })))
}
