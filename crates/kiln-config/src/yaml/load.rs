//! Builds [`Node`] trees from saphyr's event stream, the way Psych would.
//!
//! We work from events rather than a ready-made tree so that we control what
//! GitLab's loader controls: YAML 1.1 scalars, duplicate keys (the last one
//! wins), merge keys with Psych's order of precedence, `!reference` tags, and
//! limits on size and depth that also bound alias expansion ("billion
//! laughs"). The builder keeps an explicit stack, so deep nesting cannot
//! overflow the Rust stack.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YamlSpan, Tag};

use crate::diag::Diagnostic;
use crate::source::{FileId, Pos, Span};
use crate::yaml::node::{Key, Map, Node, Value};
use crate::yaml::scalar::{Resolved, resolve_plain};

/// Bounds on one YAML file, after GitLab's `max_yaml_size_bytes` and
/// `max_yaml_depth` application settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Estimated size of the parsed data (aliases count each time they are
    /// used), in bytes. GitLab's default is 2 MB.
    pub max_size: usize,
    /// Maximum nesting of arrays and hashes. GitLab's default is 100.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_size: 2 * 1024 * 1024, max_depth: 100 }
    }
}

/// The message GitLab gives when a file is over [`Limits::max_size`].
pub const TOO_BIG: &str = "the parsed YAML is too big";
/// The message we give when a file is over [`Limits::max_depth`].
pub const TOO_DEEP: &str = "the parsed YAML is too deep";

/// Parses every YAML document in `text`.
///
/// Returns the first error: a YAML syntax error cannot be recovered from, and
/// the limits exist to stop work early.
pub fn load_documents(file: FileId, text: &str, limits: &Limits) -> Result<Vec<Node>, Diagnostic> {
    let mut builder =
        Builder { file, limits, size: 0, stack: Vec::new(), anchors: HashMap::new(), docs: Vec::new() };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            let m = e.marker();
            let pos = Pos { line: to_u32(m.line()), column: to_u32(m.col() + 1) };
            // saphyr bounds flow nesting itself; that is our depth limit too.
            if e.info().contains("recursion limit") {
                return Diagnostic::error(Span::point(file, pos), TOO_DEEP);
            }
            Diagnostic::error(Span::point(file, pos), format!("yaml syntax error: {}", e.info()))
        })?;
        builder.on_event(event, span)?;
    }
    Ok(builder.docs)
}

/// Estimated Ruby object sizes, after `ObjectSpace.memsize_of`: small
/// objects take one 40-byte slot, long strings and big collections more.
fn estimated_size(value: &Value) -> usize {
    const SLOT: usize = 40;
    match value {
        Value::Null | Value::Bool(_) | Value::Int(_) => 0,
        Value::Float(_) => SLOT,
        Value::Str(s) => SLOT + if s.len() > 23 { s.len() + 1 } else { 0 },
        Value::Seq(items) | Value::Reference(items) => {
            SLOT + if items.len() > 3 { items.len() * 8 } else { 0 }
        }
        Value::Map(map) => SLOT + map.len() * 24,
    }
}

enum Frame {
    Seq { items: Vec<Node>, start: Span, anchor: usize, reference: bool },
    Map { map: Map, key: Option<Node>, start: Span, anchor: usize },
}

struct Builder<'a> {
    file: FileId,
    limits: &'a Limits,
    size: usize,
    stack: Vec<Frame>,
    /// Completed anchored nodes, by saphyr's anchor id.
    anchors: HashMap<usize, Node>,
    docs: Vec<Node>,
}

