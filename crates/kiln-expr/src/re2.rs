//! GitLab's untrusted regexps on top of the `regex` crate: `/pattern/flags` parsing and RE2 syntax.
//!
//! GitLab compiles user patterns with RE2 (`Gitlab::UntrustedRegexp`), after cutting `/pattern/flags`
//! apart with a Ruby regexp (`UntrustedRegexp::RubySyntax`) and prepending the flags as `(?flags)`.
//! The `regex` crate shares RE2's design (no backreferences, no look-around, linear time), but a few
//! spellings mean different things, so patterns are rewritten before they are compiled:
//!
//! - `\d`, `\w`, `\s`, `\b` (and their negations) are ASCII-only in RE2 and Unicode-aware in `regex`;
//!   they become explicit ASCII classes (`\s` is RE2's `[\t\n\f\r ]`, without `\v`).
//! - A `{` that does not start a valid `{n}`, `{n,}` or `{n,m}` is a literal in RE2 and an error in
//!   `regex`; counts above 1000 are an error in RE2 only.
//! - Inside a class, `[` (unless it opens `[:name:]`), `&&`, `--` and `~~` are literals in RE2 but nested
//!   classes and set operations in `regex`.
//! - RE2 reads `\Q...\E` quoting and octal escapes `\0`, `\12`, `\123`; `regex` does not.
//! - RE2 accepts only the flags `i`, `m`, `s`, `U` and tolerates repeats such as `(?ii)`; `regex` also
//!   knows `x`, `u` and `R` and rejects repeats.
//!
//! Differences left: RE2's `\C` (any byte) is rejected, and case folding or Unicode classes may differ
//! where the two libraries use different Unicode versions.

use std::fmt::Write as _;

/// A compiled pattern together with the source GitLab would hand to RE2.
#[derive(Clone, Debug)]
pub(crate) struct Re2 {
    /// RE2's `source`: the pattern with `(?flags)` prepended, as GitLab builds it. Two regexps are `==`
    /// in GitLab when their sources are.
    pub(crate) source: String,
    pub(crate) regex: regex::Regex,
}

impl Re2 {
    /// GitLab's `UntrustedRegexp::RubySyntax.fabricate!`: a `/pattern/flags` string made into a regexp.
    /// `None` when the text is not in that form or the pattern does not compile.
    pub(crate) fn fabricate(text: &str) -> Option<Re2> {
        let (pattern, flags) = ruby_syntax(text)?;
        let source = if flags.is_empty() { pattern.to_string() } else { format!("(?{flags}){pattern}") };
        let regex = compile(&source)?;
        Some(Re2 { source, regex })
    }

    pub(crate) fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

/// `RubySyntax::PATTERN`, `%r{^/(?<regexp>.*)/(?<flags>[ismU]*)$}`, searched with Ruby's rules: `^`
/// and `$` are line anchors, `.` stops at a newline, and the greedy `.*` takes the line's last `/`.
fn ruby_syntax(text: &str) -> Option<(&str, &str)> {
    let mut line_start = 0;
    for line in text.split('\n') {
        if let Some(body) = line.strip_prefix('/')
            && let Some(close) = body.rfind('/')
        {
            let flags = &body[close + 1..];
            if flags.chars().all(|c| matches!(c, 'i' | 's' | 'm' | 'U')) {
                let start = line_start + 1;
                return Some((&text[start..start + close], &text[start + close + 1..start + body.len()]));
            }
        }
        line_start += line.len() + 1;
    }
    None
}

/// Compiles an RE2 pattern with RE2's meaning; `None` where RE2 would reject it.
fn compile(re2: &str) -> Option<regex::Regex> {
    let translated = translate(re2)?;
    regex::RegexBuilder::new(&translated).build().ok()
}

const DIGIT: &str = "0-9";
const WORD: &str = "0-9A-Za-z_";
const SPACE: &str = r"\t\n\x0C\r\x20";
/// RE2's `kMaxRepeat`.
const MAX_REPEAT: u32 = 1000;

/// Rewrites an RE2 pattern into a `regex` pattern with the same meaning; `None` where RE2 would reject it.
fn translate(re2: &str) -> Option<String> {
    let chars: Vec<char> = re2.chars().collect();
    let mut out = String::with_capacity(re2.len() + 16);
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i = match c {
            '\\' => escape(&chars, i + 1, &mut out)?,
            '[' => class(&chars, i + 1, &mut out)?,
            '{' => match repetition(&chars, i) {
                Some((end, lo, hi)) => {
                    if lo > MAX_REPEAT || hi.is_some_and(|hi| hi > MAX_REPEAT || hi < lo) {
                        return None;
                    }
                    out.extend(chars.get(i..end)?);
                    end
                }
                None => {
                    out.push_str(r"\{");
                    i + 1
                }
            },
            '}' => {
                out.push_str(r"\}");
                i + 1
            }
            '(' if chars.get(i + 1) == Some(&'?') => group(&chars, i, &mut out)?,
            _ => {
                out.push(c);
                i + 1
            }
        };
    }
    Some(out)
}

