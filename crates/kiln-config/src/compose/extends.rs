//! `extends` (`Config::Extendable`): every top-level hash with `extends`
//! becomes the deep merge of its bases, in the order listed, and then of
//! itself. Bases are extended first, up to 10 levels of ancestors.

use std::collections::HashMap;

use crate::diag::Diagnostics;
use crate::yaml::{Map, Node, Value};

use super::merge::merge_maps;
use super::util::ruby_to_s;

/// GitLab's `MAX_NESTING_LEVELS`: more ancestors than this is an error.
const MAX_NESTING_LEVELS: usize = 10;

/// What is known about an entry after extending it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Extended; the number is how many levels of extensible bases lie
    /// below it, so a later, deeper path can still be checked against
    /// the nesting limit without walking it again.
    Done(usize),
    Failed,
}

/// Applies `extends` to every entry of the top-level mapping `root`.
pub(crate) fn apply_extends(root: &mut Map, diags: &mut Diagnostics) {
    let names: Vec<String> = root.keys().map(str::to_string).collect();
    let mut states = HashMap::new();
    let mut ancestors = Vec::new();
    for name in &names {
        let _ = extend(root, name, &mut ancestors, &mut states, diags);
    }
    for (key, value) in root.iter_mut() {
        // `extends` stays on global keywords: the model reports it there as an
        // unknown key, as GitLab does.
        if !crate::model::is_root_keyword(&key.name)
            && let Some(map) = value.as_map_mut()
        {
            map.remove("extends");
        }
    }
}

/// The bases an entry names, when it is a hash with `extends`.
fn bases_of(root: &Map, key: &str) -> Option<(Vec<String>, crate::source::Span)> {
    let extends = root.get(key)?.as_map()?.get("extends")?;
    Some((extends_keys(extends), extends.span))
}

/// Extends the entry `key` in place and returns the levels of extensible
/// bases below it (`None` for an entry without `extends`), or `Err` when it
/// (or one of its bases) cannot be extended. Each problem is reported once,
/// at the `extends` that has it. Nothing is copied except the bases a job
/// merges, so entries without `extends` cost nothing.
fn extend(
    root: &mut Map,
    key: &str,
    ancestors: &mut Vec<String>,
    states: &mut HashMap<String, State>,
    diags: &mut Diagnostics,
) -> Result<Option<usize>, ()> {
    if !root.contains_key(key) {
        return Err(());
    }
    let Some((bases, span)) = bases_of(root, key) else { return Ok(None) };
    match states.get(key) {
        // GitLab walks the bases again on every path; the depth below an
        // entry is all that walk could still find wrong.
        Some(State::Done(height)) if ancestors.len() + height > MAX_NESTING_LEVELS => {
            let culprit = deepest(root, states, key, ancestors.len());
            if let Some((_, span)) = bases_of(root, &culprit) {
                diags.error(span, format!("{culprit}: nesting too deep in `extends`"));
            }
            return Err(());
        }
        Some(State::Done(height)) => return Ok(Some(*height)),
        Some(State::Failed) => return Err(()),
        None => {}
    }
    let fail = |message: String, states: &mut HashMap<String, State>, diags: &mut Diagnostics| {
        diags.error(span, format!("{key}: {message}"));
        states.insert(key.to_string(), State::Failed);
        Err(())
    };
    let unknown: Vec<&str> = bases.iter().map(String::as_str).filter(|b| !root.contains_key(b)).collect();
    if !unknown.is_empty() {
        return fail(format!("unknown keys in `extends` ({})", unknown.join(", ")), states, diags);
    }
    let invalid: Vec<&str> = bases
        .iter()
        .map(String::as_str)
        .filter(|b| root.get(b).is_none_or(|v| v.as_map().is_none()))
        .collect();
    if !invalid.is_empty() {
        return fail(format!("invalid base hashes in `extends` ({})", invalid.join(", ")), states, diags);
    }
    if ancestors.len() > MAX_NESTING_LEVELS {
        return fail("nesting too deep in `extends`".into(), states, diags);
    }
    if ancestors.iter().any(|a| a == key) {
        return fail("circular dependency detected in `extends`".into(), states, diags);
    }
    ancestors.push(key.to_string());
    let mut merged = Map::new();
    let mut failed = false;
    let mut height = 0;
    for base in &bases {
        match extend(root, base, ancestors, states, diags) {
            Ok(base_height) => {
                if let Some(h) = base_height {
                    height = height.max(h + 1);
                }
                if let Some(map) = root.get(base).and_then(Node::as_map) {
                    merged = merge_maps(merged, map.clone());
                }
            }
            Err(()) => failed = true,
        }
    }
    ancestors.pop();
    if failed {
        // A base already reported why; this entry stays as written.
        states.insert(key.to_string(), State::Failed);
        return Err(());
    }
    let Some(slot) = root.get_mut(key) else { return Err(()) };
    let Value::Map(own_map) = std::mem::replace(&mut slot.value, Value::Null) else { return Err(()) };
    slot.value = Value::Map(merge_maps(merged, own_map));
    states.insert(key.to_string(), State::Done(height));
    Ok(Some(height))
}

/// The entry where GitLab's walk from `key` (at `depth` ancestors) first
/// goes past the nesting limit.
fn deepest(root: &Map, states: &HashMap<String, State>, key: &str, depth: usize) -> String {
    let mut current = key.to_string();
    let mut depth = depth;
    while depth <= MAX_NESTING_LEVELS {
        let Some((bases, _)) = bases_of(root, &current) else { break };
        let next = bases.into_iter().find(|b| match states.get(b) {
            Some(State::Done(h)) => bases_of(root, b).is_some() && depth + 1 + h > MAX_NESTING_LEVELS,
            _ => false,
        });
        match next {
            Some(base) => {
                current = base;
                depth += 1;
            }
            None => break,
        }
    }
    current
}

/// `Array(value.fetch(:extends)).map(&:to_s)`.
fn extends_keys(extends: &Node) -> Vec<String> {
    match &extends.value {
        Value::Seq(items) => items.iter().map(ruby_to_s).collect(),
        Value::Null => Vec::new(),
        Value::Map(map) => map.iter().map(|(k, v)| format!("[{:?}, {}]", k.name, ruby_to_s(v))).collect(),
        _ => vec![ruby_to_s(extends)],
    }
}
