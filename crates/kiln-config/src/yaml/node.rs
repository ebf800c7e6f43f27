//! The YAML tree the processor works on: values as Ruby's Psych sees them,
//! each with the span it came from.
//!
//! Nodes keep their original span through includes, `extends`, `!reference`
//! and `default:` merging, so an error in a merged job still points at the
//! line that introduced the bad value.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

use indexmap::IndexMap;

use crate::source::Span;

/// A YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

/// A resolved YAML value (YAML 1.1 rules, as GitLab's Ruby parser reads them).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Map),
    /// `!reference [job, key, ...]`, not yet resolved.
    Reference(Vec<Node>),
}

impl Node {
    pub fn new(value: Value, span: Span) -> Node {
        Node { value, span }
    }

    pub fn null(span: Span) -> Node {
        Node::new(Value::Null, span)
    }

    pub fn str(s: impl Into<String>, span: Span) -> Node {
        Node::new(Value::Str(s.into()), span)
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self.value {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match &mut self.value {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    /// Looks up `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.get(key)
    }

    /// True for strings, numbers, booleans and null.
    pub fn is_scalar(&self) -> bool {
        !matches!(self.value, Value::Seq(_) | Value::Map(_) | Value::Reference(_))
    }

    /// The scalar as Ruby's `to_s` would print it (`nil` is empty), or `None`
    /// for collections. GitLab turns numbers and booleans into strings this
    /// way, for example in `variables:`.
    pub fn scalar_to_string(&self) -> Option<String> {
        match &self.value {
            Value::Null => Some(String::new()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(ruby_float_to_s(*f)),
            Value::Str(s) => Some(s.clone()),
            Value::Seq(_) | Value::Map(_) | Value::Reference(_) => None,
        }
    }

    /// How GitLab names this node's type in messages ("a string", "an array", ...).
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Seq(_) => "an array",
            Value::Map(_) => "a hash",
            Value::Reference(_) => "a !reference",
        }
    }
}

/// A mapping key: its text and where it was written.
///
/// Equality and hashing look only at the text, so a [`Map`] can be indexed
/// with a `&str`.
#[derive(Debug, Clone)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        &self.name
    }
}

/// An insertion-ordered mapping. Re-inserting a key keeps its first position
/// and takes the new value, as a Ruby `Hash` does (so duplicate keys in YAML
/// behave as GitLab runs them: the last one wins).
///
/// Hashed with foldhash: fast on the many small maps of a pipeline, and
/// randomly seeded, so keys chosen to collide cannot slow it down.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Map {
    entries: IndexMap<Key, Node, foldhash::fast::RandomState>,
}

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries.get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.entries.get_mut(key)
    }

    /// The key as written (with its span) and its value.
    pub fn get_entry(&self, key: &str) -> Option<(&Key, &Node)> {
        self.entries.get_key_value(key)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Inserts or replaces; a replaced key keeps its position and its first span.
    pub fn insert(&mut self, key: Key, value: Node) {
        match self.entries.get_mut(key.name.as_str()) {
            Some(slot) => *slot = value,
            None => {
                self.entries.insert(key, value);
            }
        }
    }

    /// The entry at `index` in insertion order.
    pub fn get_index(&self, index: usize) -> Option<(&Key, &Node)> {
        self.entries.get_index(index)
    }

    /// The value at `index` in insertion order, for changing it in place.
    pub fn get_index_mut(&mut self, index: usize) -> Option<&mut Node> {
        self.entries.get_index_mut(index).map(|(_, v)| v)
    }

    /// The position of `key` and its value.
    pub fn get_full(&self, key: &str) -> Option<(usize, &Node)> {
        self.entries.get_full(key).map(|(i, _, v)| (i, v))
    }

    /// Removes a key, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        self.entries.shift_remove(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Node)> {
        self.entries.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Key, &mut Node)> {
        self.entries.iter_mut()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(|k| k.name.as_str())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl IntoIterator for Map {
    type Item = (Key, Node);
    type IntoIter = indexmap::map::IntoIter<Key, Node>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl FromIterator<(Key, Node)> for Map {
    fn from_iter<I: IntoIterator<Item = (Key, Node)>>(iter: I) -> Self {
        let mut map = Map::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

/// Ruby's `Float#to_s`: `1.0`, `0.5`, `1.0e+20`, `1.0e-05`, `Infinity`, `NaN`.
pub fn ruby_float_to_s(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        // Scientific notation with at least one fractional digit and a
        // two-digit, signed exponent.
        let formatted = format!("{f:e}");
        let (mantissa, exponent) = formatted.split_once('e').unwrap_or((&formatted, "0"));
        let mantissa = if mantissa.contains('.') { mantissa.to_string() } else { format!("{mantissa}.0") };
        let (sign, digits) = match exponent.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exponent),
        };
        return format!("{mantissa}e{sign}{digits:0>2}");
    }
    let s = format!("{f}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

#[cfg(test)]
mod tests {
    use super::ruby_float_to_s;

    #[test]
    fn floats_print_as_ruby_prints_them() {
        for (f, s) in [
            (1.0, "1.0"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (0.0, "0.0"),
            (1e20, "1.0e+20"),
            (1.5e-5, "1.5e-05"),
            (123456.0, "123456.0"),
            (f64::INFINITY, "Infinity"),
        ] {
            assert_eq!(ruby_float_to_s(f), s);
        }
    }
}
