//! The Docker executor provider: the features the runner advertises for it (those of
//! GitLab Runner's Docker executor), its default shell, and one executor per job with
//! that runner's `[runners.docker]`.

use std::sync::Arc;

use kiln_api::FeaturesInfo;
use kiln_runner::config::RunnerConfig;
use kiln_runner::executor::{
    ExecError, Executor, ExecutorKind, ExecutorProvider, ExecutorSettings, shell_features,
};
use kiln_runner::script::ShellKind;

use crate::config::DockerConfig;
use crate::executor::DockerExecutor;
use crate::names::ReferenceGrammar;

/// Provider of Docker executors.
#[derive(Debug, Clone, Default)]
pub struct DockerProvider {
    grammar: Arc<ReferenceGrammar>,
}

impl DockerProvider {
    /// A provider.
    pub fn new() -> DockerProvider {
        DockerProvider::default()
    }
}

impl ExecutorProvider for DockerProvider {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Docker
    }

    fn features(&self, f: &mut FeaturesInfo) {
        shell_features(f);
        f.image = true;
        f.services = true;
        f.service_variables = true;
        f.service_multiple_aliases = true;
        f.image_executor_opts = true;
        f.service_executor_opts = true;
    }

    fn default_shell(&self) -> ShellKind {
        ShellKind::Bash
    }

    /// Capacity is the runner's `limit` and `concurrent`, which the runner enforces: the
    /// engine itself has no slot count to report.
    fn can_create(&self) -> bool {
        true
    }

    fn create(
        &self,
        runner: &RunnerConfig,
        _settings: &ExecutorSettings,
    ) -> Result<Box<dyn Executor>, ExecError> {
        let config = DockerConfig::from_table(runner.docker.as_ref())
            .map_err(|e| ExecError::SystemFailure(e.to_string()))?;
        if config.helper_image.as_deref().is_some_and(|h| !h.is_empty()) {
            tracing::warn!(
                runner = %runner.name,
                "[runners.docker] helper_image is not used: predefined stages run on the runner's machine"
            );
        }
        Ok(Box::new(DockerExecutor::new(Arc::new(config), self.grammar.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_gitlab_runners_docker_features() {
        let mut f = FeaturesInfo::default();
        DockerProvider::new().features(&mut f);
        assert!(f.image && f.services && f.service_variables && f.service_multiple_aliases);
        assert!(f.variables && f.artifacts && f.cache && f.return_exit_code);
        assert!(!f.shared && !f.terminal && !f.session);
    }

    #[test]
    fn a_bad_docker_table_fails_the_job_with_its_reason() {
        let mut runner = RunnerConfig::default();
        let table: toml::Table = toml::from_str("memory = \"much\"").unwrap();
        runner.docker = Some(table);
        let Err(err) = DockerProvider::new().create(&runner, &ExecutorSettings::default()) else {
            panic!("a bad table is refused");
        };
        assert!(err.to_string().contains("memory"), "{err}");
    }
}
