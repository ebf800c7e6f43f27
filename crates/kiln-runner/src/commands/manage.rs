//! `register`, `verify`, `unregister`, `list`, `reset-token`: managing `[[runners]]`
//! entries and their tokens.

use std::path::Path;

use kiln_api::runners::{RegisterRunnerRequest, VerifyRunnerRequest, is_created_runner_token};

use crate::config::{ConfigEditor, EditError, NewRunner, RunnerConfig};
use crate::network::{Client, NetworkError};

/// A management command failed.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Edit(#[from] EditError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    SystemId(#[from] crate::config::SystemIdError),
    #[error("{0}")]
    Invalid(String),
}

/// `register` options.
#[derive(Debug, Clone, Default)]
pub struct RegisterOptions {
    pub url: String,
    /// A `glrt-` authentication token (new workflow) or a legacy registration token.
    pub token: String,
    /// The token came through `--registration-token`.
    pub legacy_flag: bool,
    pub name: String,
    pub executor: String,
    pub shell: Option<String>,
    pub limit: Option<i64>,
    pub builds_dir: Option<String>,
    pub cache_dir: Option<String>,
    pub environment: Vec<String>,
    pub tag_list: String,
    pub run_untagged: bool,
    pub locked: bool,
    pub access_level: String,
    pub maximum_timeout: Option<i64>,
    pub paused: bool,
    pub maintenance_note: String,
    /// Server-side settings were given on the command line.
    pub server_settings_given: bool,
    pub custom: Option<toml::Table>,
    /// `[runners.docker]` (`--docker-image`, ...).
    pub docker: Option<toml::Table>,
}

pub(crate) fn now() -> toml::value::Datetime {
    let s = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    s.parse().unwrap_or(toml::value::Datetime { date: None, time: None, offset: None })
}

pub(crate) fn parse_expiry(s: Option<&str>) -> Option<toml::value::Datetime> {
    s.filter(|s| !s.is_empty() && !s.starts_with("0001-01-01")).and_then(|s| s.parse().ok())
}

/// Registers a runner and appends it to the configuration (comments are kept).
/// Returns warnings to show.
pub async fn register(config_path: &Path, opts: &RegisterOptions) -> Result<Vec<String>, ManageError> {
    let client = Client::new()?;
    let system_id = crate::config::load_or_create_system_id(config_path)?;
    let mut warnings = Vec::new();
    let features = Default::default();
    let info = crate::version::version_info(&opts.executor, opts.shell.as_deref().unwrap_or(""), features);
    let (id, token, expires) = if is_created_runner_token(&opts.token) {
        if opts.server_settings_given {
            if opts.legacy_flag {
                warnings.push("tags, locked, access level, run-untagged, maximum timeout, paused and maintenance note are set in GitLab for runners created with an authentication token; the command-line values are ignored".into());
            } else {
                return Err(ManageError::Invalid(
                    "runner configuration other than name and executor is managed in GitLab for authentication tokens (glrt-); remove --tag-list, --run-untagged, --locked, --access-level, --maximum-timeout, --paused and --maintenance-note".into(),
                ));
            }
        }
        let answer = client
            .verify(&opts.url, &VerifyRunnerRequest { token: opts.token.clone(), system_id, info })
            .await?;
        let answer = answer.filter(|a| a.id != 0).ok_or_else(|| {
            ManageError::Invalid("the coordinator did not return a runner id for this token".into())
        })?;
        let token = if answer.token.is_empty() { opts.token.clone() } else { answer.token };
        (answer.id, token, answer.token_expires_at)
    } else {
        let req = RegisterRunnerRequest {
            token: opts.token.clone(),
            description: opts.name.clone(),
            maintenance_note: opts.maintenance_note.clone(),
            tag_list: opts.tag_list.clone(),
            run_untagged: opts.run_untagged,
            locked: opts.locked,
            access_level: opts.access_level.clone(),
            maximum_timeout: opts.maximum_timeout,
            paused: opts.paused,
            info,
        };
        let r = client.register(&opts.url, &req).await?;
        (r.id, r.token, r.token_expires_at)
    };
    let mut editor = ConfigEditor::open(config_path)?;
    editor.add_runner(&NewRunner {
        name: opts.name.clone(),
        url: opts.url.clone(),
        id,
        token,
        token_obtained_at: Some(now()),
        token_expires_at: parse_expiry(expires.as_deref()),
        executor: opts.executor.clone(),
        shell: opts.shell.clone(),
        limit: opts.limit,
        builds_dir: opts.builds_dir.clone(),
        cache_dir: opts.cache_dir.clone(),
        environment: opts.environment.clone(),
        custom: opts.custom.clone(),
        docker: opts.docker.clone(),
    })?;
    editor.save()?;
    Ok(warnings)
}

