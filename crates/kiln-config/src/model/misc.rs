//! Smaller job keywords: `inherit`, `pages`, `run` (CI steps),
//! `dast_configuration`, job `inputs`.

use crate::model::common::{Duration, Spanned};
use crate::yaml::Node;

/// `inherit:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inherit {
    pub default: InheritSetting,
    pub variables: InheritSetting,
}

impl Default for Inherit {
    fn default() -> Self {
        Inherit { default: InheritSetting::All(true), variables: InheritSetting::All(true) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InheritSetting {
    All(bool),
    /// Inherit only these keys (default keywords or variable names).
    Only(Vec<Spanned<String>>),
}

impl InheritSetting {
    pub fn inherits(&self, key: &str) -> bool {
        match self {
            InheritSetting::All(b) => *b,
            InheritSetting::Only(keys) => keys.iter().any(|k| k.value == key),
        }
    }
}

/// `pages:` as a boolean or a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pages {
    Bool(bool),
    Config { publish: Option<String>, path_prefix: Option<String>, expire_in: Option<Duration> },
}

/// `dast_configuration:`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DastConfiguration {
    pub site_profile: Option<String>,
    pub scanner_profile: Option<String>,
}

/// One CI step of `run:`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: Spanned<String>,
    pub kind: StepKind,
    /// `env:` as name/value pairs.
    pub env: Vec<(String, String)>,
    /// `inputs:`: free-form values handed to the step.
    pub inputs: Option<Node>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    Script(String),
    /// `step:` as a string reference or a `git:` / `oci:` hash (kept as a node).
    Step(Node),
    /// `func:` reference.
    Func(String),
}

/// One job input of `inputs:` (job-level inputs).
#[derive(Debug, Clone, PartialEq)]
pub struct JobInput {
    pub name: Spanned<String>,
    pub spec: Node,
}

use crate::model::common::parse_duration_node;
use crate::model::cx::{Cx, string_list, sub};
use crate::yaml::Value;

