//! ActiveSupport's `Hash#deep_merge`, the one merge GitLab uses for
//! includes (`@content.deep_merge!(file)`) and `extends`.
//!
//! Hashes merge key by key, recursively; anything else (arrays, scalars,
//! `!reference` tags) is replaced by the right-hand side. Keys keep the
//! position they had on the left and new keys follow, as a Ruby `Hash`
//! does. Every node keeps the span of the file it came from; a key written
//! on both sides takes the right side's span, because that is the text
//! that decided its value.

use std::collections::HashMap;

use crate::yaml::{Key, Map, Node, Value};

/// `base.deep_merge(overlay)`.
pub(crate) fn deep_merge(base: Node, overlay: Node) -> Node {
    match (base.value, overlay.value) {
        (Value::Map(left), Value::Map(right)) => Node::new(Value::Map(merge_maps(left, right)), overlay.span),
        (_, value) => Node::new(value, overlay.span),
    }
}

/// Merges two mappings as [`deep_merge`] does.
pub(crate) fn merge_maps(left: Map, right: Map) -> Map {
    let mut right: Vec<Option<(Key, Node)>> = right.into_iter().map(Some).collect();
    let index: HashMap<String, usize> =
        right.iter().enumerate().filter_map(|(i, e)| e.as_ref().map(|(k, _)| (k.name.clone(), i))).collect();
    let mut out = Map::new();
    for (key, value) in left {
        match index.get(&key.name).and_then(|&i| right.get_mut(i)).and_then(Option::take) {
            Some((right_key, overlay)) => out.insert(right_key, deep_merge(value, overlay)),
            None => out.insert(key, value),
        }
    }
    for (key, value) in right.into_iter().flatten() {
        out.insert(key, value);
    }
    out
}
