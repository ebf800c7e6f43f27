//! What the job's containers are made from: labels, the image (expanded, allowed), the
//! user, the services (the runner's and the job's, allowed and limited) and the host
//! configuration (limits, devices, capabilities, network, mounts) GitLab Runner's
//! `[runners.docker]` asks for.

use std::collections::HashMap;

use bollard::models::{DeviceMapping, HostConfig, HostConfigLogConfig, RestartPolicy, RestartPolicyNameEnum};
use kiln_api::JobVariable;
use kiln_runner::executor::{ExecError, JobSetup};

use super::{DockerExecutor, LABEL_PREFIX, RUN_LABEL, system};
use crate::names::is_allowed;
use crate::services::{NetworkPlan, ServiceDef};

pub(crate) fn never_restart() -> RestartPolicy {
    RestartPolicy { name: Some(RestartPolicyNameEnum::NO), maximum_retry_count: None }
}

pub(crate) fn json_log() -> HostConfigLogConfig {
    HostConfigLogConfig { typ: Some("json-file".into()), config: None }
}

impl DockerExecutor {
    pub(super) fn labels(&self, job: &kiln_api::JobResponse, short_token: &str) -> HashMap<String, String> {
        let l = |k: &str| format!("{LABEL_PREFIX}.{k}");
        let mut labels = HashMap::from([
            (l("managed"), "true".to_string()),
            (l("job.id"), job.id.to_string()),
            (l("job.sha"), job.git_info.sha.clone()),
            (l("job.before_sha"), job.git_info.before_sha.clone()),
            (l("job.ref"), job.git_info.ref_name.clone()),
            (l("project.id"), job.job_info.project_id.to_string()),
            (l("runner.id"), short_token.to_string()),
            (l("runner.local_id"), "0".to_string()),
            (RUN_LABEL.to_string(), self.run.clone()),
        ]);
        if let Some(p) = job.job_info.pipeline_id {
            labels.insert(l("pipeline.id"), p.to_string());
        }
        labels
    }

    /// Prints GitLab Runner's refusal of an image that is not allowed.
    pub(super) fn refuse(
        &self,
        setup: &JobSetup,
        image: &str,
        option: &str,
        allowed: &[String],
    ) -> ExecError {
        let t = &setup.trace;
        t.line("");
        t.error(&format!("The {image:?} image is not present on list of allowed {option}:"));
        for a in allowed {
            t.line(&format!("- {a}"));
        }
        t.line("");
        t.line("Please check runner's allowed_images configuration: https://docs.gitlab.com/runner/configuration/advanced-configuration.html");
        system("disallowed image")
    }

    /// The job's image (expanded, allowed) or the runner's default.
    pub(super) fn image_name(
        &self,
        setup: &JobSetup,
        raw: &str,
        variables: &[JobVariable],
    ) -> Result<String, ExecError> {
        let name = kiln_runner::vars::expand(raw, variables);
        if !name.is_empty() {
            if !is_allowed(&name, &self.config.allowed_images, std::slice::from_ref(&self.config.image)) {
                return Err(self.refuse(setup, &name, "images", &self.config.allowed_images));
            }
            return Ok(name);
        }
        if self.config.image.is_empty() {
            return Err(system("no Docker image specified to run the build in"));
        }
        Ok(self.config.image.clone())
    }

    /// `image:docker:user` when allowed, else `[runners.docker] user`.
    pub(super) fn build_user(&self, image: &kiln_api::job::Image) -> Result<Option<String>, ExecError> {
        let job_user =
            image.executor_opts.as_ref().and_then(|o| o.docker.as_ref()).and_then(|d| d.user.clone());
        let configured = self.config.user.clone().filter(|u| !u.is_empty());
        match job_user.filter(|u| !u.is_empty()) {
            None => Ok(configured),
            Some(user) => {
                let allowed: Vec<String> = if self.config.allowed_users.is_empty() {
                    configured.iter().cloned().collect()
                } else {
                    self.config.allowed_users.clone()
                };
                if allowed.is_empty() || allowed.contains(&user) {
                    Ok(Some(user))
                } else {
                    Err(system(format!("user {user:?} is not an allowed user: [{}]", allowed.join(" "))))
                }
            }
        }
    }

