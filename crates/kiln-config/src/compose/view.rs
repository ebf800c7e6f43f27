//! The merged configuration as people read it (`kiln lint --expand`):
//! `stages` with `.pre` and `.post`, `variables`, `workflow`, then the
//! visible jobs with `extends`, `!reference` and `default:` applied.
//! Hidden jobs, `default:`, the deprecated global keywords, `include:` and
//! `spec:` are left out: they live on inside the jobs.

use crate::source::Span;
use crate::yaml::{Key, Map, Node, Value};

const DEFAULT_STAGES: [&str; 3] = ["build", "test", "deploy"];
/// Keywords whose nested lists GitLab flattens when it reads them.
const FLATTENED: [&str; 4] = ["script", "before_script", "after_script", "rules"];

/// The view of a composed root.
pub fn expanded_view(root: &Node) -> Node {
    let Some(map) = root.as_map() else { return root.clone() };
    let mut out = Map::new();
    let stages_key =
        Key { name: "stages".into(), span: map.get_entry("stages").map_or(root.span, |(k, _)| k.span) };
    out.insert(stages_key, stages(map.get("stages").or_else(|| map.get("types")), root.span));
    for name in ["variables", "workflow"] {
        if let Some((key, value)) = map.get_entry(name) {
            out.insert(key.clone(), value.clone());
        }
    }
    for (key, value) in map.iter() {
        if crate::model::is_root_keyword(&key.name) || key.name.starts_with('.') {
            continue;
        }
        out.insert(key.clone(), job_view(value));
    }
    Node::new(Value::Map(out), root.span)
}

/// `EdgeStagesInjector`: `.pre` first and `.post` last, GitLab's default
/// stages when none are given.
fn stages(stages: Option<&Node>, span: Span) -> Node {
    let items: Vec<Node> = match stages {
        Some(node) => match &node.value {
            Value::Seq(items) => items.clone(),
            _ => return node.clone(),
        },
        None => DEFAULT_STAGES.iter().map(|s| Node::str(*s, span)).collect(),
    };
    let at = stages.map_or(span, |s| s.span);
    let mut out = vec![Node::str(".pre", at)];
    out.extend(items.into_iter().filter(|s| !matches!(s.as_str(), Some(".pre" | ".post"))));
    out.push(Node::str(".post", at));
    Node::new(Value::Seq(out), at)
}

fn job_view(job: &Node) -> Node {
    let Some(map) = job.as_map() else { return job.clone() };
    let mut out = Map::new();
    for (key, value) in map.iter() {
        let value = if FLATTENED.contains(&key.name.as_str()) {
            flatten(value)
        } else if key.name == "hooks" {
            flatten_hooks(value)
        } else {
            value.clone()
        };
        out.insert(key.clone(), value);
    }
    Node::new(Value::Map(out), job.span)
}

fn flatten_hooks(hooks: &Node) -> Node {
    let Some(map) = hooks.as_map() else { return hooks.clone() };
    let out: Map = map.iter().map(|(k, v)| (k.clone(), flatten(v))).collect();
    Node::new(Value::Map(out), hooks.span)
}

/// Ruby's `Array#flatten`: nested lists become one list.
fn flatten(node: &Node) -> Node {
    let Value::Seq(items) = &node.value else { return node.clone() };
    let mut out = Vec::with_capacity(items.len());
    let mut stack: Vec<std::slice::Iter<'_, Node>> = vec![items.iter()];
    while let Some(top) = stack.last_mut() {
        match top.next() {
            Some(Node { value: Value::Seq(inner), .. }) => stack.push(inner.iter()),
            Some(item) => out.push(item.clone()),
            None => {
                stack.pop();
            }
        }
    }
    Node::new(Value::Seq(out), node.span)
}
