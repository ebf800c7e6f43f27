//! Small helpers shared by the compose phase: Ruby-style truthiness and
//! printing, and the JSON that GitLab puts into some include errors.

use std::fmt::Write;

use crate::yaml::{Key, Map, Node, Value, ruby_float_to_s};

/// Rails' `present?`: not null, not blank text, not an empty collection.
pub(crate) fn is_present(node: Option<&Node>) -> bool {
    match node.map(|n| &n.value) {
        None | Some(Value::Null) => false,
        Some(Value::Str(s)) => !s.trim().is_empty(),
        Some(Value::Seq(items)) => !items.is_empty(),
        Some(Value::Map(map)) => !map.is_empty(),
        Some(Value::Bool(b)) => *b,
        Some(_) => true,
    }
}

/// `keys.join(', ')` of the keys of `map` that are not in `allowed`, with
/// the first such key (for the diagnostic's position).
pub(crate) fn unknown_keys<'a>(map: &'a Map, allowed: &[&str]) -> Option<(String, &'a Key)> {
    let unknown: Vec<&Key> =
        map.iter().map(|(k, _)| k).filter(|k| !allowed.contains(&k.name.as_str())).collect();
    let first = *unknown.first()?;
    let names: Vec<&str> = unknown.iter().map(|k| k.name.as_str()).collect();
    Some((names.join(", "), first))
}

/// The value as Ruby's `to_s` prints it, used when an input is interpolated
/// into a longer string (arrays and hashes print as `inspect`).
pub(crate) fn ruby_to_s(node: &Node) -> String {
    match &node.value {
        Value::Str(s) => s.clone(),
        Value::Null => String::new(),
        _ => ruby_inspect(node),
    }
}

/// Ruby's `inspect` (Ruby 3.3 style, which GitLab runs): `"text"`, `1`,
/// `nil`, `["a", 1]`, `{:key=>"value"}` (keys were symbolized by GitLab).
pub(crate) fn ruby_inspect(node: &Node) -> String {
    let mut out = String::new();
    write_inspect(&mut out, node);
    out
}

fn write_inspect(out: &mut String, node: &Node) {
    match &node.value {
        Value::Null => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&ruby_float_to_s(*f)),
        Value::Str(s) => write_ruby_string(out, s),
        Value::Seq(items) | Value::Reference(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_inspect(out, item);
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push(':');
                if k.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !k.name.is_empty() {
                    out.push_str(&k.name);
                } else {
                    write_ruby_string(out, &k.name);
                }
                out.push_str("=>");
                write_inspect(out, v);
            }
            out.push('}');
        }
    }
}

/// A Ruby double-quoted string literal as `String#inspect` writes it.
pub(crate) fn write_ruby_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The node as Rails' `to_json` writes it (HTML-sensitive characters escaped).
pub(crate) fn to_json(node: &Node) -> String {
    let mut out = String::new();
    write_json(&mut out, node);
    out
}

fn write_json(out: &mut String, node: &Node) {
    match &node.value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) if f.is_finite() => out.push_str(&ruby_float_to_s(*f)),
        Value::Float(_) => out.push_str("null"),
        Value::Str(s) => write_json_string(out, s),
        Value::Seq(items) | Value::Reference(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, &k.name);
                out.push(':');
                write_json(out, v);
            }
            out.push('}');
        }
    }
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Span;

    fn s(v: &str) -> Node {
        Node::str(v, Span::default())
    }

    #[test]
    fn inspect_and_json_look_like_ruby() {
        let seq =
            Node::new(Value::Seq(vec![s("a"), Node::new(Value::Int(1), Span::default())]), Span::default());
        assert_eq!(ruby_inspect(&seq), r#"["a", 1]"#);
        assert_eq!(to_json(&seq), r#"["a",1]"#);
        assert_eq!(to_json(&s("<x>")), r#""\u003cx\u003e""#);
        assert_eq!(ruby_to_s(&s("plain")), "plain");
    }
}
