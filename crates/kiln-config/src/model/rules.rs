//! `rules:` (jobs, `workflow:`), and the older `only:` / `except:`.

use crate::model::common::{AllowFailure, Duration, Spanned, When};
use crate::model::needs::Need;
use crate::model::variables::Variables;
use crate::model::workflow::AutoCancel;
use crate::source::Span;

/// One entry of `rules:`. Nested arrays of rules were flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The whole rule, for "this rule matched" messages.
    pub span: Span,
    pub if_: Option<IfExpr>,
    pub changes: Option<Changes>,
    pub exists: Option<Exists>,
    pub when: Option<Spanned<When>>,
    pub start_in: Option<Duration>,
    pub allow_failure: Option<AllowFailure>,
    pub variables: Variables,
    pub needs: Option<Vec<Need>>,
    pub interruptible: Option<bool>,
    /// `workflow:rules` only.
    pub auto_cancel: Option<AutoCancel>,
}

/// A `rules:if` expression: its text, and the parsed form when the text is
/// valid (an invalid one was reported as "invalid expression syntax").
#[derive(Debug, Clone)]
pub struct IfExpr {
    pub text: Spanned<String>,
    pub expr: Option<kiln_expr::Expression>,
}

impl PartialEq for IfExpr {
    /// Two expressions are the same when their text is.
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

/// `rules:changes` as a list or as `paths` + `compare_to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    pub paths: Vec<Spanned<String>>,
    pub compare_to: Option<Spanned<String>>,
}

/// `rules:exists` as a list or as `paths` + `project` + `ref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exists {
    pub paths: Vec<Spanned<String>>,
    pub project: Option<Spanned<String>>,
    pub ref_: Option<Spanned<String>>,
}

/// `only:` / `except:` in array form (refs) or hash form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    pub span: Span,
    /// Ref patterns: keywords (`branches`, `tags`, `merge_requests`, ...),
    /// names, `/regex/`, each optionally `@project/path`.
    pub refs: Vec<Spanned<String>>,
    /// `$VAR == "x"` expressions.
    pub variables: Vec<Spanned<String>>,
    pub changes: Vec<Spanned<String>>,
    /// `kubernetes: active`.
    pub kubernetes: bool,
}

use crate::model::common::{parse_duration_node, parse_when};
use crate::model::cx::{Cx, string_list, sub};
use crate::model::needs::{NeedsContext, parse_needs};
use crate::model::variables::{VariablesKind, parse_variables};
use crate::model::workflow::parse_auto_cancel;
use crate::yaml::{Node, Value};

/// Where a list of rules is written: decides the keys and `when:` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RulesKind {
    Job,
    Workflow,
}

const JOB_RULE_KEYS: &[&str] =
    &["if", "changes", "exists", "when", "start_in", "allow_failure", "variables", "needs", "interruptible"];
const WORKFLOW_RULE_KEYS: &[&str] = &["if", "changes", "exists", "when", "variables", "auto_cancel"];
const ONE_WEEK: u64 = 7 * 86400;
const MAX_NESTING: usize = 10;

/// `rules:` of a job (`loc` = `jobs:name`) or of `workflow`.
pub(crate) fn parse_rules(cx: &mut Cx<'_>, node: &Node, loc: &str, kind: RulesKind) -> Option<Vec<Rule>> {
    let rloc = sub(loc, "rules");
    let Some(items) = node.as_seq() else {
        cx.err(node.span, &rloc, "config should be an array");
        return None;
    };
    // `Entry::Rules` validates `config, presence: true`: `rules: []` is blank.
    if items.is_empty() {
        cx.err(node.span, &rloc, "config can't be blank");
        return None;
    }
    let mut flat = Vec::new();
    if !flatten_rules(items, 1, &mut flat) {
        cx.err(node.span, loc, "rules should be an array containing hashes and arrays of hashes");
        return None;
    }
    let rule_loc = sub(&rloc, "rule");
    Some(flat.into_iter().filter_map(|n| parse_rule(cx, n, &rule_loc, kind)).collect())
}

