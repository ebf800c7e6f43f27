//! Compose never panics: random pipelines built from the keywords compose
//! cares about (`include` in every form, `extends`, `!reference`,
//! `default`/`inherit`, `spec:inputs` and `$[[ ]]` blocks), spread over a
//! few files that include each other, always give a result whose view
//! prints as YAML that loads again.

use proptest::prelude::*;

use kiln_config::compose::{ComposeOptions, compose, expanded_view};
use kiln_config::context::PipelineContext;
use kiln_config::diag::Diagnostics;
use kiln_config::source::{FileId, SourceMap};
use kiln_config::sources::{MemoryRepository, Sources, Unavailable};
use kiln_config::yaml::{self, Limits};

#[derive(Debug, Clone)]
enum Gen {
    Str(String),
    Int(i64),
    Seq(Vec<Gen>),
    Map(Vec<(String, Gen)>),
    Ref(Vec<String>),
}

const KEYS: &[&str] = &[
    "include",
    "extends",
    "default",
    "inherit",
    "script",
    "spec",
    "inputs",
    "rules",
    "if",
    "when",
    "local",
    "project",
    "file",
    "ref",
    "remote",
    "template",
    "component",
    "exists",
    "changes",
    "variables",
    "stages",
    "image",
    "before_script",
    "trigger",
    "j1",
    "j2",
    ".h1",
    ".h2",
    "type",
    "options",
    "regex",
    "integrity",
];

const STRINGS: &[&str] = &[
    "a.yml",
    "b.yml",
    "c.yml",
    "/a.yml",
    "*.yml",
    "**.yml",
    "missing.yml",
    "https://example.com/x.yml",
    "group/p",
    ".h1",
    ".h2",
    "j1",
    "$[[ inputs.x ]]",
    "$[[ inputs.x | truncate(1,2) ]]",
    "x-$[[ inputs.y | posix_escape ]]",
    "$[[ inputs.x | expand_vars | nope ]]",
    "$CI_COMMIT_REF_NAME",
    "$X == \"1\"",
    "never",
    "always",
    "number",
    "array",
    "",
    "echo",
];

fn node(depth: u32) -> impl Strategy<Value = Gen> {
    let leaf = prop_oneof![
        prop::sample::select(STRINGS).prop_map(|s| Gen::Str(s.to_string())),
        (-2i64..3).prop_map(Gen::Int),
        prop::collection::vec(prop::sample::select(KEYS).prop_map(str::to_string), 0..3).prop_map(Gen::Ref),
    ];
    leaf.prop_recursive(depth, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Gen::Seq),
            prop::collection::vec((prop::sample::select(KEYS).prop_map(str::to_string), inner), 0..5)
                .prop_map(Gen::Map),
        ]
    })
}

fn print(g: &Gen, out: &mut String) {
    match g {
        Gen::Str(s) => out.push_str(&format!("{s:?}")),
        Gen::Int(i) => out.push_str(&i.to_string()),
        Gen::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                print(item, out);
            }
            out.push(']');
        }
        Gen::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&format!("{k:?}: "));
                print(v, out);
            }
            out.push('}');
        }
        Gen::Ref(path) => {
            out.push_str("!reference [");
            out.push_str(&path.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>().join(", "));
            out.push(']');
        }
    }
}

/// A file: optionally a header document, then a top-level hash.
fn file() -> impl Strategy<Value = String> {
    (
        prop::option::of(node(3)),
        prop::collection::vec((prop::sample::select(KEYS).prop_map(str::to_string), node(4)), 0..6),
    )
        .prop_map(|(header, body)| {
            let mut out = String::new();
            if let Some(h) = header {
                out.push_str("{\"spec\": ");
                print(&h, &mut out);
                out.push_str("}\n---\n");
            }
            print(&Gen::Map(body), &mut out);
            out.push('\n');
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn compose_never_panics(main in file(), a in file(), b in file(), c in file()) {
        let repository = MemoryRepository::default().with("a.yml", &a).with("b.yml", &b).with("c.yml", &c);
        let sources = Sources { repository: &repository, projects: &Unavailable, remote: &Unavailable };
        let mut files = SourceMap::default();
        let mut diags = Diagnostics::default();
        let opts = ComposeOptions { max_includes: 20, ..ComposeOptions::default() };
        let composed = compose(".gitlab-ci.yml", &main, &PipelineContext::default(), sources, &opts, &mut files, &mut diags);
        for d in diags.iter() {
            let _ = d.display(&files).to_string();
        }
        if let Some(root) = composed.root {
            let printed = yaml::to_yaml(&expanded_view(&root));
            prop_assert!(yaml::load_documents(FileId(0), &printed, &Limits::default()).is_ok(), "{printed}");
        }
    }
}
