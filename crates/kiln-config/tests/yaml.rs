//! Data-driven tests of the YAML layer: every `test_data/yaml/*.yml` is
//! loaded and printed back (or its error shown), and compared with a
//! snapshot. Printing back must also be stable: loading the printed text
//! gives the same tree again.

use std::path::Path;

use kiln_config::source::{FileId, SourceMap};
use kiln_config::yaml::{self, Limits, Node, Value};

fn render(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let mut sources = SourceMap::default();
    let file = sources.add(path.file_name().unwrap().to_string_lossy(), text.clone());
    match yaml::load_documents(file, &text, &Limits::default()) {
        Err(diag) => format!("{}\n", diag.display(&sources)),
        Ok(docs) => {
            let mut out = String::new();
            for doc in &docs {
                let printed = yaml::to_yaml(doc);
                let again =
                    yaml::load_documents(FileId(9), &printed, &Limits::default()).unwrap_or_else(|e| {
                        panic!("{}: printed YAML does not load: {e:?}\n{printed}", path.display())
                    });
                assert!(
                    same_tree(doc, &again[0]),
                    "{}: printing and re-reading changed the tree:\n{printed}",
                    path.display()
                );
                out.push_str("---\n");
                out.push_str(&printed);
            }
            out
        }
    }
}

fn same_tree(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter().zip(y.iter()).all(|((ka, va), (kb, vb))| ka.name == kb.name && same_tree(va, vb))
        }
        (Value::Seq(x), Value::Seq(y)) | (Value::Reference(x), Value::Reference(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_tree(p, q))
        }
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (x, y) => x == y,
    }
}

#[test]
fn yaml_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/yaml");
    let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    assert!(!entries.is_empty());
    for path in entries.iter().filter(|p| p.extension().is_some_and(|e| e == "yml")) {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        insta::with_settings!({ snapshot_path => dir.join("snapshots"), prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name, render(path));
        });
    }
}

#[test]
fn an_alias_bomb_stops_at_the_size_limit() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = i - 1;
        text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![format!("*a{prev}"); 10].join(", ")));
    }
    let err = yaml::load_documents(FileId(0), &text, &Limits::default()).unwrap_err();
    assert_eq!(err.message, yaml::TOO_BIG);
}

#[test]
fn nesting_up_to_the_depth_limit_loads_and_one_more_level_fails() {
    let nest = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    assert!(yaml::load_documents(FileId(0), &nest(100), &Limits::default()).is_ok());
    let err = yaml::load_documents(FileId(0), &nest(101), &Limits::default()).unwrap_err();
    assert_eq!(err.message, yaml::TOO_DEEP);
    let deep = yaml::load_documents(FileId(0), &nest(100_000), &Limits::default()).unwrap_err();
    assert_eq!(deep.message, yaml::TOO_DEEP);
}

#[test]
fn a_five_megabyte_file_is_too_big() {
    let mut text = String::new();
    for i in 0..80_000 {
        text.push_str(&format!("job{i}:\n  script: echo a long enough command line number {i}\n"));
    }
    assert!(text.len() > 5_000_000);
    let err = yaml::load_documents(FileId(0), &text, &Limits::default()).unwrap_err();
    assert_eq!(err.message, yaml::TOO_BIG);
}

#[test]
fn binary_garbage_is_a_syntax_error_not_a_panic() {
    let garbage: String = (0u32..4096).map(|i| char::from_u32((i * 7919) % 0xD7FF).unwrap_or('x')).collect();
    match yaml::load_documents(FileId(0), &garbage, &Limits::default()) {
        Ok(_) => {}
        Err(d) => assert!(d.span.is_some()),
    }
}