impl Builder<'_> {
    fn span(&self, span: YamlSpan) -> Span {
        Span {
            file: self.file,
            start: Pos { line: to_u32(span.start.line()), column: to_u32(span.start.col() + 1) },
            end: Pos { line: to_u32(span.end.line()), column: to_u32(span.end.col() + 1) },
        }
    }

    fn on_event(&mut self, event: Event<'_>, yspan: YamlSpan) -> Result<(), Diagnostic> {
        let span = self.span(yspan);
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
            Event::DocumentStart(_) => {}
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar_value(&text, style, tag.as_deref(), span)?;
                let node = Node::new(value, span);
                self.complete(node, anchor)?;
            }
            Event::SequenceStart(anchor, tag) => {
                self.enter(span)?;
                let reference = tag.as_deref().is_some_and(is_reference_tag);
                self.stack.push(Frame::Seq { items: Vec::new(), start: span, anchor, reference });
            }
            Event::MappingStart(anchor, _tag) => {
                self.enter(span)?;
                self.stack.push(Frame::Map { map: Map::new(), key: None, start: span, anchor });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { items, start, anchor, reference }) = self.stack.pop() {
                    let value = if reference { Value::Reference(items) } else { Value::Seq(items) };
                    let node = Node::new(value, Span { end: span.end, ..start });
                    self.complete(node, anchor)?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map { map, key, start, anchor }) = self.stack.pop() {
                    if let Some(key) = key {
                        // Unreachable with a well-formed event stream; keep the key.
                        return Err(Diagnostic::error(
                            key.span,
                            "yaml syntax error: mapping key without a value",
                        ));
                    }
                    let node = Node::new(Value::Map(map), Span { end: span.end, ..start });
                    self.complete(node, anchor)?;
                }
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(Diagnostic::error(span, "yaml syntax error: unknown alias"));
                };
                // The copy keeps the spans of the anchored text, which is
                // where a mistake in it would have to be fixed. Its nodes
                // count against the limits again, as in GitLab's size check.
                let copy = target.clone();
                self.account_tree(&copy, span)?;
                self.attach(copy, 0)?;
            }
        }
        Ok(())
    }

    fn enter(&mut self, span: Span) -> Result<(), Diagnostic> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(Diagnostic::error(span, TOO_DEEP));
        }
        Ok(())
    }

    fn account(&mut self, value: &Value, span: Span) -> Result<(), Diagnostic> {
        self.size = self.size.saturating_add(estimated_size(value));
        if self.size > self.limits.max_size {
            return Err(Diagnostic::error(span, TOO_BIG));
        }
        Ok(())
    }

    fn account_tree(&mut self, node: &Node, span: Span) -> Result<(), Diagnostic> {
        // Iterative, so a deep alias target cannot overflow the stack.
        let mut todo = vec![(node, self.stack.len())];
        while let Some((node, depth)) = todo.pop() {
            if depth > self.limits.max_depth {
                return Err(Diagnostic::error(span, TOO_DEEP));
            }
            self.account(&node.value, span)?;
            match &node.value {
                Value::Seq(items) | Value::Reference(items) => {
                    todo.extend(items.iter().map(|n| (n, depth + 1)));
                }
                Value::Map(map) => todo.extend(map.iter().map(|(_, n)| (n, depth + 1))),
                _ => {}
            }
        }
        Ok(())
    }

    /// Counts a finished node (its items were counted as they finished) and
    /// hands it to its parent.
    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        self.account(&node.value, node.span)?;
        self.attach(node, anchor)
    }

    /// Hands a node to its parent, or makes it a document.
    fn attach(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { key: slot @ None, .. }) => *slot = Some(node),
            Some(Frame::Map { map, key: slot @ Some(_), .. }) => {
                let key = slot.take().unwrap_or_else(|| Node::null(node.span));
                insert_entry(map, key, node)?;
            }
        }
        Ok(())
    }
}

/// Inserts one `key: value` pair, applying Psych's merge-key rules.
///
/// Psych merges `<<` in document order: a merged hash overrides keys written
/// before the `<<` and is overridden by keys written after it; in a list of
/// hashes (`<<: [*a, *b]`) the earlier hash wins. Anything else under `<<` is
/// kept as an ordinary key, as Psych does.
fn insert_entry(map: &mut Map, key: Node, value: Node) -> Result<(), Diagnostic> {
    let is_merge = matches!(&key.value, Value::Str(s) if s == "<<");
    if is_merge {
        match value.value {
            Value::Map(merged) => {
                for (k, v) in merged {
                    map.insert(k, v);
                }
                return Ok(());
            }
            Value::Seq(ref items) if items.iter().all(|i| i.as_map().is_some()) => {
                let mut combined = Map::new();
                for item in items.iter().rev() {
                    if let Some(m) = item.as_map() {
                        for (k, v) in m.iter() {
                            combined.insert(k.clone(), v.clone());
                        }
                    }
                }
                for (k, v) in combined {
                    map.insert(k, v);
                }
                return Ok(());
            }
            _ => {}
        }
    }
    let name = match key.scalar_to_string() {
        Some(name) => name,
        None => {
            return Err(Diagnostic::error(
                key.span,
                format!("mapping keys must be strings, numbers or booleans, found {}", key.type_name()),
            ));
        }
    };
    map.insert(Key { name, span: key.span }, value);
    Ok(())
}

fn is_reference_tag(tag: &Tag) -> bool {
    tag.handle == "!" && tag.suffix == "reference"
}

/// Resolves one scalar event to a value, honouring quotes and core tags.
fn scalar_value(text: &str, style: ScalarStyle, tag: Option<&Tag>, span: Span) -> Result<Value, Diagnostic> {
    if let Some(tag) = tag
        && tag.is_yaml_core_schema()
    {
        return Ok(match tag.suffix.as_str() {
            "str" => Value::Str(text.into()),
            "null" => Value::Null,
            "bool" | "int" | "float" => match resolve_plain(text) {
                Resolved::Value(v) => v,
                Resolved::Disallowed(_) => Value::Str(text.into()),
            },
            // `!!binary`, `!!timestamp`, `!!set`, ...: classes safe_load refuses.
            other => {
                return Err(Diagnostic::error(span, format!("tried to load unspecified class: !!{other}")));
            }
        });
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::Str(text.into()));
    }
    match resolve_plain(text) {
        Resolved::Value(v) => Ok(v),
        Resolved::Disallowed(class) => Err(Diagnostic::error(
            span,
            format!("tried to load unspecified class: {class} (quote the value to keep it a string)"),
        )),
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
