//! Structural checks of an `include:` value, in GitLab's words: which keys
//! an include may have, which one says where the file is, and what `rules`,
//! `integrity` and `cache` may hold. Nothing is fetched here.

use crate::diag::Diagnostics;
use crate::yaml::{Map, Node, Value};

use super::util::{is_present, ruby_to_s, to_json, unknown_keys};

/// The keys that say where an included file comes from, in the order
/// GitLab lists them.
pub(crate) const LOCATION_KEYS: [&str; 6] =
    ["local", "project", "remote", "template", "artifact", "component"];

const INCLUDE_KEYS: [&str; 13] = [
    "local",
    "file",
    "remote",
    "project",
    "ref",
    "integrity",
    "cache",
    "template",
    "artifact",
    "inputs",
    "job",
    "rules",
    "component",
];

const RULE_KEYS: [&str; 4] = ["if", "exists", "when", "changes"];

/// GitLab's message for an include that is neither a hash nor a string.
pub(crate) const NOT_HASH_OR_STRING: &str = "Each include must be a hash or a string";

/// Checks the value of `include:` (a string, a hash or a list of them).
pub fn check_include_syntax(node: &Node, diags: &mut Diagnostics) {
    match &node.value {
        Value::Seq(items) => items.iter().for_each(|item| check_item(item, diags)),
        _ => check_item(node, diags),
    }
}

fn check_item(node: &Node, diags: &mut Diagnostics) {
    match &node.value {
        // `Array.wrap(...).compact` drops nulls.
        Value::Null => {}
        Value::Str(location) => check_string_location(node, location, diags),
        Value::Map(map) => check_map(node, map, diags),
        _ => diags.error(node.span, NOT_HASH_OR_STRING),
    }
}

fn check_string_location(node: &Node, location: &str, diags: &mut Diagnostics) {
    if location.trim().is_empty() {
        diags.error(node.span, no_subkey_message(&format!("{{\"local\":{}}}", to_json(node))));
        return;
    }
    check_extension(node, location, diags);
}

/// `` `{json}` does not have a valid subkey for include. Valid subkeys are: ... ``
pub(crate) fn no_subkey_message(json: &str) -> String {
    format!(
        "`{json}` does not have a valid subkey for include. Valid subkeys are: `{}`",
        LOCATION_KEYS.join("`, `")
    )
}

pub(crate) fn only_one_message() -> String {
    format!("Each include must use only one of: `{}`", LOCATION_KEYS.join("`, `"))
}

/// Which location keys an include hash uses, as GitLab's matcher counts
/// them (`project` counts only together with a present `file`).
pub(crate) fn location_kinds(map: &Map) -> Vec<&'static str> {
    LOCATION_KEYS
        .into_iter()
        .filter(|key| match *key {
            "project" => is_present(map.get("project")) && is_present(map.get("file")),
            key => is_present(map.get(key)),
        })
        .collect()
}

fn check_map(node: &Node, map: &Map, diags: &mut Diagnostics) {
    if let Some((names, first)) = unknown_keys(map, &INCLUDE_KEYS) {
        diags.error(first.span, format!("include config contains unknown keys: {names}"));
    }
    let kinds = location_kinds(map);
    let project_without_file = map.contains_key("project") && !is_present(map.get("file"));
    if project_without_file {
        diags.error(node.span, "include config must specify the file where to fetch the config from");
    } else if kinds.is_empty() {
        diags.error(node.span, no_subkey_message(&to_json(node)));
    } else if kinds.len() > 1 {
        diags.error(node.span, only_one_message());
    }
    for key in ["local", "remote", "template", "artifact", "component"] {
        if let Some(value) = map.get(key) {
            check_location_value(value, key != "template" && key != "component", diags);
        }
    }
    match map.get("file").map(|f| (f, &f.value)) {
        Some((_, Value::Seq(files))) => files.iter().for_each(|f| check_location_value(f, true, diags)),
        Some((file, _)) => check_location_value(file, true, diags),
        None => {}
    }
    if let Some(remote) = map.get("remote").and_then(Node::as_str)
        && !remote.contains('$')
        && !is_valid_url(remote)
    {
        diags.error(
            map.get("remote").map_or(node.span, |r| r.span),
            format!("Remote file `{remote}` does not have a valid address!"),
        );
    }
    if map.contains_key("artifact") && !is_present(map.get("job")) {
        diags.error(node.span, "include config must specify the job where to fetch the artifact from");
    }
    check_integrity(node, map, diags);
    check_cache(node, map, diags);
    if let Some(rules) = map.get("rules") {
        check_include_rules(rules, diags);
    }
    if let Some(inputs) = map.get("inputs")
        && !matches!(inputs.value, Value::Map(_) | Value::Null)
    {
        diags.error(inputs.span, "include inputs should be a hash");
    }
}

fn check_location_value(value: &Node, yaml_extension: bool, diags: &mut Diagnostics) {
    match &value.value {
        Value::Str(location) => {
            if yaml_extension {
                check_extension(value, location, diags);
            }
        }
        Value::Null => {}
        _ => diags.error(value.span, format!("Included file `{}` needs to be a string", ruby_to_s(value))),
    }
}

/// `Included file ... does not have YAML extension!`, unless a variable may
/// still supply the extension.
fn check_extension(node: &Node, location: &str, diags: &mut Diagnostics) {
    if location.contains('$') {
        return;
    }
    if !has_yaml_extension(location) {
        diags.error(node.span, format!("Included file `{location}` does not have YAML extension!"));
    }
}

