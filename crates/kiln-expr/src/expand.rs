//! GitLab's server-side variable expansion: `$NAME`, `${NAME}` and `%NAME%` references in a string.
//!
//! Two regexps in GitLab cut a value into text and references, and they differ on purpose:
//! `ExpandVariables::VARIABLES_REGEXP` (used for keywords such as `environment:name` or `include` paths)
//! knows no escapes, while `Collection::Item::VARIABLES_REGEXP` (used when variables refer to variables)
//! leaves `$$`, `%%` and `${}` alone so that the runner can still see them. [`Syntax`] names the two and
//! [`Pieces`] is a hand-written scanner that cuts a string exactly as the matching `gsub` does.

use crate::Lookup;

/// Expands `$NAME`, `${NAME}` and `%NAME%`; an undefined variable expands to the empty string.
///
/// This is GitLab's `ExpandVariables.expand`. A name starts with an ASCII letter or `_` and goes on
/// with ASCII letters, digits and `_`. There is no escape: `$$NAME` is a literal `$` followed by the
/// value of `NAME`, because GitLab's regexp has no `$$` alternative (only the runner, see
/// [`expand_runner`](crate::expand_runner), turns `$$` into `$`). A `$` or `%` that does not start a
/// reference is kept as it is.
///
/// ```
/// use std::collections::HashMap;
/// let vars = HashMap::from([("NAME", "world")]);
/// assert_eq!(kiln_expr::expand("hello $NAME, ${NAME} and %NAME%; $UNSET.", &vars),
///            "hello world, world and world; .");
/// ```
pub fn expand(input: &str, vars: &impl Lookup) -> String {
    replace(input, Syntax::Expand, |out, name, _| out.push_str(vars.get(name).unwrap_or("")))
}

/// Like [`expand`], but a reference to an undefined variable is kept verbatim (`$UNSET` stays `$UNSET`).
///
/// This is GitLab's `ExpandVariables.expand_existing`, used where a later stage (or the user) may still
/// give the variable a meaning, for example `rules:changes` paths.
///
/// ```
/// use std::collections::HashMap;
/// let vars = HashMap::from([("DIR", "src")]);
/// assert_eq!(kiln_expr::expand_existing("$DIR/${UNSET}/%OTHER%", &vars), "src/${UNSET}/%OTHER%");
/// ```
pub fn expand_existing(input: &str, vars: &impl Lookup) -> String {
    replace(input, Syntax::Expand, |out, name, full| out.push_str(vars.get(name).unwrap_or(full)))
}

/// Copies `input`, letting `reference(out, name, full_match)` write each reference's replacement.
pub(crate) fn replace(
    input: &str,
    syntax: Syntax,
    mut reference: impl FnMut(&mut String, &str, &str),
) -> String {
    let mut out = String::with_capacity(input.len());
    for piece in Pieces::new(input, syntax) {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Reference { name, full } => reference(&mut out, name, full),
        }
    }
    out
}

/// Which of GitLab's two reference regexps to follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Syntax {
    /// `ExpandVariables::VARIABLES_REGEXP`: `\$(NAME)|\${NAME}|%NAME%`.
    Expand,
    /// `Collection::Item::VARIABLES_REGEXP`: `\$\$|%%|\$(NAME)|\${NAME?}|%NAME%`; the first two and an
    /// empty `${}` match but name nothing, so they are kept as text.
    Collection,
}

/// A run of text or one variable reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Text(&'a str),
    /// `name` is the variable's name, `full` the whole reference as written (`$A`, `${A}`, `%A%`).
    Reference {
        name: &'a str,
        full: &'a str,
    },
}

/// Cuts a string into [`Piece`]s, left to right, as Ruby's `gsub` walks a regexp over it.
pub(crate) struct Pieces<'a> {
    src: &'a str,
    pos: usize,
    syntax: Syntax,
    /// A match found while looking for the end of a text run, to be returned next.
    pending: Option<Piece<'a>>,
}

impl<'a> Pieces<'a> {
    pub(crate) fn new(src: &'a str, syntax: Syntax) -> Self {
        Pieces { src, pos: 0, syntax, pending: None }
    }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        if let Some(piece) = self.pending.take() {
            return Some(piece);
        }
        let bytes = self.src.as_bytes();
        let start = self.pos;
        let mut i = start;
        while i < bytes.len() {
            if matches!(bytes.get(i), Some(b'$' | b'%'))
                && let Some((end, name)) = match_at(self.src, i, self.syntax)
            {
                let full = &self.src[i..end];
                let piece = match name {
                    Some(name) => Piece::Reference { name, full },
                    None => Piece::Text(full),
                };
                self.pos = end;
                if i == start {
                    return Some(piece);
                }
                self.pending = Some(piece);
                return Some(Piece::Text(&self.src[start..i]));
            }
            i += 1;
        }
        self.pos = bytes.len();
        (start < bytes.len()).then(|| Piece::Text(&self.src[start..]))
    }
}

/// The regexp match starting at byte `i` (a `$` or `%`): where it ends and the name it captured.
fn match_at(src: &str, i: usize, syntax: Syntax) -> Option<(usize, Option<&str>)> {
    let bytes = src.as_bytes();
    let first = *bytes.get(i)?;
    let next = bytes.get(i + 1).copied();
    if syntax == Syntax::Collection && next == Some(first) {
        return Some((i + 2, None)); // `$$` or `%%`
    }
    if first == b'$' {
        if let Some(len) = name_len(bytes, i + 1) {
            return Some((i + 1 + len, Some(&src[i + 1..i + 1 + len])));
        }
        if next == Some(b'{') {
            let len = name_len(bytes, i + 2).unwrap_or(0);
            if bytes.get(i + 2 + len) == Some(&b'}') {
                if len > 0 {
                    return Some((i + 3 + len, Some(&src[i + 2..i + 2 + len])));
                }
                if syntax == Syntax::Collection {
                    return Some((i + 3, None)); // `${}`
                }
            }
        }
        return None;
    }
    let len = name_len(bytes, i + 1)?;
    (bytes.get(i + 1 + len) == Some(&b'%')).then(|| (i + 2 + len, Some(&src[i + 1..i + 1 + len])))
}

/// The length of the variable name `[a-zA-Z_][a-zA-Z0-9_]*` starting at byte `at`, if there is one.
fn name_len(bytes: &[u8], at: usize) -> Option<usize> {
    let rest = bytes.get(at..)?;
    match rest.first() {
        Some(b) if b.is_ascii_alphabetic() || *b == b'_' => {
            Some(rest.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(src: &str, syntax: Syntax) -> Vec<Piece<'_>> {
        Pieces::new(src, syntax).collect()
    }

    #[test]
    fn text_and_references_alternate() {
        assert_eq!(
            cut("a$B-c", Syntax::Expand),
            [Piece::Text("a"), Piece::Reference { name: "B", full: "$B" }, Piece::Text("-c")]
        );
    }

    #[test]
    fn the_collection_syntax_keeps_escapes_as_text() {
        assert_eq!(cut("$$A", Syntax::Collection), [Piece::Text("$$"), Piece::Text("A")]);
        assert_eq!(
            cut("$$A", Syntax::Expand),
            [Piece::Text("$"), Piece::Reference { name: "A", full: "$A" }]
        );
        assert_eq!(cut("${}", Syntax::Collection), [Piece::Text("${}")]);
        assert_eq!(cut("${}", Syntax::Expand), [Piece::Text("${}")]);
    }

    #[test]
    fn empty_input_has_no_pieces() {
        assert!(cut("", Syntax::Expand).is_empty());
    }
}
