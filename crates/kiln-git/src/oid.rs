//! Object ids: lowercase hex, SHA-1 (40) or SHA-256 (64) digits.

use std::fmt;

use crate::error::GitError;

/// A validated git object id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Oid(String);

impl Oid {
    /// Accepts 40 or 64 hex digits (either case; stored lowercase).
    pub fn parse(s: &str) -> Result<Oid, GitError> {
        let ok = matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit());
        if ok { Ok(Oid(s.to_ascii_lowercase())) } else { Err(GitError::InvalidOid(s.to_string())) }
    }

    /// The all-zero id git uses for "no object" (a created or deleted ref).
    pub fn is_zero(&self) -> bool {
        self.0.bytes().all(|b| b == b'0')
    }

    /// The SHA-1 all-zero id, as GitLab shows `before_sha` of a new branch.
    pub fn zero() -> Oid {
        Oid("0".repeat(40))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first eight digits (`CI_COMMIT_SHORT_SHA`).
    pub fn short(&self) -> &str {
        self.0.get(..8).unwrap_or(&self.0)
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Oid;

    #[test]
    fn accepts_only_full_hex_ids() {
        assert!(Oid::parse(&"a".repeat(40)).is_ok());
        assert!(Oid::parse(&"A".repeat(64)).is_ok_and(|o| o.as_str() == "a".repeat(64)));
        for bad in
            ["", "abc", &"g".repeat(40), &"a".repeat(41), "--upload-pack=x", &format!("{}\n", "a".repeat(39))]
        {
            assert!(Oid::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Oid::zero().is_zero());
    }
}