fn flatten_rules<'n>(items: &'n [Node], level: usize, out: &mut Vec<&'n Node>) -> bool {
    if level > MAX_NESTING {
        return false;
    }
    for item in items {
        match &item.value {
            Value::Map(_) => out.push(item),
            Value::Seq(inner) => {
                if !flatten_rules(inner, level + 1, out) {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

fn parse_rule(cx: &mut Cx<'_>, node: &Node, loc: &str, kind: RulesKind) -> Option<Rule> {
    let map = node.as_map()?;
    if map.is_empty() {
        cx.err(node.span, loc, "config can't be blank");
        return None;
    }
    let (keys, whens): (&[&str], &[When]) = match kind {
        RulesKind::Job => (
            JOB_RULE_KEYS,
            &[When::OnSuccess, When::OnFailure, When::Always, When::Never, When::Manual, When::Delayed],
        ),
        RulesKind::Workflow => (WORKFLOW_RULE_KEYS, &[When::Always, When::Never]),
    };
    cx.check_keys(map, keys, loc);
    let mut rule = Rule {
        span: node.span,
        if_: None,
        changes: None,
        exists: None,
        when: None,
        start_in: None,
        allow_failure: None,
        variables: Variables::default(),
        needs: None,
        interruptible: None,
        auto_cancel: None,
    };
    for (key, value) in map.iter() {
        if value.is_null() {
            if cx.strict {
                cx.err(value.span, loc, &format!("{} can't be blank", key.name));
            }
            continue;
        }
        match key.name.as_str() {
            "if" => {
                if let Some(text) = cx.string(value, loc, "if") {
                    if cx.strict && text.value.is_empty() {
                        cx.err(value.span, loc, "if can't be blank");
                    }
                    let expr = match cx.expression(&text.value) {
                        Ok(e) => Some(e),
                        Err(e) => {
                            cx.err(column_span(value, e.column), loc, "if invalid expression syntax");
                            None
                        }
                    };
                    rule.if_ = Some(IfExpr { text, expr });
                }
            }
            "changes" => rule.changes = parse_changes(cx, value, &sub(loc, "changes")),
            "exists" => rule.exists = parse_exists(cx, value, &sub(loc, "exists")),
            "when" => {
                if value.as_str().and_then(When::parse).is_some_and(|w| whens.contains(&w)) {
                    rule.when = parse_when(cx, value, loc, whens, "");
                } else {
                    let shown = value.scalar_to_string().unwrap_or_default();
                    cx.err(value.span, loc, &format!("when unknown value: {shown}"));
                }
            }
            "start_in" => {}
            "allow_failure" => {
                rule.allow_failure = cx.boolean(value, loc, "allow failure").map(AllowFailure::Bool)
            }
            "interruptible" => rule.interruptible = cx.boolean(value, loc, "interruptible"),
            "variables" => {
                rule.variables = parse_variables(cx, value, &sub(loc, "variables"), VariablesKind::Plain)
            }
            "needs" => rule.needs = parse_needs(cx, value, &sub(loc, "needs"), NeedsContext::Rule),
            "auto_cancel" => rule.auto_cancel = parse_auto_cancel(cx, value, &sub(loc, "auto_cancel")),
            _ => {}
        }
    }
    let delayed = rule.when.as_ref().is_some_and(|w| w.value == When::Delayed);
    match map.get_entry("start_in") {
        Some((k, v)) if !delayed => {
            let _ = v;
            cx.err(k.span, loc, "config contains disallowed keys: start_in");
        }
        Some((_, v)) => rule.start_in = parse_duration_node(cx, v, loc, "start in", Some(ONE_WEEK), false),
        None if delayed => cx.err(node.span, loc, "start in can't be blank"),
        None => {}
    }
    Some(rule)
}

/// `rules:changes`: a list of globs, or `paths:` + `compare_to:`.
fn parse_changes(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Changes> {
    match &node.value {
        Value::Seq(items) => {
            let Some(paths) = string_list(node) else {
                cx.err(node.span, loc, "config should be an array of strings");
                return None;
            };
            if items.len() > 50 {
                cx.err(node.span, loc, "config has too many entries (maximum 50)");
            }
            Some(Changes { paths, compare_to: None })
        }
        Value::Map(map) => {
            cx.check_keys(map, &["paths", "compare_to"], loc);
            let paths = match map.get("paths") {
                Some(p) => {
                    let list = cx.strings(p, loc, "paths");
                    if list.as_ref().is_some_and(|l| l.len() > 50) {
                        cx.err(p.span, loc, "paths has too many entries (maximum 50)");
                    }
                    list.unwrap_or_default()
                }
                None => {
                    cx.err(node.span, loc, "paths can't be blank");
                    Vec::new()
                }
            };
            let compare_to = map.get("compare_to").and_then(|n| cx.string(n, loc, "compare to"));
            Some(Changes { paths, compare_to })
        }
        _ => {
            cx.err(node.span, loc, "config should be an array or a hash");
            None
        }
    }
}

/// `rules:exists`: a list of globs, or `paths:` + `project:` + `ref:`.
fn parse_exists(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Exists> {
    match &node.value {
        Value::Seq(items) => {
            let Some(paths) = string_list(node) else {
                cx.err(node.span, loc, "config should be an array of strings");
                return None;
            };
            if items.len() > 50 {
                cx.err(node.span, loc, "config has too many entries (maximum 50)");
            }
            Some(Exists { paths, project: None, ref_: None })
        }
        Value::Map(map) => {
            cx.check_keys(map, &["paths", "project", "ref"], loc);
            let paths = match map.get("paths") {
                Some(p) => cx.strings(p, loc, "paths").unwrap_or_default(),
                None => {
                    cx.err(node.span, loc, "paths can't be blank");
                    Vec::new()
                }
            };
            if paths.len() > 50 {
                cx.err(node.span, loc, "paths has too many entries (maximum 50)");
            }
            let project = map.get("project").and_then(|n| cx.string(n, loc, "project"));
            let ref_ = map.get("ref").and_then(|n| cx.string(n, loc, "ref"));
            if ref_.is_some() && project.is_none() {
                cx.err(node.span, loc, "config ref requires project");
            }
            Some(Exists { paths, project, ref_ })
        }
        _ => {
            cx.err(node.span, loc, "config should be an array or a hash");
            None
        }
    }
}

/// `only:` / `except:`.
pub(crate) fn parse_policy(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Policy> {
    let mut policy = Policy { span: node.span, ..Policy::default() };
    match &node.value {
        Value::Seq(_) => {
            policy.refs = refs(cx, node, loc, "config")?;
        }
        Value::Map(map) => {
            cx.check_keys(map, &["refs", "kubernetes", "variables", "changes"], loc);
            if let Some(n) = map.get("refs") {
                policy.refs = refs(cx, n, loc, "refs").unwrap_or_default();
            }
            if let Some(n) = map.get("kubernetes") {
                match n.as_str() {
                    Some("active") => policy.kubernetes = true,
                    _ => {
                        let shown = n.scalar_to_string().unwrap_or_default();
                        cx.err(n.span, loc, &format!("kubernetes unknown value: {shown}"));
                    }
                }
            }
            if let Some(n) = map.get("variables") {
                policy.variables = cx.strings(n, loc, "variables").unwrap_or_default();
            }
            if let Some(n) = map.get("changes") {
                policy.changes = cx.strings(n, loc, "changes").unwrap_or_default();
            }
        }
        _ => {
            cx.err(node.span, loc, "has to be either an array of conditions or a hash");
            return None;
        }
    }
    Some(policy)
}

fn refs(cx: &mut Cx<'_>, node: &Node, loc: &str, what: &str) -> Option<Vec<Spanned<String>>> {
    let list = string_list(node);
    let valid = list.as_ref().is_some_and(|l| l.iter().all(|s| valid_ref_pattern(&s.value)));
    if !valid {
        cx.err(
            node.span,
            loc,
            &format!("{what} should be an array of strings or regular expressions using re2 syntax"),
        );
        return None;
    }
    list
}

/// A `/regex/` ref must compile; anything else is a plain name.
fn valid_ref_pattern(s: &str) -> bool {
    let pattern = s.split_once('@').map_or(s, |(p, _)| p);
    match pattern.strip_prefix('/').and_then(|r| r.rsplit_once('/')) {
        Some((body, flags)) if flags.chars().all(|c| matches!(c, 'i' | 'm' | 'x')) => {
            regex::Regex::new(body).is_ok()
        }
        _ => true,
    }
}

/// The position of character `column` (1-based) of a one-line scalar, or
/// the scalar's own span when it spans lines.
fn column_span(node: &Node, column: usize) -> crate::source::Span {
    let span = node.span;
    let Some(text) = node.as_str() else { return span };
    if span.start.line != span.end.line {
        return span;
    }
    let width = span.end.column.saturating_sub(span.start.column) as usize;
    let quoted = width == text.chars().count() + 2;
    let offset = u32::try_from(column.saturating_sub(1) + usize::from(quoted)).unwrap_or(0);
    let mut pos = span.start;
    pos.column = pos.column.saturating_add(offset);
    crate::source::Span::point(span.file, pos)
}
