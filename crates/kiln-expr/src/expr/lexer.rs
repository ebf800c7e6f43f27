//! The expression lexer: GitLab's `Expression::Lexer` and the `PATTERN` of each lexeme.
//!
//! GitLab tries the lexemes in a fixed order at the current position, skipping ASCII whitespace in
//! between, and gives up at the first position where none matches ("Unknown lexeme found!"). Each
//! scanner below is the hand-written equivalent of one Ruby regexp, anchored at the scan position as
//! `StringScanner#scan` anchors it.

use crate::expr::{ParseError, ParseErrorKind};

/// GitLab's `Lexer::MAX_TOKENS`. The lexer reads at most this many tokens and then fails, so an
/// expression of exactly 100 tokens is already too long.
pub(crate) const MAX_TOKENS: usize = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Lexeme {
    ParenthesisOpen,
    ParenthesisClose,
    /// `$[[ inputs.NAME ]]`.
    Input(String),
    /// `$NAME`.
    Variable(String),
    /// `"..."` or `'...'`, without the quotes.
    String(String),
    /// `/pattern/flags`, exactly as written.
    Pattern(String),
    Null,
    Boolean(bool),
    Equals,
    Matches,
    NotEquals,
    NotMatches,
    And,
    Or,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) lexeme: Lexeme,
    /// 1-based column, in characters, where the token starts.
    pub(crate) column: usize,
}

/// Splits an expression into tokens, as `Lexer#tokens` does.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut pos = 0;
    let mut column = 1;
    for _ in 0..MAX_TOKENS {
        let rest = src.get(pos..).unwrap_or("");
        let blank = rest.len() - rest.trim_start_matches(is_ruby_space).len();
        pos += blank;
        column += blank; // ASCII whitespace: one byte per character.
        let rest = src.get(pos..).unwrap_or("");
        if rest.is_empty() {
            return Ok(tokens);
        }
        let Some((lexeme, len)) = scan(rest) else {
            return Err(ParseError::new(column, ParseErrorKind::UnknownLexeme));
        };
        tokens.push(Token { lexeme, column });
        column += rest.get(..len).map_or(0, |t| t.chars().count());
        pos += len;
    }
    let column = tokens.last().map_or(1, |t| t.column);
    Err(ParseError::new(column, ParseErrorKind::TooManyTokens))
}

/// Ruby's `\s`: ASCII space, `\t`, `\n`, `\v`, `\f`, `\r`.
fn is_ruby_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r')
}

/// Ruby's `\w`, which is ASCII-only.
fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The first lexeme, in GitLab's `LEXEMES` order, that matches at the start of `rest`, and its length
/// in bytes.
fn scan(rest: &str) -> Option<(Lexeme, usize)> {
    let fixed = [("(", Lexeme::ParenthesisOpen), (")", Lexeme::ParenthesisClose)];
    for (text, lexeme) in fixed {
        if rest.starts_with(text) {
            return Some((lexeme, text.len()));
        }
    }
    if let Some(found) = input(rest) {
        return Some(found);
    }
    if let Some(name) = rest.strip_prefix('$').map(word).filter(|w| !w.is_empty()) {
        return Some((Lexeme::Variable(name.to_string()), 1 + name.len()));
    }
    if let Some(found) = string(rest) {
        return Some(found);
    }
    if let Some(len) = pattern(rest) {
        return Some((Lexeme::Pattern(rest.get(..len)?.to_string()), len));
    }
    if rest.starts_with("null") {
        return Some((Lexeme::Null, 4));
    }
    for (text, value) in [("true", true), ("false", false)] {
        // `\b(?:true|false)\b`; the scan position counts as the start of the string, so the leading
        // `\b` always holds before a letter.
        if rest.strip_prefix(text).is_some_and(|after| !after.starts_with(is_word)) {
            return Some((Lexeme::Boolean(value), text.len()));
        }
    }
    let operators = [
        ("==", Lexeme::Equals),
        ("=~", Lexeme::Matches),
        ("!=", Lexeme::NotEquals),
        ("!~", Lexeme::NotMatches),
        ("&&", Lexeme::And),
        ("||", Lexeme::Or),
    ];
    operators.into_iter().find(|(text, _)| rest.starts_with(text)).map(|(text, lexeme)| (lexeme, text.len()))
}

/// The longest prefix of ASCII word characters.
fn word(s: &str) -> &str {
    let len = s.len() - s.trim_start_matches(is_word).len();
    &s[..len]
}

/// `Lexeme::Input::PATTERN`: `\$\[\[\s*inputs\.(?<name>\w+)\s*\]\]`.
fn input(rest: &str) -> Option<(Lexeme, usize)> {
    let after = rest.strip_prefix("$[[")?.trim_start_matches(is_ruby_space).strip_prefix("inputs.")?;
    let name = word(after);
    if name.is_empty() {
        return None;
    }
    let tail = after.get(name.len()..)?.trim_start_matches(is_ruby_space).strip_prefix("]]")?;
    Some((Lexeme::Input(name.to_string()), rest.len() - tail.len()))
}