/// A counted repetition `{n}`, `{n,}` or `{n,m}` at `i`: its end and counts.
fn repetition(chars: &[char], i: usize) -> Option<(usize, u32, Option<u32>)> {
    let (lo, mut j) = number(chars, i + 1)?;
    let mut hi = Some(lo);
    if chars.get(j) == Some(&',') {
        j += 1;
        hi = match number(chars, j) {
            Some((n, end)) => {
                j = end;
                Some(n)
            }
            None => None,
        };
    }
    (chars.get(j) == Some(&'}')).then_some((j + 1, lo, hi))
}

/// A decimal number at `i` (saturating, so a huge count is still "too big", not "not a number").
fn number(chars: &[char], i: usize) -> Option<(u32, usize)> {
    let digits = chars.get(i..)?.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let value = chars
        .get(i..i + digits)?
        .iter()
        .fold(0u32, |n, c| n.saturating_mul(10).saturating_add(c.to_digit(10).unwrap_or(0)));
    Some((value, i + digits))
}

/// A `(?` group at `i`: flags are checked against RE2's set and de-duplicated.
fn group(chars: &[char], i: usize, out: &mut String) -> Option<usize> {
    let body = i + 2;
    if matches!(chars.get(body), Some(':' | 'P' | '<' | '=' | '!')) {
        out.push_str("(?");
        return Some(body);
    }
    let len = chars.get(body..)?.iter().take_while(|c| !matches!(c, ')' | ':')).count();
    let flags = chars.get(body..body + len)?;
    if !flags.iter().all(|c| matches!(c, 'i' | 'm' | 's' | 'U' | '-')) {
        return None;
    }
    out.push_str("(?");
    for (k, c) in flags.iter().enumerate() {
        if *c == '-' || !flags.get(..k).is_some_and(|seen| seen.contains(c)) {
            out.push(*c);
        }
    }
    Some(body + len)
}

/// An escape outside a class; `i` is just after the backslash.
fn escape(chars: &[char], i: usize, out: &mut String) -> Option<usize> {
    let c = *chars.get(i)?;
    match c {
        'd' => write_class(out, false, DIGIT),
        'D' => write_class(out, true, DIGIT),
        'w' => write_class(out, false, WORD),
        'W' => write_class(out, true, WORD),
        's' => write_class(out, false, SPACE),
        'S' => write_class(out, true, SPACE),
        'b' => out.push_str(r"(?-u:\b)"),
        'B' => out.push_str(r"(?-u:\B)"),
        'A' | 'z' => {
            out.push('\\');
            out.push(c);
        }
        'Q' => {
            let rest = chars.get(i + 1..)?;
            let len = rest.windows(2).position(|w| w == ['\\', 'E']).unwrap_or(rest.len());
            let quoted: String = rest.get(..len)?.iter().collect();
            out.push_str(&regex::escape(&quoted));
            // Skip the text and, when present, the closing `\E`.
            return Some((i + 1 + len + 2).min(chars.len()));
        }
        'p' | 'P' => return unicode_class(chars, i, out),
        _ => {
            let (literal, end) = literal_escape(chars, i)?;
            push_literal(out, literal);
            return Some(end);
        }
    }
    Some(i + 1)
}