/// `inherit:`.
pub(crate) fn parse_inherit(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Inherit {
    let iloc = sub(loc, "inherit");
    let mut inherit = Inherit::default();
    let Some(map) = cx.map(node, &iloc) else { return inherit };
    cx.check_keys(map, &["default", "variables"], &iloc);
    if let Some(d) = map.get("default") {
        let dloc = sub(&iloc, "default");
        inherit.default = setting(cx, d, &dloc);
        if let InheritSetting::Only(keys) = &inherit.default {
            let unknown: Vec<&str> = keys
                .iter()
                .map(|k| k.value.as_str())
                .filter(|k| !crate::model::DEFAULT_KEYWORDS.contains(k))
                .collect();
            if !unknown.is_empty() {
                cx.err(d.span, &dloc, &format!("config contains unknown values: {}", unknown.join(", ")));
            }
        }
    }
    if let Some(v) = map.get("variables") {
        inherit.variables = setting(cx, v, &sub(&iloc, "variables"));
    }
    inherit
}

fn setting(cx: &mut Cx<'_>, node: &Node, loc: &str) -> InheritSetting {
    match &node.value {
        Value::Bool(b) => InheritSetting::All(*b),
        _ => match string_list(node) {
            Some(list) => InheritSetting::Only(list),
            None => {
                cx.err(node.span, loc, "config should be a bool or array of strings");
                InheritSetting::All(true)
            }
        },
    }
}

/// `pages:`.
pub(crate) fn parse_pages(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Pages> {
    let ploc = sub(loc, "pages");
    match &node.value {
        Value::Bool(b) => Some(Pages::Bool(*b)),
        Value::Map(map) => {
            cx.check_keys(map, &["publish", "path_prefix", "expire_in"], &ploc);
            let publish = map.get("publish").and_then(|n| cx.string(n, &ploc, "publish")).map(|s| s.value);
            let path_prefix =
                map.get("path_prefix").and_then(|n| cx.string(n, &ploc, "path prefix")).map(|s| s.value);
            let expire_in = map.get("expire_in").and_then(|n| {
                if n.as_str() == Some("never") {
                    return Some(Duration { text: "never".into(), seconds: None, span: n.span });
                }
                parse_duration_node(cx, n, &ploc, "expire in", None, true)
            });
            Some(Pages::Config { publish, path_prefix, expire_in })
        }
        _ => {
            cx.err(node.span, &ploc, "config should be a hash or a boolean value");
            None
        }
    }
}

/// `dast_configuration:`.
pub(crate) fn parse_dast(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<DastConfiguration> {
    let dloc = sub(loc, "dast_configuration");
    let map = cx.map(node, &dloc)?;
    cx.check_keys(map, &["site_profile", "scanner_profile"], &dloc);
    let mut s =
        |key: &str| map.get(key).and_then(|n| cx.string(n, &dloc, &key.replace('_', " "))).map(|s| s.value);
    Some(DastConfiguration { site_profile: s("site_profile"), scanner_profile: s("scanner_profile") })
}

/// `run:` (CI steps).
pub(crate) fn parse_run(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Vec<Step>> {
    let rloc = sub(loc, "run");
    let Some(items) = node.as_seq() else {
        cx.err(node.span, &rloc, "config should be an array of hashes");
        return None;
    };
    let mut out = Vec::new();
    for item in items {
        let sloc = sub(&rloc, "step");
        let Some(map) = cx.map(item, &sloc) else { continue };
        cx.check_keys(map, &["name", "step", "script", "func", "inputs", "env"], &sloc);
        let name = match map.get("name") {
            Some(n) => cx.string(n, &sloc, "name"),
            None => {
                cx.err(item.span, &sloc, "name can't be blank");
                None
            }
        };
        if let Some(n) = &name
            && !valid_step_name(&n.value)
        {
            cx.err(
                n.span,
                &sloc,
                "name must start with a letter or '_' and contain only letters, digits and '_'",
            );
        }
        let kinds: Vec<&str> =
            ["step", "script", "func"].into_iter().filter(|k| map.contains_key(k)).collect();
        if kinds.len() != 1 {
            cx.err(item.span, &sloc, "config must use exactly one of these keys: step, script, func");
            continue;
        }
        let kind = match kinds[0] {
            "script" => map
                .get("script")
                .and_then(|n| cx.string(n, &sloc, "script"))
                .map(|s| StepKind::Script(s.value)),
            "func" => {
                map.get("func").and_then(|n| cx.string(n, &sloc, "func")).map(|s| StepKind::Func(s.value))
            }
            _ => map.get("step").and_then(|n| step_ref(cx, n, &sloc)).map(StepKind::Step),
        };
        if matches!(kind, Some(StepKind::Script(_))) && map.contains_key("inputs") {
            cx.err(item.span, &sloc, "script steps cannot have inputs");
        }
        let inputs = map.get("inputs").cloned();
        if let Some(i) = &inputs
            && i.as_map().is_none()
        {
            cx.err(i.span, &sloc, "inputs should be a hash");
        }
        let mut env = Vec::new();
        if let Some(e) = map.get("env")
            && let Some(em) = cx.map(e, &sub(&sloc, "env"))
        {
            for (k, v) in em.iter() {
                match v.as_str() {
                    Some(s) => env.push((k.name.clone(), s.to_string())),
                    None => cx.err(v.span, &sub(&sloc, "env"), "values should be strings"),
                }
            }
        }
        if let (Some(name), Some(kind)) = (name, kind) {
            out.push(Step { name, kind, env, inputs });
        }
    }
    Some(out)
}

fn valid_step_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn step_ref(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Node> {
    match &node.value {
        Value::Str(_) => Some(node.clone()),
        Value::Map(map) => {
            cx.check_keys(map, &["git", "oci"], loc);
            if let Some(g) = map.get("git") {
                let gloc = sub(loc, "git");
                let gm = cx.map(g, &gloc)?;
                cx.check_keys(gm, &["url", "dir", "rev", "file"], &gloc);
                for req in ["url", "rev"] {
                    if !gm.contains_key(req) {
                        cx.err(g.span, &gloc, &format!("{req} can't be blank"));
                    }
                }
            }
            if let Some(o) = map.get("oci") {
                let oloc = sub(loc, "oci");
                let om = cx.map(o, &oloc)?;
                cx.check_keys(om, &["registry", "repository", "tag", "dir", "file"], &oloc);
                for req in ["registry", "repository", "tag"] {
                    if !om.contains_key(req) {
                        cx.err(o.span, &oloc, &format!("{req} can't be blank"));
                    }
                }
            }
            Some(node.clone())
        }
        _ => {
            cx.err(node.span, loc, "step should be a string or a hash");
            None
        }
    }
}

/// Job-level `inputs:`: each with a `type` and a `default` of that type.
pub(crate) fn parse_job_inputs(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Vec<JobInput> {
    let iloc = sub(loc, "inputs");
    let Some(map) = cx.map(node, &iloc) else { return Vec::new() };
    let mut out = Vec::new();
    for (key, value) in map.iter() {
        let eloc = sub(&iloc, &key.name);
        let Some(m) = cx.map(value, &eloc) else { continue };
        cx.check_keys(m, &["type", "default", "description", "options", "regex"], &eloc);
        let ty = match m.get("type") {
            None => Some("string"),
            Some(t) => match t.as_str() {
                Some(s @ ("string" | "number" | "boolean" | "array")) => Some(s),
                _ => {
                    cx.err(t.span, &eloc, "type should be one of: array, boolean, number, string");
                    None
                }
            },
        };
        match m.get("default") {
            None => cx.err(value.span, &eloc, "default can't be blank"),
            Some(d) => {
                let ok = match ty {
                    Some("string") => matches!(d.value, Value::Str(_)),
                    Some("number") => matches!(d.value, Value::Int(_) | Value::Float(_)),
                    Some("boolean") => matches!(d.value, Value::Bool(_)),
                    Some("array") => matches!(d.value, Value::Seq(_)),
                    _ => true,
                };
                if !ok {
                    cx.err(d.span, &eloc, &format!("default should be a {}", ty.unwrap_or("string")));
                }
            }
        }
        out.push(JobInput { name: Spanned::new(key.name.clone(), key.span), spec: value.clone() });
    }
    out
}
