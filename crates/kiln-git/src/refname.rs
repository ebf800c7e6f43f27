//! Ref name rules (`git check-ref-format`), applied before a name from
//! outside reaches git, so that a name is only ever a name: never an option,
//! a revision expression (`main~1`, `@{-1}`, `:/text`) or a path trick.

use crate::error::GitError;

/// Longest ref name accepted (GitLab's branch names are far shorter).
const MAX_LEN: usize = 1024;

/// Checks a full ref name such as `refs/heads/main`.
pub fn validate_ref_name(name: &str) -> Result<(), GitError> {
    let bad = |reason| Err(GitError::InvalidRefName { name: name.to_string(), reason });
    if !name.starts_with("refs/") {
        return bad("must start with refs/");
    }
    check_common(name)
}

/// Checks a branch name as users write it (`main`, `feature/x`).
pub fn validate_branch_name(name: &str) -> Result<(), GitError> {
    if name == "HEAD" {
        return Err(GitError::InvalidRefName { name: name.to_string(), reason: "HEAD is not a branch name" });
    }
    check_short(name)
}

/// Checks a tag name as users write it (`v1.0`).
pub fn validate_tag_name(name: &str) -> Result<(), GitError> {
    check_short(name)
}

fn check_short(name: &str) -> Result<(), GitError> {
    if name.starts_with('-') {
        return Err(GitError::InvalidRefName { name: name.to_string(), reason: "must not start with -" });
    }
    if name.starts_with("refs/") {
        return Err(GitError::InvalidRefName { name: name.to_string(), reason: "must not start with refs/" });
    }
    check_common(name)
}

fn check_common(name: &str) -> Result<(), GitError> {
    let bad = |reason| Err(GitError::InvalidRefName { name: name.to_string(), reason });
    if name.is_empty() {
        return bad("is empty");
    }
    if name.len() > MAX_LEN {
        return bad("is too long");
    }
    if name == "@" {
        return bad("must not be @");
    }
    if name.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return bad("must not contain control characters");
    }
    if name.chars().any(|c| matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')) {
        return bad("must not contain space, ~, ^, :, ?, *, [ or \\");
    }
    if name.contains("..") {
        return bad("must not contain ..");
    }
    if name.contains("@{") {
        return bad("must not contain @{");
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return bad("must not start or end with / or contain //");
    }
    if name.ends_with('.') {
        return bad("must not end with .");
    }
    for component in name.split('/') {
        if component.starts_with('.') {
            return bad("no component may start with .");
        }
        if component.ends_with(".lock") {
            return bad("no component may end with .lock");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass() {
        for ok in ["main", "feature/x-1", "release/1.2", "ünïcode", "a@b", "v1.0.0"] {
            assert!(validate_branch_name(ok).is_ok(), "{ok}");
        }
        assert!(validate_ref_name("refs/heads/main").is_ok());
        assert!(validate_ref_name("refs/pipelines/12").is_ok());
    }

    #[test]
    fn options_revisions_and_tricks_are_refused() {
        for bad in [
            "",
            "-x",
            "--upload-pack=touch /tmp/x",
            "main~1",
            "main^",
            "HEAD",
            "@",
            "@{-1}",
            "main@{0}",
            ":/fix",
            "a..b",
            "a b",
            "a\nb",
            "a\0b",
            "/main",
            "main/",
            "a//b",
            ".hidden",
            "a/.b",
            "x.lock",
            "a.",
            "a*",
            "a?",
            "a[",
            "a\\b",
            "refs/heads/main",
            "main;rm -rf /",
        ] {
            assert!(validate_branch_name(bad).is_err(), "{bad:?}");
        }
        // Shell syntax is harmless: names reach git as one argument, never through a shell.
        assert!(validate_branch_name("$(id)").is_ok());
        assert!(validate_ref_name("heads/main").is_err());
    }
}
