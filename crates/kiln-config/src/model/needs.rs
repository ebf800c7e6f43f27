//! `needs:` (jobs and rules) and `dependencies:`.

use crate::model::common::Spanned;
use crate::model::parallel::MatrixEntry;
use crate::source::Span;

/// One entry of `needs:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// A job of this pipeline: `- build` or `- job: build`.
    Job(JobNeed),
    /// A job of another pipeline: `project` + `job` + `ref`, or
    /// `pipeline` (an id, usually `$PARENT_PIPELINE_ID`) + `job`.
    CrossDependency(CrossDependencyNeed),
    /// Trigger jobs only: `needs: {pipeline: group/project}` mirrors the
    /// status of the upstream project's pipeline.
    Pipeline(Spanned<String>),
}

impl Need {
    pub fn span(&self) -> Span {
        match self {
            Need::Job(n) => n.span,
            Need::CrossDependency(n) => n.span,
            Need::Pipeline(p) => p.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobNeed {
    pub span: Span,
    pub job: Spanned<String>,
    /// Download the needed job's artifacts (default true).
    pub artifacts: bool,
    /// Not an error when the needed job is absent.
    pub optional: bool,
    /// `parallel: {matrix: ...}`: only these instances of a matrix job.
    pub matrix: Option<Vec<MatrixEntry>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossDependencyNeed {
    pub span: Span,
    pub source: CrossSource,
    pub job: Spanned<String>,
    pub artifacts: bool,
    pub optional: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrossSource {
    Project { project: Spanned<String>, ref_: Spanned<String> },
    Pipeline(Spanned<String>),
}

use crate::model::cx::{Cx, sub};
use crate::model::parallel::parse_matrix;
use crate::yaml::{Map, Node, Value};

/// Where `needs:` is written: a job, a trigger job, or a rule (jobs only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NeedsContext {
    Job,
    Bridge,
    Rule,
}

/// `needs:` as an array (or one hash) of strings and hashes.
pub(crate) fn parse_needs(cx: &mut Cx<'_>, node: &Node, loc: &str, ctx: NeedsContext) -> Option<Vec<Need>> {
    let items: Vec<&Node> = match &node.value {
        // GitLab flattens nested arrays (`[@config].flatten`), which is what
        // a `!reference` to another job's needs inside a list produces.
        Value::Seq(_) => crate::model::cx::flattened(node),
        Value::Map(_) => vec![node],
        Value::Null => {
            cx.err(node.span, loc, "config can't be blank");
            return None;
        }
        _ => {
            cx.err(node.span, loc, "config can only be a hash or an array");
            return None;
        }
    };
    let nloc = sub(loc, "need");
    let mut out = Vec::new();
    let mut invalid_types: Vec<&str> = Vec::new();
    for item in items {
        let Some(need) = parse_need(cx, item, &nloc, ctx) else { continue };
        let kind = match &need {
            Need::Job(_) => "job",
            Need::CrossDependency(_) => "cross_dependency",
            Need::Pipeline(_) => "bridge",
        };
        let allowed = match ctx {
            NeedsContext::Job => matches!(kind, "job" | "cross_dependency"),
            NeedsContext::Bridge => matches!(kind, "job" | "bridge"),
            NeedsContext::Rule => kind == "job",
        };
        if !allowed && !invalid_types.contains(&kind) {
            invalid_types.push(kind);
        }
        out.push(need);
    }
    if !invalid_types.is_empty() {
        cx.err(node.span, loc, &format!("config uses invalid types: {}", invalid_types.join(", ")));
    }
    Some(out)
}

fn parse_need(cx: &mut Cx<'_>, node: &Node, loc: &str, ctx: NeedsContext) -> Option<Need> {
    match &node.value {
        Value::Str(s) => {
            if s.is_empty() {
                cx.err(node.span, loc, "config can't be blank");
                return None;
            }
            Some(Need::Job(JobNeed {
                span: node.span,
                job: Spanned::new(s.clone(), node.span),
                artifacts: true,
                optional: false,
                matrix: None,
            }))
        }
        Value::Map(map) => {
            let has = |k: &str| map.contains_key(k);
            if has("job") && !(has("project") || has("ref") || has("pipeline")) {
                job_hash(cx, node, map, loc)
            } else if has("job") && has("pipeline") && !has("project") {
                cx.check_keys(map, &["pipeline", "job", "artifacts", "optional"], loc);
                let pipeline = req_string(cx, map, node, loc, "pipeline")?;
                let job = req_string(cx, map, node, loc, "job")?;
                Some(Need::CrossDependency(CrossDependencyNeed {
                    span: node.span,
                    source: CrossSource::Pipeline(pipeline),
                    job,
                    artifacts: flag(cx, map, loc, "artifacts", true),
                    optional: flag(cx, map, loc, "optional", false),
                }))
            } else if has("project") {
                cx.check_keys(map, &["project", "job", "ref", "artifacts", "optional"], loc);
                let project = req_string(cx, map, node, loc, "project");
                let job = req_string(cx, map, node, loc, "job");
                let ref_ = req_string(cx, map, node, loc, "ref");
                Some(Need::CrossDependency(CrossDependencyNeed {
                    span: node.span,
                    source: CrossSource::Project { project: project?, ref_: ref_? },
                    job: job?,
                    artifacts: flag(cx, map, loc, "artifacts", true),
                    optional: flag(cx, map, loc, "optional", false),
                }))
            } else if has("pipeline") && ctx == NeedsContext::Bridge {
                cx.check_keys(map, &["pipeline"], loc);
                req_string(cx, map, node, loc, "pipeline").map(Need::Pipeline)
            } else {
                cx.err(node.span, loc, "has an unsupported type");
                None
            }
        }
        _ => {
            cx.err(node.span, loc, "has an unsupported type");
            None
        }
    }
}

fn job_hash(cx: &mut Cx<'_>, node: &Node, map: &Map, loc: &str) -> Option<Need> {
    cx.check_keys(map, &["job", "artifacts", "optional", "parallel"], loc);
    let job = req_string(cx, map, node, loc, "job")?;
    let matrix = map.get("parallel").and_then(|p| {
        let ploc = sub(loc, "parallel");
        let pm = cx.map(p, &ploc)?;
        cx.check_keys(pm, &["matrix"], &ploc);
        match pm.get("matrix") {
            Some(m) => parse_matrix(cx, m, &sub(&ploc, "matrix")),
            None => {
                cx.err(p.span, &ploc, "config missing required keys: matrix");
                None
            }
        }
    });
    Some(Need::Job(JobNeed {
        span: node.span,
        job,
        artifacts: flag(cx, map, loc, "artifacts", true),
        optional: flag(cx, map, loc, "optional", false),
        matrix,
    }))
}

fn req_string(cx: &mut Cx<'_>, map: &Map, node: &Node, loc: &str, key: &str) -> Option<Spanned<String>> {
    match map.get(key) {
        Some(n) if matches!(&n.value, Value::Str(s) if !s.is_empty()) => cx.string(n, loc, key),
        Some(n) if n.is_null() || n.as_str().is_some() => {
            cx.err(n.span, loc, &format!("{key} can't be blank"));
            None
        }
        Some(n) => cx.string(n, loc, key),
        None => {
            cx.err(node.span, loc, &format!("{key} can't be blank"));
            None
        }
    }
}

fn flag(cx: &mut Cx<'_>, map: &Map, loc: &str, key: &str, default: bool) -> bool {
    match map.get(key) {
        Some(n) if n.is_null() => default,
        Some(n) => cx.boolean(n, loc, key).unwrap_or(default),
        None => default,
    }
}
