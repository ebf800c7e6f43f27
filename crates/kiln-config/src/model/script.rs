//! `script`, `before_script`, `after_script` and `hooks:pre_get_sources_script`:
//! strings or arrays of strings nested up to 10 levels, flattened.

use crate::model::common::Spanned;

/// A flattened list of shell lines, each with its span.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    pub lines: Vec<Spanned<String>>,
}

/// `hooks:`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hooks {
    pub pre_get_sources_script: Option<Script>,
}
