//! The Docker executor for `kiln exec` tests, as the `kiln` binary hands it in:
//! kiln-executor-docker's provider and a probe of the local engine, plus the
//! stand-in images the cases name (busybox imported under those names; no
//! registry is reachable). Without an engine the Docker cases are skipped with
//! a message, except under `CI=true`, where they fail: CI starts dockerd.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use kiln_exec::DockerSupport;
use kiln_executor_docker::testing::{busybox_image, ensure_busybox, service_image};

/// The file only the marker image has, and what it says.
pub const MARKER: (&str, &str) = ("etc/kiln-marker", "made by the kiln exec tests\n");

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn probe() -> Result<(), String> {
    let host = kiln_executor_docker::engine::engine_host(None);
    runtime().block_on(kiln_executor_docker::engine::reachable(&host, Duration::from_secs(10)))
}

/// The Docker executor, or `None` (with why) when no engine answers outside CI.
/// Panics under `CI=true` without an engine.
pub fn docker() -> Result<DockerSupport, String> {
    if let Err(e) = probe() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and no Docker engine answers (scripts/test starts dockerd): {e}"
        );
        return Err(e);
    }
    runtime().block_on(stand_ins());
    Ok(DockerSupport {
        provider: Arc::new(kiln_executor_docker::DockerProvider::new()),
        probe: Arc::new(probe),
        default_image: "kiln-test/busybox:1".into(),
    })
}

/// The images the cases under `test_data/exec/docker_*` name.
async fn stand_ins() {
    let docker = kiln_executor_docker::testing::engine().await;
    busybox_image(&docker).await;
    service_image(&docker, 8080).await;
    ensure_busybox(&docker, "kiln-test/marker:1", &[], &[MARKER]).await;
}
