//! Test helpers for this crate's tests and other crates' (feature `testing`): a
//! private PostgreSQL cluster, a store on either backend, and a moto S3 server.
//!
//! PostgreSQL: `initdb` runs once into a template directory (reused by later test
//! processes: `$KILN_TEST_PG_TEMPLATE`, default `<tmp>/kiln-pg-template-<uid>`), each
//! cluster copies it into its own temporary directory and starts with `pg_ctl` on a
//! free loopback port, sockets in that directory. `initdb` refuses to run as root,
//! so as root everything runs as the `postgres` system user through `runuser`.
//! The binaries come from `$KILN_PG_BIN` or `/usr/lib/postgresql/15/bin`. Dropping
//! the cluster stops it (`pg_ctl stop`, then the postmaster's pid from its pid file).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::db::Backend;
use crate::{Store, StoreOptions};

/// A test helper failed; tests unwrap it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TestError(String);

fn fail(what: impl std::fmt::Display) -> TestError {
    TestError(what.to_string())
}

/// A free loopback port (bound and released; good enough for tests).
pub fn free_port() -> Result<u16, TestError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(fail)?;
    Ok(listener.local_addr().map_err(fail)?.port())
}

fn pg_bin(name: &str) -> PathBuf {
    let dir = std::env::var_os("KILN_PG_BIN")
        .map_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"), PathBuf::from);
    dir.join(name)
}

fn is_root() -> bool {
    // Reading the effective uid needs no unsafe code through /proc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Runs a PostgreSQL binary, as `postgres` when we are root.
fn pg_command(name: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.arg("-u").arg("postgres").arg("--").arg(pg_bin(name));
        c
    } else {
        Command::new(pg_bin(name))
    }
}

