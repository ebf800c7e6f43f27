//! Smaller entities: CI/CD variables, protected branches and tags, members,
//! groups.

use kiln_store::namespaces::{AccessLevel, Member, Namespace};
use kiln_store::projects::ProtectedRef;
use kiln_store::users::User;
use kiln_store::variables::Variable;
use serde::Serialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::http::time::iso;

/// `Ci::Variable` (`lib/api/entities/ci/variable.rb`). Hidden values are never
/// shown, as in GitLab; masked values are not shown either, unlike GitLab,
/// because a masked value reaches no API answer but the job payload (issue
/// 4). `value` is `null` for both; an update without a value keeps it.
#[derive(Debug, Serialize)]
pub(crate) struct VariableEntity {
    pub(crate) variable_type: String,
    pub(crate) key: String,
    pub(crate) value: Option<String>,
    pub(crate) hidden: bool,
    pub(crate) protected: bool,
    pub(crate) masked: bool,
    pub(crate) raw: bool,
    pub(crate) environment_scope: String,
    pub(crate) description: Option<String>,
}

impl From<&Variable> for VariableEntity {
    fn from(v: &Variable) -> VariableEntity {
        VariableEntity {
            variable_type: v.variable_type.as_str().to_string(),
            key: v.key.clone(),
            value: (!v.hidden && !v.masked).then(|| v.value.clone()),
            hidden: v.hidden,
            protected: v.protected,
            masked: v.masked,
            raw: v.raw,
            environment_scope: v.environment_scope.clone(),
            description: v.description.clone(),
        }
    }
}

/// GitLab's words for an access level of a protected ref.
pub(crate) fn access_level_description(level: Option<AccessLevel>) -> &'static str {
    match level {
        None => "No one",
        Some(AccessLevel::Developer) => "Developers + Maintainers",
        Some(AccessLevel::Maintainer) => "Maintainers",
        Some(AccessLevel::Owner) => "Owners",
        Some(AccessLevel::Reporter) => "Reporters",
        Some(AccessLevel::Guest) => "Guests",
    }
}

fn level_entry(id: i64, level: Option<AccessLevel>) -> Value {
    json!({
        "id": id,
        "access_level": level.map_or(0, AccessLevel::value),
        "access_level_description": access_level_description(level),
        "deploy_key_id": null,
        "user_id": null,
        "group_id": null,
    })
}

/// `ProtectedBranch`.
pub(crate) fn protected_branch(rule: &ProtectedRef) -> Value {
    json!({
        "id": rule.id.0,
        "name": rule.name,
        "push_access_levels": [level_entry(rule.id.0, rule.push_access_level)],
        "merge_access_levels": [level_entry(rule.id.0, rule.merge_access_level)],
        "unprotect_access_levels": [],
        "allow_force_push": rule.allow_force_push,
        "code_owner_approval_required": false,
    })
}

/// `ProtectedTag`.
pub(crate) fn protected_tag(rule: &ProtectedRef) -> Value {
    json!({
        "id": rule.id.0,
        "name": rule.name,
        "create_access_levels": [level_entry(rule.id.0, rule.push_access_level)],
    })
}

/// `Member`.
pub(crate) fn member(app: &AppState, user: &User, member: &Member) -> Value {
    json!({
        "id": user.id.0,
        "username": user.username,
        "name": user.name,
        "state": user.state.as_str(),
        "avatar_url": null,
        "web_url": format!("{}/{}", app.config.external_url, user.username),
        "access_level": member.access_level.value(),
        "created_at": iso(member.created_at),
        "expires_at": null,
    })
}

/// `Group`.
pub(crate) fn group(app: &AppState, ns: &Namespace, full_name: &str) -> Value {
    json!({
        "id": ns.id.0,
        "web_url": format!("{}/groups/{}", app.config.external_url, ns.full_path),
        "name": ns.name,
        "path": ns.path,
        "description": ns.description,
        "visibility": ns.visibility.as_str(),
        "full_name": full_name,
        "full_path": ns.full_path,
        "parent_id": ns.parent_id.map(|p| p.0),
        "created_at": iso(ns.created_at),
        "avatar_url": null,
        "shared_runners_setting": if ns.shared_runners_enabled { "enabled" } else { "disabled_and_unoverridable" },
    })
}
