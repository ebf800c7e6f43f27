//! `script`, `before_script`, `after_script` and `hooks:pre_get_sources_script`:
//! strings or arrays of strings nested up to 10 levels, flattened.

use crate::model::common::Spanned;

/// A flattened list of shell lines, each with its span.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    pub lines: Vec<Spanned<String>>,
}

/// `hooks:`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hooks {
    pub pre_get_sources_script: Option<Script>,
}

use crate::model::cx::Cx;
use crate::yaml::{Node, Value};

/// How deep `script:` arrays may nest.
const MAX_NESTING: usize = 10;

/// Reads a string or an array of strings nested up to 10 levels
/// (GitLab's `Entry::Commands` and `Entry::Script`).
pub(crate) fn parse_script(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Script> {
    let mut lines = Vec::new();
    let ok = match &node.value {
        Value::Str(s) => {
            lines.push(Spanned::new(s.clone(), node.span));
            true
        }
        Value::Seq(items) => flatten(items, 1, &mut lines),
        _ => false,
    };
    if !ok {
        cx.err(
            node.span,
            loc,
            &format!(
                "config should be a string or a nested array of strings up to {MAX_NESTING} levels deep"
            ),
        );
        return None;
    }
    Some(Script { lines })
}

fn flatten(items: &[Node], level: usize, out: &mut Vec<Spanned<String>>) -> bool {
    if level > MAX_NESTING {
        return false;
    }
    for item in items {
        match &item.value {
            Value::Str(s) => out.push(Spanned::new(s.clone(), item.span)),
            Value::Seq(inner) => {
                if !flatten(inner, level + 1, out) {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

/// `hooks:`.
pub(crate) fn parse_hooks(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Hooks> {
    let map = cx.map(node, loc)?;
    cx.check_keys(map, &["pre_get_sources_script"], loc);
    let mut hooks = Hooks::default();
    if let Some(n) = map.get("pre_get_sources_script") {
        hooks.pre_get_sources_script = parse_script(cx, n, &format!("{loc}:pre_get_sources_script"));
    }
    Some(hooks)
}
