//! Users and their personal access tokens (`glpat-`). Passwords arrive already
//! hashed (the server chooses the password hash); tokens are hashed here.

use serde::Serialize;

use crate::Store;
use crate::codec::{Millis, Page, Paged, named_enum};
use crate::db::{read_tx, write_tx};
use crate::error::{Error, Result};
use crate::ids::{TokenId, UserId};
use crate::token::{self, TokenKind};

named_enum! {
    /// GitLab's user states that matter here.
    pub enum UserState {
        Active = "active",
        Blocked = "blocked",
        Deactivated = "deactivated",
    }
}

named_enum! {
    /// Personal access token scopes, GitLab's names.
    pub enum TokenScope {
        Api = "api",
        ReadApi = "read_api",
        ReadUser = "read_user",
        ReadRepository = "read_repository",
        WriteRepository = "write_repository",
        Sudo = "sudo",
        AdminMode = "admin_mode",
        CreateRunner = "create_runner",
        ManageRunner = "manage_runner",
        SelfRotate = "self_rotate",
    }
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub name: String,
    pub email: String,
    pub admin: bool,
    pub state: UserState,
    pub created_at: Millis,
}

/// What creating a user takes.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub name: String,
    pub email: String,
    /// The password hash in whatever format the server uses (it verifies it too).
    pub password_digest: Option<String>,
    pub admin: bool,
}

/// A personal access token's record (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonalAccessToken {
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    pub scopes: Vec<TokenScope>,
    pub revoked: bool,
    pub expires_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
    pub created_at: Millis,
}

impl PersonalAccessToken {
    /// Not revoked and not expired at `now`.
    pub fn is_active(&self, now: Millis) -> bool {
        !self.revoked && self.expires_at.is_none_or(|e| e > now)
    }
}

/// `last_used_at` is written at most this often, so authenticating is a read.
const LAST_USED_RESOLUTION_MS: i64 = 10 * 60 * 1000;

impl Store {
    /// Creates a user and its personal namespace (same path as the username).
    /// A taken username or email is a [`Error::Conflict`].
    pub async fn create_user(&self, new: &NewUser) -> Result<User> {
        validate_user(new)?;
        let now = Millis::now();
        write_tx!(self, |c, q| q::users::create(c, new, now).await?)
    }

    /// The user with this id.
    pub async fn user(&self, id: UserId) -> Result<User> {
        read_tx!(self, |c, q| q::users::by_id(c, id).await?)
    }

    /// The user with this username (case-insensitive, as GitLab).
    pub async fn user_by_username(&self, username: &str) -> Result<User> {
        read_tx!(self, |c, q| q::users::by_username(c, username).await?)
    }

    /// The user and the stored password hash, for a sign-in.
    pub async fn user_password_digest(&self, username: &str) -> Result<(User, Option<String>)> {
        read_tx!(self, |c, q| q::users::password_digest(c, username).await?)
    }

    /// Users by id.
    pub async fn list_users(&self, page: Page) -> Result<Paged<User>> {
        read_tx!(self, |c, q| q::users::list(c, page).await?)
    }

    /// Blocks, deactivates or reactivates a user.
    pub async fn set_user_state(&self, id: UserId, state: UserState) -> Result<User> {
        write_tx!(self, |c, q| q::users::set_state(c, id, state).await?)
    }

    /// Grants or removes administrator rights.
    pub async fn set_user_admin(&self, id: UserId, admin: bool) -> Result<User> {
        write_tx!(self, |c, q| q::users::set_admin(c, id, admin).await?)
    }

    /// Creates a personal access token; the clear token is returned only here.
    pub async fn create_personal_access_token(
        &self,
        user: UserId,
        name: &str,
        scopes: &[TokenScope],
        expires_at: Option<Millis>,
    ) -> Result<(PersonalAccessToken, String)> {
        if name.trim().is_empty() {
            return Err(Error::Invalid("token name: empty".into()));
        }
        let token = token::generate(TokenKind::PersonalAccess)?;
        let now = Millis::now();
        let record = write_tx!(self, |c, q| q::users::create_token(
            c,
            user,
            name,
            scopes,
            expires_at,
            &token.digest,
            now
        )
        .await?)?;
        Ok((record, token.token))
    }

    /// The active user behind a personal access token, and the token's record.
    /// Unknown, revoked and expired tokens, and tokens of users that are not
    /// active, are all [`Error::NotFound`] (the server answers 401 alike).
    pub async fn authenticate_personal_access_token(
        &self,
        token: &str,
        now: Millis,
    ) -> Result<(User, PersonalAccessToken)> {
        let digest = token::digest(token);
        let (user, record, stored) = read_tx!(self, |c, q| q::users::by_token_digest(c, &digest).await?)?;
        if !token::matches(token, &stored) || !record.is_active(now) || user.state != UserState::Active {
            return Err(Error::NotFound("personal access token"));
        }
        if record.last_used_at.is_none_or(|t| now.0 - t.0 >= LAST_USED_RESOLUTION_MS) {
            write_tx!(self, |c, q| q::users::touch_token(c, record.id, now).await?)?;
        }
        Ok((user, record))
    }

    /// A user's tokens, newest first.
    pub async fn list_personal_access_tokens(&self, user: UserId) -> Result<Vec<PersonalAccessToken>> {
        read_tx!(self, |c, q| q::users::list_tokens(c, user).await?)
    }

    /// One token's record.
    pub async fn personal_access_token(&self, id: TokenId) -> Result<PersonalAccessToken> {
        read_tx!(self, |c, q| q::users::token_by_id(c, id).await?)
    }

    /// Revokes a token (it stays listed, as in GitLab).
    pub async fn revoke_personal_access_token(&self, id: TokenId) -> Result<()> {
        write_tx!(self, |c, q| q::users::revoke_token(c, id).await?)?;
        Ok(())
    }
}

fn validate_user(new: &NewUser) -> Result<()> {
    let ok_path = !new.username.is_empty()
        && new.username.len() <= 255
        && new.username.chars().all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.'))
        && !new.username.starts_with(['-', '.'])
        && !new.username.ends_with(['.']);
    if !ok_path {
        return Err(Error::Invalid(format!("username `{}`", new.username)));
    }
    if !new.email.contains('@') {
        return Err(Error::Invalid(format!("email `{}`", new.email)));
    }
    Ok(())
}
