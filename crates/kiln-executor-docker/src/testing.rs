//! Test helpers against the real engine (feature `testing`): the engine check that says
//! how to start Docker, busybox images imported from Debian's `busybox-static` (there
//! is no registry to pull from), Debian's `docker-registry` on loopback for pull tests,
//! and what a runner left behind, found by label.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bollard::Docker;
use futures::StreamExt;

use crate::executor::LABEL_PREFIX;

const HOW_TO_START: &str = "the Docker engine is not reachable at unix:///var/run/docker.sock: \
install and start it with `apt-get install -y docker.io busybox-static docker-registry` and \
`dockerd >/var/log/dockerd.log 2>&1 &` (scripts/test does this)";

/// A client for the local engine; panics with how to start Docker when there is none.
pub async fn engine() -> Docker {
    let host = crate::engine::engine_host(None);
    let docker = crate::engine::connect(&host).await.unwrap_or_else(|e| panic!("{HOW_TO_START}: {e}"));
    docker.ping().await.unwrap_or_else(|e| panic!("{HOW_TO_START}: {e}"));
    docker
}

/// The `busybox-static` binary.
fn busybox() -> &'static Path {
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        if Path::new(p).exists() {
            return Path::new(p);
        }
    }
    panic!("busybox is missing: apt-get install -y busybox-static");
}

/// A root filesystem tar: busybox with a link per applet, `/etc/passwd`, `/tmp`.
pub fn busybox_rootfs() -> Vec<u8> {
    busybox_rootfs_with(&[])
}

/// [`busybox_rootfs`] with extra files (`path` relative to `/`, contents): an image only
/// a test made, so a job can prove it ran in it.
pub fn busybox_rootfs_with(files: &[(&str, &str)]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for d in ["bin", "etc", "tmp", "root", "proc", "sys", "dev"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(busybox(), root.join("bin/busybox")).unwrap();
    let list = Command::new(busybox()).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines().filter(|a| !a.is_empty() && *a != "busybox") {
        let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nnobody:x:65534:\n").unwrap();
    for (path, contents) in files {
        let full = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, contents).unwrap();
    }
    let out = Command::new("tar").arg("-C").arg(root).args(["-cf", "-", "."]).output().unwrap();
    assert!(out.status.success(), "tar: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Imports busybox as `repo:tag` with Dockerfile `changes` (`EXPOSE 8080`, `ENV A=b`).
pub async fn import_busybox(docker: &Docker, repo: &str, tag: &str, changes: &[&str]) -> String {
    import_busybox_with(docker, repo, tag, changes, &[]).await
}

/// [`import_busybox`] with extra files in the image ([`busybox_rootfs_with`]).
pub async fn import_busybox_with(
    docker: &Docker,
    repo: &str,
    tag: &str,
    changes: &[&str],
    files: &[(&str, &str)],
) -> String {
    let name = format!("{repo}:{tag}");
    let options = bollard::query_parameters::CreateImageOptions {
        from_src: Some("-".into()),
        repo: Some(repo.into()),
        tag: Some(tag.into()),
        changes: changes.iter().map(|c| c.to_string()).collect(),
        ..Default::default()
    };
    let body = bollard::body_full(busybox_rootfs_with(files).into());
    let mut stream = docker.create_image(Some(options), Some(body), None);
    while let Some(item) = stream.next().await {
        item.unwrap_or_else(|e| panic!("docker import of {name}: {e}"));
    }
    name
}

/// `name` (`repo:tag`) as busybox with extra `files` and Dockerfile `changes`, imported
/// unless the engine has it: the stand-ins of images that cannot be pulled here.
pub async fn ensure_busybox(docker: &Docker, name: &str, changes: &[&str], files: &[(&str, &str)]) -> String {
    if docker.inspect_image(name).await.is_err() {
        let (repo, tag) = match name.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, tag),
            _ => (name, "latest"),
        };
        import_busybox_with(docker, repo, tag, changes, files).await;
    }
    name.to_string()
}

/// Removes an image by name (a stand-in a test imported), ignoring errors.
pub async fn remove_image(docker: &Docker, name: &str) {
    let _ = docker.remove_image(name, None::<bollard::query_parameters::RemoveImageOptions>, None).await;
}

/// Whether the engine has an image of this name.
pub async fn has_image(docker: &Docker, name: &str) -> bool {
    docker.inspect_image(name).await.is_ok()
}

/// The busybox image every test job uses (imported once per engine).
pub async fn busybox_image(docker: &Docker) -> String {
    let name = "kiln-test/busybox:1";
    if docker.inspect_image(name).await.is_err() {
        import_busybox(docker, "kiln-test/busybox", "1", &[]).await;
    }
    name.to_string()
}

/// A service image: busybox whose command serves `port` (`nc -lk`) and answers `reply`.
pub async fn service_image(docker: &Docker, port: u16) -> String {
    let name = format!("kiln-test/netcat:{port}");
    if docker.inspect_image(&name).await.is_err() {
        let expose = format!("EXPOSE {port}/tcp");
        let cmd = format!(
            "CMD [\"sh\", \"-c\", \"while true; do echo \\\"hello from $HOSTNAME $GREETING\\\" | nc -l -p {port}; done\"]"
        );
        import_busybox(docker, "kiln-test/netcat", &port.to_string(), &[&expose, &cmd]).await;
    }
    name
}

/// Containers and networks carrying a runner's label (its short token).
pub async fn leftovers(docker: &Docker, runner_short_token: &str) -> (Vec<String>, Vec<String>) {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("{LABEL_PREFIX}.runner.id={runner_short_token}")],
    )]);
    let containers = docker
        .list_containers(Some(bollard::query_parameters::ListContainersOptions {
            all: true,
            filters: Some(filters.clone()),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_iter()
        .map(|c| format!("{:?} {:?}", c.names.unwrap_or_default(), c.state))
        .collect();
    let networks = docker
        .list_networks(Some(bollard::query_parameters::ListNetworksOptions { filters: Some(filters) }))
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name.unwrap_or_default())
        .collect();
    (containers, networks)
}

/// Debian's `docker-registry` (the distribution registry) on a loopback port, with its
/// storage in a temporary directory; stopped when dropped. The engine treats loopback
/// registries as insecure, so it pulls over plain HTTP.
pub struct Registry {
    child: Child,
    pub address: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry and waits until it answers.
    pub async fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let address = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {address}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("docker-registry: {e} (apt-get install -y docker-registry)"));
        let registry = Registry { child, address, _dir: dir };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(&registry.address).await.is_ok() {
                return registry;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("docker-registry did not start on {}", registry.address);
    }

    /// Pushes a local image as `<registry>/<repo>:<tag>` and removes the local copy of
    /// that name, so only a pull can bring it back.
    pub async fn push(&self, docker: &Docker, local: &str, repo: &str, tag: &str) -> String {
        let remote_repo = format!("{}/{repo}", self.address);
        docker
            .tag_image(
                local,
                Some(bollard::query_parameters::TagImageOptions {
                    repo: Some(remote_repo.clone()),
                    tag: Some(tag.into()),
                }),
            )
            .await
            .unwrap();
        let name = format!("{remote_repo}:{tag}");
        let mut push = docker.push_image(
            &remote_repo,
            Some(bollard::query_parameters::PushImageOptions { tag: Some(tag.into()), platform: None }),
            None,
        );
        while let Some(item) = push.next().await {
            item.unwrap_or_else(|e| panic!("push {name}: {e}"));
        }
        docker
            .remove_image(&name, None::<bollard::query_parameters::RemoveImageOptions>, None)
            .await
            .unwrap();
        name
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
