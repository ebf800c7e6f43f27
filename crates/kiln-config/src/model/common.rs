//! Small types shared by every keyword family: values with spans, durations,
//! and the `when:` values.

use crate::source::Span;

/// A value with the span of the YAML node it was read from, for keywords a
/// later phase must point at (job names, stages, needs, rules...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Spanned<T> {
        Spanned { value, span }
    }
}

impl Spanned<String> {
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

/// A human duration as GitLab's ChronicDuration reads it (`1 hour 30 min`,
/// `2h`, `1 week`, `3600`), kept with its text because GitLab passes the text
/// on (for example `artifacts:expire_in` to the runner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duration {
    pub text: String,
    /// `None` for values GitLab keeps as text without parsing (`never` in
    /// `expire_in`), or that contain a variable to expand later.
    pub seconds: Option<u64>,
    pub span: Span,
}

/// Job `when:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum When {
    OnSuccess,
    OnFailure,
    Always,
    Manual,
    Delayed,
    /// Only valid inside `rules:` (and `workflow:rules`).
    Never,
}

impl When {
    pub fn as_str(self) -> &'static str {
        match self {
            When::OnSuccess => "on_success",
            When::OnFailure => "on_failure",
            When::Always => "always",
            When::Manual => "manual",
            When::Delayed => "delayed",
            When::Never => "never",
        }
    }

    pub fn parse(s: &str) -> Option<When> {
        Some(match s {
            "on_success" => When::OnSuccess,
            "on_failure" => When::OnFailure,
            "always" => When::Always,
            "manual" => When::Manual,
            "delayed" => When::Delayed,
            "never" => When::Never,
            _ => return None,
        })
    }
}

/// `allow_failure:` as `true`/`false` or `exit_codes:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowFailure {
    Bool(bool),
    /// `allow_failure: {exit_codes: 137}` or a list: the job may fail with
    /// these exit codes only.
    ExitCodes(Vec<i64>),
}

use crate::model::cx::Cx;
use crate::model::duration::parse_duration;
use crate::yaml::{Node, Value};

/// A duration that must parse and stay within `limit` seconds; GitLab's
/// `DurationValidator`. `variable: true` skips values with `$VAR`.
pub(crate) fn parse_duration_node(
    cx: &mut Cx<'_>,
    node: &Node,
    loc: &str,
    what: &str,
    limit: Option<u64>,
    variable: bool,
) -> Option<Duration> {
    let Value::Str(text) = &node.value else {
        cx.err(node.span, loc, &format!("{what} should be a duration"));
        return None;
    };
    if variable && text.contains('$') {
        return Some(Duration { text: text.clone(), seconds: None, span: node.span });
    }
    let Some(seconds) = parse_duration(text) else {
        cx.err(node.span, loc, &format!("{what} should be a duration"));
        return None;
    };
    if limit.is_some_and(|l| seconds > l) {
        cx.err(node.span, loc, &format!("{what} should not exceed the limit"));
    }
    Some(Duration { text: text.clone(), seconds: Some(seconds), span: node.span })
}

/// `allow_failure:` in jobs: a boolean or `exit_codes:`.
pub(crate) fn parse_allow_failure(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<AllowFailure> {
    match &node.value {
        Value::Bool(b) => Some(AllowFailure::Bool(*b)),
        Value::Map(map) => {
            let aloc = format!("{loc}:allow_failure");
            cx.check_keys(map, &["exit_codes"], &aloc);
            let Some(codes) = map.get("exit_codes") else {
                cx.err(node.span, &aloc, "config missing required keys: exit_codes");
                return None;
            };
            let list = int_or_ints(codes);
            match list {
                Some(list) => Some(AllowFailure::ExitCodes(list)),
                None => {
                    cx.err(codes.span, &aloc, "exit codes should be an array of integers or an integer");
                    None
                }
            }
        }
        _ => {
            cx.err(node.span, loc, "allow failure should be a hash or a boolean value");
            None
        }
    }
}

/// An integer or an array of integers.
pub(crate) fn int_or_ints(node: &Node) -> Option<Vec<i64>> {
    match &node.value {
        Value::Int(i) => Some(vec![*i]),
        Value::Seq(items) => items.iter().map(|n| n.as_int()).collect(),
        _ => None,
    }
}

/// Parses a `when:` value among `allowed`.
pub(crate) fn parse_when(
    cx: &mut Cx<'_>,
    node: &Node,
    loc: &str,
    allowed: &[When],
    message: &str,
) -> Option<Spanned<When>> {
    let when = node.as_str().and_then(When::parse).filter(|w| allowed.contains(w));
    match when {
        Some(w) => Some(Spanned::new(w, node.span)),
        None => {
            cx.err(node.span, loc, message);
            None
        }
    }
}
