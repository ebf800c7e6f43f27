//! Data-driven tests of the typed model: every `test_data/model/ok/*.yml`
//! parses with no errors into the rendering in its snapshot, and every
//! `test_data/model/err/*.yml` reports at least one error, rendered as
//! `file:line:col: message` in its snapshot.

use std::path::{Path, PathBuf};

use kiln_config::diag::Diagnostics;
use kiln_config::model::{ModelOptions, parse_config, render};
use kiln_config::source::SourceMap;
use kiln_config::yaml::{Limits, load_documents};

fn cases(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/model").join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no cases in {}", root.display());
    files
}

/// Loads a case; a first line `# strict` turns strict mode on.
fn run(path: &Path) -> (String, Diagnostics, SourceMap) {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut sources = SourceMap::default();
    let file = sources.add(name, text.clone());
    let docs = load_documents(file, &text, &Limits::default()).unwrap();
    let root = docs.into_iter().next().unwrap();
    let opts = ModelOptions { strict: text.starts_with("# strict") };
    let mut diags = Diagnostics::default();
    let config = parse_config(&root, &opts, &mut diags);
    (render(&config), diags, sources)
}

fn snapshot(name: &str, body: &str) {
    insta::with_settings!({ snapshot_path => "snapshots/model", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, body);
    });
}

#[test]
fn ok_cases_parse_without_errors() {
    for path in cases("ok") {
        let (rendered, diags, sources) = run(&path);
        let shown: Vec<String> = diags.iter().map(|d| d.display(&sources).to_string()).collect();
        assert!(!diags.has_errors(), "{}: unexpected errors:\n{}", path.display(), shown.join("\n"));
        let mut body = rendered;
        for w in shown {
            body.push_str(&format!("{w}\n"));
        }
        snapshot(&format!("ok__{}", path.file_stem().unwrap().to_string_lossy()), &body);
    }
}

#[test]
fn err_cases_report_errors() {
    for path in cases("err") {
        let (_, diags, sources) = run(&path);
        assert!(diags.has_errors(), "{}: expected at least one error", path.display());
        let body: String = diags.iter().map(|d| format!("{}\n", d.display(&sources))).collect();
        snapshot(&format!("err__{}", path.file_stem().unwrap().to_string_lossy()), &body);
    }
}