fn run(mut command: Command, what: &str) -> Result<(), TestError> {
    let out = command.stdin(Stdio::null()).output().map_err(|e| fail(format!("{what}: {e}")))?;
    if !out.status.success() {
        return Err(fail(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

fn chown_postgres(path: &Path) -> Result<(), TestError> {
    if is_root() {
        let mut c = Command::new("chown");
        c.arg("-R").arg("postgres:postgres").arg(path);
        run(c, "chown")?;
    }
    Ok(())
}

/// The initdb output every cluster starts from.
fn template() -> Result<PathBuf, TestError> {
    let dir = std::env::var_os("KILN_TEST_PG_TEMPLATE").map_or_else(
        || std::env::temp_dir().join(format!("kiln-pg-template-{}", if is_root() { "root" } else { "user" })),
        PathBuf::from,
    );
    if dir.join("PG_VERSION").exists() {
        return Ok(dir);
    }
    let parent = dir.parent().ok_or_else(|| fail("template directory has no parent"))?;
    let staging = tempfile::Builder::new().prefix("kiln-pg-staging-").tempdir_in(parent).map_err(fail)?;
    chown_postgres(staging.path())?;
    let data = staging.path().join("data");
    let mut c = pg_command("initdb");
    c.arg("-D").arg(&data).args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
    run(c, "initdb")?;
    // Another process may have won the race; its template is as good as ours.
    if std::fs::rename(&data, &dir).is_err() && !dir.join("PG_VERSION").exists() {
        return Err(fail(format!("could not create the template {}", dir.display())));
    }
    Ok(dir)
}

/// Options for a private cluster.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// `fsync` (on for benchmarks that mean to measure durable commits).
    pub fsync: bool,
    pub max_connections: u32,
}

impl Default for PgOptions {
    fn default() -> PgOptions {
        PgOptions { fsync: true, max_connections: 400 }
    }
}

/// A private PostgreSQL server in a temporary directory.
#[derive(Debug)]
pub struct PgCluster {
    dir: tempfile::TempDir,
    port: u16,
}

impl PgCluster {
    /// Starts a cluster with default options.
    pub fn start() -> Result<PgCluster, TestError> {
        PgCluster::start_with(&PgOptions::default())
    }

    /// Starts a cluster.
    pub fn start_with(options: &PgOptions) -> Result<PgCluster, TestError> {
        let template = template()?;
        let dir = tempfile::Builder::new().prefix("kiln-pg-").tempdir().map_err(fail)?;
        let data = dir.path().join("data");
        let mut cp = Command::new("cp");
        cp.arg("-a").arg(&template).arg(&data);
        run(cp, "copy the template cluster")?;
        chown_postgres(dir.path())?;
        let port = free_port()?;
        let server_options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync={} -c max_connections={} -c shared_buffers=128MB",
            dir.path().display(),
            if options.fsync { "on" } else { "off" },
            options.max_connections,
        );
        let mut c = pg_command("pg_ctl");
        c.arg("-D")
            .arg(&data)
            .arg("-o")
            .arg(server_options)
            .arg("-l")
            .arg(dir.path().join("log"))
            .args(["-w", "-t", "60", "start"]);
        run(c, "pg_ctl start")?;
        let cluster = PgCluster { dir, port };
        let mut c = pg_command("createdb");
        c.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "kiln"]);
        run(c, "createdb")?;
        Ok(cluster)
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for database `kiln` (created at start).
    pub fn url(&self) -> String {
        self.url_for("kiln")
    }

    /// A URL for another database of this cluster.
    pub fn url_for(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates another database (for tests sharing one cluster).
    pub fn create_database(&self, name: &str) -> Result<String, TestError> {
        let mut c = pg_command("createdb");
        c.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", name]);
        run(c, "createdb")?;
        Ok(self.url_for(name))
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let mut c = pg_command("pg_ctl");
        c.arg("-D").arg(self.data()).args(["-m", "immediate", "-w", "-t", "30", "stop"]);
        if run(c, "pg_ctl stop").is_err() {
            // Fall back to the postmaster's own pid.
            if let Some(pid) = std::fs::read_to_string(self.data().join("postmaster.pid"))
                .ok()
                .and_then(|s| s.lines().next().map(str::to_owned))
            {
                let _ = Command::new("kill").arg("-QUIT").arg(pid.trim()).status();
            }
        }
    }
}

/// A store on a fresh database of either backend, with what keeps it alive.
#[derive(Debug)]
pub struct TestDb {
    pub store: Store,
    pub url: String,
    /// Where the SQLite file lives; also usable as scratch space.
    pub dir: tempfile::TempDir,
    pub cluster: Option<PgCluster>,
}

impl TestDb {
    /// A store on a new SQLite file or a new private PostgreSQL cluster.
    pub async fn new(backend: Backend) -> Result<TestDb, TestError> {
        TestDb::with_options(backend, StoreOptions::default()).await
    }

    /// [`TestDb::new`] with explicit store options.
    pub async fn with_options(backend: Backend, options: StoreOptions) -> Result<TestDb, TestError> {
        let dir = tempfile::Builder::new().prefix("kiln-store-").tempdir().map_err(fail)?;
        let (url, cluster) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.path().join("kiln.db").display()), None),
            Backend::Postgres => {
                let cluster = PgCluster::start()?;
                (cluster.url(), Some(cluster))
            }
        };
        let store = Store::open_with(&url, options).await.map_err(fail)?;
        Ok(TestDb { store, url, dir, cluster })
    }

    /// Opens a second store on the same database (a second replica, or a restart).
    pub async fn reopen(&self) -> Result<Store, TestError> {
        Store::open(&self.url).await.map_err(fail)
    }
}

/// A moto S3 server on a free loopback port (`pip install 'moto[server]'`).
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    port: u16,
}

impl MotoServer {
    /// Starts `moto_server` (or `$KILN_MOTO_SERVER`) and waits until it answers.
    pub fn start() -> Result<MotoServer, TestError> {
        let port = free_port()?;
        let program = std::env::var_os("KILN_MOTO_SERVER").unwrap_or_else(|| "moto_server".into());
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| fail(format!("moto_server: {e} (install with: pip install 'moto[server]')")))?;
        let server = MotoServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(fail("moto_server did not start within 30 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (moto accepts unsigned requests).
    pub fn create_bucket(&self, bucket: &str) -> Result<(), TestError> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).map_err(fail)?;
        write!(
            stream,
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .map_err(fail)?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).map_err(fail)?;
        if !answer.starts_with("HTTP/1.1 200") {
            return Err(fail(format!("create bucket: {}", answer.lines().next().unwrap_or(""))));
        }
        Ok(())
    }

    /// A blob store URL for `bucket` under `prefix`, with moto's dummy credentials.
    pub fn blob_url(&self, bucket: &str, prefix: &str) -> String {
        format!(
            "s3://{bucket}/{prefix}?endpoint={}&region=us-east-1&access_key_id=test&secret_access_key=test",
            self.endpoint()
        )
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
