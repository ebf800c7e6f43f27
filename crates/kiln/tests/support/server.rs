//! `kiln server` as a child process on a temporary data directory, with SQLite or
//! a private PostgreSQL cluster, and the administrator's token it wrote on first start.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kiln_store::Backend;
use kiln_store::testing::{PgCluster, free_port};

use super::Api;

/// A running `kiln server`.
pub struct ServerProcess {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub port: u16,
    pub database_url: String,
    /// The administrator's `glpat-` token.
    pub token: String,
    child: Option<Child>,
    // Dropped after the server process is killed (fields drop in order after Drop).
    _cluster: Option<PgCluster>,
}

/// What to start a server with.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// The `[limits]` table of the server's TOML file, e.g. `running_no_update_timeout = 5`.
    pub limits: Vec<(String, u64)>,
}

impl ServerProcess {
    pub fn start(backend: Backend) -> ServerProcess {
        ServerProcess::start_with(backend, &ServerOptions::default())
    }

    pub fn start_with(backend: Backend, options: &ServerOptions) -> ServerProcess {
        let dir = tempfile::Builder::new().prefix("kiln-e2e-").tempdir().unwrap();
        let (database_url, cluster) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.path().join("kiln.db").display()), None),
            Backend::Postgres => {
                let cluster = PgCluster::start().unwrap();
                (cluster.url(), Some(cluster))
            }
        };
        let mut toml = String::from("[limits]\n");
        for (key, value) in &options.limits {
            toml.push_str(&format!("{key} = {value}\n"));
        }
        std::fs::write(dir.path().join("server.toml"), toml).unwrap();
        let port = free_port().unwrap();
        let mut server = ServerProcess {
            dir,
            url: format!("http://127.0.0.1:{port}"),
            port,
            database_url,
            token: String::new(),
            child: None,
            _cluster: cluster,
        };
        server.spawn();
        let credentials =
            std::fs::read_to_string(server.data_dir().join("initial_root_credentials")).unwrap();
        server.token = credentials
            .lines()
            .find_map(|l| l.strip_prefix("token: "))
            .expect("token in the credentials file")
            .to_string();
        server
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        let child = Command::new(super::kiln_bin())
            .arg("server")
            .arg("--config")
            .arg(self.dir.path().join("server.toml"))
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--database-url")
            .arg(&self.database_url)
            .env("KILN_LOG", "info,kiln_server=debug,sqlx=error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("kiln server exited with {status}: {}", self.log());
            }
            assert!(Instant::now() < deadline, "kiln server did not start: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn api(&self) -> Api {
        Api::new(&self.url, Some(&self.token))
    }

    /// A git remote URL with the administrator's token as the password.
    pub fn git_url(&self, project_path: &str) -> String {
        format!("http://root:{}@127.0.0.1:{}/{project_path}.git", self.token, self.port)
    }

    /// A new instance runner's id and `glrt-` token, made as GitLab 16+ makes them
    /// (`POST /api/v4/user/runners`).
    pub async fn runner_token(&self, description: &str) -> (i64, String) {
        let body = serde_json::json!({"runner_type": "instance_type", "description": description,
                                      "run_untagged": true});
        let (status, answer) = self.api().post("/user/runners", body).await;
        assert_eq!(status, 201, "POST /user/runners: {answer}");
        let token = answer["token"].as_str().expect("runner token").to_string();
        (answer["id"].as_i64().expect("runner id"), token)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let log = self.log();
            let kept = std::env::temp_dir().join(format!("kiln-e2e-server-{}.log", self.port));
            let _ = std::fs::write(&kept, &log);
            let tail = super::tail(&log, 20_000);
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("--- server log tail (whole log in {}) ---\n{tail}\n", kept.display()).as_bytes(),
            );
        }
    }
}
