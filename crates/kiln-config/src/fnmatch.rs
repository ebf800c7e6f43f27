//! Ruby's `File.fnmatch?`, which GitLab uses for `rules:changes`,
//! `rules:exists` and wildcard `include:local` paths.
//!
//! Hand-written because the details matter and no crate has them: with
//! `FNM_PATHNAME`, `**/` matches zero or more directories but a `**` that is
//! not followed by `/` is just `*` (so `docs/**` does *not* match
//! `docs/a/b.md`); `FNM_DOTMATCH` lets wildcards match a leading `.`;
//! `FNM_EXTGLOB` expands `{a,b}` alternatives.

use std::collections::HashSet;

/// `File::FNM_*` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    /// Wildcards do not match `/`, and `**/` matches directories.
    pub pathname: bool,
    /// Wildcards match a leading `.` in a path component.
    pub dotmatch: bool,
    /// `{a,b}` alternatives.
    pub extglob: bool,
}

impl Flags {
    /// `FNM_PATHNAME | FNM_DOTMATCH | FNM_EXTGLOB`, what `rules:changes` and
    /// `rules:exists` use.
    pub const RULES: Flags = Flags { pathname: true, dotmatch: true, extglob: true };
}

/// Most alternatives one pattern may expand to; a hostile pattern such as
/// `{a,b}{a,b}{a,b}...` stops here instead of exhausting memory.
const MAX_ALTERNATIVES: usize = 1024;

/// Whether `path` matches `pattern`.
pub fn fnmatch(pattern: &str, path: &str, flags: Flags) -> bool {
    if flags.extglob && pattern.contains('{') {
        return expand_braces(pattern).iter().any(|p| matches_one(p, path, flags));
    }
    matches_one(pattern, path, flags)
}

/// Whether the pattern contains wildcard characters at all (a plain path can
/// be looked up directly).
pub fn has_wildcards(pattern: &str, flags: Flags) -> bool {
    pattern.contains(['*', '?', '[']) || (flags.extglob && pattern.contains('{'))
}

fn matches_one(pattern: &str, path: &str, flags: Flags) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let path: Vec<char> = path.chars().collect();
    if !flags.pathname {
        return match_segment(&pattern, &path, flags, true);
    }
    let psegs: Vec<&[char]> = pattern.split(|c| *c == '/').collect();
    let ssegs: Vec<&[char]> = path.split(|c| *c == '/').collect();
    let mut failed = HashSet::new();
    match_segments(&psegs, 0, &ssegs, 0, flags, &mut failed)
}

fn match_segments(
    psegs: &[&[char]],
    pi: usize,
    ssegs: &[&[char]],
    si: usize,
    flags: Flags,
    failed: &mut HashSet<(usize, usize)>,
) -> bool {
    if failed.contains(&(pi, si)) {
        return false;
    }
    let result = (|| {
        let Some(pseg) = psegs.get(pi) else { return si == ssegs.len() };
        if *pseg == ['*', '*'] && pi + 1 < psegs.len() {
            // `**/`: skip zero or more whole directories.
            let mut k = si;
            loop {
                if match_segments(psegs, pi + 1, ssegs, k, flags, failed) {
                    return true;
                }
                let Some(skipped) = ssegs.get(k) else { return false };
                if !flags.dotmatch && skipped.first() == Some(&'.') {
                    return false;
                }
                k += 1;
                if k >= ssegs.len() {
                    return false;
                }
            }
        }
        let Some(sseg) = ssegs.get(si) else { return false };
        match_segment(pseg, sseg, flags, true) && match_segments(psegs, pi + 1, ssegs, si + 1, flags, failed)
    })();
    if !result {
        failed.insert((pi, si));
    }
    result
}

/// Matches one component (or, without `FNM_PATHNAME`, the whole string):
/// `*`, `?`, `[...]` and `\` escapes, with the usual single-backtrack
/// algorithm for `*` so the cost stays linear in practice.
fn match_segment(p: &[char], s: &[char], flags: Flags, at_start: bool) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    let leading_dot = at_start && !flags.dotmatch && s.first() == Some(&'.');
    while si < s.len() {
        let wild_blocked = leading_dot && si == 0;
        let slash_blocked = flags.pathname && s[si] == '/';
        match p.get(pi) {
            Some('*') if !wild_blocked => {
                star = Some((pi, si));
                pi += 1;
                continue;
            }
            Some('?') if !wild_blocked && !slash_blocked => {
                pi += 1;
                si += 1;
                continue;
            }
            Some('[') if !wild_blocked && !slash_blocked => {
                if let Some((matched, next)) = match_bracket(p, pi, s[si]) {
                    if matched {
                        pi = next;
                        si += 1;
                        continue;
                    }
                } else if s[si] == '[' {
                    // An unterminated `[` is a literal character.
                    pi += 1;
                    si += 1;
                    continue;
                }
            }
            Some('\\') if p.get(pi + 1) == Some(&s[si]) => {
                pi += 2;
                si += 1;
                continue;
            }
            Some(c) if *c == s[si] && !matches!(c, '*' | '?' | '[' | '\\') => {
                pi += 1;
                si += 1;
                continue;
            }
            _ => {}
        }
        // Mismatch: let the last `*` swallow one more character.
        match star {
            Some((spi, ssi)) if !(flags.pathname && s[ssi] == '/') => {
                pi = spi + 1;
                si = ssi + 1;
                star = Some((spi, ssi + 1));
            }
            _ => return false,
        }
    }
    while p.get(pi) == Some(&'*') {
        pi += 1;
    }
    pi == p.len()
}

