//! `[runners.docker]` from the command line (`register` and `run-single` take GitLab
//! Runner's `--docker-*` flags) and the executor providers that live outside
//! kiln-runner: the binary injects them because kiln-executor-docker depends on
//! kiln-runner, not the reverse.
//!
//! Kiln's Docker executor runs the predefined stages (git, caches, artifacts) on the
//! runner's machine in the builds directory it bind-mounts into the job's containers,
//! so `--docker-helper-image` is written for compatibility but not used.

use std::sync::Arc;

use kiln_executor_docker::DockerProvider;
use kiln_runner::executor::Providers;

/// `[runners.docker]` settings given on the command line (GitLab Runner's flag names).
#[derive(Debug, Clone, Default, clap::Args)]
pub(super) struct DockerArgs {
    /// The image of jobs that name none (required for the docker executor).
    #[arg(long, env = "DOCKER_IMAGE")]
    pub(super) docker_image: Option<String>,
    /// Run the job's containers privileged.
    #[arg(long, env = "DOCKER_PRIVILEGED")]
    pub(super) docker_privileged: bool,
    /// A volume (`/path` or `host:container[:ro]`); repeatable.
    #[arg(long = "docker-volumes", env = "DOCKER_VOLUMES", value_delimiter = ',')]
    pub(super) docker_volumes: Vec<String>,
    /// `always`, `if-not-present` or `never`; repeatable, tried in order.
    #[arg(long = "docker-pull-policy", env = "DOCKER_PULL_POLICY", value_delimiter = ',')]
    pub(super) docker_pull_policy: Vec<String>,
    /// Pull policies jobs may ask for; repeatable.
    #[arg(long = "docker-allowed-pull-policies", value_delimiter = ',')]
    pub(super) docker_allowed_pull_policies: Vec<String>,
    /// The engine (`unix:///var/run/docker.sock`, `tcp://host:2375`).
    #[arg(long, env = "DOCKER_HOST")]
    pub(super) docker_host: Option<String>,
    /// Written to the configuration for GitLab Runner compatibility but not used: Kiln
    /// runs the predefined stages (git, caches, artifacts) on the runner's machine.
    #[arg(long, env = "DOCKER_HELPER_IMAGE")]
    pub(super) docker_helper_image: Option<String>,
}

impl DockerArgs {
    /// `[runners.docker]`, or `None` when nothing was given.
    pub(super) fn table(&self) -> Option<toml::Table> {
        let mut t = toml::Table::new();
        let strings = |v: &[String]| toml::Value::Array(v.iter().cloned().map(toml::Value::String).collect());
        if let Some(h) = &self.docker_host {
            t.insert("host".into(), toml::Value::String(h.clone()));
        }
        if let Some(i) = &self.docker_image {
            t.insert("image".into(), toml::Value::String(i.clone()));
        }
        if self.docker_privileged {
            t.insert("privileged".into(), toml::Value::Boolean(true));
        }
        if !self.docker_volumes.is_empty() {
            t.insert("volumes".into(), strings(&self.docker_volumes));
        }
        if !self.docker_pull_policy.is_empty() {
            t.insert("pull_policy".into(), strings(&self.docker_pull_policy));
        }
        if !self.docker_allowed_pull_policies.is_empty() {
            t.insert("allowed_pull_policies".into(), strings(&self.docker_allowed_pull_policies));
        }
        if let Some(h) = &self.docker_helper_image {
            t.insert("helper_image".into(), toml::Value::String(h.clone()));
        }
        (!t.is_empty()).then_some(t)
    }
}

/// The executors that live in their own crates, for the runner loop.
pub(super) fn providers() -> Providers {
    Providers { docker: Some(Arc::new(DockerProvider::new())), kubernetes: None, shell: Default::default() }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        docker: DockerArgs,
    }

    fn table(args: &[&str]) -> Option<toml::Table> {
        Cli::try_parse_from(std::iter::once("kiln").chain(args.iter().copied())).unwrap().docker.table()
    }

    #[test]
    fn flags_become_the_docker_table() {
        let t = table(&[
            "--docker-image",
            "alpine:3",
            "--docker-privileged",
            "--docker-volumes",
            "/cache",
            "--docker-volumes",
            "/srv:/srv:ro",
            "--docker-pull-policy",
            "if-not-present,always",
        ])
        .unwrap();
        let expected: toml::Table = toml::from_str(
            "image = \"alpine:3\"\nprivileged = true\nvolumes = [\"/cache\", \"/srv:/srv:ro\"]\npull_policy = [\"if-not-present\", \"always\"]",
        )
        .unwrap();
        assert_eq!(t, expected);
        let config = kiln_executor_docker::DockerConfig::from_table(Some(&t)).unwrap();
        assert!(config.privileged);
        assert_eq!(config.pull_policy, ["if-not-present", "always"]);
    }
}
