//! `services:`: one container per service on the job's network, reachable by the
//! aliases GitLab Runner gives it (derived from the image name, plus `alias:`), with the
//! job's public variables and its own; then the wait for each service's port, whose
//! failure is a warning with the service's log, never a job failure.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, EndpointSettings, HostConfig, NetworkingConfig};
use futures::StreamExt;
use kiln_api::JobVariable;
use kiln_runner::executor::ExecError;
use kiln_runner::trace::JobTrace;
use kiln_runner::trace::ansi;

use crate::config::DockerConfig;
use crate::engine::describe;
use crate::names::{ReferenceGrammar, user_aliases};
use crate::pull::Puller;

/// How the job's containers are networked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkPlan {
    /// A bridge network made for this job (removed at cleanup).
    PerJob(String),
    /// `network_mode` naming a user-defined network.
    Named(String),
    /// `network_mode = "bridge"`: the default bridge, services reached through links.
    Bridge,
    /// `host`, `none`, `container:<id>`: no aliases possible.
    Other(String),
}

impl NetworkPlan {
    /// From `network_mode` (`None`: a network per job).
    pub fn from_mode(mode: Option<&str>, per_job_name: &str) -> NetworkPlan {
        match mode.map(str::trim).filter(|m| !m.is_empty()) {
            None => NetworkPlan::PerJob(per_job_name.to_string()),
            Some("bridge") => NetworkPlan::Bridge,
            Some(m) if m == "host" || m == "none" || m.starts_with("container:") => {
                NetworkPlan::Other(m.into())
            }
            Some(name) => NetworkPlan::Named(name.into()),
        }
    }

    /// The container's `NetworkMode`.
    pub fn mode(&self) -> String {
        match self {
            Self::PerJob(n) | Self::Named(n) | Self::Other(n) => n.clone(),
            Self::Bridge => "bridge".into(),
        }
    }

    /// Endpoint settings giving a container these aliases, where the network allows it.
    pub fn endpoint(&self, aliases: Vec<String>) -> Option<NetworkingConfig> {
        match self {
            Self::PerJob(n) | Self::Named(n) => Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    n.clone(),
                    EndpointSettings { aliases: Some(aliases), ..Default::default() },
                )])),
            }),
            Self::Bridge | Self::Other(_) => None,
        }
    }

    fn ip_network(&self) -> Option<&str> {
        match self {
            Self::PerJob(n) | Self::Named(n) => Some(n),
            Self::Bridge => Some("bridge"),
            Self::Other(_) => None,
        }
    }
}

/// One service to start.
#[derive(Debug, Clone, Default)]
pub struct ServiceDef {
    pub name: String,
    pub alias: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    pub variables: Vec<(String, String)>,
    pub pull_policy: Vec<String>,
    pub platform: String,
    pub ports: Vec<u16>,
}

/// A started service.
#[derive(Debug, Clone)]
pub struct Started {
    pub id: String,
    /// The container name (GitLab Runner's `service.Name`).
    pub name: String,
    /// Every alias it answers to (for links on the default bridge).
    pub aliases: Vec<String>,
    pub ports: Vec<u16>,
}

/// What starting services needs from the executor.
pub struct ServiceContext<'a> {
    pub docker: &'a Docker,
    pub config: &'a DockerConfig,
    pub trace: &'a JobTrace,
    pub grammar: &'a ReferenceGrammar,
    pub puller: &'a Puller<'a>,
    /// `runner-...-concurrent-N-<random>`.
    pub unique: &'a str,
    pub labels: &'a HashMap<String, String>,
    pub network: &'a NetworkPlan,
    pub binds: &'a [String],
    /// The job's final variables.
    pub variables: &'a [JobVariable],
}

/// The most of a service's log shown in a warning.
const SERVICE_LOG_LIMIT: usize = 64 * 1024;

