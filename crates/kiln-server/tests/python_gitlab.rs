//! `python-gitlab` (from PyPI) against a real server: the client GitLab users
//! script with must work unchanged. Needs `pip install python-gitlab`.

mod common;

use common::ServerProcess;
use kiln_store::Backend;

#[test]
fn python_gitlab_drives_the_api() {
    let server = ServerProcess::start(Backend::Sqlite);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/gitlab_client.py");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let output = std::process::Command::new(python)
        .arg(script)
        .env("KILN_URL", &server.url)
        .env("KILN_TOKEN", &server.token)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python-gitlab script failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        server.log()
    );
    assert!(stdout.contains("python-gitlab: ok"), "{stdout}");
}
