//! `$[[ inputs.NAME | function ... ]]` interpolation of a file's content
//! (GitLab's `Interpolation::Template`, `Block`, `Access` and functions).
//!
//! A string that is exactly one block takes the input's value with its
//! type (a list input in a list is spliced into it); otherwise each block
//! is replaced by the value's text. Keys are interpolated too. Work stops
//! at the first error, as in GitLab.

use std::collections::{BTreeMap, HashMap};

use regex::Regex;

use crate::source::Span;
use crate::yaml::{Key, Map, Node, Value};

use super::inputs::InputError;
use super::util::ruby_to_s;

const MAX_BLOCKS: usize = 10_000;
const MAX_NODES: usize = 500_000;
const MAX_NODE_SIZE: usize = 1024 * 1024;
const MAX_FUNCTIONS: usize = 3;
const MAX_ACCESS_OBJECTS: usize = 5;
const MAX_ACCESS_BYTESIZE: usize = 1024;
const BLOCK_PREFIX: &str = "$[[";

/// What interpolation can read: the inputs, and the variables that
/// `expand_vars` expands.
pub(crate) struct Context<'a> {
    pub(crate) inputs: &'a BTreeMap<String, Node>,
    pub(crate) variables: &'a BTreeMap<String, String>,
    /// `component.name`, `.sha`, `.version`, `.reference`, for a
    /// component whose header lists them in `spec:component`.
    pub(crate) component: Option<&'a Map>,
}

/// Interpolates `content`, or returns the errors that stopped it.
pub(crate) fn interpolate(content: &Node, cx: &Context<'_>) -> Result<Node, Vec<InputError>> {
    let block_re = Regex::new(r"\$\[\[\s*(\S.*?\S)\s*\]\]").map_err(|e| {
        vec![InputError { message: format!("interpolation is unavailable: {e}"), span: content.span }]
    })?;
    let mut walker = Walker { cx, block_re, blocks: HashMap::new(), visited: 0 };
    walker.node(content)
}

struct Walker<'a, 'c> {
    cx: &'a Context<'c>,
    block_re: Regex,
    /// Evaluated blocks by their text, as GitLab memoizes them.
    blocks: HashMap<String, Node>,
    visited: usize,
}

type Outcome<T> = Result<T, Vec<InputError>>;

impl Walker<'_, '_> {
    fn visit(&mut self, span: Span) -> Outcome<()> {
        self.visited += 1;
        if self.visited > MAX_NODES {
            return Err(vec![InputError { message: "config too large".into(), span }]);
        }
        Ok(())
    }

    fn node(&mut self, node: &Node) -> Outcome<Node> {
        self.visit(node.span)?;
        match &node.value {
            Value::Map(map) => {
                let mut out = Map::new();
                for (key, value) in map.iter() {
                    let new_key = self.key(key)?;
                    let new_value = self.node(value)?;
                    out.insert(new_key, new_value);
                }
                Ok(Node::new(Value::Map(out), node.span))
            }
            // GitLab leaves `!reference` tags as they are.
            Value::Reference(_) => Ok(node.clone()),
            Value::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let new_item = self.node(item)?;
                    // An array input that replaces a whole string item is
                    // spliced into the surrounding array.
                    match (&item.value, new_item.value) {
                        (Value::Str(_), Value::Seq(spliced)) => out.extend(spliced),
                        (_, value) => out.push(Node::new(value, new_item.span)),
                    }
                }
                Ok(Node::new(Value::Seq(out), node.span))
            }
            Value::Str(text) => self.string(text, node.span),
            _ => Ok(node.clone()),
        }
    }

    fn key(&mut self, key: &Key) -> Outcome<Key> {
        self.visit(key.span)?;
        let value = self.string(&key.name, key.span)?;
        Ok(Key { name: ruby_to_s(&value), span: key.span })
    }

    fn string(&mut self, text: &str, span: Span) -> Outcome<Node> {
        if text.len() > MAX_NODE_SIZE {
            return Err(vec![InputError { message: "config node too large".into(), span }]);
        }
        if !text.contains(BLOCK_PREFIX) {
            return Ok(Node::str(text, span));
        }
        let matches: Vec<(String, String)> = self
            .block_re
            .captures_iter(text)
            .filter_map(|c| Some((c.get(0)?.as_str().to_string(), c.get(1)?.as_str().to_string())))
            .collect();
        if matches.is_empty() {
            return Ok(Node::str(text, span));
        }
        let mut values = Vec::with_capacity(matches.len());
        for (block, data) in &matches {
            if !self.blocks.contains_key(block) {
                let value = evaluate_block(data, self.cx).map_err(|errors| {
                    errors.into_iter().map(|message| InputError { message, span }).collect::<Vec<_>>()
                })?;
                self.blocks.insert(block.clone(), value);
                if self.blocks.len() > MAX_BLOCKS {
                    return Err(vec![InputError { message: "too many interpolation blocks".into(), span }]);
                }
            }
            let value = self.blocks.get(block).cloned().unwrap_or_else(|| Node::null(span));
            values.push((block.as_str(), value));
        }
        let whole = matches.len() == 1 && matches.first().is_some_and(|(b, _)| b.len() == text.len());
        if whole && let Some((_, value)) = values.pop() {
            return Ok(with_span(value, span));
        }
        let mut out = text.to_string();
        for (block, value) in values {
            out = gsub(&out, block, &ruby_to_s(&value));
        }
        Ok(Node::str(out, span))
    }
}