/// `Lexeme::String::PATTERN`: `("(?<string>.*?)")|('(?<string>.*?)')`. The lazy `.` stops at the first
/// closing quote and cannot cross a newline; there are no escapes.
fn string(rest: &str) -> Option<(Lexeme, usize)> {
    let quote = rest.chars().next().filter(|c| matches!(c, '"' | '\''))?;
    let body = rest.get(1..)?;
    let close = body.find([quote, '\n']).filter(|i| body.get(*i..).is_some_and(|t| t.starts_with(quote)))?;
    Some((Lexeme::String(body.get(..close)?.to_string()), close + 2))
}

/// `Lexeme::Pattern::PATTERN`: `^\/([^\/]|\\/)+[^\\]\/[ismU]*`, with a backtracking engine's choice of
/// match. Returns the length in bytes.
///
/// After the opening `/`, each step of the loop takes one character other than `/` or, as a second
/// choice, an escaped `\/`; the loop is greedy and must run at least once; then comes one character
/// other than `\` and the closing `/`. Going right to left, `end[p]` is the first match a backtracking
/// engine finds when the loop stands at position `p`: try another step first, then the exit. A `/` that
/// is not part of `\/` stops every path, so only the text up to the first such `/` is examined.
fn pattern(rest: &str) -> Option<usize> {
    let body = rest.strip_prefix('/')?;
    let chars: Vec<(usize, char)> = {
        let mut chars = Vec::new();
        let mut previous = None;
        for (i, c) in body.char_indices() {
            chars.push((i, c));
            // A `/` not preceded by `\` can be neither stepped over nor be part of a longer path; the
            // closing-slash check below needs one character past it.
            if c == '/' && previous != Some('\\') {
                if let Some(next) = body.get(i + 1..).and_then(|t| t.chars().next()) {
                    chars.push((i + 1, next));
                }
                break;
            }
            previous = Some(c);
        }
        chars
    };
    let at = |p: usize| chars.get(p).map(|(_, c)| *c);
    let offset = |p: usize| chars.get(p).map_or(body.len(), |(i, _)| *i);
    // `end[p]`: the character index just past the closing `/` of the first match from loop position p.
    let mut end: Vec<Option<usize>> = vec![None; chars.len() + 2];
    for p in (1..=chars.len()).rev() {
        let step = match at(p) {
            Some(c) if c != '/' => end.get(p + 1).copied().flatten(),
            _ => None,
        };
        let escaped_slash = if at(p) == Some('\\') && at(p + 1) == Some('/') {
            end.get(p + 2).copied().flatten()
        } else {
            None
        };
        let exit = (at(p).is_some_and(|c| c != '\\') && at(p + 1) == Some('/')).then_some(p + 2);
        if let Some(slot) = end.get_mut(p) {
            *slot = step.or(escaped_slash).or(exit);
        }
    }
    let first_step = match at(0) {
        Some(c) if c != '/' => end.get(1).copied().flatten(),
        _ => None,
    };
    let first_escaped =
        (at(0) == Some('\\') && at(1) == Some('/')).then(|| end.get(2).copied().flatten()).flatten();
    let close = first_step.or(first_escaped)?;
    let after = offset(close);
    let flags = body.get(after..)?.chars().take_while(|c| matches!(c, 'i' | 's' | 'm' | 'U')).count();
    Some(1 + after + flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern_token(src: &str) -> Option<&str> {
        pattern(src).map(|len| &src[..len])
    }

    #[test]
    fn a_pattern_needs_two_characters_between_its_slashes() {
        assert_eq!(pattern_token("/ab/"), Some("/ab/"));
        assert_eq!(pattern_token("/a/"), None);
        assert_eq!(pattern_token("//"), None);
        assert_eq!(pattern_token("/a//"), Some("/a//"));
    }

    #[test]
    fn a_pattern_ends_at_its_first_unescaped_slash() {
        assert_eq!(pattern_token("/test/ur/"), Some("/test/"));
        assert_eq!(pattern_token(r"/a\/b/i && x"), Some(r"/a\/b/i"));
        assert_eq!(pattern_token(r"/\//"), Some(r"/\//"));
        assert_eq!(pattern_token("/abc/imx"), Some("/abc/im"));
    }

    #[test]
    fn a_backslash_cannot_close_a_pattern() {
        assert_eq!(pattern_token(r"/ab\/"), None);
        assert_eq!(pattern_token(r"/a\\/"), None);
    }

    #[test]
    fn strings_stop_at_the_first_quote_and_never_cross_a_newline() {
        assert_eq!(string(r#""a'b" x"#), Some((Lexeme::String("a'b".into()), 5)));
        assert_eq!(string(r#""" x"#), Some((Lexeme::String(String::new()), 2)));
        assert_eq!(string("'a\nb'"), None);
        assert_eq!(string("'abc"), None);
    }

    #[test]
    fn inputs_allow_spaces_inside_the_brackets() {
        assert_eq!(input("$[[inputs.a]]"), Some((Lexeme::Input("a".into()), 13)));
        assert_eq!(input("$[[ inputs.env_1 ]] =="), Some((Lexeme::Input("env_1".into()), 19)));
        assert_eq!(input("$[[ input.a ]]"), None);
    }
}