/// `[...]` at `p[start]`: whether `c` matches and where the class ends, or
/// `None` when the bracket is not closed.
fn match_bracket(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let lo = *p.get(i)?;
        if lo == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let lo = if lo == '\\' {
            i += 1;
            *p.get(i)?
        } else {
            lo
        };
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|h| *h != ']') {
            let mut hi = *p.get(i + 2)?;
            let mut skip = 3;
            if hi == '\\' {
                hi = *p.get(i + 3)?;
                skip = 4;
            }
            if lo <= c && c <= hi {
                matched = true;
            }
            i += skip;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
}

/// Expands `{a,b}` alternatives (nested too), as Ruby's `FNM_EXTGLOB` does.
fn expand_braces(pattern: &str) -> Vec<String> {
    let chars: Vec<char> = pattern.chars().collect();
    // Find the first top-level `{` with a matching `}`.
    let mut depth = 0usize;
    let mut open = None;
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '{' => {
                if depth == 0 {
                    open = Some(i);
                }
                depth += 1;
            }
            '}' if depth > 0 => {
                depth -= 1;
                if depth == 0
                    && let Some(o) = open
                {
                    let prefix: String = chars[..o].iter().collect();
                    let suffix: String = chars[i + 1..].iter().collect();
                    let mut out = Vec::new();
                    for alternative in split_alternatives(&chars[o + 1..i]) {
                        for rest in expand_braces(&format!("{prefix}{alternative}{suffix}")) {
                            out.push(rest);
                            if out.len() >= MAX_ALTERNATIVES {
                                return out;
                            }
                        }
                    }
                    return out;
                }
            }
            _ => {}
        }
        i += 1;
    }
    vec![pattern.to_string()]
}

fn split_alternatives(inner: &[char]) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < inner.len() {
        let c = inner[i];
        match c {
            '\\' => {
                current.push(c);
                if let Some(n) = inner.get(i + 1) {
                    current.push(*n);
                }
                i += 1;
            }
            '{' => {
                depth += 1;
                current.push(c);
            }
            '}' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            ',' if depth == 0 => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
        i += 1;
    }
    parts.push(current);
    parts
}

#[cfg(test)]
mod tests {
    use super::{Flags, fnmatch};

    const R: Flags = Flags::RULES;
    const PATHNAME: Flags = Flags { pathname: true, dotmatch: false, extglob: false };
    const PLAIN: Flags = Flags { pathname: false, dotmatch: false, extglob: false };

    macro_rules! cases {
        ($($name:ident: $pattern:expr, $path:expr, $flags:expr => $expected:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(fnmatch($pattern, $path, $flags), $expected, "{} vs {}", $pattern, $path);
            }
        )*};
    }

    cases! {
        literal: "README.md", "README.md", R => true;
        literal_case_sensitive: "readme.md", "README.md", R => false;
        star_in_component: "*.md", "README.md", R => true;
        star_stops_at_slash: "*.md", "docs/README.md", R => false;
        star_crosses_slash_without_pathname: "*.md", "docs/README.md", PLAIN => true;
        double_star_slash_zero_dirs: "**/*.md", "README.md", R => true;
        double_star_slash_many_dirs: "**/*.md", "a/b/c/README.md", R => true;
        double_star_in_middle: "docs/**/*.md", "docs/x.md", R => true;
        double_star_in_middle_deep: "docs/**/*.md", "docs/a/b/x.md", R => true;
        trailing_double_star_is_one_level: "docs/**", "docs/a/b.md", R => false;
        trailing_double_star_matches_child: "docs/**", "docs/a.md", R => true;
        dir_star_one_level: "docs/*", "docs/a/b.md", R => false;
        question_mark: "file?.txt", "file1.txt", R => true;
        question_mark_not_slash: "a?b", "a/b", R => false;
        bracket_class: "file[0-9].txt", "file7.txt", R => true;
        bracket_negated: "file[!0-9].txt", "file7.txt", R => false;
        bracket_caret_negated: "file[^a].txt", "fileb.txt", R => true;
        braces: "{src,lib}/**/*.rs", "lib/a/b.rs", R => true;
        braces_nested: "a.{md,{rs,toml}}", "a.toml", R => true;
        braces_need_extglob: "{a,b}", "a", PATHNAME => false;
        dotmatch_allows_hidden: "*", ".gitlab-ci.yml", R => true;
        no_dotmatch_hides_hidden: "*", ".gitlab-ci.yml", PATHNAME => false;
        no_dotmatch_double_star_skips_hidden_dirs: "**/*.yml", ".gitlab/ci.yml", PATHNAME => false;
        dotmatch_double_star_enters_hidden_dirs: "**/*.yml", ".gitlab/ci.yml", R => true;
        escape: "a\\*b", "a*b", R => true;
        escape_not_wild: "a\\*b", "axb", R => false;
        unterminated_bracket_literal: "a[b", "a[b", R => true;
        empty_pattern: "", "", R => true;
        star_matches_empty: "a*", "a", R => true;
    }

    #[test]
    fn hostile_patterns_finish() {
        let pattern = "**/".repeat(40) + "x";
        let path = "a/".repeat(40) + "y";
        assert!(!fnmatch(&pattern, &path, R));
        let braces = "{a,b}".repeat(30);
        assert!(!fnmatch(&braces, "c", R));
        let stars = "*a".repeat(50) + "b";
        assert!(!fnmatch(&stars, &"a".repeat(200), R));
    }
}
