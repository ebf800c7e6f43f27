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

use crate::model::cx::{Cx, is_alphanumeric, scalar_text, sub};
use crate::yaml::{Node, Value};

/// Which hash keys a variable may use where it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VariablesKind {
    /// Top level: `value`, `description`, `expand`, `options`.
    Global,
    /// Jobs: `value`, `expand`.
    Job,
    /// Rules, services, matrix: plain values only.
    Plain,
}

/// Reads `variables:`. GitLab's message for a bad shape is "config should be
/// a hash of key value pairs".
pub(crate) fn parse_variables(cx: &mut Cx<'_>, node: &Node, loc: &str, kind: VariablesKind) -> Variables {
    let mut out = Variables::default();
    let Value::Map(map) = &node.value else {
        if !node.is_null() {
            cx.err(node.span, loc, "config should be a hash");
        }
        return out;
    };
    for (key, value) in map.iter() {
        let vloc = sub(loc, &key.name);
        let name = Spanned::new(key.name.clone(), key.span);
        match &value.value {
            Value::Map(data) => {
                let allowed: &[&str] = match kind {
                    VariablesKind::Global => &["value", "description", "expand", "options"],
                    VariablesKind::Job => &["value", "expand"],
                    VariablesKind::Plain => &[],
                };
                let extra: Vec<&str> = data.keys().filter(|k| !allowed.contains(k)).collect();
                if allowed.is_empty() {
                    cx.err(key.span, &vloc, "config must be a string");
                } else if !extra.is_empty() {
                    cx.err(key.span, &vloc, &format!("config uses invalid data keys: {}", extra.join(", ")));
                }
                let mut var = Variable {
                    name,
                    value: String::new(),
                    description: None,
                    options: Vec::new(),
                    expand: true,
                };
                if let Some(v) = data.get("value") {
                    if is_alphanumeric(v) || v.is_null() {
                        var.value = scalar_text(v).unwrap_or_default();
                    } else {
                        cx.err(v.span, &vloc, "config value must be an alphanumeric string");
                    }
                }
                if let Some(d) = data.get("description") {
                    if is_alphanumeric(d) {
                        var.description = scalar_text(d);
                    } else if !d.is_null() {
                        cx.err(d.span, &vloc, "config description must be an alphanumeric string");
                    }
                }
                if let Some(e) = data.get("expand") {
                    match e.value {
                        Value::Bool(b) => var.expand = b,
                        Value::Null => {}
                        _ => cx.err(e.span, &vloc, "config expand should be a boolean value"),
                    }
                }
                if let Some(o) = data.get("options") {
                    match crate::model::cx::string_list(o) {
                        Some(list) => var.options = list.into_iter().map(|s| s.value).collect(),
                        None if o.is_null() => {}
                        None => cx.err(o.span, &vloc, "config options should be an array of strings"),
                    }
                    if !var.options.is_empty() && !var.options.contains(&var.value) {
                        cx.err(o.span, &vloc, "config value must be present in options");
                    }
                }
                out.items.push(var);
            }
            // GitLab's `ScalarValidator`: strings, integers, floats and
            // booleans, printed as Ruby prints them (`FF_TIMESTAMPS: true`
            // runs on gitlab.com).
            Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_) => out.items.push(Variable {
                name,
                value: scalar_text(value).unwrap_or_default(),
                description: None,
                options: Vec::new(),
                expand: true,
            }),
            // GitLab's entry factory treats a null value as unspecified: the
            // variable exists and is empty (GNOME's mutter relies on it).
            // GitLab's JSON schema does not allow it.
            Value::Null if !cx.strict => out.items.push(Variable {
                name,
                value: String::new(),
                description: None,
                options: Vec::new(),
                expand: true,
            }),
            // Collections are neither a scalar nor the hash form.
            _ => {
                let _ = &vloc;
                cx.raw(Some(value.span), "variable definition must be either a string or a hash".into());
            }
        }
    }
    out
}