/// GitLab's `/.+\.(yml|yaml)$/i` on the file name.
pub(crate) fn has_yaml_extension(location: &str) -> bool {
    let name = location.rsplit('/').next().unwrap_or(location);
    let lower = name.to_ascii_lowercase();
    [".yml", ".yaml"].iter().any(|ext| lower.len() > ext.len() && lower.ends_with(ext))
}

/// `Gitlab::UrlSanitizer.valid?`: an absolute URL with an allowed scheme.
pub(crate) fn is_valid_url(location: &str) -> bool {
    let trimmed = location.trim();
    let Some((scheme, rest)) = trimmed.split_once("://") else { return false };
    ["http", "https", "ssh", "git"].contains(&scheme.to_ascii_lowercase().as_str())
        && !rest.is_empty()
        && !rest.starts_with('/')
        && !trimmed.contains(char::is_whitespace)
}

fn check_integrity(node: &Node, map: &Map, diags: &mut Diagnostics) {
    let Some(integrity) = map.get("integrity").filter(|i| !i.is_null()) else { return };
    if !is_present(map.get("remote")) {
        diags.error(node.span, "include config integrity can only be specified for remote includes");
    }
    let Some(hash) = integrity.as_str().and_then(|s| s.strip_prefix("sha256-")) else {
        diags.error(integrity.span, "include config integrity hash must start with 'sha256-'");
        return;
    };
    if !is_strict_base64(hash) {
        diags.error(integrity.span, "include config integrity hash must be base64 encoded");
    }
}

/// Ruby's `Base64.strict_decode64` accepts the text.
pub(crate) fn is_strict_base64(s: &str) -> bool {
    if !s.len().is_multiple_of(4) {
        return false;
    }
    let body = s.trim_end_matches('=');
    let padding = s.len() - body.len();
    padding <= 2 && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

fn check_cache(node: &Node, map: &Map, diags: &mut Diagnostics) {
    let Some(cache) = map.get("cache").filter(|c| !c.is_null()) else { return };
    if !is_present(map.get("remote")) {
        diags.error(node.span, "include config cache can only be specified for remote includes");
    }
    let valid = match &cache.value {
        Value::Bool(_) => true,
        Value::Str(s) => !s.trim().is_empty(),
        _ => false,
    };
    if !valid {
        diags.error(cache.span, "include cache should be a boolean or a duration");
    }
}

/// Checks `include:rules` as GitLab's `Entry::Include::Rules` does.
pub(crate) fn check_include_rules(rules: &Node, diags: &mut Diagnostics) {
    let items = match &rules.value {
        Value::Null => return,
        Value::Seq(items) if items.is_empty() => {
            diags.error(rules.span, "include:rules config can't be blank");
            return;
        }
        Value::Seq(items) => items,
        _ => {
            diags.error(rules.span, "include:rules config should be an array");
            return;
        }
    };
    for rule in items {
        let map = match &rule.value {
            Value::Map(map) if !map.is_empty() => map,
            Value::Null | Value::Map(_) => {
                diags.error(rule.span, "include:rules:rule config can't be blank");
                continue;
            }
            _ => {
                diags.error(rule.span, "include:rules:rule config should be a hash");
                continue;
            }
        };
        if let Some((names, first)) = unknown_keys(map, &RULE_KEYS) {
            diags.error(first.span, format!("include:rules:rule config contains unknown keys: {names}"));
        }
        if let Some(cond) = map.get("if").filter(|c| !c.is_null())
            && !cond.as_str().is_some_and(is_valid_expression)
        {
            diags.error(cond.span, "include:rules:rule if invalid expression syntax");
        }
        if let Some(when) = map.get("when").filter(|w| !w.is_null())
            && !matches!(when.as_str(), Some("never" | "always"))
        {
            diags.error(when.span, format!("include:rules:rule when unknown value: {}", ruby_to_s(when)));
        }
        if let Some(exists) = map.get("exists") {
            check_paths_clause(exists, "exists", &["paths", "project", "ref"], diags);
        }
        if let Some(changes) = map.get("changes") {
            check_paths_clause(changes, "changes", &["paths", "compare_to"], diags);
        }
    }
}

/// `exists:` and `changes:`: a list of paths, or a hash with `paths:`.
fn check_paths_clause(node: &Node, name: &str, keys: &[&str], diags: &mut Diagnostics) {
    let location = format!("include:rules:rule:{name}");
    match &node.value {
        Value::Null | Value::Str(_) => {}
        Value::Seq(items) => {
            if items.iter().any(|i| i.as_str().is_none()) {
                diags.error(node.span, format!("{location} config should be an array of strings"));
            }
        }
        Value::Map(map) => {
            if let Some((names, first)) = unknown_keys(map, keys) {
                diags.error(first.span, format!("{location} config contains unknown keys: {names}"));
            }
            match map.get("paths") {
                Some(paths) if paths.as_seq().is_some_and(|p| p.iter().all(|i| i.as_str().is_some())) => {}
                Some(paths) => {
                    diags.error(paths.span, format!("{location} paths should be an array of strings"))
                }
                None => diags.error(node.span, format!("{location} config missing required keys: paths")),
            }
        }
        _ => diags.error(node.span, format!("{location} should be an array of strings or a hash")),
    }
}

/// Whether `src` parses as a `rules:if` expression.
fn is_valid_expression(src: &str) -> bool {
    kiln_expr::Expression::parse(src).is_ok()
}
