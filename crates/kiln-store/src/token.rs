//! Secrets: tokens drawn from the OS random generator, stored only as SHA-256
//! digests, compared in constant time. A token is shown once, when it is made.

use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// GitLab's token prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `glpat-`: personal access token.
    PersonalAccess,
    /// `glrt-`: runner authentication token.
    Runner,
    /// `glcbt-`: CI job token, valid while its job runs.
    Job,
    /// `glptt-`: pipeline trigger token.
    Trigger,
    /// `GR1348941`: legacy runner registration token.
    RunnerRegistration,
}

impl TokenKind {
    /// The prefix the token starts with.
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::PersonalAccess => "glpat-",
            TokenKind::Runner => "glrt-",
            TokenKind::Job => "glcbt-",
            TokenKind::Trigger => "glptt-",
            TokenKind::RunnerRegistration => "GR1348941",
        }
    }
}

/// A token in clear, as handed to its owner once, and the digest that is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct NewToken {
    pub token: String,
    pub digest: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken").field("digest", &self.digest).finish_non_exhaustive()
    }
}

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";

/// A fresh token: the prefix and 32 characters (192 bits) from the OS generator.
pub fn generate(kind: TokenKind) -> Result<NewToken> {
    let mut bytes = [0u8; 32];
    OsRng.try_fill_bytes(&mut bytes).map_err(|e| Error::Invalid(format!("os random generator: {e}")))?;
    let mut token = String::with_capacity(kind.prefix().len() + bytes.len());
    token.push_str(kind.prefix());
    // 64 symbols: each byte's low six bits pick one, uniformly.
    token.extend(bytes.iter().map(|b| char::from(ALPHABET[usize::from(b & 0x3f)])));
    let digest = digest(&token);
    Ok(NewToken { token, digest })
}

/// The stored form of a token: lowercase hex SHA-256.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Lowercase hex SHA-256 of any bytes (artifact checksums).
pub fn digest_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Constant-time comparison of a presented token with a stored digest.
pub fn matches(token: &str, stored_digest: &str) -> bool {
    digest(token).as_bytes().ct_eq(stored_digest.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_their_prefix_and_differ() {
        let a = generate(TokenKind::PersonalAccess).unwrap();
        let b = generate(TokenKind::PersonalAccess).unwrap();
        assert!(a.token.starts_with("glpat-"));
        assert_eq!(a.token.len(), "glpat-".len() + 32);
        assert_ne!(a.token, b.token);
        assert!(matches(&a.token, &a.digest));
        assert!(!matches(&b.token, &a.digest));
        assert!(!format!("{a:?}").contains(&a.token));
    }
}
