//! `!reference [a, b, ...]` (`Config::Yaml::Tags::Resolver`): each tag is
//! replaced by the value at that path of the merged configuration (after
//! `extends`), itself resolved first.
//!
//! As in GitLab, a reference inside a list is kept as a nested list; the
//! keywords that accept nested lists (`script`, `rules`, ...) flatten them
//! when they are read. Paths go through hashes only. A tag met again while
//! it is being resolved is a circular chain.

use std::collections::{HashMap, HashSet};

use crate::diag::Diagnostics;
use crate::yaml::{Map, Node, Value};

use super::util::ruby_inspect;

/// References nested in references, beyond which we stop (GitLab has no
/// limit but its stack; a chain this long is never intended).
const MAX_NESTING: usize = 64;

/// One step of the path to a node of the tree: the position of an entry in
/// a hash (in order) or of an item in a list. Positions, not key names, so
/// that walking the tree allocates nothing per node.
type Step = usize;

struct Resolver<'a> {
    original: &'a Node,
    /// Resolved tags by their place in the tree; `None` for a tag that
    /// failed (its problem was reported).
    memo: HashMap<Vec<Step>, Option<Node>>,
    in_progress: HashSet<Vec<Step>>,
    diags: &'a mut Diagnostics,
}

/// Resolves every `!reference` in `root`. A reference that cannot be
/// resolved is reported and becomes null.
///
/// Only the tags are replaced, in place: the rest of the tree is neither
/// copied nor rebuilt, which matters for pipelines of thousands of jobs.
pub(crate) fn resolve_references(mut root: Node, diags: &mut Diagnostics) -> Node {
    let mut tags = Vec::new();
    find_tags(&root, &mut Vec::new(), &mut tags);
    if tags.is_empty() {
        return root;
    }
    let mut found = Diagnostics::default();
    let replacements: Vec<(Vec<Step>, Option<Node>)> = {
        let mut resolver = Resolver {
            original: &root,
            memo: HashMap::new(),
            in_progress: HashSet::new(),
            diags: &mut found,
        };
        tags.into_iter()
            .map(|mut path| {
                let value = at(&root, &path).and_then(|tag| resolver.tag(tag, &mut path).ok());
                (path, value)
            })
            .collect()
    };
    for (path, value) in replacements {
        if let Some(slot) = at_mut(&mut root, &path) {
            *slot = value.unwrap_or_else(|| Node::null(slot.span));
        }
    }
    // `extends` copies a tag into every job that extends its holder; the
    // copies fail alike, and one report is enough.
    let mut seen = Vec::new();
    for diag in found {
        if !seen.contains(&diag) {
            seen.push(diag.clone());
            diags.push(diag);
        }
    }
    root
}

/// The paths of every tag in the tree (tags inside tags are not nodes).
fn find_tags(node: &Node, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match &node.value {
        Value::Reference(_) => out.push(path.clone()),
        Value::Map(map) => {
            for (i, (_, value)) in map.iter().enumerate() {
                path.push(i);
                find_tags(value, path, out);
                path.pop();
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i);
                find_tags(item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn at<'n>(mut node: &'n Node, path: &[Step]) -> Option<&'n Node> {
    for &step in path {
        node = match &node.value {
            Value::Map(map) => map.get_index(step)?.1,
            Value::Seq(items) => items.get(step)?,
            _ => return None,
        };
    }
    Some(node)
}

fn at_mut<'n>(mut node: &'n mut Node, path: &[Step]) -> Option<&'n mut Node> {
    for &step in path {
        node = match &mut node.value {
            Value::Map(map) => map.get_index_mut(step)?,
            Value::Seq(items) => items.get_mut(step)?,
            _ => return None,
        };
    }
    Some(node)
}

impl Resolver<'_> {
    /// A copy of `node` (found at `path`) with its tags resolved. `Err`
    /// only when a tag inside it failed; the outermost tag becomes null.
    fn tree(&mut self, node: &Node, path: &mut Vec<Step>) -> Result<Node, ()> {
        match &node.value {
            Value::Reference(_) => self.tag(node, path),
            Value::Map(map) => {
                let mut out = Map::new();
                let mut failed = false;
                for (i, (key, value)) in map.iter().enumerate() {
                    path.push(i);
                    let resolved = self.tree(value, path);
                    path.pop();
                    match resolved {
                        Ok(v) => out.insert(key.clone(), v),
                        Err(()) if self.in_progress.is_empty() => {
                            out.insert(key.clone(), Node::null(value.span));
                        }
                        Err(()) => failed = true,
                    }
                }
                if failed { Err(()) } else { Ok(Node::new(Value::Map(out), node.span)) }
            }
            Value::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut failed = false;
                for (i, item) in items.iter().enumerate() {
                    path.push(i);
                    let resolved = self.tree(item, path);
                    path.pop();
                    match resolved {
                        Ok(v) => out.push(v),
                        Err(()) if self.in_progress.is_empty() => out.push(Node::null(item.span)),
                        Err(()) => failed = true,
                    }
                }
                if failed { Err(()) } else { Ok(Node::new(Value::Seq(out), node.span)) }
            }
            _ => Ok(node.clone()),
        }
    }

    fn tag(&mut self, node: &Node, path: &mut Vec<Step>) -> Result<Node, ()> {
        if let Some(done) = self.memo.get(path.as_slice()) {
            return done.clone().ok_or(());
        }
        let Value::Reference(items) = &node.value else { return Ok(node.clone()) };
        let shown = format!("!reference {}", ruby_inspect(&Node::new(Value::Seq(items.clone()), node.span)));
        let keys: Option<Vec<&str>> = items.iter().map(Node::as_str).collect();
        let keys = match keys {
            Some(keys) if !keys.is_empty() => keys,
            _ => return self.fail(path, node, format!("{shown} is not valid")),
        };
        if self.in_progress.contains(path.as_slice()) {
            // Reported by the tag that started the chain: no memo here.
            self.diags.error(node.span, format!("{shown} is part of a circular chain"));
            return Err(());
        }
        if self.in_progress.len() >= MAX_NESTING {
            return self.fail(
                path,
                node,
                format!("{shown} is nested too deeply (more than {MAX_NESTING} levels)"),
            );
        }
        let Some((target, target_path)) = dig(self.original, &keys) else {
            return self.fail(path, node, format!("{shown} could not be found"));
        };
        self.in_progress.insert(path.clone());
        let mut target_path = target_path;
        let resolved = self.tree(target, &mut target_path);
        self.in_progress.remove(path.as_slice());
        let value = match resolved {
            Ok(value) if !matches!(value.value, Value::Null | Value::Bool(false)) => value,
            Ok(_) => return self.fail(path, node, format!("{shown} could not be found")),
            Err(()) => {
                self.memo.insert(path.clone(), None);
                return Err(());
            }
        };
        self.memo.insert(path.clone(), Some(value.clone()));
        Ok(value)
    }

    fn fail(&mut self, path: &[Step], node: &Node, message: String) -> Result<Node, ()> {
        self.diags.error(node.span, message);
        self.memo.insert(path.to_vec(), None);
        Err(())
    }
}

/// `config.dig(*keys)`: through hashes only.
fn dig<'n>(root: &'n Node, keys: &[&str]) -> Option<(&'n Node, Vec<Step>)> {
    let mut node = root;
    let mut path = Vec::with_capacity(keys.len());
    for key in keys {
        let (i, next) = node.as_map()?.get_full(key)?;
        node = next;
        path.push(i);
    }
    Some((node, path))
}
