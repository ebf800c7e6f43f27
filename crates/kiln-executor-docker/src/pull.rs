//! Getting an image per pull policy, as GitLab Runner's pull manager does: the job's
//! `pull_policy` wins over `[runners.docker] pull_policy` (default `always`), every
//! policy must be one of `allowed_pull_policies`, and policies are tried in order until
//! one yields the image.

use bollard::Docker;
use bollard::models::ImageInspect;
use futures::StreamExt;
use kiln_api::FailureReason;
use kiln_api::job::Credentials;
use kiln_runner::executor::ExecError;
use kiln_runner::trace::JobTrace;

use crate::config::DockerConfig;
use crate::engine::describe;
use crate::names::ReferenceGrammar;

/// One pull policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl PullPolicy {
    /// Parses a policy name.
    pub fn parse(s: &str) -> Option<PullPolicy> {
        match s {
            "always" => Some(Self::Always),
            "if-not-present" => Some(Self::IfNotPresent),
            "never" => Some(Self::Never),
            _ => None,
        }
    }

    /// The policy's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::IfNotPresent => "if-not-present",
            Self::Never => "never",
        }
    }
}

/// Go's `%v` of a list: `[always if-not-present]`.
fn go_list(policies: &[PullPolicy]) -> String {
    format!("[{}]", policies.iter().map(|p| p.name()).collect::<Vec<_>>().join(" "))
}

fn parse_all(list: &[String], what: &str) -> Result<Vec<PullPolicy>, ExecError> {
    list.iter()
        .map(|p| {
            PullPolicy::parse(p).ok_or_else(|| ExecError::SystemFailure(format!("unsupported {what}: {p:?}")))
        })
        .collect()
}

/// The policies in force for an image and where they come from (for the error message).
pub fn effective_policies(
    job: &[String],
    config: &DockerConfig,
) -> Result<(Vec<PullPolicy>, &'static str), ExecError> {
    if !job.is_empty() {
        return Ok((parse_all(job, "pull_policy")?, "GitLab pipeline config"));
    }
    if !config.pull_policy.is_empty() {
        return Ok((parse_all(&config.pull_policy, "pull_policy config")?, "Runner config"));
    }
    Ok((vec![PullPolicy::Always], "Runner config (default)"))
}

/// `allowed_pull_policies`, or the runner's policies when unset.
pub fn allowed_policies(config: &DockerConfig) -> Result<Vec<PullPolicy>, ExecError> {
    if config.allowed_pull_policies.is_empty() {
        return Ok(effective_policies(&[], config)?.0);
    }
    parse_all(&config.allowed_pull_policies, "allowed_pull_policies config")
}

/// What a pull needs besides the image.
pub struct Puller<'a> {
    pub docker: &'a Docker,
    pub config: &'a DockerConfig,
    pub trace: &'a JobTrace,
    pub grammar: &'a ReferenceGrammar,
    pub credentials: &'a [Credentials],
    pub docker_auth_config: Option<&'a str>,
}

/// Why one policy did not yield the image.
struct Attempt {
    message: String,
    pull_failed: bool,
}