impl ServiceContext<'_> {
    /// Starts every service in order; each created container's id is pushed to `created`
    /// at once, so cleanup finds it whatever fails later.
    pub async fn start_all(
        &self,
        defs: &[ServiceDef],
        created: &mut Vec<String>,
    ) -> Result<Vec<Started>, ExecError> {
        let mut started: Vec<Started> = Vec::new();
        let mut taken: Vec<String> = Vec::new();
        for (index, def) in defs.iter().enumerate() {
            let split = self.grammar.split_service(&def.name);
            if split.service.is_empty() {
                return Err(ExecError::SystemFailure(format!("invalid service name: {}", def.name)));
            }
            let mut aliases = split.aliases.clone();
            aliases.extend(user_aliases(def.alias.as_deref()));
            let fresh: Vec<String> = aliases.iter().filter(|a| !taken.contains(a)).cloned().collect();
            if fresh.is_empty() {
                self.trace.warning(&format!("Service {} is already created. Ignoring.", def.name));
                continue;
            }
            taken.extend(fresh.iter().cloned());
            self.trace.line(&format!("Starting service {}:{} ...", split.service, split.version));
            let image = self.puller.get(&split.image, &def.platform, &def.pull_policy).await?;
            let name = format!("{}-{}-{index}", self.unique, split.service.replace('/', "__"));
            let id = self
                .create(
                    def,
                    &name,
                    image.id.as_deref().unwrap_or(&split.image),
                    &split.service,
                    &split.version,
                    fresh.clone(),
                )
                .await?;
            created.push(id.clone());
            self.docker.start_container(&id, None).await.map_err(|e| {
                ExecError::SystemFailure(format!("failed to start service {}: {}", def.name, describe(&e)))
            })?;
            started.push(Started { id, name, aliases: fresh, ports: def.ports.clone() });
        }
        Ok(started)
    }

    #[allow(clippy::too_many_arguments)]
    async fn create(
        &self,
        def: &ServiceDef,
        name: &str,
        image: &str,
        service: &str,
        version: &str,
        aliases: Vec<String>,
    ) -> Result<String, ExecError> {
        // GitLab Runner gives services the job's public variables and their own, expanded.
        let mut env: Vec<JobVariable> = self.variables.iter().filter(|v| v.public).cloned().collect();
        for (k, v) in &def.variables {
            let value = kiln_runner::vars::expand(v, &env);
            env.push(JobVariable::public(k, value));
        }
        let mut labels = self.labels.clone();
        labels.insert(format!("{}.type", crate::executor::LABEL_PREFIX), "service".into());
        labels.insert(format!("{}.service", crate::executor::LABEL_PREFIX), service.into());
        labels.insert(format!("{}.service.version", crate::executor::LABEL_PREFIX), version.into());
        let entrypoint = match &def.entrypoint {
            Some(e) if !e.is_empty() && self.config.disable_entrypoint_overwrite => {
                self.trace.warning("Entrypoint override disabled");
                None
            }
            Some(e) if !e.is_empty() => Some(e.clone()),
            _ => None,
        };
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            labels: Some(labels),
            env: Some(env.iter().map(|v| format!("{}={}", v.key, v.value)).collect()),
            cmd: def.command.clone().filter(|c| !c.is_empty()),
            entrypoint,
            host_config: Some(HostConfig {
                dns: Some(self.config.dns.clone()),
                dns_search: Some(self.config.dns_search.clone()),
                restart_policy: Some(crate::executor::never_restart()),
                extra_hosts: Some(self.config.extra_hosts.clone()),
                privileged: Some(self.config.services_privileged.unwrap_or(self.config.privileged)),
                network_mode: Some(self.network.mode()),
                binds: Some(self.binds.to_vec()),
                shm_size: self.config.shm_size,
                tmpfs: Some(self.config.services_tmpfs.clone().into_iter().collect()),
                log_config: Some(crate::executor::json_log()),
                ..Default::default()
            }),
            networking_config: self.network.endpoint(aliases),
            ..Default::default()
        };
        let options = bollard::query_parameters::CreateContainerOptions {
            name: Some(name.to_string()),
            platform: def.platform.clone(),
        };
        self.docker.create_container(Some(options), body).await.map(|r| r.id).map_err(|e| {
            ExecError::SystemFailure(format!("failed to create service {}: {}", def.name, describe(&e)))
        })
    }

    /// Waits for every service at once, as GitLab Runner does; failures are warnings.
    pub async fn wait_all(&self, services: &[Started]) {
        let Some(timeout) = self.config.wait_for_services() else { return };
        if services.is_empty() {
            return;
        }
        self.trace.line(&format!(
            "Waiting for services to be up and running (timeout {} seconds)...",
            timeout.as_secs()
        ));
        futures::future::join_all(services.iter().map(|s| self.wait_one(s, timeout))).await;
    }

    async fn wait_one(&self, service: &Started, timeout: Duration) {
        let start = Instant::now();
        let Err(error) = self.health_check(service, timeout).await else { return };
        let left = timeout.saturating_sub(start.elapsed()).min(Duration::from_secs(10));
        tokio::time::sleep(left).await;
        let logs = self.logs(&service.id).await;
        let y = ansi::YELLOW;
        let r = ansi::RESET;
        let block = format!(
            "\n{y}*** WARNING:{r} Service {} probably didn't start properly.\n\nHealth check error:\n{}\n\nService container logs:\n{}\n\n{y}*********{r}\n\n",
            service.name,
            error.trim(),
            logs
        );
        self.trace.write(block.as_bytes());
    }

    /// Connects to the service's first port until it accepts or the time is up.
    async fn health_check(&self, service: &Started, timeout: Duration) -> Result<(), String> {
        let inspect = self
            .docker
            .inspect_container(&service.id, None)
            .await
            .map_err(|e| format!("get container exposed ports: {}", describe(&e)))?;
        let mut ports = service.ports.clone();
        if ports.is_empty() {
            let exposed = inspect.config.as_ref().and_then(|c| c.exposed_ports.clone()).unwrap_or_default();
            ports = exposed
                .iter()
                .filter_map(|p| p.strip_suffix("/tcp"))
                .filter_map(|p| p.parse().ok())
                .collect();
            ports.sort_unstable();
        }
        let Some(port) = ports.first().copied() else {
            return Err(format!("service {:?} has no exposed ports", service.name));
        };
        let ip = match self.network.ip_network() {
            None => "127.0.0.1".to_string(),
            Some(net) => inspect
                .network_settings
                .as_ref()
                .and_then(|s| s.networks.as_ref())
                .and_then(|n| n.get(net))
                .and_then(|e| e.ip_address.clone())
                .filter(|ip| !ip.is_empty())
                .ok_or_else(|| format!("service {:?} has no address on network {net}", service.name))?,
        };
        let deadline = Instant::now() + timeout;
        loop {
            let attempt = tokio::time::timeout(
                Duration::from_secs(1),
                tokio::net::TcpStream::connect((ip.as_str(), port)),
            );
            if let Ok(Ok(_)) = attempt.await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("service \"{}-wait-for-service\" timeout", service.name));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The service's log (timestamped, at most 64 KiB).
    async fn logs(&self, id: &str) -> String {
        let options = bollard::query_parameters::LogsOptions {
            stdout: true,
            stderr: true,
            timestamps: true,
            ..Default::default()
        };
        let mut stream = self.docker.logs(id, Some(options));
        let mut out: Vec<u8> = Vec::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(chunk) => {
                    let bytes = chunk.into_bytes();
                    let room = SERVICE_LOG_LIMIT.saturating_sub(out.len());
                    out.extend_from_slice(&bytes[..bytes.len().min(room)]);
                    if room <= bytes.len() {
                        break;
                    }
                }
                Err(e) => return describe(&e),
            }
        }
        String::from_utf8_lossy(&out).trim().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_modes() {
        assert_eq!(NetworkPlan::from_mode(None, "job-net"), NetworkPlan::PerJob("job-net".into()));
        assert_eq!(NetworkPlan::from_mode(Some(""), "job-net"), NetworkPlan::PerJob("job-net".into()));
        assert_eq!(NetworkPlan::from_mode(Some("bridge"), "x"), NetworkPlan::Bridge);
        assert_eq!(NetworkPlan::from_mode(Some("host"), "x"), NetworkPlan::Other("host".into()));
        assert_eq!(NetworkPlan::from_mode(Some("ci-net"), "x"), NetworkPlan::Named("ci-net".into()));
        assert!(NetworkPlan::Bridge.endpoint(vec!["a".into()]).is_none());
        let e = NetworkPlan::PerJob("n".into()).endpoint(vec!["db".into()]).unwrap();
        assert_eq!(e.endpoints_config.unwrap()["n"].aliases.as_deref(), Some(&["db".to_string()][..]));
    }
}
