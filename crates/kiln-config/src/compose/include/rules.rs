//! `include:rules`: whether an include is used (`Config::External::Rules`).
//!
//! A rule matches when all of its clauses do: `if` (with the pipeline's
//! predefined and project variables only, as GitLab restricts include
//! rules), `exists` and `changes`. The first matching rule decides; its
//! `when: never` drops the file, anything else keeps it. No matching rule
//! drops it.

use std::collections::BTreeMap;

use globset::{GlobBuilder, GlobMatcher};

use crate::yaml::{Node, Value};

/// Lists the files of the including file's project, or of another
/// project (and ref) when an `exists` clause names one.
pub(crate) type ListFiles<'a> = dyn Fn(Option<(&str, Option<&str>)>) -> Result<Vec<String>, String> + 'a;

/// What the rules of one include can look at.
pub(crate) struct RuleEnv<'a> {
    pub(crate) variables: &'a BTreeMap<String, String>,
    /// Every file path of the including file's project, or why there is
    /// none; asked for only when a rule uses `exists`.
    pub(crate) list_files: &'a ListFiles<'a>,
    /// Paths changed by the pipeline's push; `None` when unknown (then
    /// every `changes` clause is true, as in GitLab).
    pub(crate) changed_paths: Option<&'a [String]>,
}

/// Whether the include passes its rules. `rules` was already checked by
/// `check_include_rules`; malformed parts count as not matching.
pub(crate) fn passes(rules: &Node, env: &RuleEnv<'_>) -> Result<bool, String> {
    let Some(items) = rules.as_seq() else { return Ok(true) };
    for rule in items {
        let Some(map) = rule.as_map() else { continue };
        if matches(map, env)? {
            return Ok(map.get("when").and_then(Node::as_str) != Some("never"));
        }
    }
    Ok(false)
}

fn matches(rule: &crate::yaml::Map, env: &RuleEnv<'_>) -> Result<bool, String> {
    if let Some(cond) = rule.get("if").and_then(Node::as_str) {
        let Ok(expr) = kiln_expr::Expression::parse(cond) else { return Ok(false) };
        if !expr.evaluate(env.variables).unwrap_or(false) {
            return Ok(false);
        }
    }
    if let Some(exists) = rule.get("exists").filter(|e| !e.is_null()) {
        let (patterns, project) = paths_clause(exists);
        let project_ref = project.as_ref().map(|(p, r)| (p.as_str(), r.as_deref()));
        let files = (env.list_files)(project_ref)?;
        let globs = globs(&patterns, env);
        if !files.iter().any(|f| globs.iter().any(|g| g.is_match(f))) {
            return Ok(false);
        }
    }
    if let Some(changes) = rule.get("changes").filter(|c| !c.is_null())
        && let Some(changed) = env.changed_paths
    {
        let (patterns, _) = paths_clause(changes);
        let globs = globs(&patterns, env);
        if !changed.iter().any(|f| globs.iter().any(|g| g.is_match(f))) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The patterns of an `exists`/`changes` clause, and for `exists` the
/// other project (and ref) to look in.
fn paths_clause(node: &Node) -> (Vec<String>, Option<(String, Option<String>)>) {
    let strings = |n: &Node| -> Vec<String> {
        match &n.value {
            Value::Str(s) => vec![s.clone()],
            Value::Seq(items) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        }
    };
    match node.as_map() {
        Some(map) => {
            let paths = map.get("paths").map(strings).unwrap_or_default();
            let project = map
                .get("project")
                .and_then(Node::as_str)
                .map(|p| (p.to_string(), map.get("ref").and_then(Node::as_str).map(str::to_string)));
            (paths, project)
        }
        None => (strings(node), None),
    }
}

/// `File.fnmatch?(pattern, path, FNM_PATHNAME | FNM_DOTMATCH | FNM_EXTGLOB)`
/// for each pattern, after expanding the variables it names.
fn globs(patterns: &[String], env: &RuleEnv<'_>) -> Vec<GlobMatcher> {
    patterns
        .iter()
        .filter_map(|p| {
            let expanded = kiln_expr::expand_existing(p, env.variables);
            let pattern = expanded.trim_start_matches('/');
            GlobBuilder::new(pattern).literal_separator(true).backslash_escape(true).build().ok()
        })
        .map(|g| g.compile_matcher())
        .collect()
}
