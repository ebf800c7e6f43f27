//! `/pattern/flags` text as a regexp outside expressions, for the places
//! GitLab matches refs against a pattern directly (`only:refs`, `except:refs`).

use crate::re2::Re2;

/// A compiled GitLab untrusted regexp.
#[derive(Clone, Debug)]
pub struct Pattern(Re2);

impl Pattern {
    /// GitLab's `UntrustedRegexp::RubySyntax.fabricate`: `None` when `text`
    /// is not of the form `/pattern/flags` or the pattern does not compile.
    pub fn fabricate(text: &str) -> Option<Pattern> {
        Re2::fabricate(text).map(Pattern)
    }

    /// Whether the pattern matches anywhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    #[test]
    fn fabricates_ruby_syntax_patterns() {
        assert!(Pattern::fabricate("/^release-/").unwrap().is_match("release-1.0"));
        assert!(Pattern::fabricate("/^MAIN$/i").unwrap().is_match("main"));
        assert!(!Pattern::fabricate("/^main$/").unwrap().is_match("feature"));
        assert!(Pattern::fabricate("main").is_none());
        assert!(Pattern::fabricate("/(/").is_none());
    }
}