/// `verify`: checks every (or the named) runner; with `delete`, removes those the
/// coordinator answers 403 for. Returns `(name, ok)` pairs.
pub async fn verify(
    config_path: &Path,
    name: Option<&str>,
    delete: bool,
) -> Result<Vec<(String, bool)>, ManageError> {
    let config = crate::config::load(config_path)?.config;
    let system_id = crate::config::load_or_create_system_id(config_path)?;
    let client = Client::new()?;
    let mut results = Vec::new();
    let mut removed = Vec::new();
    for r in config.runners.iter().filter(|r| name.is_none_or(|n| r.name == n)) {
        let req = VerifyRunnerRequest {
            token: r.token.clone(),
            system_id: system_id.clone(),
            info: crate::version::version_info(&r.executor, "", Default::default()),
        };
        let ok = match client.verify(&r.url, &req).await {
            Ok(_) => true,
            Err(NetworkError::Status { status: 403, .. }) => {
                removed.push(r.token.clone());
                false
            }
            Err(e) => return Err(e.into()),
        };
        results.push((r.name.clone(), ok));
    }
    if delete && !removed.is_empty() {
        let mut editor = ConfigEditor::open(config_path)?;
        editor.remove_runners(|_, token| removed.iter().any(|t| t == token))?;
        editor.save()?;
    }
    Ok(results)
}

/// `unregister`: by name, or all runners. Created-token runners only remove this machine's
/// manager.
pub async fn unregister(
    config_path: &Path,
    name: Option<&str>,
    all: bool,
) -> Result<Vec<String>, ManageError> {
    if name.is_none() && !all {
        return Err(ManageError::Invalid("give --name or --all-runners".into()));
    }
    let config = crate::config::load(config_path)?.config;
    let system_id = crate::config::load_or_create_system_id(config_path)?;
    let client = Client::new()?;
    let mut done = Vec::new();
    for r in config.runners.iter().filter(|r| all || name == Some(r.name.as_str())) {
        let status = if is_created_runner_token(&r.token) {
            client.unregister_manager(&r.url, &r.token, &system_id).await?
        } else {
            client.unregister(&r.url, &r.token).await?
        };
        if status == 204 || status == 403 || status == 404 {
            done.push(r.token.clone());
        } else {
            return Err(ManageError::Invalid(format!(
                "unregistering {} failed with status {status}",
                r.name
            )));
        }
    }
    let mut editor = ConfigEditor::open(config_path)?;
    editor.remove_runners(|_, token| done.iter().any(|t| t == token))?;
    editor.save()?;
    Ok(done)
}

/// `list`: the configured runners.
pub fn list(config_path: &Path) -> Result<Vec<RunnerConfig>, ManageError> {
    Ok(crate::config::load(config_path)?.config.runners)
}

/// `reset-token`: rotates the token of the named (or every) runner and saves it.
pub async fn reset_token(config_path: &Path, name: Option<&str>) -> Result<usize, ManageError> {
    let config = crate::config::load(config_path)?.config;
    let client = Client::new()?;
    let mut editor = ConfigEditor::open(config_path)?;
    let mut n = 0;
    for r in config.runners.iter().filter(|r| name.is_none_or(|n| r.name == n)) {
        let answer = client.reset_token(&r.url, &r.token).await?;
        editor.set_token(
            &r.token,
            &answer.token,
            Some(now()),
            parse_expiry(answer.token_expires_at.as_deref()),
        )?;
        n += 1;
    }
    editor.save()?;
    Ok(n)
}
