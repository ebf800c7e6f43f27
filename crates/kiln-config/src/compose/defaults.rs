//! `default:` (and the deprecated top-level `image`, `services`, `cache`,
//! `before_script`, `after_script`) copied into every job that does not set
//! the keyword itself, unless the job's `inherit:default` says otherwise.
//!
//! GitLab does this when it builds job entries (`inherit!`): a job's own
//! value always replaces the default, nothing is merged. Trigger jobs have
//! none of these keywords, so they get nothing.

use crate::diag::Diagnostics;
use crate::yaml::{Key, Map, Node, Value};

/// Top-level keywords GitLab still reads as defaults.
pub(crate) const DEPRECATED_GLOBALS: [&str; 5] =
    ["image", "services", "cache", "before_script", "after_script"];

/// Whether the top-level entry `name: value` is a visible job.
pub(crate) fn is_visible_job(name: &str, value: &Node) -> bool {
    !crate::model::is_root_keyword(name) && !name.starts_with('.') && value.as_map().is_some()
}

/// Copies defaults into the jobs of `root`.
pub(crate) fn apply_defaults(root: &mut Map, diags: &mut Diagnostics) {
    let mut defaults: Vec<(Key, Node)> = Vec::new();
    if let Some(default) = root.get("default").and_then(Node::as_map) {
        for (key, value) in default.iter() {
            if crate::model::DEFAULT_KEYWORDS.contains(&key.name.as_str()) && !value.is_null() {
                defaults.push((key.clone(), value.clone()));
            }
        }
    }
    for name in DEPRECATED_GLOBALS {
        let Some((key, value)) = root.get_entry(name) else { continue };
        if value.is_null() {
            continue;
        }
        if root.get("default").and_then(|d| d.get(name)).is_some() {
            diags.error(key.span, format!("{name} is defined in top-level and `default:` entry"));
            continue;
        }
        defaults.push((key.clone(), value.clone()));
    }
    if defaults.is_empty() {
        return;
    }
    for (key, job) in root.iter_mut() {
        if !is_visible_job(&key.name, job) {
            continue;
        }
        let Some(map) = job.as_map_mut() else { continue };
        if map.contains_key("trigger") {
            continue;
        }
        let inherit = Inherit::of(map);
        for (name, value) in &defaults {
            if inherit.allows(&name.name) && map.get(&name.name).is_none_or(Node::is_null) {
                map.insert(name.clone(), value.clone());
            }
        }
    }
}

/// A job's `inherit:default`.
enum Inherit {
    All,
    Nothing,
    Only(Vec<String>),
}

impl Inherit {
    fn of(job: &Map) -> Inherit {
        match job.get("inherit").and_then(|i| i.get("default")).map(|d| &d.value) {
            Some(Value::Bool(false)) => Inherit::Nothing,
            Some(Value::Seq(items)) => {
                Inherit::Only(items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect())
            }
            _ => Inherit::All,
        }
    }

    fn allows(&self, key: &str) -> bool {
        match self {
            Inherit::All => true,
            Inherit::Nothing => false,
            Inherit::Only(keys) => keys.iter().any(|k| k == key),
        }
    }
}
