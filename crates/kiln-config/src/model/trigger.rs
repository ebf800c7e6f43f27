//! `trigger:` (multi-project and parent-child pipelines).

use crate::model::common::Spanned;
use crate::source::Span;
use crate::yaml::Node;

#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub span: Span,
    pub target: TriggerTarget,
    pub strategy: Option<TriggerStrategy>,
    pub forward: Forward,
    /// `trigger:inputs`: passed to the downstream pipeline's `spec:inputs`.
    pub inputs: Option<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerTarget {
    /// `trigger: group/project` or `trigger: {project, branch}`.
    Project { project: Spanned<String>, branch: Option<Spanned<String>> },
    /// `trigger: {include: ...}`: a child pipeline.
    Child(Vec<TriggerInclude>),
}

/// One file of a child pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerInclude {
    Local(Spanned<String>),
    Template(Spanned<String>),
    Remote(Spanned<String>),
    /// A file produced by a job of this pipeline.
    Artifact {
        artifact: Spanned<String>,
        job: Spanned<String>,
    },
    Project {
        project: Spanned<String>,
        file: Vec<Spanned<String>>,
        ref_: Option<Spanned<String>>,
    },
    /// A CI/CD component.
    Component(Spanned<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerStrategy {
    /// The trigger job waits and takes the downstream pipeline's status.
    Depend,
    /// Like `depend`, and mirrors the downstream status including manual.
    Mirror,
}

/// `trigger:forward`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    pub yaml_variables: bool,
    pub pipeline_variables: bool,
}

impl Default for Forward {
    fn default() -> Self {
        Forward { yaml_variables: true, pipeline_variables: false }
    }
}

use crate::model::cx::{Cx, sub};
use crate::yaml::{Map, Value};

/// The schema's test for a project path: `group/project` or a variable.
pub(crate) fn looks_like_project(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    let slash = chars.windows(3).any(|w| w[1] == '/' && !w[0].is_whitespace() && !w[2].is_whitespace());
    let var = chars.windows(2).any(|w| w[0] == '$' && !w[1].is_whitespace());
    slash || var
}

/// Most files a child pipeline may include.
pub const TRIGGER_INCLUDE_MAX: usize = 3;

