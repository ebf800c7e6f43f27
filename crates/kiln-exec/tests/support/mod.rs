//! Running `kiln exec` on a scratch copy of a project: a git repository with
//! an `origin`, the case's files committed, some left uncommitted.

#![allow(dead_code, unreachable_pub)]

pub mod docker;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use kiln_config::context::PipelineSource;
use kiln_exec::output::{SharedWriter, Style};
use kiln_exec::select::Selection;
use kiln_exec::{ExecError, ExecOptions, Executor, Mode, Outcome};

/// A writer tests can read back.
#[derive(Clone, Default)]
pub struct Buffer(pub Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A project: `files` committed on `main` (with `origin` set), then
/// `uncommitted` written on top.
pub fn project(root: &Path, files: &[(PathBuf, Vec<u8>)], uncommitted: &[(String, String)], origin: &str) {
    std::fs::create_dir_all(root).unwrap();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["config", "user.email", "dev@example.com"]);
    git(root, &["config", "user.name", "Dev Eloper"]);
    git(root, &["remote", "add", "origin", origin]);
    for (path, content) in files {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, content).unwrap();
    }
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "Add the pipeline\n\nWith a body."]);
    for (path, content) in uncommitted {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, content).unwrap();
    }
}

/// Every file under `dir` except the ones in `skip`, relative to `dir`.
pub fn files_of(dir: &Path, skip: &[&str]) -> Vec<(PathBuf, Vec<u8>)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let rel = e.path().strip_prefix(dir).ok()?.to_path_buf();
            (!skip.iter().any(|s| rel == Path::new(s))).then(|| (rel, std::fs::read(e.path()).unwrap()))
        })
        .collect()
}

/// Options for a run in `dir` with the test helper binary.
pub fn options(dir: &Path) -> ExecOptions {
    ExecOptions {
        dir: dir.to_path_buf(),
        file: None,
        selection: Selection::default(),
        manual: Vec::new(),
        manual_all: false,
        git_ref: None,
        source: PipelineSource::Push,
        variables: Vec::new(),
        executor: Executor::Shell,
        concurrency: 4,
        in_place: false,
        mode: Mode::Run,
        helper: vec![env!("CARGO_BIN_EXE_kiln-exec-helper").to_string()],
        style: Style { color: false, progress: false },
        report: None,
        docker: None,
    }
}

/// Runs and returns the outcome and everything printed.
pub fn exec(opts: ExecOptions) -> (Result<Outcome, ExecError>, String) {
    let buffer = Buffer::default();
    let out: SharedWriter = Arc::new(Mutex::new(buffer.clone()));
    let (_tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let result = kiln_exec::run(opts, out, Some(rx));
    (result, buffer.text())
}

/// `name > text` lines with the name's padding removed.
pub fn job_lines(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|l| l.split_once(" > ").map(|(name, text)| format!("{} > {}", name.trim_end(), text)))
        .collect()
}
