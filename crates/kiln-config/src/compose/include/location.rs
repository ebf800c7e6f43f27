//! From an `include:` value to the list of files to read, in GitLab's
//! order (`External::Mapper`): normalize strings to `local`/`remote`,
//! filter by `rules`, expand `project` file lists and `local` wildcards,
//! expand variables, then decide each entry's type.

use crate::yaml::{Key, Map, Node, Value};

use super::super::include_syntax::{
    NOT_HASH_OR_STRING, check_include_rules, is_valid_url, location_kinds, no_subkey_message,
    only_one_message,
};
use super::super::util::{to_json, unknown_keys};
use super::{Includer, Origin};

/// Keys an include hash may have; anything else is ignored by GitLab's
/// processor, so we warn about it.
const KNOWN_KEYS: [&str; 13] = [
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

/// What kind of file an include names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Local,
    Project,
    Remote,
    Template,
    Artifact,
    Component,
}

/// One file to include: the entry as written (for positions) and its
/// parameters after normalization and variable expansion.
#[derive(Debug, Clone)]
pub(crate) struct Location<'n> {
    pub(crate) entry: &'n Node,
    pub(crate) kind: Kind,
    pub(crate) params: Map,
}

impl Location<'_> {
    pub(crate) fn param(&self, key: &str) -> Option<&Node> {
        self.params.get(key)
    }
}

impl Includer<'_> {
    /// The files an `include:` value names, in order, with problems
    /// reported. An entry with a problem is left out.
    pub(crate) fn locations<'n>(&mut self, include: &'n Node, origin: &Origin) -> Vec<Location<'n>> {
        let items: Vec<&Node> = match &include.value {
            Value::Seq(items) => items.iter().filter(|i| !i.is_null()).collect(),
            Value::Null => Vec::new(),
            _ => vec![include],
        };
        let mut out = Vec::new();
        for entry in items {
            let Some(params) = self.normalize(entry, origin) else { continue };
            if !self.rules_pass(entry, &params, origin) {
                continue;
            }
            for params in self.expand_locations(entry, params, origin) {
                let params = self.expand_variables(params, origin);
                if let Some(kind) = self.match_kind(entry, &params) {
                    out.push(Location { entry, kind, params });
                }
            }
        }
        out
    }

    /// A string becomes `{remote: url}` or `{local: path}` (after variable
    /// expansion, since a variable may hide which one it is).
    fn normalize(&mut self, entry: &Node, origin: &Origin) -> Option<Map> {
        match &entry.value {
            Value::Str(text) => {
                let expanded = self.expand_text(text, origin);
                let key = if is_valid_url(&expanded) { "remote" } else { "local" };
                let mut map = Map::new();
                map.insert(Key { name: key.into(), span: entry.span }, Node::str(expanded, entry.span));
                Some(map)
            }
            Value::Map(map) => {
                if let Some((names, first)) = unknown_keys(map, &KNOWN_KEYS) {
                    self.diags.warning(
                        first.span,
                        format!("include config contains unknown keys: {names} (GitLab ignores them)"),
                    );
                }
                Some(map.clone())
            }
            _ => {
                self.diags.error(entry.span, NOT_HASH_OR_STRING);
                None
            }
        }
    }

    fn rules_pass(&mut self, entry: &Node, params: &Map, origin: &Origin) -> bool {
        let Some(rules) = params.get("rules").filter(|r| !r.is_null()) else { return true };
        let before = self.diags.len();
        check_include_rules(rules, self.diags);
        if self.diags.len() > before {
            return false;
        }
        match self.evaluate_rules(rules, origin) {
            Ok(pass) => pass,
            Err(message) => {
                self.diags.error(entry.span, message);
                false
            }
        }
    }

    /// `project` with a list of files becomes one location per file;
    /// `local` with `*` becomes one location per matching file.
    fn expand_locations(&mut self, entry: &Node, params: Map, origin: &Origin) -> Vec<Map> {
        if params.contains_key("project") {
            return match params.get("file").map(|f| &f.value) {
                Some(Value::Seq(files)) => files
                    .iter()
                    .map(|file| {
                        let mut one = params.clone();
                        one.insert(Key { name: "file".into(), span: file.span }, file.clone());
                        one
                    })
                    .collect(),
                _ => vec![params],
            };
        }
        let Some(pattern) = params.get("local").and_then(Node::as_str).filter(|l| l.contains('*')) else {
            return vec![params];
        };
        let span = params.get("local").map_or(entry.span, |l| l.span);
        let files = match self.list_origin_files(origin) {
            Ok(files) => files,
            Err(message) => {
                self.diags.error(span, format!("Local file `{pattern}` cannot be expanded: {message}"));
                return Vec::new();
            }
        };
        let mut matched: Vec<String> = files.into_iter().filter(|f| wildcard_match(pattern, f)).collect();
        matched.sort();
        matched
            .into_iter()
            .map(|path| {
                let mut one = Map::new();
                one.insert(Key { name: "local".into(), span }, Node::str(path, span));
                one
            })
            .collect()
    }

    /// Expands variables in every string (and list of strings) parameter.
    fn expand_variables(&self, params: Map, origin: &Origin) -> Map {
        params
            .into_iter()
            .map(|(key, value)| {
                let value = match value.value {
                    Value::Str(ref s) => Node::str(self.expand_text(s, origin), value.span),
                    Value::Seq(ref items) if key.name != "rules" => Node::new(
                        Value::Seq(
                            items
                                .iter()
                                .map(|i| match i.scalar_to_string() {
                                    Some(s) => Node::str(self.expand_text(&s, origin), i.span),
                                    None => i.clone(),
                                })
                                .collect(),
                        ),
                        value.span,
                    ),
                    _ => value,
                };
                (key, value)
            })
            .collect()
    }

    fn match_kind(&mut self, entry: &Node, params: &Map) -> Option<Kind> {
        let kinds = location_kinds(params);
        match kinds.as_slice() {
            [] => {
                let json = to_json(&Node::new(Value::Map(params.clone()), entry.span));
                self.diags.error(entry.span, no_subkey_message(&json));
                None
            }
            [kind] => Some(match *kind {
                "local" => Kind::Local,
                "project" => Kind::Project,
                "remote" => Kind::Remote,
                "template" => Kind::Template,
                "artifact" => Kind::Artifact,
                _ => Kind::Component,
            }),
            _ => {
                self.diags.error(entry.span, only_one_message());
                None
            }
        }
    }
}

