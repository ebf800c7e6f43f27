//! `kiln up`: the coordinator (SQLite, local blobs) and a runner in one process, for a
//! first try. The runner runs jobs on this machine, and jobs with an `image:` in
//! containers when a Docker engine answers at start (see `docker`). The two halves still meet only over HTTP on loopback, exactly as
//! `kiln server` and `kiln runner` do on two machines.
//!
//! First start creates the administrator, a runner, the demo project and an empty
//! project for the user (see `setup`); every start prints how to reach them. Ctrl-C
//! stops taking jobs and lets running ones finish, or cancels them (see `stop`).

mod demo;
mod docker;
mod setup;
mod stop;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use kiln_runner::commands::{RunControl, RunOptions};
use kiln_server::{ConfigFile, Server};

/// What happens to running jobs on Ctrl-C.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OnStop {
    /// Stop taking jobs and wait for running ones to finish.
    Finish,
    /// Cancel running jobs as a user would (their `after_script` runs, they end `canceled`).
    Cancel,
}

/// Arguments of `kiln up`.
#[derive(Debug, clap::Args)]
pub(crate) struct UpArgs {
    /// Where everything is kept (default: `$XDG_DATA_HOME/kiln`, else `~/.local/share/kiln`).
    #[arg(long, env = "KILN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "KILN_LISTEN", default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// What Ctrl-C does to running jobs.
    #[arg(long, value_enum, default_value_t = OnStop::Finish)]
    on_stop: OnStop,
    /// Jobs the runner runs at once (default: the number of CPUs).
    #[arg(long)]
    concurrent: Option<usize>,
    /// Run every job on this machine, even when a Docker engine answers.
    #[arg(long)]
    no_docker: bool,
}

/// `$XDG_DATA_HOME/kiln`, else `~/.local/share/kiln`, else `./.kiln-data`.
fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("kiln");
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/kiln"),
        None => PathBuf::from(".kiln-data"),
    }
}

fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

pub(crate) fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KILN_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(up(args))
}

async fn up(args: UpArgs) -> anyhow::Result<ExitCode> {
    let data_dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    let data_dir = std::path::absolute(&data_dir).unwrap_or(data_dir);
    let config =
        ConfigFile { data_dir: Some(data_dir.clone()), listen: Some(args.listen), ..ConfigFile::default() }
            .resolve()?;
    let database_url = config.database_url.clone();
    let server = Server::start(config).await.context("starting the coordinator")?;
    let address = server.local_addr()?;
    let url = format!("http://{address}");
    let first_token = server.initial_credentials().map(|c| c.token.clone());
    let first_start = first_token.is_some();
    let handle = server.handle();
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server_task = tokio::spawn(server.run(async move {
        let _ = server_stopped.await;
    }));

    let concurrent =
        args.concurrent.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    let started = async {
        let config_path = setup::ensure_runner(&data_dir, &database_url, &url, concurrent).await?;
        let runner_id = setup::UpState::load(&data_dir)?.runner_id.unwrap_or_default();
        let credentials = setup::read_credentials(&data_dir);
        let token = first_token.clone().or_else(|| credentials.as_ref().map(|c| c.2.clone()));
        setup::ensure_projects(&data_dir, &url, token.as_deref()).await?;
        anyhow::Ok((config_path, credentials, runner_id))
    };
    let (config_path, credentials, runner_id) = match started.await {
        Ok(done) => done,
        Err(e) => {
            let _ = stop_server.send(());
            let _ = server_task.await;
            return Err(e);
        }
    };

    let loaded = kiln_runner::config::load(&config_path)?;
    let mut runner_config = loaded.config;
    // The address may differ from the one the runner was registered with.
    for r in &mut runner_config.runners {
        r.url.clone_from(&url);
    }
    let (docker, providers) = docker::enable(&mut runner_config, args.no_docker).await;
    let system_id = kiln_runner::config::load_or_create_system_id(&config_path)?;
    let exe = std::env::current_exe().context("finding the path of the running binary")?;
    let opts = RunOptions {
        config_path: config_path.clone(),
        working_dir: data_dir.join("runner"),
        helper: vec![exe.to_string_lossy().into_owned(), "runner".into(), "helper".into()],
        providers,
        ..RunOptions::default()
    };
    let (_config_tx, config_rx) = tokio::sync::watch::channel(Arc::new(runner_config.clone()));
    let control = RunControl::default();
    let metrics = Arc::new(kiln_runner::metrics::Metrics::new());
    let runner_task =
        tokio::spawn(kiln_runner::commands::serve(config_rx, system_id, opts, control.clone(), metrics));

    banner(
        &url,
        &data_dir,
        first_start,
        credentials.as_ref(),
        runner_config.concurrent(),
        &config_path,
        &docker,
    );
    stop::wait_for_stop(&control, args.on_stop, &handle, runner_id).await;
    match runner_task.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("runner stopped with an error: {e}"),
        Err(e) => tracing::error!("runner task failed: {e}"),
    }
    let _ = stop_server.send(());
    server_task.await.context("coordinator task")??;
    say("Kiln stopped.");
    Ok(ExitCode::SUCCESS)
}

fn banner(
    url: &str,
    data_dir: &std::path::Path,
    first_start: bool,
    credentials: Option<&(String, String, String)>,
    concurrent: usize,
    runner_config: &std::path::Path,
    docker: &docker::DockerState,
) {
    say(&format!("Kiln is up at {url} (data in {}).", data_dir.display()));
    say("");
    let token = match credentials {
        Some((user, password, token)) => {
            say(&format!("  Administrator: {user} / {password}"));
            say(&format!("  API token:     {token}"));
            say(&format!(
                "  (written to {}; delete that file once you have kept them)",
                data_dir.join("initial_root_credentials").display()
            ));
            token.clone()
        }
        None => {
            say("  Administrator: root (password and token were printed on the first start)");
            "<your token>".to_string()
        }
    };
    say(&format!(
        "  Runner:        shell executor, {concurrent} job(s) at once ({})",
        runner_config.display()
    ));
    match docker {
        docker::DockerState::On(host) => {
            say(&format!("  Docker:        jobs with an image run in containers (engine at {host})"))
        }
        docker::DockerState::Off(why) => {
            say(&format!("  Docker:        off, every job runs on this machine ({why})"))
        }
    }
    say("");
    let demo = setup::DEMO_PROJECT.replace('/', "%2F");
    say(&format!(
        "{} demo project {} shows stages, needs, artifacts and a manual job:",
        if first_start { "The first pipeline of the" } else { "The" },
        setup::DEMO_PROJECT
    ));
    say(&format!("  curl --header \"PRIVATE-TOKEN: {token}\" {url}/api/v4/projects/{demo}/pipelines"));
    say("");
    say("Run your own project's pipeline: in its git repository (with a .gitlab-ci.yml), push to Kiln:");
    say(&format!("  git push {} HEAD:main", setup::push_url(url, &token, setup::USER_PROJECT)));
    say("");
    say("Ctrl-C stops Kiln; everything is kept for the next `kiln up`.");
}
