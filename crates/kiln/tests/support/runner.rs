//! `kiln runner run` as a child process with its own `config.toml`, builds and
//! cache directories, in a directory of its own.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running `kiln runner run`.
pub struct RunnerProcess {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

/// What goes into the runner's `config.toml`.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    pub name: String,
    pub concurrent: usize,
    pub request_concurrency: usize,
    /// Extra lines for the `[[runners]]` table.
    pub extra: String,
}

impl Default for RunnerOptions {
    fn default() -> RunnerOptions {
        RunnerOptions { name: "e2e".into(), concurrent: 4, request_concurrency: 2, extra: String::new() }
    }
}

impl RunnerProcess {
    /// Writes a `config.toml` for one shell runner of `url` with `token` and starts it.
    pub fn start(url: &str, token: &str, options: &RunnerOptions) -> RunnerProcess {
        let dir = tempfile::Builder::new().prefix("kiln-e2e-runner-").tempdir().unwrap();
        let root = dir.path();
        let config = format!(
            "concurrent = {concurrent}\ncheck_interval = 1\nshutdown_timeout = 10\n\n\
             [[runners]]\n  name = {name:?}\n  url = {url:?}\n  token = {token:?}\n  executor = \"shell\"\n  \
             request_concurrency = {rc}\n  builds_dir = {builds:?}\n  cache_dir = {cache:?}\n{extra}\n",
            concurrent = options.concurrent,
            name = options.name,
            rc = options.request_concurrency,
            builds = root.join("builds").display().to_string(),
            cache = root.join("cache").display().to_string(),
            extra = options.extra,
        );
        std::fs::write(root.join("config.toml"), config).unwrap();
        let mut runner = RunnerProcess { dir, child: None };
        runner.spawn();
        runner
    }

    fn spawn(&mut self) {
        let root = self.dir.path();
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(root.join("runner.log")).unwrap();
        let child = Command::new(super::kiln_bin())
            .args(["runner", "--log-level", "info,kiln_runner=debug", "run", "--config"])
            .arg(root.join("config.toml"))
            .arg("--working-directory")
            .arg(root)
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    pub fn builds_dir(&self) -> PathBuf {
        self.dir.path().join("builds")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("runner.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL, as a crashed machine would: no last words to the server.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A signal by name (`QUIT`, `TERM`), then waits for the exit.
    pub fn signal_and_wait(&mut self, signal: nix::sys::signal::Signal) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("a running runner");
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
        nix::sys::signal::kill(pid, signal).unwrap();
        child.wait().unwrap()
    }
}

impl Drop for RunnerProcess {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let tail = super::tail(&self.log(), 20_000).to_string();
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("--- runner log tail ({}) ---\n{tail}\n", self.dir.path().display()).as_bytes(),
            );
        }
    }
}

/// Reads a PID written by a job script.
pub fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}
