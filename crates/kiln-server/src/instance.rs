//! First start: when the database has no user yet, create the administrator
//! (`root`) with a generated password and a personal access token, and write
//! them once to a file only the owner can read.

use std::io::Write;
use std::path::{Path, PathBuf};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString};
use kiln_store::users::{NewUser, TokenScope};
use kiln_store::{Page, Store};
use rand::TryRngCore;
use rand::rngs::OsRng;

use crate::error::ServerError;

/// The first administrator's credentials, shown once.
#[derive(Clone)]
pub struct InitialCredentials {
    pub username: String,
    pub password: String,
    /// A `glpat-` personal access token with every scope.
    pub token: String,
    /// Where they were written.
    pub file: PathBuf,
}

impl std::fmt::Debug for InitialCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitialCredentials")
            .field("username", &self.username)
            .field("file", &self.file)
            .finish()
    }
}

const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

fn random_password() -> Result<String, ServerError> {
    let mut bytes = [0u8; 24];
    OsRng.try_fill_bytes(&mut bytes).map_err(|e| ServerError::Config(format!("os random generator: {e}")))?;
    Ok(bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect())
}

/// The stored form of a password (Argon2id, PHC string).
pub(crate) fn hash_password(password: &str) -> Result<String, ServerError> {
    let mut salt = [0u8; 16];
    OsRng.try_fill_bytes(&mut salt).map_err(|e| ServerError::Config(format!("os random generator: {e}")))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| ServerError::Config(format!("password salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServerError::Config(format!("password hash: {e}")))
}

/// Creates the administrator when there is no user; `None` when the
/// instance already exists (or another replica created it just now).
pub(crate) async fn ensure_instance(
    store: &Store,
    file: &Path,
) -> Result<Option<InitialCredentials>, ServerError> {
    if store.list_users(Page { offset: 0, limit: 1 }).await?.total > 0 {
        return Ok(None);
    }
    let password = random_password()?;
    let new = NewUser {
        username: "root".into(),
        name: "Administrator".into(),
        email: "admin@example.com".into(),
        password_digest: Some(hash_password(&password)?),
        admin: true,
    };
    let user = match store.create_user(&new).await {
        Ok(user) => user,
        Err(kiln_store::Error::Conflict(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let scopes = [
        TokenScope::Api,
        TokenScope::ReadApi,
        TokenScope::ReadUser,
        TokenScope::ReadRepository,
        TokenScope::WriteRepository,
        TokenScope::Sudo,
        TokenScope::AdminMode,
        TokenScope::CreateRunner,
        TokenScope::ManageRunner,
    ];
    let (_, token) = store.create_personal_access_token(user.id, "initial root token", &scopes, None).await?;
    let credentials =
        InitialCredentials { username: user.username, password, token, file: file.to_path_buf() };
    write_credentials(&credentials)?;
    Ok(Some(credentials))
}

fn write_credentials(c: &InitialCredentials) -> Result<(), ServerError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| ServerError::Io { what: format!("writing {}", c.file.display()), source };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&c.file)
        .map_err(io)?;
    let text = format!(
        "# Kiln's first administrator. This file is written once: keep the values\n\
         # somewhere safe and delete it.\n\
         username: {}\npassword: {}\ntoken: {}\n",
        c.username, c.password, c.token
    );
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};

    use super::*;

    #[test]
    fn passwords_are_random_and_hashed() {
        let a = random_password().unwrap();
        assert_eq!(a.len(), 24);
        assert_ne!(a, random_password().unwrap());
        let digest = hash_password(&a).unwrap();
        assert!(digest.starts_with("$argon2id$"));
        let parsed = PasswordHash::new(&digest).unwrap();
        assert!(Argon2::default().verify_password(a.as_bytes(), &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"wrong", &parsed).is_err());
    }
}
