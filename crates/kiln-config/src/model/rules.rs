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
#[derive(Debug, Clone, PartialEq)]
pub struct IfExpr {
    pub text: Spanned<String>,
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
