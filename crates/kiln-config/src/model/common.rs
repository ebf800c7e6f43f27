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
