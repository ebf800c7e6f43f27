//! Users and personal access tokens: queries (compiled per backend, see `sql`).

use sqlx::Row;

use super::{Conn, DbRow};
use crate::sql::sqlf;
use crate::codec::{Millis, Page, Paged, decode, from_json, opt_millis, to_json};
use crate::error::{Error, Result};
use crate::ids::{TokenId, UserId};
use crate::users::{NewUser, PersonalAccessToken, TokenScope, User, UserState};

const USER_COLUMNS: &str = "id, username, name, email, admin, state, created_at";
const TOKEN_COLUMNS: &str = "id, user_id, name, scopes, revoked, expires_at, last_used_at, created_at";

fn user(row: &DbRow) -> Result<User> {
    Ok(User {
        id: UserId(row.try_get("id")?),
        username: row.try_get("username")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        admin: row.try_get("admin")?,
        state: decode::<UserState>(&row.try_get::<String, _>("state")?)?,
        created_at: Millis(row.try_get("created_at")?),
    })
}

fn pat(row: &DbRow) -> Result<PersonalAccessToken> {
    let scopes: Vec<String> = from_json(&row.try_get::<String, _>("scopes")?)?;
    Ok(PersonalAccessToken {
        id: TokenId(row.try_get("id")?),
        user_id: UserId(row.try_get("user_id")?),
        name: row.try_get("name")?,
        scopes: scopes.iter().map(|s| decode::<TokenScope>(s)).collect::<Result<_>>()?,
        revoked: row.try_get("revoked")?,
        expires_at: opt_millis(row.try_get("expires_at")?),
        last_used_at: opt_millis(row.try_get("last_used_at")?),
        created_at: Millis(row.try_get("created_at")?),
    })
}

pub(crate) async fn create(c: &mut Conn, new: &NewUser, now: Millis) -> Result<User> {
    let row = sqlx::query(sqlf!(
        "INSERT INTO users (username, name, email, password_digest, admin, state, created_at)
         VALUES ($1, $2, $3, $4, $5, 'active', $6) RETURNING {USER_COLUMNS}"
    ))
    .bind(&new.username)
    .bind(&new.name)
    .bind(&new.email)
    .bind(&new.password_digest)
    .bind(new.admin)
    .bind(now.0)
    .fetch_one(&mut *c)
    .await?;
    let created = user(&row)?;
    sqlx::query(
        "INSERT INTO namespaces (kind, name, path, full_path, owner_id, traversal, created_at)
         VALUES ('user', $1, $2, $2, $3, '', $4)",
    )
    .bind(&new.name)
    .bind(&new.username)
    .bind(created.id.0)
    .bind(now.0)
    .execute(&mut *c)
    .await?;
    // The traversal path needs the namespace's own id.
    sqlx::query("UPDATE namespaces SET traversal = '/' || CAST(id AS TEXT) || '/' WHERE owner_id = $1 AND kind = 'user'")
        .bind(created.id.0)
        .execute(&mut *c)
        .await?;
    Ok(created)
}

pub(crate) async fn by_id(c: &mut Conn, id: UserId) -> Result<User> {
    let row = sqlx::query(sqlf!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("user"))?;
    user(&row)
}

pub(crate) async fn by_username(c: &mut Conn, username: &str) -> Result<User> {
    let row = sqlx::query(sqlf!("SELECT {USER_COLUMNS} FROM users WHERE lower(username) = lower($1)"))
        .bind(username)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("user"))?;
    user(&row)
}

pub(crate) async fn password_digest(c: &mut Conn, username: &str) -> Result<(User, Option<String>)> {
    let row = sqlx::query(sqlf!(
        "SELECT {USER_COLUMNS}, password_digest FROM users WHERE lower(username) = lower($1)"
    ))
    .bind(username)
    .fetch_optional(&mut *c)
    .await?
    .ok_or(Error::NotFound("user"))?;
    Ok((user(&row)?, row.try_get("password_digest")?))
}

pub(crate) async fn list(c: &mut Conn, page: Page) -> Result<Paged<User>> {
    let rows = sqlx::query(sqlf!("SELECT {USER_COLUMNS} FROM users ORDER BY id LIMIT $1 OFFSET $2"))
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&mut *c)
        .await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&mut *c).await?;
    Ok(Paged { items: rows.iter().map(user).collect::<Result<_>>()?, total })
}

pub(crate) async fn set_state(c: &mut Conn, id: UserId, state: UserState) -> Result<User> {
    let row = sqlx::query(sqlf!("UPDATE users SET state = $2 WHERE id = $1 RETURNING {USER_COLUMNS}"))
        .bind(id.0)
        .bind(state.as_str())
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("user"))?;
    user(&row)
}

pub(crate) async fn set_admin(c: &mut Conn, id: UserId, admin: bool) -> Result<User> {
    let row = sqlx::query(sqlf!("UPDATE users SET admin = $2 WHERE id = $1 RETURNING {USER_COLUMNS}"))
        .bind(id.0)
        .bind(admin)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("user"))?;
    user(&row)
}

pub(crate) async fn create_token(
    c: &mut Conn,
    user_id: UserId,
    name: &str,
    scopes: &[TokenScope],
    expires_at: Option<Millis>,
    digest: &str,
    now: Millis,
) -> Result<PersonalAccessToken> {
    let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let row = sqlx::query(sqlf!(
        "INSERT INTO personal_access_tokens (user_id, name, token_digest, scopes, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {TOKEN_COLUMNS}"
    ))
    .bind(user_id.0)
    .bind(name)
    .bind(digest)
    .bind(to_json(&scopes)?)
    .bind(expires_at.map(|e| e.0))
    .bind(now.0)
    .fetch_one(&mut *c)
    .await?;
    pat(&row)
}

pub(crate) async fn by_token_digest(c: &mut Conn, digest: &str) -> Result<(User, PersonalAccessToken, String)> {
    let row = sqlx::query(sqlf!(
        "SELECT {TOKEN_COLUMNS}, token_digest FROM personal_access_tokens WHERE token_digest = $1"
    ))
    .bind(digest)
    .fetch_optional(&mut *c)
    .await?
    .ok_or(Error::NotFound("personal access token"))?;
    let record = pat(&row)?;
    let stored: String = row.try_get("token_digest")?;
    Ok((by_id(c, record.user_id).await?, record, stored))
}

pub(crate) async fn touch_token(c: &mut Conn, id: TokenId, now: Millis) -> Result<()> {
    sqlx::query("UPDATE personal_access_tokens SET last_used_at = $2 WHERE id = $1")
        .bind(id.0)
        .bind(now.0)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub(crate) async fn list_tokens(c: &mut Conn, user_id: UserId) -> Result<Vec<PersonalAccessToken>> {
    let rows = sqlx::query(sqlf!(
        "SELECT {TOKEN_COLUMNS} FROM personal_access_tokens WHERE user_id = $1 ORDER BY id DESC"
    ))
    .bind(user_id.0)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(pat).collect()
}

pub(crate) async fn token_by_id(c: &mut Conn, id: TokenId) -> Result<PersonalAccessToken> {
    let row = sqlx::query(sqlf!("SELECT {TOKEN_COLUMNS} FROM personal_access_tokens WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("personal access token"))?;
    pat(&row)
}

pub(crate) async fn revoke_token(c: &mut Conn, id: TokenId) -> Result<()> {
    let done = sqlx::query("UPDATE personal_access_tokens SET revoked = TRUE WHERE id = $1")
        .bind(id.0)
        .execute(&mut *c)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("personal access token"));
    }
    Ok(())
}
