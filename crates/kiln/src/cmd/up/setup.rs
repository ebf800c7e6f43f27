//! First-start set-up of `kiln up`, done once and remembered in `<data-dir>/up.json`
//! so a restart changes nothing: an instance runner and its `config.toml`, the demo
//! project (created through the REST API and pushed with git), and an empty project
//! for the user's own push. Each step is recorded when it is done, so a start that was
//! interrupted half-way finishes the remaining steps on the next start.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use kiln_runner::config::{ConfigEditor, NewRunner};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::demo;

/// The demo project's path.
pub(crate) const DEMO_PROJECT: &str = "root/demo";
/// The empty project the printed `git push` command targets.
pub(crate) const USER_PROJECT: &str = "root/my-project";

/// What earlier starts did.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct UpState {
    pub(crate) runner_id: Option<i64>,
    pub(crate) demo_pushed: bool,
    pub(crate) user_project: bool,
}

impl UpState {
    fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("up.json")
    }

    pub(crate) fn load(data_dir: &Path) -> anyhow::Result<UpState> {
        let path = UpState::path(data_dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| format!("reading {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UpState::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Written to a temporary file and renamed, so a crash leaves the old or the new state.
    fn save(&self, data_dir: &Path) -> anyhow::Result<()> {
        let path = UpState::path(data_dir);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
    }
}

/// Where the runner half keeps its GitLab-Runner-format configuration.
pub(crate) fn runner_config_path(data_dir: &Path) -> PathBuf {
    data_dir.join("runner").join("config.toml")
}

/// Creates the instance runner and its `config.toml` unless an earlier start did.
/// The runner is made in the database directly (the administrator may have deleted the
/// first start's token by now); it then talks to the server over HTTP like any runner.
pub(crate) async fn ensure_runner(
    data_dir: &Path,
    database_url: &str,
    url: &str,
    concurrent: usize,
) -> anyhow::Result<PathBuf> {
    let path = runner_config_path(data_dir);
    let mut state = UpState::load(data_dir)?;
    if state.runner_id.is_some() && path.is_file() {
        return Ok(path);
    }
    let runner_dir = data_dir.join("runner");
    std::fs::create_dir_all(&runner_dir).with_context(|| format!("creating {}", runner_dir.display()))?;
    let store = kiln_store::Store::open(database_url).await.context("opening the database")?;
    let new = kiln_store::runners::NewRunner {
        description: "kiln up (shell)".into(),
        ..kiln_store::runners::NewRunner::instance()
    };
    let created = store.create_runner(&new).await.context("creating the runner");
    store.close().await;
    let (runner, token) = created?;
    let header = format!(
        "# The runner half of `kiln up`, in GitLab Runner's format (`kiln runner run -c` reads it too).\n\
         concurrent = {concurrent}\ncheck_interval = 3\nshutdown_timeout = 30\n"
    );
    std::fs::write(&path, header).with_context(|| format!("writing {}", path.display()))?;
    let mut editor = ConfigEditor::open(&path)?;
    editor.add_runner(&NewRunner {
        name: "kiln up".into(),
        url: url.to_string(),
        id: runner.id.0,
        token,
        executor: "shell".into(),
        builds_dir: Some(runner_dir.join("builds").display().to_string()),
        cache_dir: Some(runner_dir.join("cache").display().to_string()),
        ..NewRunner::default()
    })?;
    editor.save()?;
    state.runner_id = Some(runner.id.0);
    state.save(data_dir)?;
    Ok(path)
}

/// Creates and pushes the demo project and creates the user's empty project, unless an
/// earlier start did. `token` is the administrator's, which only the first start knows.
pub(crate) async fn ensure_projects(data_dir: &Path, url: &str, token: Option<&str>) -> anyhow::Result<()> {
    let mut state = UpState::load(data_dir)?;
    if state.demo_pushed && state.user_project {
        return Ok(());
    }
    let Some(token) = token else {
        bail!(
            "the first start did not finish and the administrator's token is gone ({} was deleted); \
             start again with an empty --data-dir",
            data_dir.join("initial_root_credentials").display()
        )
    };
    let client = reqwest::Client::new();
    if !state.demo_pushed {
        create_project(&client, url, token, "demo", "Kiln's demo: stages, needs, artifacts, a manual job")
            .await?;
        let remote = push_url(url, token, DEMO_PROJECT);
        let scratch = data_dir.join("tmp");
        tokio::task::spawn_blocking(move || demo::push(&scratch, &remote)).await??;
        state.demo_pushed = true;
        state.save(data_dir)?;
    }
    if !state.user_project {
        create_project(&client, url, token, "my-project", "Push your own project here").await?;
        state.user_project = true;
        state.save(data_dir)?;
    }
    Ok(())
}

/// `POST /projects`; a project that exists already (an interrupted start) is fine.
async fn create_project(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    name: &str,
    description: &str,
) -> anyhow::Result<()> {
    let response = client
        .post(format!("{url}/api/v4/projects"))
        .header("PRIVATE-TOKEN", token)
        .json(&json!({"name": name, "description": description}))
        .send()
        .await
        .with_context(|| format!("creating project {name}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status.is_success() || (status.as_u16() == 400 && body.contains("has already been taken")) {
        return Ok(());
    }
    bail!("creating project {name}: the server answered {status}: {body}")
}

/// A git remote with the token as the password (any user name works with a token).
pub(crate) fn push_url(url: &str, token: &str, project: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://root:{token}@{rest}/{project}.git"),
        None => format!("{url}/{project}.git"),
    }
}

/// The administrator's name, password and token from the first start's file, if it is still there.
pub(crate) fn read_credentials(data_dir: &Path) -> Option<(String, String, String)> {
    let text = std::fs::read_to_string(data_dir.join("initial_root_credentials")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            .filter(|v| !v.is_empty())
    };
    Some((field("username:")?, field("password:")?, field("token:")?))
}