/// An interpolated value sits where the block was written; the items of a
/// list keep the spans of the text they came from.
fn with_span(value: Node, span: Span) -> Node {
    Node::new(value.value, span)
}

/// Evaluates the text inside `$[[ ... ]]`.
fn evaluate_block(data: &str, cx: &Context<'_>) -> Result<Node, Vec<String>> {
    let mut parts = ruby_split(data, '|').into_iter().map(|p| p.trim().to_string());
    let access = parts.next().unwrap_or_default();
    let functions: Vec<String> = parts.collect();
    let value = evaluate_access(&access, cx).map_err(|e| vec![e])?;
    if functions.len() > MAX_FUNCTIONS {
        return Err(vec!["too many functions in interpolation block".into()]);
    }
    let mut stack = Vec::with_capacity(functions.len());
    let mut errors = Vec::new();
    for expression in &functions {
        match Function::parse(expression) {
            Some(f) => stack.push(f),
            None => errors.push(format!(
                "no function matching `{expression}`: check that the function name, arguments, and types are correct"
            )),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    stack.into_iter().try_fold(value, |value, f| f.apply(value, cx).map_err(|e| vec![e]))
}

fn evaluate_access(access: &str, cx: &Context<'_>) -> Result<Node, String> {
    let objects = ruby_splitn(access, '.', MAX_ACCESS_OBJECTS);
    if objects.len() <= 1 {
        return Err("invalid interpolation access pattern".into());
    }
    if access.len() > MAX_ACCESS_BYTESIZE {
        return Err("maximum interpolation expression size exceeded".into());
    }
    let mut objects = objects.into_iter();
    let root = objects.next().unwrap_or_default();
    let name = objects.next().unwrap_or_default();
    let found = match root {
        "inputs" => cx.inputs.get(name).cloned(),
        "component" if cx.component.is_some() => cx.component.and_then(|c| c.get(name)).cloned(),
        _ => return Err(format!("unknown interpolation key: `{root}`")),
    };
    let mut value = found.ok_or_else(|| format!("unknown interpolation key: `{name}`"))?;
    for key in objects {
        value = value.get(key).cloned().ok_or_else(|| format!("unknown interpolation key: `{key}`"))?;
    }
    Ok(value)
}

/// The interpolation functions GitLab offers.
enum Function {
    Truncate { offset: usize, length: usize },
    ExpandVars,
    PosixEscape,
}

impl Function {
    fn parse(expression: &str) -> Option<Function> {
        match expression {
            "expand_vars" => return Some(Function::ExpandVars),
            "posix_escape" => return Some(Function::PosixEscape),
            _ => {}
        }
        // /^truncate\(\s*(?<offset>\d+)\s*,\s*(?<length>\d+)\s*\)?$/
        let args = expression.strip_prefix("truncate(")?;
        let args = args.strip_suffix(')').unwrap_or(args);
        let (offset, length) = args.split_once(',')?;
        let number = |s: &str| -> Option<usize> {
            let s = s.trim();
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().unwrap_or(usize::MAX))
        };
        Some(Function::Truncate { offset: number(offset)?, length: number(length)? })
    }

    fn name(&self) -> &'static str {
        match self {
            Function::Truncate { .. } => "truncate",
            Function::ExpandVars => "expand_vars",
            Function::PosixEscape => "posix_escape",
        }
    }

    fn apply(&self, value: Node, cx: &Context<'_>) -> Result<Node, String> {
        let Some(text) = value.as_str() else {
            return Err(format!(
                "error in `{0}` function: invalid input type: {0} can only be used with string inputs",
                self.name()
            ));
        };
        let out = match self {
            Function::Truncate { offset, length } => text.chars().skip(*offset).take(*length).collect(),
            Function::ExpandVars => kiln_expr::expand_existing(text, cx.variables),
            Function::PosixEscape => shell_escape(text),
        };
        Ok(Node::str(out, value.span))
    }
}