/// `Repository#search_files_by_wildcard_path`: `**` matches anything, `*`
/// anything but `/`, the rest literally, over the whole path.
pub(crate) fn wildcard_match(pattern: &str, path: &str) -> bool {
    let pattern = pattern.trim_start_matches('/').as_bytes();
    let path = path.as_bytes();
    // Backtracking over at most two kinds of star; `positions` holds the
    // path indexes still possible after each pattern prefix.
    let mut positions = vec![0usize];
    let mut i = 0;
    while i < pattern.len() {
        let mut next = Vec::new();
        if pattern[i] == b'*' {
            let double = pattern.get(i + 1) == Some(&b'*');
            for &p in &positions {
                let mut q = p;
                next.push(q);
                while q < path.len() && (double || path[q] != b'/') {
                    q += 1;
                    next.push(q);
                }
            }
            i += if double { 2 } else { 1 };
        } else {
            for &p in &positions {
                if path.get(p) == Some(&pattern[i]) {
                    next.push(p + 1);
                }
            }
            i += 1;
        }
        next.sort_unstable();
        next.dedup();
        positions = next;
        if positions.is_empty() {
            return false;
        }
    }
    positions.contains(&path.len())
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards_follow_gitlab() {
        assert!(wildcard_match("configs/*.yml", "configs/.gitlab-ci.yml"));
        assert!(!wildcard_match("configs/*.yml", "configs/sub/.gitlab-ci.yml"));
        assert!(wildcard_match("configs/**.yml", "configs/sub/sub/.gitlab-ci.yml"));
        assert!(wildcard_match("configs/**.yml", "configs/a.yml"));
        assert!(wildcard_match("configs/**/*.yml", "configs/sub/a.yml"));
        assert!(!wildcard_match("configs/**/*.yml", "configs/a.yml"));
        assert!(wildcard_match("/.gitlab/*.gitlab-ci.yml", ".gitlab/docs.gitlab-ci.yml"));
    }
}
