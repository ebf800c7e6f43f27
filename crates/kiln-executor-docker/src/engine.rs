//! Connecting to the Docker engine, and engine errors in the words the Docker CLI (and
//! so GitLab Runner's log) uses.

use bollard::Docker;

/// How long one engine request may take before bollard gives up. Long operations
/// (pulls, waits, attached streams) send their headers at once, so this only bounds a
/// daemon that stopped answering.
const REQUEST_TIMEOUT_SECS: u64 = 600;

/// The default local socket.
pub const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";

/// Where the engine is: `[runners.docker] host`, else `DOCKER_HOST`, else the local socket.
pub fn engine_host(configured: Option<&str>) -> String {
    configured
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| DEFAULT_SOCKET.to_string())
}

/// A client for `host` whose API version is negotiated with the daemon (so an older
/// engine, such as Debian's 20.10 with API 1.41, is spoken to in its version).
pub async fn connect(host: &str) -> Result<Docker, String> {
    let unreachable = |e: &dyn std::fmt::Display| {
        format!("Cannot connect to the Docker daemon at {host}. Is the docker daemon running? ({e})")
    };
    let docker = if let Some(path) = host.strip_prefix("unix://") {
        Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
    } else if host.starts_with("tcp://") || host.starts_with("http://") {
        Docker::connect_with_http(host, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
    } else {
        return Err(format!("unsupported Docker host {host:?}: use unix:// or tcp://"));
    }
    .map_err(|e| unreachable(&e))?;
    docker.negotiate_version().await.map_err(|e| unreachable(&e))
}

/// Whether the engine at `host` answers a ping within `timeout` (`kiln exec` and
/// `kiln up` use Docker only when it does); `Err` says why not, as the CLI would.
pub async fn reachable(host: &str, timeout: std::time::Duration) -> Result<(), String> {
    let ping = async {
        let docker = connect(host).await?;
        docker.ping().await.map(|_| ()).map_err(|e| {
            format!("Cannot connect to the Docker daemon at {host}. Is the docker daemon running? ({e})")
        })
    };
    tokio::time::timeout(timeout, ping).await.unwrap_or_else(|_| {
        Err(format!("the Docker daemon at {host} did not answer within {} s", timeout.as_secs()))
    })
}

/// An engine error as the Docker CLI prints it (`Error response from daemon: ...`).
pub fn describe(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => {
            format!("Error response from daemon: {}", message.trim())
        }
        other => other.to_string(),
    }
}

/// Whether the engine answered 404 (no such container, image, network).
pub fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_host_wins() {
        assert_eq!(engine_host(Some("tcp://10.0.0.1:2375")), "tcp://10.0.0.1:2375");
    }

    #[tokio::test]
    async fn an_absent_engine_is_unreachable_with_the_clis_words() {
        let dir = tempfile::tempdir().unwrap();
        let host = format!("unix://{}", dir.path().join("docker.sock").display());
        let err = reachable(&host, std::time::Duration::from_secs(5)).await.unwrap_err();
        assert!(err.starts_with(&format!("Cannot connect to the Docker daemon at {host}")), "{err}");
    }

    #[test]
    fn daemon_errors_read_like_the_cli() {
        let e = bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message: "No such image: nope:latest".into(),
        };
        assert_eq!(describe(&e), "Error response from daemon: No such image: nope:latest");
        assert!(is_not_found(&e));
    }
}