/// Ruby's `Shellwords.shellescape`.
pub(crate) fn shell_escape(text: &str) -> String {
    if text.is_empty() {
        return "''".into();
    }
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if c == '\n' {
            out.push_str("'\n'");
        } else if c.is_ascii_alphanumeric() || "_-.,:+/@".contains(c) {
            out.push(c);
        } else {
            out.push('\\');
            out.push(c);
        }
    }
    out
}

/// Ruby's `String#split(sep)`: trailing empty fields are dropped.
fn ruby_split(text: &str, sep: char) -> Vec<&str> {
    let mut parts: Vec<&str> = text.split(sep).collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

/// Ruby's `String#split(sep, limit)` with a positive limit.
fn ruby_splitn(text: &str, sep: char, limit: usize) -> Vec<&str> {
    if text.is_empty() {
        return Vec::new();
    }
    text.splitn(limit, sep).collect()
}

/// Ruby's `String#gsub(pattern, replacement)` with a string pattern: the
/// replacement's backslash sequences are expanded as Ruby does (`\0` and
/// `\&` are the match, `` \` `` and `\'` the text around it, `\\` a
/// backslash, group references are empty).
fn gsub(text: &str, pattern: &str, replacement: &str) -> String {
    if pattern.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut consumed = 0;
    while let Some(at) = rest.find(pattern) {
        out.push_str(&rest[..at]);
        let start = consumed + at;
        let end = start + pattern.len();
        expand_replacement(&mut out, replacement, pattern, &text[..start], &text[end..]);
        rest = &rest[at + pattern.len()..];
        consumed = end;
    }
    out.push_str(rest);
    out
}

fn expand_replacement(out: &mut String, replacement: &str, matched: &str, pre: &str, post: &str) {
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('0' | '&') => {
                chars.next();
                out.push_str(matched);
            }
            Some('1'..='9' | '+') => {
                chars.next();
            }
            Some('`') => {
                chars.next();
                out.push_str(pre);
            }
            Some('\'') => {
                chars.next();
                out.push_str(post);
            }
            Some('\\') => {
                chars.next();
                out.push('\\');
            }
            _ => out.push('\\'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsub_expands_backslash_sequences_like_ruby() {
        assert_eq!(gsub("a X b", "X", r"\."), r"a \. b");
        assert_eq!(gsub("a X b", "X", r"\+y"), "a y b");
        assert_eq!(gsub("a X b", "X", r"[\0]"), "a [X] b");
        assert_eq!(gsub("a X b", "X", r"\\"), r"a \ b");
    }

    #[test]
    fn shellescape_matches_ruby() {
        assert_eq!(shell_escape(""), "''");
        assert_eq!(shell_escape("it's a/b.c"), r"it\'s\ a/b.c");
        assert_eq!(shell_escape("a\nb"), "a'\n'b");
    }

    #[test]
    fn splits_follow_ruby() {
        assert_eq!(ruby_split("a | b |", '|'), vec!["a ", " b "]);
        assert_eq!(ruby_splitn("inputs.a.b", '.', 5), vec!["inputs", "a", "b"]);
        assert_eq!(ruby_splitn("inputs", '.', 5), vec!["inputs"]);
    }
}