/// `trigger:` (`loc` = `jobs:name`).
pub(crate) fn parse_trigger(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Trigger> {
    let tloc = sub(loc, "trigger");
    match &node.value {
        Value::Str(s) => {
            if s.is_empty() {
                cx.err(node.span, &tloc, "config can't be blank");
                return None;
            }
            if cx.strict && !looks_like_project(s) {
                cx.err(node.span, &tloc, "config should be a project path");
            }
            Some(Trigger {
                span: node.span,
                target: TriggerTarget::Project { project: Spanned::new(s.clone(), node.span), branch: None },
                strategy: None,
                forward: Forward::default(),
                inputs: None,
            })
        }
        Value::Map(map) => {
            let target = if map.contains_key("project") {
                cx.check_keys(map, &["project", "branch", "strategy", "forward", "inputs"], &tloc);
                let p = map.get("project")?;
                let project = cx.string(p, &tloc, "project")?;
                if project.value.is_empty() {
                    cx.err(p.span, &tloc, "project can't be blank");
                } else if cx.strict && !looks_like_project(&project.value) {
                    cx.err(p.span, &tloc, "project should be a project path");
                }
                let branch = map.get("branch").and_then(|b| cx.string(b, &tloc, "branch"));
                TriggerTarget::Project { project, branch }
            } else if let Some(inc) = map.get("include") {
                cx.check_keys(map, &["include", "strategy", "forward", "inputs"], &tloc);
                TriggerTarget::Child(parse_includes(cx, inc, &sub(&tloc, "include"))?)
            } else {
                cx.err(node.span, &tloc, "config must specify either project or include");
                return None;
            };
            let strategy = map.get("strategy").and_then(|s| match s.as_str() {
                Some("depend") => Some(TriggerStrategy::Depend),
                Some("mirror") => Some(TriggerStrategy::Mirror),
                _ => {
                    cx.err(s.span, &tloc, "strategy should be depend or mirror");
                    None
                }
            });
            let forward =
                map.get("forward").map(|f| parse_forward(cx, f, &sub(&tloc, "forward"))).unwrap_or_default();
            let inputs = map.get("inputs").cloned();
            if let Some(i) = &inputs
                && i.as_map().is_none()
            {
                cx.err(i.span, &tloc, "inputs should be a hash");
            }
            Some(Trigger { span: node.span, target, strategy, forward, inputs })
        }
        _ => {
            cx.err(node.span, &tloc, "has to be either a string or a hash");
            None
        }
    }
}

fn parse_forward(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Forward {
    let mut f = Forward::default();
    let Some(map) = cx.map(node, loc) else { return f };
    cx.check_keys(map, &["yaml_variables", "pipeline_variables"], loc);
    if let Some(v) = map.get("yaml_variables") {
        f.yaml_variables = cx.boolean(v, loc, "yaml variables").unwrap_or(true);
    }
    if let Some(v) = map.get("pipeline_variables") {
        f.pipeline_variables = cx.boolean(v, loc, "pipeline variables").unwrap_or(false);
    }
    f
}

fn parse_includes(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Vec<TriggerInclude>> {
    let items: Vec<&Node> = match &node.value {
        Value::Str(_) | Value::Map(_) => vec![node],
        Value::Seq(items) => items.iter().collect(),
        _ => {
            cx.err(node.span, loc, "config should be an array or a string or a hash");
            return None;
        }
    };
    if items.len() > TRIGGER_INCLUDE_MAX {
        cx.err(node.span, loc, "config is too long");
    }
    let mut out = Vec::new();
    for item in items {
        match &item.value {
            Value::Str(s) => out.push(TriggerInclude::Local(Spanned::new(s.clone(), item.span))),
            Value::Map(map) => out.extend(parse_include(cx, item, map, loc)),
            _ => cx.err(item.span, loc, "config should be a hash or a string"),
        }
    }
    Some(out)
}

fn parse_include(cx: &mut Cx<'_>, node: &Node, map: &Map, loc: &str) -> Option<TriggerInclude> {
    let get = |cx: &mut Cx<'_>, key: &str| map.get(key).and_then(|n| cx.string(n, loc, key));
    if map.contains_key("artifact") || map.contains_key("job") {
        cx.check_keys(map, &["artifact", "job", "inputs"], loc);
        let artifact = get(cx, "artifact");
        let job = get(cx, "job");
        if map.contains_key("artifact") && job.is_none() {
            cx.err(node.span, loc, "config must specify the job where to fetch the artifact from");
        }
        if artifact.is_none() && map.contains_key("job") {
            cx.err(node.span, loc, "config must specify the artifact");
        }
        return Some(TriggerInclude::Artifact { artifact: artifact?, job: job? });
    }
    if map.contains_key("project") || map.contains_key("file") {
        cx.check_keys(map, &["project", "file", "ref", "inputs"], loc);
        let project = get(cx, "project");
        if project.is_none() {
            cx.err(node.span, loc, "config must specify the project");
        }
        let files = match map.get("file") {
            Some(f) => cx.string_or_strings(f, loc, "file").unwrap_or_default(),
            None => {
                cx.err(node.span, loc, "config must specify the file");
                Vec::new()
            }
        };
        if let Some(p) = &project {
            if p.value.is_empty() {
                cx.err(p.span, loc, "project can't be blank");
            } else if cx.strict && !looks_like_project(&p.value) {
                cx.err(p.span, loc, "project should be a project path");
            }
        }
        return Some(TriggerInclude::Project { project: project?, file: files, ref_: get(cx, "ref") });
    }
    for (key, make) in [
        ("local", TriggerInclude::Local as fn(Spanned<String>) -> TriggerInclude),
        ("template", TriggerInclude::Template),
        ("remote", TriggerInclude::Remote),
        ("component", TriggerInclude::Component),
    ] {
        if map.contains_key(key) {
            cx.check_keys(map, &[key, "inputs"], loc);
            return get(cx, key).map(make);
        }
    }
    cx.err(node.span, loc, "config contains unknown keys");
    None
}
