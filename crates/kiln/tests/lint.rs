//! `kiln lint` as a user runs it: exit codes, the text and JSON reports,
//! `--expand`, `--strict`, remote includes over loopback HTTP, and hostile
//! input that must give one clear error within a bounded amount of memory.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

fn kiln() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
}

fn lint_in(dir: &Path, args: &[&str]) -> Output {
    kiln().arg("lint").args(args).current_dir(dir).output().unwrap()
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const VALID: &str = "stages: [build, test]\nbuild:\n  stage: build\n  script: make\n  tags: [linux]\n  image: rust:1\n  retry: 2\n  timeout: 10 minutes\ntest:\n  stage: test\n  needs: [build]\n  script: [make test]\n";

#[test]
fn a_valid_file_exits_0_and_lists_the_jobs() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".gitlab-ci.yml", VALID);
    let out = lint_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains(".gitlab-ci.yml is valid"), "{text}");
    assert!(text.contains("build  build"), "{text}");
    assert!(text.contains("test   test "), "{text}");
}

#[test]
fn json_has_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".gitlab-ci.yml", VALID);
    let out = lint_in(dir.path(), &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["pipeline_created"], true);
    assert_eq!(v["stages"], serde_json::json!([".pre", "build", "test", ".post"]));
    let build = &v["jobs"][0];
    assert_eq!(build["name"], "build");
    assert_eq!(build["stage"], "build");
    assert_eq!(build["when"], "on_success");
    assert_eq!(build["allow_failure"], false);
    assert_eq!(build["needs"], serde_json::Value::Null);
    assert_eq!(build["tags"], serde_json::json!(["linux"]));
    assert_eq!(build["image"], "rust:1");
    assert_eq!(build["script"], serde_json::json!(["make"]));
    assert_eq!(build["retry"], 2);
    assert_eq!(build["timeout_s"], 600);
    assert_eq!(
        v["jobs"][1]["needs"],
        serde_json::json!([{"job": "build", "artifacts": true, "optional": false}])
    );
}

#[test]
fn an_invalid_file_exits_1_with_every_error_located() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".gitlab-ci.yml",
        "build:\n  script: make\n  whem: manual\ntest:\n  script: make\n  retry: 7\n",
    );
    let out = lint_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("jobs:build config contains unknown keys: whem"), "{text}");
    assert!(text.contains("--> .gitlab-ci.yml:3:3"), "{text}");
    assert!(text.contains(" 3 |   whem: manual\n   |   ^^^^"), "{text}");
    assert!(text.contains("jobs:test:retry"), "{text}");
    assert!(text.contains("is invalid: 2 errors"), "{text}");

    let out = lint_in(dir.path(), &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["errors"][0]["file"], ".gitlab-ci.yml");
    assert_eq!(v["errors"][0]["line"], 3);
    assert_eq!(v["errors"][0]["column"], 3);
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = lint_in(dir.path(), &["nope.yml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("failed to read nope.yml"));
    let bad_flag = lint_in(dir.path(), &["--source", "carrier-pigeon"]);
    assert_eq!(bad_flag.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_flag.stderr).contains("unknown pipeline source `carrier-pigeon`"));
}

#[test]
fn ref_tag_source_and_variables_drive_rules() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".gitlab-ci.yml",
        "release:\n  script: echo\n  rules:\n    - if: $CI_COMMIT_TAG && $DEPLOY == \"yes\"\nnightly:\n  script: echo\n  rules:\n    - if: $CI_PIPELINE_SOURCE == \"schedule\"\n",
    );
    let names = |args: &[&str]| -> Vec<String> {
        let out = lint_in(dir.path(), &[&["--format", "json"], args].concat());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["jobs"].as_array().unwrap().iter().map(|j| j["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(&["--ref", "v1.0", "--tag", "--variable", "DEPLOY=yes"]), ["release"]);
    assert_eq!(names(&["--source", "schedule"]), ["nightly"]);
    let out = lint_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("no pipeline would be created: Pipeline will not run"), "{}", stdout(&out));
}

#[test]
fn expand_prints_the_merged_configuration() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".gitlab-ci.yml",
        "include: ci/base.yml\ndefault:\n  before_script: [echo hi]\nbuild:\n  extends: .base\n  script:\n    - !reference [.setup, script]\n    - make\n",
    );
    write(dir.path(), "ci/base.yml", ".base:\n  image: alpine\n.setup:\n  script: [echo setup]\n");
    let out = lint_in(dir.path(), &["--expand"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("build:\n  image: alpine"), "{text}");
    assert!(text.contains("- echo setup\n  - make"), "{text}");
    assert!(text.contains("before_script:\n  - echo hi"), "{text}");
    assert!(!text.contains(".base:"), "{text}");
}

