//! Structural checks of a `spec:` header (`Header::Root` and its entries in
//! GitLab), plus the checks GitLab runs on every input's `default` when the
//! file is interpolated: they depend only on the header, so they are
//! reported here once.

use crate::diag::Diagnostics;
use crate::source::Span;
use crate::yaml::{Map, Node, Value};

use super::inputs::{INPUT_TYPES, InputType, validate_value};
use super::util::{ruby_to_s, unknown_keys};

const SPEC_KEYS: [&str; 4] = ["inputs", "include", "component", "description"];
const INPUT_KEYS: [&str; 6] = ["default", "description", "options", "regex", "type", "rules"];
const INPUT_RULE_KEYS: [&str; 3] = ["if", "options", "default"];
const HEADER_INCLUDE_KEYS: [&str; 7] = ["local", "remote", "project", "file", "ref", "integrity", "cache"];
const COMPONENT_FIELDS: [&str; 4] = ["name", "sha", "version", "reference"];
const MAX_OPTIONS: usize = 50;
const MAX_DESCRIPTION: usize = 256;

/// Checks the value of `spec:` in a header document.
pub fn check_spec_syntax(node: &Node, diags: &mut Diagnostics) {
    let map = match &node.value {
        Value::Map(map) => map,
        _ => {
            diags.error(node.span, "header:spec config should be a hash");
            return;
        }
    };
    if let Some((names, first)) = unknown_keys(map, &SPEC_KEYS) {
        diags.error(first.span, format!("header:spec config contains unknown keys: {names}"));
    }
    if let Some(description) = map.get("description") {
        match description.as_str() {
            Some(text) if text.chars().count() > MAX_DESCRIPTION => diags.error(
                description.span,
                format!("header:spec description is too long (maximum is {MAX_DESCRIPTION} characters)"),
            ),
            Some(_) => {}
            None => diags.error(description.span, "header:spec description should be a string"),
        }
    }
    if let Some(component) = map.get("component") {
        check_component(component, diags);
    }
    if let Some(include) = map.get("include") {
        check_header_include(include, diags);
    }
    match map.get("inputs").map(|i| (i, &i.value)) {
        None | Some((_, Value::Null)) => {}
        Some((_, Value::Map(inputs))) => {
            for (name, spec) in inputs.iter() {
                check_input(&name.name, spec, diags);
            }
        }
        Some((inputs, _)) => diags.error(inputs.span, "header:spec:inputs config should be a hash"),
    }
}

fn check_component(component: &Node, diags: &mut Diagnostics) {
    let Some(items) = component.as_seq() else {
        diags.error(component.span, "header:spec component should be an array of strings");
        return;
    };
    for item in items {
        if !item.as_str().is_some_and(|f| COMPONENT_FIELDS.contains(&f)) {
            diags.error(
                item.span,
                format!(
                    "header:spec component contains unknown value: {} (allowed: {})",
                    ruby_to_s(item),
                    COMPONENT_FIELDS.join(", ")
                ),
            );
        }
    }
}

fn check_header_include(include: &Node, diags: &mut Diagnostics) {
    let items: Vec<&Node> = match &include.value {
        Value::Seq(items) => items.iter().collect(),
        Value::Map(_) | Value::Str(_) => vec![include],
        _ => {
            diags.error(include.span, "header:spec:include config should be an array");
            return;
        }
    };
    for item in items {
        let map = match &item.value {
            Value::Map(map) => map,
            Value::Str(_) => continue,
            _ => {
                diags.error(item.span, "header:spec:include config should be a hash or a string");
                continue;
            }
        };
        if let Some((names, first)) = unknown_keys(map, &HEADER_INCLUDE_KEYS) {
            diags.error(first.span, format!("header:spec:include config contains unknown keys: {names}"));
        }
        let kinds = ["local", "remote", "project"].into_iter().filter(|k| map.contains_key(k)).count();
        if kinds == 0 {
            diags
                .error(item.span, "header:spec:include config must use one of: `local`, `remote`, `project`");
        } else if kinds > 1 {
            diags.error(
                item.span,
                "header:spec:include config must use only one of: `local`, `remote`, `project`",
            );
        }
        if map.contains_key("project") && !map.contains_key("file") {
            diags.error(
                item.span,
                "header:spec:include config must specify the file where to fetch the config from",
            );
        }
    }
}

fn check_input(name: &str, spec: &Node, diags: &mut Diagnostics) {
    let location = format!("header:spec:inputs:{name}");
    let map = match &spec.value {
        Value::Null => return,
        Value::Map(map) => map,
        _ => {
            diags.error(spec.span, format!("{location} config should be a hash"));
            return;
        }
    };
    let mut ok = true;
    let mut error = |span: Span, message: String| {
        ok = false;
        diags.error(span, message);
    };
    if let Some((names, first)) = unknown_keys(map, &INPUT_KEYS) {
        error(first.span, format!("{location} config contains unknown keys: {names}"));
    }
    for other in ["options", "default"] {
        if map.contains_key("rules") && map.contains_key(other) {
            error(spec.span, format!("{location} config these keys cannot be used together: rules, {other}"));
        }
    }
    if let Some(ty) = map.get("type")
        && !ty.as_str().is_some_and(|t| INPUT_TYPES.contains(&t))
    {
        error(ty.span, format!("{location} input type unknown value: {}", ruby_to_s(ty)));
    }
    if let Some(description) = map.get("description")
        && !matches!(description.value, Value::Str(_) | Value::Int(_) | Value::Null)
    {
        error(description.span, format!("{location} input description must be an alphanumeric string"));
    }
    if let Some(regex) = map.get("regex")
        && !matches!(regex.value, Value::Str(_) | Value::Null)
    {
        error(regex.span, format!("{location} input regex should be a string"));
    }
    match map.get("options").map(|o| (o, &o.value)) {
        Some((_, Value::Seq(items))) if items.len() > MAX_OPTIONS => {
            error(spec.span, format!("{location} config cannot define more than {MAX_OPTIONS} options"));
        }
        None | Some((_, Value::Seq(_) | Value::Null)) => {}
        Some((options, _)) => error(options.span, format!("{location} input options should be an array")),
    }
    if let Some(rules) = map.get("rules") {
        check_input_rules(&location, rules, &mut error);
    }
    if !ok {
        return;
    }
    // The interpolation checks: every default is validated whenever the
    // file is used, whether or not a value is passed.
    if let (Some(ty), Some(default)) = (InputType::of(Some(spec)), map.get("default")) {
        for problem in validate_value(name, Some(map), ty, default, true) {
            diags.error(problem.span, problem.message);
        }
    }
}

fn check_input_rules(location: &str, rules: &Node, error: &mut impl FnMut(Span, String)) {
    let Some(items) = rules.as_seq() else {
        error(rules.span, format!("{location} rules should be an array of hashes"));
        return;
    };
    for rule in items {
        let Some(map) = rule.as_map() else {
            error(rule.span, format!("{location}:rules:rule config should be a hash"));
            continue;
        };
        check_input_rule(location, rule, map, error);
    }
}

fn check_input_rule(location: &str, rule: &Node, map: &Map, error: &mut impl FnMut(Span, String)) {
    if let Some((names, first)) = unknown_keys(map, &INPUT_RULE_KEYS) {
        error(first.span, format!("{location}:rules:rule config contains unknown keys: {names}"));
    }
    if !map.contains_key("default") {
        error(rule.span, format!("{location}:rules:rule config missing required keys: default"));
    }
    if let Some(options) = map.get("options")
        && options.as_seq().is_none()
    {
        error(options.span, format!("{location}:rules:rule options should be an array"));
    }
}
