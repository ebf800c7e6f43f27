//! `workflow:` (rules, name, auto_cancel) and `stages:`.

use crate::model::common::Spanned;
use crate::model::rules::Rule;
use crate::source::Span;

/// `workflow:`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Workflow {
    pub span: Span,
    pub rules: Option<Vec<Rule>>,
    pub name: Option<Spanned<String>>,
    pub auto_cancel: Option<AutoCancel>,
}

/// `workflow:auto_cancel` and `workflow:rules:auto_cancel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AutoCancel {
    pub on_new_commit: Option<OnNewCommit>,
    pub on_job_failure: Option<OnJobFailure>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnNewCommit {
    Conservative,
    Interruptible,
    None,
}

impl OnNewCommit {
    pub fn as_str(self) -> &'static str {
        match self {
            OnNewCommit::Conservative => "conservative",
            OnNewCommit::Interruptible => "interruptible",
            OnNewCommit::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnJobFailure {
    All,
    None,
}

impl OnJobFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            OnJobFailure::All => "all",
            OnJobFailure::None => "none",
        }
    }
}

use crate::model::cx::{Cx, sub};
use crate::model::rules::{RulesKind, parse_rules};
use crate::yaml::{Node, Value};

/// `workflow:`.
pub(crate) fn parse_workflow(cx: &mut Cx<'_>, node: &Node) -> Option<Workflow> {
    let loc = "workflow";
    if node.is_null() {
        return None;
    }
    let map = cx.map(node, loc)?;
    cx.check_keys(map, &["rules", "name", "auto_cancel"], loc);
    let mut wf = Workflow { span: node.span, ..Workflow::default() };
    if let Some(rules) = map.get("rules").filter(|n| !n.is_null()) {
        wf.rules = parse_rules(cx, rules, loc, RulesKind::Workflow);
    }
    if let Some(name) = map.get("name").filter(|n| !n.is_null())
        && let Some(s) = cx.string(name, loc, "name")
    {
        if s.value.chars().count() > 255 {
            cx.err(name.span, loc, "name is too long (maximum is 255 characters)");
        }
        if cx.strict && s.value.is_empty() {
            cx.err(name.span, loc, "name is too short (minimum is 1 character)");
        }
        wf.name = Some(s);
    }
    if let Some(ac) = map.get("auto_cancel").filter(|n| !n.is_null()) {
        wf.auto_cancel = parse_auto_cancel(cx, ac, &sub(loc, "auto_cancel"));
    }
    Some(wf)
}

/// `auto_cancel:` with `on_new_commit` and `on_job_failure`.
pub(crate) fn parse_auto_cancel(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<AutoCancel> {
    let map = cx.map(node, loc)?;
    cx.check_keys(map, &["on_new_commit", "on_job_failure"], loc);
    let mut ac = AutoCancel::default();
    if let Some(n) = map.get("on_new_commit") {
        ac.on_new_commit = match n.as_str() {
            Some("conservative") => Some(OnNewCommit::Conservative),
            Some("interruptible") => Some(OnNewCommit::Interruptible),
            Some("none") => Some(OnNewCommit::None),
            _ => {
                cx.err(n.span, loc, "on new commit must be one of: conservative, interruptible, none");
                None
            }
        };
    }
    if let Some(n) = map.get("on_job_failure") {
        ac.on_job_failure = match n.as_str() {
            Some("all") => Some(OnJobFailure::All),
            Some("none") => Some(OnJobFailure::None),
            _ => {
                cx.err(n.span, loc, "on job failure must be one of: none, all");
                None
            }
        };
    }
    Some(ac)
}

/// `stages:` (or legacy `types:`): strings, possibly nested in arrays;
/// `.pre` first and `.post` last as GitLab adds them.
pub(crate) fn parse_stages(cx: &mut Cx<'_>, node: Option<&Node>, key: &str) -> Vec<Spanned<String>> {
    let span = node.map(|n| n.span).unwrap_or_default();
    let mut stages: Vec<Spanned<String>> = Vec::new();
    match node {
        Some(n) if !n.is_null() => {
            let mut flat = Vec::new();
            if n.as_seq().is_some() && flatten_stages(n, 0, &mut flat) {
                stages = flat;
            } else {
                cx.err(n.span, key, "config should be an array of strings");
            }
        }
        _ => {
            stages =
                ["build", "test", "deploy"].iter().map(|s| Spanned::new((*s).to_string(), span)).collect();
        }
    }
    let mut out = vec![Spanned::new(".pre".to_string(), span)];
    for s in stages {
        if s.value != ".pre" && s.value != ".post" && !out.iter().any(|o| o.value == s.value) {
            out.push(s);
        }
    }
    out.push(Spanned::new(".post".to_string(), span));
    out
}

fn flatten_stages(node: &Node, level: usize, out: &mut Vec<Spanned<String>>) -> bool {
    match &node.value {
        Value::Str(s) if level > 0 => {
            out.push(Spanned::new(s.clone(), node.span));
            true
        }
        Value::Seq(items) if level < 10 => items.iter().all(|i| flatten_stages(i, level + 1, out)),
        _ => false,
    }
}