#[test]
fn strict_mode_checks_the_schema_rules() {
    let dir = tempfile::tempdir().unwrap();
    // GitLab itself runs this (an empty `if`); its JSON schema rejects it.
    write(dir.path(), ".gitlab-ci.yml", "job:\n  script: echo\n  rules:\n    - if:\n");
    assert_eq!(lint_in(dir.path(), &[]).status.code(), Some(0));
    assert_eq!(lint_in(dir.path(), &["--strict"]).status.code(), Some(1));
}

/// Serves one file over HTTP on loopback, for `include:remote`.
fn serve_once(body: &'static str, status: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}/ci.yml")
}

#[test]
fn remote_includes_are_fetched_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let url = serve_once("remote-job:\n  script: echo remote\n", "200 OK");
    write(
        dir.path(),
        ".gitlab-ci.yml",
        &format!("include:\n  - remote: {url}\nlocal-job:\n  script: echo\n"),
    );
    let out = lint_in(dir.path(), &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> =
        v["jobs"].as_array().unwrap().iter().map(|j| j["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["remote-job", "local-job"]);

    let url = serve_once("not found", "404 Not Found");
    write(
        dir.path(),
        ".gitlab-ci.yml",
        &format!("include:\n  - remote: {url}\nlocal-job:\n  script: echo\n"),
    );
    let out = lint_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("could not be fetched because of HTTP code `404` error!"),
        "{}",
        stdout(&out)
    );
}

/// Runs `kiln lint` on `bytes` and returns its output with the peak RSS of
/// the child in KiB (from `getrusage(RUSAGE_CHILDREN)`; nextest runs each
/// test in its own process, so the maximum is this child's).
fn lint_bytes(bytes: &[u8]) -> (Output, i64) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".gitlab-ci.yml"), bytes).unwrap();
    let out = lint_in(dir.path(), &["--format", "json"]);
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    (out, usage.max_rss())
}

fn assert_one_clear_error(bytes: &[u8], expected: &str) {
    let (out, max_rss_kib) = lint_bytes(bytes);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.contains(expected), "{message}");
    assert!(max_rss_kib < 64 * 1024, "peak RSS {max_rss_kib} KiB");
}

#[test]
fn an_alias_bomb_is_one_clear_error() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..16 {
        text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); 10].join(", ")));
    }
    assert_one_clear_error(text.as_bytes(), "the parsed YAML is too big");
}

#[test]
fn deep_nesting_is_one_clear_error() {
    let mut text = String::from("job:\n  script: echo\n  variables:\n    X: ");
    text.push_str(&"[".repeat(150));
    text.push_str(&"]".repeat(150));
    assert_one_clear_error(text.as_bytes(), "the parsed YAML is too deep");
    let mut block = String::new();
    for level in 0..101 {
        block.push_str(&format!("{}k{level}:\n", "  ".repeat(level)));
    }
    assert_one_clear_error(block.as_bytes(), "the parsed YAML is too deep");
}

#[test]
fn a_five_megabyte_file_is_one_clear_error() {
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 5 * 1024 * 1024 {
        text.push_str(&format!("job-{i}:\n  script: echo a long enough command line for job number {i}\n"));
        i += 1;
    }
    assert_one_clear_error(text.as_bytes(), "the parsed YAML is too big");
}

#[test]
fn binary_garbage_is_one_clear_error() {
    let garbage: Vec<u8> =
        (0u32..65536).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 & 0x7f).collect();
    let (out, max_rss_kib) = lint_bytes(&garbage);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errors"].as_array().unwrap().len(), 1, "{v}");
    assert!(max_rss_kib < 64 * 1024);
}

#[test]
fn invalid_utf8_is_one_clear_error() {
    assert_one_clear_error(b"job:\n  script: \xff\xfe echo\n", "not valid UTF-8");
}
