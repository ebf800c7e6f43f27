//! Variables that refer to variables: GitLab's `Collection#sort_and_expand_all`.
//!
//! GitLab does not expand a variable list in one pass. It builds a graph (a variable points at the
//! variables its value references), sorts it topologically with Ruby's `TSort`, and expands each
//! variable against the ones already placed, so `A: $B` with `B: $C` resolves fully whatever the
//! declaration order. A cycle stops everything: GitLab returns the list unexpanded with the error
//! `circular variable reference detected: ["A", "B"]`, and pipeline creation fails with it.

use std::collections::HashMap;
use std::fmt;

use crate::expand::{Piece, Pieces, Syntax, replace};
use crate::tsort::strongly_connected_components;

/// One variable of a collection, with the two flags that change how it expands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Variable {
    /// The variable's name (GitLab's `key`).
    pub name: String,
    /// Its value before expansion.
    pub value: String,
    /// `expand: false` in the YAML (`raw` in GitLab): the value is never expanded, though other
    /// variables may still reference it.
    pub raw: bool,
    /// A file-type variable: on the runner, its reference stands for the path of a file holding the value.
    pub file: bool,
}

impl Variable {
    /// A plain variable: not raw, not a file.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Variable { name: name.into(), value: value.into(), raw: false, file: false }
    }
}

/// The three switches of `sort_and_expand_all`, with GitLab's defaults in [`Default`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpandAllOptions {
    /// Keep a reference to an undefined variable verbatim instead of removing it (default `false`).
    pub keep_undefined: bool,
    /// Replace a reference to a file variable with its value; when `false`, keep the reference so the
    /// runner can turn it into the file's path (default `true`).
    pub expand_file_refs: bool,
    /// Replace a reference to a raw variable with its value; when `false`, keep the reference so the
    /// runner, which knows the variable is raw, expands it without expanding its value again
    /// (default `true`).
    pub expand_raw_refs: bool,
}

impl ExpandAllOptions {
    /// What GitLab uses for the job payload sent to the runner (`BuildRunnerPresenter#runner_variables`):
    /// keep undefined, file and raw references for the runner to resolve.
    pub const RUNNER_PAYLOAD: ExpandAllOptions =
        ExpandAllOptions { keep_undefined: true, expand_file_refs: false, expand_raw_refs: false };
}

impl Default for ExpandAllOptions {
    fn default() -> Self {
        ExpandAllOptions { keep_undefined: false, expand_file_refs: true, expand_raw_refs: true }
    }
}

/// Expands variables that reference each other, with GitLab's default options.
///
/// See [`expand_all_with`].
///
/// ```
/// use kiln_expr::{Variable, expand_all};
/// let vars = vec![Variable::new("URL", "https://$HOST/x"), Variable::new("HOST", "example.com")];
/// let expanded = expand_all(vars).unwrap();
/// // Topological order: HOST is placed first because URL depends on it.
/// assert_eq!(expanded[0], Variable::new("HOST", "example.com"));
/// assert_eq!(expanded[1], Variable::new("URL", "https://example.com/x"));
/// ```
pub fn expand_all(vars: Vec<Variable>) -> Result<Vec<Variable>, CycleError> {
    expand_all_with(vars, ExpandAllOptions::default())
}

