//! Properties of the merge that `include:` and `extends` perform, checked
//! on random configurations through the public `compose` API against a
//! small model of ActiveSupport's `deep_merge`: hashes merge key by key,
//! everything else (arrays included) is replaced by the right-hand side.

use proptest::prelude::*;
use serde_json::{Map as JsonMap, Value as Json};

use kiln_config::compose::{ComposeOptions, compose};
use kiln_config::context::PipelineContext;
use kiln_config::diag::Diagnostics;
use kiln_config::source::SourceMap;
use kiln_config::sources::{MemoryRepository, Sources, Unavailable};
use kiln_config::yaml::{Node, Value};

/// Random values over a few keys, so that trees overlap often.
fn value(depth: u32) -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        (0i64..5).prop_map(Json::from),
        "[a-c]{1,2}".prop_map(Json::from),
        prop::collection::vec((0i64..3).prop_map(Json::from), 0..3).prop_map(Json::Array),
    ];
    leaf.prop_recursive(depth, 24, 4, |inner| {
        prop::collection::btree_map("[a-d]", inner, 1..4).prop_map(|m| Json::Object(m.into_iter().collect()))
    })
}

/// A top-level configuration: a hash of hashes (jobs `j0`..`j2`).
fn config() -> impl Strategy<Value = JsonMap<String, Json>> {
    prop::collection::btree_map("j[0-2]", value(3), 0..4).prop_map(|m| m.into_iter().collect())
}

/// Like [`value`], but the key decides the kind: `a` and `b` always hold
/// hashes, `c` and `d` never do. Where no hash meets a non-hash, deep
/// merge is associative.
fn shaped(depth: u32) -> BoxedStrategy<Json> {
    let leaf = prop_oneof![
        (0i64..5).prop_map(Json::from),
        prop::collection::vec((0i64..3).prop_map(Json::from), 0..3).prop_map(Json::Array),
    ];
    let leaves = prop::collection::btree_map("[cd]", leaf, 0..3);
    if depth == 0 {
        return leaves.prop_map(|m| Json::Object(m.into_iter().collect())).boxed();
    }
    let hashes = prop::collection::btree_map("[ab]", shaped(depth - 1), 0..3);
    (leaves, hashes).prop_map(|(l, h)| Json::Object(l.into_iter().chain(h).collect())).boxed()
}

fn shaped_config() -> impl Strategy<Value = JsonMap<String, Json>> {
    prop::collection::btree_map("j[0-2]", shaped(2), 0..4).prop_map(|m| m.into_iter().collect())
}