impl Puller<'_> {
    /// The image, per policy; `platform` is `executor_opts.docker.platform`.
    pub async fn get(
        &self,
        name: &str,
        platform: &str,
        job_policies: &[String],
    ) -> Result<ImageInspect, ExecError> {
        let (policies, source) = effective_policies(job_policies, self.config)?;
        let allowed = allowed_policies(self.config)?;
        if !policies.iter().any(|p| allowed.contains(p)) {
            return Err(ExecError::SystemFailure(format!(
                "failed to pull image {name:?}: pull_policy ({}) defined in {source} is not one of the allowed_pull_policies ({})",
                go_list(&policies),
                go_list(&allowed)
            )));
        }
        let fail = |last: Attempt| {
            let message = format!(
                "failed to pull image {name:?} with specified policies {}: {}",
                go_list(&policies),
                last.message
            );
            if last.pull_failed {
                ExecError::Failure { reason: FailureReason::ImagePullFailure, message }
            } else {
                ExecError::SystemFailure(message)
            }
        };
        // A name outside Docker's grammar never reaches the engine (its API paths are
        // not escaped): it fails as the engine's pull would.
        if !self.grammar.is_valid(name) {
            return Err(fail(Attempt { message: "invalid reference format".into(), pull_failed: true }));
        }
        let mut last = Attempt { message: String::new(), pull_failed: false };
        for (i, policy) in policies.iter().enumerate() {
            if i > 0 {
                self.trace.line(&format!("Attempt #{}: Trying {:?} pull policy", i + 1, policy.name()));
            }
            match self.with_policy(name, platform, *policy).await {
                Ok(image) => {
                    self.used(name, &image);
                    return Ok(image);
                }
                Err(attempt) => {
                    self.trace.warning(&format!(
                        "Failed to pull image with policy {:?}: {}",
                        policy.name(),
                        attempt.message
                    ));
                    last = attempt;
                }
            }
        }
        Err(fail(last))
    }

    fn used(&self, name: &str, image: &ImageInspect) {
        let id = image.id.clone().unwrap_or_default();
        if id == name {
            return;
        }
        match image.repo_digests.as_ref().and_then(|d| d.first()) {
            Some(digest) => {
                self.trace.line(&format!("Using docker image {id} for {name} with digest {digest} ..."))
            }
            None => self.trace.line(&format!("Using docker image {id} for {name} ...")),
        }
    }

    async fn with_policy(
        &self,
        name: &str,
        platform: &str,
        policy: PullPolicy,
    ) -> Result<ImageInspect, Attempt> {
        match self.docker.inspect_image(name).await {
            Ok(image) => {
                if policy == PullPolicy::Never || image.id.as_deref() == Some(name) {
                    return Ok(image);
                }
                if policy == PullPolicy::IfNotPresent {
                    self.trace.line(&format!(
                        "Using locally found image version due to {:?} pull policy",
                        policy.name()
                    ));
                    return Ok(image);
                }
            }
            Err(e) if policy == PullPolicy::Never => {
                return Err(Attempt { message: describe(&e), pull_failed: false });
            }
            Err(_) => {}
        }
        self.pull(name, platform).await?;
        self.docker
            .inspect_image(name)
            .await
            .map_err(|e| Attempt { message: describe(&e), pull_failed: false })
    }

    async fn pull(&self, name: &str, platform: &str) -> Result<(), Attempt> {
        let reference = match self.grammar.parse(name) {
            Some((_, None, None)) => format!("{name}:latest"),
            _ => name.to_string(),
        };
        let credentials =
            crate::auth::resolve(name, self.docker_auth_config, self.credentials).map(|found| {
                self.trace.line(&format!("Authenticating with credentials from {}", found.source));
                found.credentials
            });
        self.trace.line(&format!("Pulling docker image {name} ..."));
        let options = bollard::query_parameters::CreateImageOptions {
            from_image: Some(reference),
            platform: platform.to_string(),
            ..Default::default()
        };
        let mut stream = self.docker.create_image(Some(options), None, credentials);
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                return Err(Attempt { message: describe(&e), pull_failed: true });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pull: &[&str], allowed: &[&str]) -> DockerConfig {
        DockerConfig {
            pull_policy: pull.iter().map(|s| s.to_string()).collect(),
            allowed_pull_policies: allowed.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_job_policy_wins_and_always_is_the_default() {
        let c = config(&["if-not-present"], &[]);
        assert_eq!(
            effective_policies(&["never".into()], &c).unwrap(),
            (vec![PullPolicy::Never], "GitLab pipeline config")
        );
        assert_eq!(effective_policies(&[], &c).unwrap(), (vec![PullPolicy::IfNotPresent], "Runner config"));
        let d = DockerConfig::default();
        assert_eq!(
            effective_policies(&[], &d).unwrap(),
            (vec![PullPolicy::Always], "Runner config (default)")
        );
        assert_eq!(allowed_policies(&c).unwrap(), vec![PullPolicy::IfNotPresent]);
        assert_eq!(go_list(&[PullPolicy::Always, PullPolicy::IfNotPresent]), "[always if-not-present]");
    }

    #[test]
    fn unknown_policies_are_errors() {
        let e = effective_policies(&["sometimes".into()], &DockerConfig::default()).unwrap_err();
        assert_eq!(e.to_string(), "unsupported pull_policy: \"sometimes\"");
        let e = allowed_policies(&config(&[], &["weekly"])).unwrap_err();
        assert_eq!(e.to_string(), "unsupported allowed_pull_policies config: \"weekly\"");
    }
}
