//! `GET /audit_events` (administrators): who did what, newest first.

use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use kiln_store::Millis;
use kiln_store::audit::{AuditEntity, AuditEvent, AuditFilter};
use serde_json::{Value, json};

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::Input;
use crate::http::auth::Caller;
use crate::http::pagination::{Pagination, paginated};
use crate::http::time::iso;

pub(crate) fn routes() -> Router<App> {
    Router::new().route("/audit_events", get(list))
}

fn entity_type(name: &str) -> Option<AuditEntity> {
    AuditEntity::ALL
        .iter()
        .copied()
        .find(|e| e.as_str() == name || e.as_str().rsplit("::").next() == Some(name))
}

fn time(params: &mut crate::http::params::Params, key: &str) -> Option<Millis> {
    let text = params.string(key)?;
    match chrono::DateTime::parse_from_rfc3339(&text) {
        Ok(t) => Some(Millis(t.timestamp_millis())),
        Err(_) => {
            params.error(format!("{key} is invalid"));
            None
        }
    }
}

fn render(e: &AuditEvent) -> Value {
    let mut details = match &e.details {
        Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    details.insert("author_name".into(), json!(e.author_name));
    details.insert("target_id".into(), json!(e.entity_id));
    details.insert("target_type".into(), json!(e.entity_type.as_str()));
    details.insert("entity_path".into(), json!(e.entity_path));
    details.insert("ip_address".into(), json!(e.ip_address));
    json!({
        "id": e.id.0,
        "author_id": e.author_id.map(|u| u.0),
        "entity_id": e.entity_id,
        "entity_type": e.entity_type.as_str(),
        "event_name": e.action.as_str(),
        "details": details,
        "created_at": iso(e.created_at),
    })
}

async fn list(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Input(mut params): Input,
) -> ApiResult<Response> {
    if !caller.require_user()?.admin {
        return Err(ApiError::forbidden());
    }
    let entity = params.string("entity_type");
    let entity_id = params.integer("entity_id");
    let created_after = time(&mut params, "created_after");
    let created_before = time(&mut params, "created_before");
    let pagination = Pagination::from_params(&mut params);
    let entity_type = match entity {
        Some(name) => match entity_type(&name) {
            Some(e) => Some(e),
            None => {
                params.error("entity_type does not have a valid value");
                None
            }
        },
        None => None,
    };
    params.check()?;
    let filter = AuditFilter { entity_type, entity_id, author: None, created_after, created_before };
    let page = app.store.list_audit_events(&filter, pagination.store_page()).await?;
    let items: Vec<Value> = page.items.iter().map(render).collect();
    Ok(paginated(items, page.total, pagination, &app.config.external_url, &uri))
}
