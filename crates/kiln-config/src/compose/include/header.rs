//! A file's `spec:` header: checked, its input definitions gathered
//! (including those of `spec:include` files, `External::Header::Processor`),
//! the given inputs resolved against them, and the content interpolated.

use std::collections::BTreeMap;

use crate::diag::Diagnostics;
use crate::source::Span;
use crate::yaml::{Key, Map, Node, Value};

use super::super::inputs;
use super::super::interpolate::{self, Context};
use super::super::spec_syntax::check_spec_syntax;
use super::super::util::unknown_keys;
use super::location::Kind;
use super::{Includer, Origin};

/// How a file with a header is used: the inputs passed (and where, for
/// messages), where the file came from, its component data, and the
/// prefix of its messages (its location; nothing for the main file).
#[derive(Clone, Copy)]
pub(crate) struct HeaderUse<'a> {
    pub(crate) args: Option<&'a Node>,
    pub(crate) at: Span,
    pub(crate) origin: &'a Origin,
    pub(crate) component: Option<&'a Map>,
    pub(crate) prefix: &'a str,
}

impl Includer<'_> {
    /// Checks `header`, resolves `args` against its inputs and interpolates
    /// `content`. Problems are reported with `prefix` (the file's location
    /// for included files, nothing for the main file).
    pub(crate) fn apply_header(
        &mut self,
        header: &Node,
        content: Option<&Node>,
        usage: &HeaderUse<'_>,
    ) -> Option<Node> {
        let HeaderUse { args, at, origin, component, prefix } = *usage;
        let mut problems = Diagnostics::default();
        if let Some(map) = header.as_map() {
            if let Some((names, first)) = unknown_keys(map, &["spec"]) {
                problems.error(first.span, format!("header config contains unknown keys: {names}"));
            }
            if let Some(spec) = map.get("spec") {
                check_spec_syntax(spec, &mut problems);
            }
        }
        if report(problems, prefix, self.diags) {
            return None;
        }
        if let Some(args) = args
            && args.as_map().is_none()
        {
            self.diags.error(args.span, format!("{prefix}include inputs should be a hash"));
            return None;
        }
        let spec = header.get("spec");
        let specs = self.input_specs(spec, origin, prefix)?;
        let resolved = inputs::resolve(Some(&specs), args.and_then(Node::as_map), at);
        if !resolved.errors.is_empty() {
            for e in resolved.errors {
                self.diags.error(e.span, format!("{prefix}{}", e.message));
            }
            return None;
        }
        let content = content?;
        let variables: BTreeMap<String, String> = self.variables_for(origin).clone();
        // `$[[ component.* ]]` sees the fields the header asks for.
        let fields: Vec<&str> = spec
            .and_then(|s| s.get("component"))
            .and_then(Node::as_seq)
            .map(|f| f.iter().filter_map(Node::as_str).collect())
            .unwrap_or_default();
        let component: Option<Map> = component.map(|data| {
            data.iter()
                .filter(|(k, _)| fields.contains(&k.name.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        });
        let cx = Context { inputs: &resolved.values, variables: &variables, component: component.as_ref() };
        match interpolate::interpolate(content, &cx) {
            Ok(node) => Some(node),
            Err(errors) => {
                for e in errors {
                    self.diags.error(e.span, format!("{prefix}{}", e.message));
                }
                None
            }
        }
    }

    /// The input definitions of a header: those of its `spec:include`
    /// files, in order, then its own. A name defined twice is an error.
    fn input_specs(&mut self, spec: Option<&Node>, origin: &Origin, prefix: &str) -> Option<Map> {
        let own = spec.and_then(|s| s.get("inputs")).and_then(Node::as_map);
        let Some(include) = spec.and_then(|s| s.get("include")).filter(|i| !i.is_null()) else {
            return Some(own.cloned().unwrap_or_default());
        };
        let mut all: Vec<(Key, Node)> = Vec::new();
        let mut ok = true;
        for location in self.locations(include, origin) {
            if !matches!(location.kind, Kind::Local | Kind::Project | Kind::Remote) {
                self.diags.error(
                    location.entry.span,
                    format!("{prefix}header includes can only use `local`, `project` and `remote`"),
                );
                ok = false;
                continue;
            }
            if !self.count_file(location.entry.span) {
                return None;
            }
            let Some((fetched, doc)) = self.read(&location, origin) else {
                ok = false;
                continue;
            };
            let Some(content) = doc.content.as_ref().and_then(Node::as_map) else {
                self.diags.error(
                    location.entry.span,
                    format!("Included file `{}` does not have valid YAML syntax!", fetched.location),
                );
                ok = false;
                continue;
            };
            let unknown: Vec<String> =
                content.keys().filter(|k| *k != "inputs").map(|k| format!(":{k}")).collect();
            if !unknown.is_empty() {
                self.diags.error(
                    location.entry.span,
                    format!(
                        "Header include file `{}` contains unknown keys: [{}]",
                        fetched.location,
                        unknown.join(", ")
                    ),
                );
                ok = false;
                continue;
            }
            if let Some(Value::Map(file_inputs)) = content.get("inputs").map(|i| &i.value) {
                all.extend(file_inputs.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        if !ok {
            return None;
        }
        all.extend(own.into_iter().flat_map(Map::iter).map(|(k, v)| (k.clone(), v.clone())));
        let mut seen: Vec<&str> = Vec::new();
        let mut duplicates: Vec<&str> = Vec::new();
        for (key, _) in &all {
            if seen.contains(&key.name.as_str()) {
                if !duplicates.contains(&key.name.as_str()) {
                    duplicates.push(&key.name);
                }
            } else {
                seen.push(&key.name);
            }
        }
        if let Some(first) = duplicates.first() {
            let span = all.iter().rev().find(|(k, _)| k.name == *first).map_or(include.span, |(k, _)| k.span);
            self.diags.error(
                span,
                format!(
                    "{prefix}Duplicate input keys found: {}. Input keys must be unique across all included files and inline specifications.",
                    duplicates.join(", ")
                ),
            );
            return None;
        }
        let mut problems = Diagnostics::default();
        for (key, value) in &all {
            let mut one = Map::new();
            one.insert(key.clone(), value.clone());
            let wrapped = Node::new(
                Value::Map(Map::from_iter([(
                    Key { name: "inputs".into(), span: key.span },
                    Node::new(Value::Map(one), value.span),
                )])),
                value.span,
            );
            check_spec_syntax(&wrapped, &mut problems);
        }
        if report(problems, prefix, self.diags) {
            return None;
        }
        Some(all.into_iter().collect())
    }
}

/// Moves `problems` into `diags` with `prefix`; true when there were errors.
fn report(problems: Diagnostics, prefix: &str, diags: &mut Diagnostics) -> bool {
    let failed = problems.has_errors();
    diags.extend(problems.into_iter().map(|mut d| {
        d.message = format!("{prefix}{}", d.message);
        d
    }));
    failed
}