/// `\pL`, `\p{Greek}`, `\PL`, `\P{Greek}` copied as they are; `i` is at the `p` or `P`.
fn unicode_class(chars: &[char], i: usize, out: &mut String) -> Option<usize> {
    let end = if chars.get(i + 1) == Some(&'{') {
        i + 1 + chars.get(i + 1..)?.iter().position(|c| *c == '}')? + 1
    } else {
        i + 2
    };
    out.push('\\');
    out.extend(chars.get(i..end)?);
    Some(end)
}

/// An escape that stands for one character (`\n`, `\x41`, `\101`, `\.`); `i` is after the backslash.
fn literal_escape(chars: &[char], i: usize) -> Option<(char, usize)> {
    let c = *chars.get(i)?;
    let simple = match c {
        'a' => Some('\x07'),
        'f' => Some('\x0C'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0B'),
        _ => None,
    };
    if let Some(literal) = simple {
        return Some((literal, i + 1));
    }
    match c {
        'x' => hex_escape(chars, i + 1),
        '0'..='7' => {
            // A lone `\1`..`\7` would be a backreference, which RE2 rejects.
            let digits = chars.get(i..)?.iter().take(3).take_while(|d| matches!(d, '0'..='7')).count();
            if c != '0' && digits < 2 {
                return None;
            }
            let value = chars.get(i..i + digits)?.iter().fold(0, |n, d| n * 8 + d.to_digit(8).unwrap_or(0));
            Some((char::from_u32(value)?, i + digits))
        }
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => Some((c, i + 1)),
        _ => None,
    }
}

/// `\x41` or `\x{10FFFF}`; `i` is after the `x`.
fn hex_escape(chars: &[char], i: usize) -> Option<(char, usize)> {
    let (digits, end) = if chars.get(i) == Some(&'{') {
        let len = chars.get(i + 1..)?.iter().position(|c| *c == '}')?;
        (chars.get(i + 1..i + 1 + len)?, i + len + 2)
    } else {
        (chars.get(i..i + 2)?, i + 2)
    };
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(char::is_ascii_hexdigit) {
        return None;
    }
    let value = digits.iter().fold(0u32, |n, d| n * 16 + d.to_digit(16).unwrap_or(0));
    Some((char::from_u32(value)?, end))
}

/// A character class; `i` is just after the `[`.
fn class(chars: &[char], i: usize, out: &mut String) -> Option<usize> {
    out.push('[');
    let mut j = i;
    if chars.get(j) == Some(&'^') {
        out.push('^');
        j += 1;
    }
    let mut first = true;
    loop {
        let c = *chars.get(j)?;
        if c == ']' && !first {
            out.push(']');
            return Some(j + 1);
        }
        first = false;
        if c == '['
            && chars.get(j + 1) == Some(&':')
            && let Some(len) = chars.get(j + 2..)?.windows(2).position(|w| w == [':', ']'])
        {
            out.extend(chars.get(j..j + len + 4)?);
            j += len + 4;
            continue;
        }
        let (low, next) = match class_atom(chars, j, out)? {
            (Some(low), next) => (low, next),
            (None, next) => {
                j = next;
                continue;
            }
        };
        j = next;
        let range_end = chars.get(j + 1).filter(|c| **c != ']');
        if chars.get(j) == Some(&'-') && range_end.is_some() {
            let mut scratch = String::new();
            let (Some(high), next) = class_atom(chars, j + 1, &mut scratch)? else { return None };
            if high < low {
                return None;
            }
            push_class_literal(out, low);
            out.push('-');
            push_class_literal(out, high);
            j = next;
        } else {
            push_class_literal(out, low);
        }
    }
}

/// One item of a class at `j`. A single character is returned for the caller to place (it may start a
/// range); a class escape such as `\d` is written to `out` directly and returns `None`.
fn class_atom(chars: &[char], j: usize, out: &mut String) -> Option<(Option<char>, usize)> {
    let c = *chars.get(j)?;
    if c != '\\' {
        return Some((Some(c), j + 1));
    }
    let e = *chars.get(j + 1)?;
    let set = match e {
        'd' => Some((false, DIGIT)),
        'D' => Some((true, DIGIT)),
        'w' => Some((false, WORD)),
        'W' => Some((true, WORD)),
        's' => Some((false, SPACE)),
        'S' => Some((true, SPACE)),
        _ => None,
    };
    if let Some((negated, members)) = set {
        // Inside a class, a negated set has to be a nested class in `regex`; a plain one is inlined.
        if negated {
            write_class(out, true, members);
        } else {
            out.push_str(members);
        }
        return Some((None, j + 2));
    }
    if matches!(e, 'p' | 'P') {
        let end = unicode_class(chars, j + 1, out)?;
        return Some((None, end));
    }
    let (literal, end) = literal_escape(chars, j + 1)?;
    Some((Some(literal), end))
}

fn write_class(out: &mut String, negated: bool, members: &str) {
    out.push('[');
    if negated {
        out.push('^');
    }
    out.push_str(members);
    out.push(']');
}

/// A literal character outside a class, escaped when `regex` would read it as syntax.
fn push_literal(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
}

/// A literal character inside a class, escaped when `regex` would read it as class syntax.
fn push_class_literal(out: &mut String, c: char) {
    if matches!(c, '[' | ']' | '\\' | '^' | '-' | '&' | '~') {
        out.push('\\');
        out.push(c);
    } else if c.is_control() || c.is_whitespace() {
        let _ = write!(out, "\\x{{{:X}}}", u32::from(c));
    } else {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruby_syntax_takes_the_last_slash_of_the_first_matching_line() {
        assert_eq!(ruby_syntax("/a/b/i"), Some(("a/b", "i")));
        assert_eq!(ruby_syntax("//"), Some(("", "")));
        assert_eq!(ruby_syntax("/foo/x"), None);
        assert_eq!(ruby_syntax("foo"), None);
        assert_eq!(ruby_syntax("junk\n/b/m\nmore"), Some(("b", "m")));
    }

    #[test]
    fn perl_classes_become_ascii() {
        assert_eq!(translate(r"\d+\w\s").as_deref(), Some(r"[0-9]+[0-9A-Za-z_][\t\n\x0C\r\x20]"));
        assert_eq!(translate(r"[\d.]").as_deref(), Some(r"[0-9.]"));
        assert_eq!(translate(r"[^\D]").as_deref(), Some(r"[^[^0-9]]"));
    }

    #[test]
    fn braces_that_are_not_repetitions_are_literals() {
        assert_eq!(translate("a{2,3}b{,3}c{").as_deref(), Some(r"a{2,3}b\{,3\}c\{"));
        assert_eq!(translate("a{1001}"), None);
    }

    #[test]
    fn class_syntax_of_regex_is_escaped() {
        assert_eq!(translate("[[a&&b~~-]").as_deref(), Some(r"[\[a\&\&b\~\~\-]"));
        assert_eq!(translate("[[:alpha:]-]").as_deref(), Some(r"[[:alpha:]\-]"));
    }

    #[test]
    fn flags_are_checked_and_deduplicated() {
        assert_eq!(translate("(?ii)a").as_deref(), Some("(?i)a"));
        assert_eq!(translate("(?x)a"), None);
        assert_eq!(translate("(?P<n>a)(?:b)").as_deref(), Some("(?P<n>a)(?:b)"));
    }

    #[test]
    fn quoting_and_octal_escapes_are_literals() {
        assert_eq!(translate(r"\Qa.b\E.").as_deref(), Some(r"a\.b."));
        assert_eq!(translate(r"\101\0").as_deref(), Some("A\0"));
        assert_eq!(translate(r"\1"), None);
    }
}