/// The model: `left.deep_merge(right)`.
fn deep_merge(left: &Json, right: &Json) -> Json {
    match (left, right) {
        (Json::Object(l), Json::Object(r)) => {
            let mut out = l.clone();
            for (k, v) in r {
                let merged = match out.get(k) {
                    Some(existing) => deep_merge(existing, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Json::Object(out)
        }
        (_, r) => r.clone(),
    }
}

fn to_json(node: &Node) -> Json {
    match &node.value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => Json::from(*f),
        Value::Str(s) => Json::from(s.clone()),
        Value::Seq(items) | Value::Reference(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(map) => Json::Object(map.iter().map(|(k, v)| (k.name.clone(), to_json(v))).collect()),
    }
}

/// JSON is valid YAML; with an `include:` list in front.
fn file(includes: &[&str], body: &JsonMap<String, Json>) -> String {
    let mut map = body.clone();
    if !includes.is_empty() {
        map.insert("include".into(), Json::from(includes.iter().map(|s| s.to_string()).collect::<Vec<_>>()));
    }
    serde_json::to_string(&Json::Object(map)).unwrap()
}

/// Composes `main` with the repository `files`; the merged root as JSON.
fn composed(main: &str, files: &[(&str, String)]) -> (Json, Diagnostics) {
    let mut repository = MemoryRepository::default();
    for (path, text) in files {
        repository = repository.with(path, text);
    }
    let sources = Sources { repository: &repository, projects: &Unavailable, remote: &Unavailable };
    let mut map = SourceMap::default();
    let mut diags = Diagnostics::default();
    let out = compose(
        ".gitlab-ci.yml",
        main,
        &PipelineContext::default(),
        sources,
        &ComposeOptions::default(),
        &mut map,
        &mut diags,
    );
    (out.root.as_ref().map(to_json).unwrap_or(Json::Null), diags)
}

/// An included file must not be empty, so each gets a marker key.
fn nonempty(mut body: JsonMap<String, Json>, marker: &str) -> JsonMap<String, Json> {
    body.insert(marker.into(), Json::from(1));
    body
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The including file wins: the result is `included.deep_merge(main)`.
    #[test]
    fn the_including_file_wins(included in config(), main in config()) {
        let included = nonempty(included, "m_inc");
        let (root, diags) = composed(&file(&["inc.yml"], &main), &[("inc.yml", file(&[], &included))]);
        prop_assert!(!diags.has_errors(), "{diags:?}");
        let expected = deep_merge(&Json::Object(included), &Json::Object(main));
        prop_assert_eq!(root, expected);
    }

    /// Arrays are replaced, never concatenated.
    #[test]
    fn arrays_are_replaced(left in prop::collection::vec(0i64..9, 0..4), right in prop::collection::vec(0i64..9, 0..4)) {
        let included = file(&[], &serde_json::from_value(serde_json::json!({"job": {"tags": left}})).unwrap());
        let main = file(&["inc.yml"], &serde_json::from_value(serde_json::json!({"job": {"tags": right.clone()}})).unwrap());
        let (root, _) = composed(&main, &[("inc.yml", included)]);
        prop_assert_eq!(&root["job"]["tags"], &Json::from(right));
    }

    /// Grouping includes differently gives the same tree,
    /// `(a ⊕ b) ⊕ c == a ⊕ (b ⊕ c)`, as long as no hash meets a non-hash
    /// (then the grouping matters, in GitLab as here).
    #[test]
    fn nesting_includes_is_associative(a in shaped_config(), b in shaped_config(), c in shaped_config()) {
        let (a, b, c) = (nonempty(a, "m_a"), nonempty(b, "m_b"), nonempty(c, "m_c"));
        let files = vec![
            ("a.yml", file(&[], &a)),
            ("b.yml", file(&[], &b)),
            ("c.yml", file(&[], &c)),
            ("ab.yml", file(&["a.yml", "b.yml"], &JsonMap::new())),
            ("bc.yml", file(&["b.yml", "c.yml"], &JsonMap::new())),
        ];
        let empty = JsonMap::new();
        let (flat, d1) = composed(&file(&["a.yml", "b.yml", "c.yml"], &empty), &files);
        let (left, d2) = composed(&file(&["ab.yml", "c.yml"], &empty), &files);
        let (right, d3) = composed(&file(&["a.yml", "bc.yml"], &empty), &files);
        prop_assert!(!d1.has_errors() && !d2.has_errors() && !d3.has_errors());
        prop_assert_eq!(&flat, &left);
        prop_assert_eq!(&flat, &right);
        let model = deep_merge(&deep_merge(&Json::Object(a), &Json::Object(b)), &Json::Object(c));
        prop_assert_eq!(&flat, &model);
    }

    /// With any values, each grouping is the merge in that grouping.
    #[test]
    fn each_grouping_merges_in_its_order(a in config(), b in config(), c in config()) {
        let (a, b, c) = (nonempty(a, "m_a"), nonempty(b, "m_b"), nonempty(c, "m_c"));
        let files = vec![
            ("a.yml", file(&[], &a)),
            ("b.yml", file(&[], &b)),
            ("c.yml", file(&[], &c)),
            ("bc.yml", file(&["b.yml", "c.yml"], &JsonMap::new())),
        ];
        let empty = JsonMap::new();
        let (flat, _) = composed(&file(&["a.yml", "b.yml", "c.yml"], &empty), &files);
        let (right, _) = composed(&file(&["a.yml", "bc.yml"], &empty), &files);
        let (a, b, c) = (Json::Object(a), Json::Object(b), Json::Object(c));
        prop_assert_eq!(flat, deep_merge(&deep_merge(&a, &b), &c));
        prop_assert_eq!(right, deep_merge(&a, &deep_merge(&b, &c)));
    }

    /// Without `extends` (or with an empty base) a configuration comes out
    /// as it went in.
    #[test]
    fn extends_of_nothing_changes_nothing(main in config()) {
        let (root, diags) = composed(&file(&[], &main), &[]);
        prop_assert!(!diags.has_errors());
        prop_assert_eq!(&root, &Json::Object(main.clone()));
        let mut with_base = main.clone();
        with_base.insert(".empty".into(), serde_json::json!({}));
        for (name, job) in with_base.iter_mut() {
            if let Json::Object(job) = job && name.starts_with('j') {
                job.insert("extends".into(), Json::from(".empty"));
            }
        }
        let (extended, diags) = composed(&file(&[], &with_base), &[]);
        prop_assert!(!diags.has_errors(), "{diags:?}");
        let mut expected = main;
        expected.insert(".empty".into(), serde_json::json!({}));
        prop_assert_eq!(extended, Json::Object(expected));
    }
}