/// Expands variables that reference each other, exactly as GitLab's `Collection#sort_and_expand_all`.
///
/// - The result is in topological order (each variable after the ones it references, otherwise in the
///   given order), not in the given order.
/// - References use the collection syntax: `$NAME`, `${NAME}`, `%NAME%`; `$$` and `%%` are left as they
///   are for the runner to unescape, and so is `${}`.
/// - A reference resolves to the last variable of that name placed before it. A variable may refer to
///   an earlier variable of its own name (`PATH: "$PATH:/bin"` after another `PATH`); referring only to
///   itself finds nothing.
/// - Raw variables are never expanded themselves.
/// - Nothing loops: on a reference cycle the result is a [`CycleError`] that carries the variables
///   unexpanded and in their original order, which is what GitLab returns alongside the error.
pub fn expand_all_with(vars: Vec<Variable>, options: ExpandAllOptions) -> Result<Vec<Variable>, CycleError> {
    let (expands, order) = {
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, var) in vars.iter().enumerate() {
            by_name.entry(var.name.as_str()).or_default().push(i);
        }
        let expands: Vec<bool> = vars.iter().map(|v| !v.raw && may_reference(&v.value)).collect();
        let children: Vec<Vec<usize>> = vars
            .iter()
            .zip(&expands)
            .map(|(var, expands)| {
                if !expands {
                    return Vec::new();
                }
                references(&var.value).filter_map(|name| by_name.get(name)).flatten().copied().collect()
            })
            .collect();
        let components = strongly_connected_components(&children);
        let cycles: Vec<Vec<String>> = components
            .iter()
            .filter(|c| c.len() > 1)
            .map(|c| c.iter().filter_map(|i| vars.get(*i)).map(|v| v.name.clone()).collect())
            .collect();
        if !cycles.is_empty() {
            return Err(CycleError { cycles, variables: vars });
        }
        (expands, components.concat())
    };

    let mut slots: Vec<Option<Variable>> = vars.into_iter().map(Some).collect();
    let mut placed: Vec<Variable> = Vec::with_capacity(slots.len());
    let mut latest: HashMap<String, usize> = HashMap::new();
    for i in order {
        let Some(mut var) = slots.get_mut(i).and_then(Option::take) else { continue };
        if expands.get(i).copied().unwrap_or(false) {
            var.value = replace(&var.value, Syntax::Collection, |out, name, full| {
                let found = latest.get(name).and_then(|k| placed.get(*k));
                out.push_str(match found {
                    Some(v) if v.file => {
                        if options.expand_file_refs {
                            &v.value
                        } else {
                            full
                        }
                    }
                    Some(v) if v.raw => {
                        if options.expand_raw_refs {
                            &v.value
                        } else {
                            full
                        }
                    }
                    Some(v) => &v.value,
                    None if options.keep_undefined => full,
                    None => "",
                });
            });
        }
        latest.insert(var.name.clone(), placed.len());
        placed.push(var);
    }
    Ok(placed)
}

/// GitLab's `Item.possible_var_reference?`: only values with a `$` or `%` are looked at.
fn may_reference(value: &str) -> bool {
    value.contains(['$', '%'])
}

/// The names a value references, in order, as GitLab's `Item#depends_on` scans them.
fn references(value: &str) -> impl Iterator<Item = &str> {
    Pieces::new(value, Syntax::Collection).filter_map(|piece| match piece {
        Piece::Reference { name, .. } => Some(name),
        Piece::Text(_) => None,
    })
}

/// Variables that reference each other in a cycle, so that none of them can be expanded.
///
/// Displays as GitLab words it: `circular variable reference detected: ["A", "B"], ["C", "D"]`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct CycleError {
    /// Each cycle's variable names, in the order GitLab lists them.
    pub cycles: Vec<Vec<String>>,
    /// The variables as they were given, unexpanded (what GitLab's collection holds after the error).
    pub variables: Vec<Variable>,
}

impl fmt::Display for CycleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("circular variable reference detected: ")?;
        for (i, cycle) in self.cycles.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str("[")?;
            for (j, name) in cycle.iter().enumerate() {
                if j > 0 {
                    f.write_str(", ")?;
                }
                f.write_str(&ruby_inspect(name))?;
            }
            f.write_str("]")?;
        }
        Ok(())
    }
}

/// Ruby's `String#inspect`, which GitLab uses to print the names in a cycle.
fn ruby_inspect(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x0C' => out.push_str("\\f"),
            '\x0B' => out.push_str("\\v"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x1B' => out.push_str("\\e"),
            '#' if matches!(chars.peek(), Some('{' | '$' | '@')) => out.push_str("\\#"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::ruby_inspect;

    #[test]
    fn names_are_quoted_like_ruby_inspect() {
        assert_eq!(ruby_inspect("A"), r#""A""#);
        assert_eq!(ruby_inspect("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(ruby_inspect("#{x} #y"), r#""\#{x} #y""#);
        assert_eq!(ruby_inspect("\u{1}"), r#""\u0001""#);
    }
}
