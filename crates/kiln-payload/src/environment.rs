//! A deployment job's environment as the payload describes it: the name
//! expanded with the job's variables, GitLab's slug and tier.

use kiln_config::plan::spec::EnvironmentSpec;
use sha2::{Digest, Sha256};

/// The environment of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Environment {
    pub(crate) name: String,
    pub(crate) slug: String,
    pub(crate) action: String,
    pub(crate) tier: String,
    /// Unexpanded: the runner expands it with every variable in place.
    pub(crate) url: Option<String>,
}

impl Environment {
    /// `expanded_name` is the spec's name after expansion; an empty name
    /// means no environment, as GitLab's `environment.present?`.
    pub(crate) fn new(spec: &EnvironmentSpec, expanded_name: String) -> Option<Environment> {
        if expanded_name.trim().is_empty() {
            return None;
        }
        Some(Environment {
            slug: slug(&expanded_name),
            tier: spec.deployment_tier.clone().unwrap_or_else(|| guess_tier(&expanded_name).to_string()),
            action: if spec.action.is_empty() { "start".into() } else { spec.action.clone() },
            url: spec.url.clone(),
            name: expanded_name,
        })
    }
}

/// GitLab's `Environment#generate_slug`: lowercase letters, digits and
/// dashes, starting with a letter, at most 24 characters; a name that had to
/// change gets a 6-character suffix. GitLab draws the suffix at random and
/// stores it; Kiln derives it from the name so that it is stable without
/// storage.
pub fn slug(name: &str) -> String {
    let mut s: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        s = format!("env-{s}");
    }
    let mut squeezed = String::with_capacity(s.len());
    for c in s.chars() {
        if !(c == '-' && squeezed.ends_with('-')) {
            squeezed.push(c);
        }
    }
    if squeezed.len() > 24 || squeezed != name {
        let mut short: String = squeezed.chars().take(17).collect();
        if !short.ends_with('-') {
            short.push('-');
        }
        short.push_str(&suffix(name));
        short
    } else {
        squeezed.trim_end_matches('-').to_string()
    }
}

fn suffix(name: &str) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    Sha256::digest(name.as_bytes())
        .iter()
        .take(6)
        .map(|b| char::from(CHARS[usize::from(*b) % CHARS.len()]))
        .collect()
}

/// GitLab's `Environment#guess_tier`.
pub fn guess_tier(name: &str) -> &'static str {
    let n = name.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| n.contains(w));
    if has(&["dev", "review", "trunk"]) {
        "development"
    } else if has(&["test", "tst", "int", "acpt", "accept", "qa", "qc", "control", "quality"]) {
        "testing"
    } else if has(&["stg", "stag", "modl", "model", "pre", "demo", "non"]) {
        "staging"
    } else if has(&["prd", "prod", "live"]) {
        "production"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug("production"), "production");
        assert_eq!(slug("review-app"), "review-app");
        let changed = slug("Review/Feature_X");
        assert!(changed.starts_with("review-feature-x-"), "{changed}");
        assert_eq!(changed.len(), 17 + 6);
        assert_eq!(changed, slug("Review/Feature_X"));
        assert!(slug("1st").starts_with("env-1st-"));
    }

    #[test]
    fn tiers() {
        assert_eq!(guess_tier("production"), "production");
        assert_eq!(guess_tier("staging"), "staging");
        assert_eq!(guess_tier("review/x"), "development");
        assert_eq!(guess_tier("qa"), "testing");
        assert_eq!(guess_tier("other"), "other");
    }
}
