//! `UserBasic` and `User` (`lib/api/entities/user_basic.rb`, `user.rb`).

use kiln_store::users::User;
use serde::Serialize;

use crate::app::AppState;
use crate::http::time::iso;

/// A user as GitLab's `User` entity shows it (the basic fields, plus the
/// detail fields for the caller itself).
#[derive(Debug, Serialize)]
pub(crate) struct UserEntity {
    pub(crate) id: i64,
    pub(crate) username: String,
    pub(crate) name: String,
    pub(crate) state: String,
    pub(crate) locked: bool,
    pub(crate) avatar_url: Option<String>,
    pub(crate) web_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) is_admin: Option<bool>,
}

impl UserEntity {
    /// `UserBasic`.
    pub(crate) fn basic(app: &AppState, user: &User) -> UserEntity {
        UserEntity {
            id: user.id.0,
            username: user.username.clone(),
            name: user.name.clone(),
            state: user.state.as_str().to_string(),
            locked: false,
            avatar_url: None,
            web_url: format!("{}/{}", app.config.external_url, user.username),
            created_at: None,
            email: None,
            is_admin: None,
        }
    }

    /// A copy of the basic fields.
    pub(crate) fn clone_basic(&self) -> UserEntity {
        UserEntity {
            id: self.id,
            username: self.username.clone(),
            name: self.name.clone(),
            state: self.state.clone(),
            locked: self.locked,
            avatar_url: self.avatar_url.clone(),
            web_url: self.web_url.clone(),
            created_at: None,
            email: None,
            is_admin: None,
        }
    }

    /// The caller's own record (`/user`).
    pub(crate) fn full(app: &AppState, user: &User) -> UserEntity {
        UserEntity {
            created_at: Some(iso(user.created_at)),
            email: Some(user.email.clone()),
            is_admin: Some(user.admin),
            ..UserEntity::basic(app, user)
        }
    }
}
