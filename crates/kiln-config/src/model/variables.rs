//! `variables:` at the top level, in jobs, in rules and in services.

use crate::model::common::Spanned;

/// Variables in file order. Later duplicates replaced earlier ones in YAML
/// already, so names are unique.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Variables {
    pub items: Vec<Variable>,
}

impl Variables {
    pub fn get(&self, name: &str) -> Option<&Variable> {
        self.items.iter().find(|v| v.name.value == name)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// One variable: `NAME: value` or `NAME: {value, description, options, expand}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub name: Spanned<String>,
    /// The value as text (numbers and booleans as Ruby prints them).
    pub value: String,
    /// `description:` (global variables only: the run-pipeline form prefills it).
    pub description: Option<String>,
    /// `options:` (global variables only): the values offered in the form.
    pub options: Vec<String>,
    /// `expand: false` makes the value raw (no `$VAR` expansion).
    pub expand: bool,
}
