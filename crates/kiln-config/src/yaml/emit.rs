//! Prints a [`Node`] tree back as YAML, for `kiln lint --expand`.
//!
//! The output is meant for people and for re-reading by any YAML 1.1 or 1.2
//! parser: strings are quoted whenever a plain scalar would read back as
//! something else (`"yes"`, `"0755"`, `"1:30"`), and multi-line strings use
//! literal blocks so scripts stay readable.

use std::fmt::Write;

use crate::yaml::node::{Node, Value, ruby_float_to_s};
use crate::yaml::scalar::{Resolved, resolve_plain};

/// Renders a document, ending with a newline.
pub fn to_yaml(node: &Node) -> String {
    let mut out = String::new();
    match &node.value {
        Value::Map(map) if !map.is_empty() => write_map_body(&mut out, node, 0),
        Value::Seq(items) if !items.is_empty() => write_seq_body(&mut out, node, 0),
        _ => {
            out.push_str(&inline_scalar(node, 0));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_map_body(out: &mut String, node: &Node, level: usize) {
    let Some(map) = node.as_map() else { return };
    for (key, value) in map.iter() {
        indent(out, level);
        out.push_str(&quote_if_needed(&key.name));
        out.push(':');
        write_value_after_key(out, value, level);
    }
}

fn write_seq_body(out: &mut String, node: &Node, level: usize) {
    let items = match &node.value {
        Value::Seq(items) | Value::Reference(items) => items,
        _ => return,
    };
    for item in items {
        indent(out, level);
        out.push('-');
        match &item.value {
            Value::Map(map) if !map.is_empty() => {
                // The first key goes on the dash line, the rest align under it.
                let mut first = true;
                for (key, value) in map.iter() {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        indent(out, level + 2);
                    }
                    out.push_str(&quote_if_needed(&key.name));
                    out.push(':');
                    write_value_after_key(out, value, level + 2);
                }
            }
            Value::Seq(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq_body(out, item, level + 2);
            }
            _ => {
                out.push(' ');
                out.push_str(&inline_scalar(item, level + 2));
                out.push('\n');
            }
        }
    }
}

fn write_value_after_key(out: &mut String, value: &Node, level: usize) {
    match &value.value {
        Value::Map(map) if !map.is_empty() => {
            out.push('\n');
            write_map_body(out, value, level + 2);
        }
        Value::Seq(items) if !items.is_empty() => {
            out.push('\n');
            write_seq_body(out, value, level);
        }
        Value::Reference(items) if !items.is_empty() => {
            out.push_str(" !reference ");
            out.push_str(&flow_seq(items));
            out.push('\n');
        }
        Value::Null => out.push('\n'),
        _ => {
            out.push(' ');
            out.push_str(&inline_scalar(value, level + 2));
            out.push('\n');
        }
    }
}

fn flow_seq(items: &[Node]) -> String {
    let parts: Vec<String> = items.iter().map(|i| inline_scalar(i, 0)).collect();
    format!("[{}]", parts.join(", "))
}

/// A scalar (or an empty collection) on one line, or a literal block for
/// multi-line strings.
fn inline_scalar(node: &Node, level: usize) -> String {
    match &node.value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if f.is_nan() => ".nan".into(),
        Value::Float(f) if f.is_infinite() => if *f > 0.0 { ".inf" } else { "-.inf" }.into(),
        Value::Float(f) => ruby_float_to_s(*f),
        Value::Str(s) if is_block_friendly(s) => literal_block(s, level),
        Value::Str(s) => quote_if_needed(s),
        Value::Seq(items) if items.is_empty() => "[]".into(),
        Value::Map(_) => "{}".into(),
        Value::Seq(items) => flow_seq(items),
        Value::Reference(items) => format!("!reference {}", flow_seq(items)),
    }
}

fn is_block_friendly(s: &str) -> bool {
    s.contains('\n')
        && !s.chars().any(|c| c.is_control() && c != '\n')
        && !s.starts_with([' ', '\t'])
        && !s.lines().any(|l| l.ends_with([' ', '\t']))
}

fn literal_block(s: &str, level: usize) -> String {
    let chomp = if s.ends_with("\n\n") {
        "+"
    } else if s.ends_with('\n') {
        ""
    } else {
        "-"
    };
    let mut out = format!("|{chomp}");
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            indent(&mut out, level);
            out.push_str(line);
        }
    }
    out
}

/// The string as a plain scalar when that reads back as the same string,
/// double-quoted otherwise.
pub(crate) fn quote_if_needed(s: &str) -> String {
    if is_plain_safe(s) { s.to_string() } else { double_quoted(s) }
}

fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) || first.is_whitespace() {
        return false;
    }
    if s.ends_with([' ', '\t', ':']) || s.contains(": ") || s.contains(" #") {
        return false;
    }
    if s.chars().any(|c| c.is_control()) {
        return false;
    }
    // YAML 1.2 parsers read `08` or `+1` as numbers even where Psych keeps a
    // string; quoting anything number-like reads back the same everywhere.
    let unsigned = s.strip_prefix(['-', '+', '.']).unwrap_or(s);
    if unsigned.starts_with(|c: char| c.is_ascii_digit()) || first == '.' {
        return false;
    }
    matches!(resolve_plain(s), Resolved::Value(Value::Str(ref r)) if r == s)
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
