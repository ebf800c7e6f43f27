//! The parsing context: where diagnostics go, and small readers that check a
//! node's type and report GitLab's message when it is wrong.

use std::collections::HashMap;

use crate::diag::Diagnostics;
use crate::model::common::Spanned;
use crate::source::Span;
use crate::yaml::{Key, Map, Node, Value};

pub(crate) struct Cx<'a> {
    pub(crate) diags: &'a mut Diagnostics,
    pub(crate) strict: bool,
    /// Parsed `if:` expressions by text. `extends`, anchors and
    /// `!reference` copy the same rules into many jobs, and parsing compiles
    /// their regexes, so each distinct text is parsed once per run.
    pub(crate) expressions: HashMap<String, Result<kiln_expr::Expression, kiln_expr::ParseError>>,
}

impl<'a> Cx<'a> {
    pub(crate) fn new(diags: &'a mut Diagnostics, strict: bool) -> Cx<'a> {
        Cx { diags, strict, expressions: HashMap::new() }
    }

    /// `kiln_expr::Expression::parse`, once per distinct text.
    pub(crate) fn expression(&mut self, text: &str) -> Result<kiln_expr::Expression, kiln_expr::ParseError> {
        if let Some(parsed) = self.expressions.get(text) {
            return parsed.clone();
        }
        let parsed = kiln_expr::Expression::parse(text);
        self.expressions.insert(text.to_string(), parsed.clone());
        parsed
    }
}

impl Cx<'_> {
    /// An error from a config entry: `<location> <message>`, lowercased as
    /// GitLab's entry validator does.
    pub(crate) fn err(&mut self, span: Span, loc: &str, msg: &str) {
        let text = format!("{loc} {msg}").to_lowercase();
        self.diags.error(span, text);
    }

    /// A message used verbatim (cross-job checks are not lowercased).
    pub(crate) fn raw(&mut self, span: Option<Span>, msg: String) {
        self.diags.error(span, msg);
    }

    /// An error only the schema (strict mode) reports.
    pub(crate) fn strict_err(&mut self, span: Span, loc: &str, msg: &str) {
        if self.strict {
            self.err(span, loc, msg);
        }
    }

    /// Reports keys of `map` not in `allowed`, on the first unknown key.
    pub(crate) fn check_keys(&mut self, map: &Map, allowed: &[&str], loc: &str) {
        let unknown: Vec<&Key> =
            map.iter().map(|(k, _)| k).filter(|k| !allowed.contains(&k.name.as_str())).collect();
        if let Some(first) = unknown.first() {
            let names: Vec<&str> = unknown.iter().map(|k| k.name.as_str()).collect();
            self.err(first.span, loc, &format!("config contains unknown keys: {}", names.join(", ")));
        }
    }

    /// A mapping, or "config should be a hash".
    pub(crate) fn map<'n>(&mut self, node: &'n Node, loc: &str) -> Option<&'n Map> {
        match &node.value {
            Value::Map(m) => Some(m),
            _ => {
                self.err(node.span, loc, "config should be a hash");
                None
            }
        }
    }

    /// A string, or `<loc> <what> should be a string`.
    pub(crate) fn string(&mut self, node: &Node, loc: &str, what: &str) -> Option<Spanned<String>> {
        match &node.value {
            Value::Str(s) => Some(Spanned::new(s.clone(), node.span)),
            _ => {
                self.err(node.span, loc, &format!("{what} should be a string"));
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, node: &Node, loc: &str, what: &str) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.err(node.span, loc, &format!("{what} should be a boolean value"));
                None
            }
        }
    }

    /// An array of strings, or `<loc> <what> should be an array of strings`.
    pub(crate) fn strings(&mut self, node: &Node, loc: &str, what: &str) -> Option<Vec<Spanned<String>>> {
        match string_list(node) {
            Some(v) => Some(v),
            None => {
                self.err(node.span, loc, &format!("{what} should be an array of strings"));
                None
            }
        }
    }

    /// A string or an array of strings.
    pub(crate) fn string_or_strings(
        &mut self,
        node: &Node,
        loc: &str,
        what: &str,
    ) -> Option<Vec<Spanned<String>>> {
        if let Value::Str(s) = &node.value {
            return Some(vec![Spanned::new(s.clone(), node.span)]);
        }
        match string_list(node) {
            Some(v) => Some(v),
            None => {
                self.err(node.span, loc, &format!("{what} should be an array of strings or a string"));
                None
            }
        }
    }
}

/// The items of an array when every one is a string.
pub(crate) fn string_list(node: &Node) -> Option<Vec<Spanned<String>>> {
    let items = node.as_seq()?;
    items.iter().map(|n| n.as_str().map(|s| Spanned::new(s.to_string(), n.span))).collect()
}

/// `loc:key`.
pub(crate) fn sub(loc: &str, key: &str) -> String {
    format!("{loc}:{key}")
}

/// True for values GitLab's `AlphanumericValidator` accepts: strings and integers.
pub(crate) fn is_alphanumeric(node: &Node) -> bool {
    matches!(node.value, Value::Str(_) | Value::Int(_))
}

/// Strings, numbers and booleans, as Ruby's `to_s` prints them.
pub(crate) fn scalar_text(node: &Node) -> Option<String> {
    match node.value {
        Value::Null => None,
        _ => node.scalar_to_string(),
    }
}

/// The items of a sequence with nested sequences flattened, as GitLab's
/// `ComposableArray` (`[@config].flatten`) and `Needs` read them: a
/// `!reference` or an alias to a list inside a list is spliced in.
pub(crate) fn flattened(node: &Node) -> Vec<&Node> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        match &n.value {
            Value::Seq(items) => stack.extend(items.iter().rev()),
            _ => out.push(n),
        }
    }
    out
}