    pub(super) fn service_defs(
        &self,
        setup: &JobSetup,
        variables: &[JobVariable],
    ) -> Result<Vec<ServiceDef>, ExecError> {
        let expand = |s: &str| kiln_runner::vars::expand(s, variables);
        let mut defs = Vec::new();
        let mut internal = Vec::new();
        for s in &self.config.services {
            let name = expand(&s.name);
            internal.push(name.clone());
            defs.push(ServiceDef {
                name,
                alias: Some(s.alias.clone()),
                entrypoint: Some(s.entrypoint.clone()),
                command: Some(s.command.clone()),
                variables: s
                    .environment
                    .iter()
                    .filter_map(|e| e.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
                    .collect(),
                ..Default::default()
            });
        }
        for s in &setup.job.services {
            let name = expand(&s.name);
            if !is_allowed(&name, &self.config.allowed_services, &internal) {
                return Err(self.refuse(setup, &name, "services", &self.config.allowed_services));
            }
            let docker = s.executor_opts.as_ref().and_then(|o| o.docker.as_ref());
            defs.push(ServiceDef {
                name,
                alias: s.alias.clone(),
                entrypoint: s.entrypoint.clone(),
                command: s.command.clone(),
                variables: s.variables.iter().map(|v| (v.key.clone(), v.value.clone())).collect(),
                pull_policy: s.pull_policy.clone().unwrap_or_default(),
                platform: docker.map(|d| d.platform.clone()).unwrap_or_default(),
                ports: s.ports.iter().filter_map(|p| u16::try_from(p.number).ok()).collect(),
            });
        }
        if let Some(limit) = self.config.services_limit.and_then(|l| usize::try_from(l).ok())
            && defs.len() > limit
        {
            return Err(system(format!("too many services requested: {}, only {limit} allowed", defs.len())));
        }
        Ok(defs)
    }

    pub(super) fn host_config(
        &self,
        binds: Vec<String>,
        network: &NetworkPlan,
        links: Vec<String>,
    ) -> Result<HostConfig, ExecError> {
        let c = &self.config;
        let resources = c.resources().map_err(|e| system(e.to_string()))?;
        let devices = c
            .devices
            .iter()
            .map(|d| {
                let parts: Vec<&str> = d.split(':').collect();
                match parts.as_slice() {
                    [host] => Ok((*host, *host, "rwm")),
                    [host, cont] => Ok((*host, *cont, "rwm")),
                    [host, cont, perms] => Ok((*host, *cont, *perms)),
                    _ => Err(system(format!("failed to parse device string {d:?}: too many colons"))),
                }
                .map(|(h, c, p)| DeviceMapping {
                    path_on_host: Some(h.into()),
                    path_in_container: Some(c.into()),
                    cgroup_permissions: Some(p.into()),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut all_links = c.links.clone();
        all_links.extend(links);
        Ok(HostConfig {
            memory: resources.memory,
            memory_swap: resources.memory_swap,
            memory_reservation: resources.memory_reservation,
            nano_cpus: resources.nano_cpus,
            cpuset_cpus: c.cpuset_cpus.clone(),
            cpu_shares: c.cpu_shares,
            devices: Some(devices),
            oom_kill_disable: c.oom_kill_disable.then_some(true),
            dns: Some(c.dns.clone()),
            dns_search: Some(c.dns_search.clone()),
            privileged: Some(c.privileged),
            cap_add: Some(c.cap_add.clone()),
            cap_drop: Some(c.cap_drop.clone()),
            security_opt: Some(c.security_opt.clone()),
            restart_policy: Some(never_restart()),
            extra_hosts: Some(c.extra_hosts.clone()),
            network_mode: Some(network.mode()),
            links: Some(all_links),
            binds: Some(binds),
            shm_size: c.shm_size,
            log_config: Some(json_log()),
            tmpfs: Some(c.tmpfs.clone().into_iter().collect()),
            sysctls: Some(c.sysctls.clone().into_iter().collect()),
            ..Default::default()
        })
    }
}
