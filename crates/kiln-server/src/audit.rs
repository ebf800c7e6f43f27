//! Recording audit events: who did what to which entity. Failing to record
//! is logged, never turned into a failed request (the action is done).

use kiln_store::audit::{AuditAction, AuditEntity, NewAuditEvent};
use kiln_store::users::User;
use serde_json::Value;

use crate::app::App;

/// Records one event.
pub(crate) async fn record(
    app: &App,
    author: Option<&User>,
    entity: (AuditEntity, i64, &str),
    action: AuditAction,
    details: Value,
) {
    let (entity_type, entity_id, entity_path) = entity;
    let event = NewAuditEvent {
        author_id: author.map(|u| u.id),
        author_name: author.map_or_else(|| "(system)".to_string(), |u| u.name.clone()),
        entity_type,
        entity_id,
        entity_path: entity_path.to_string(),
        action,
        details,
        ip_address: None,
    };
    if let Err(e) = app.store.record_audit_event(&event).await {
        tracing::warn!(error = %e, action = action.as_str(), "cannot record audit event");
    }
}
