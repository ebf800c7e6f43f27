//! `kiln runner`: the GitLab-Runner-compatible agent and its subcommands.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use kiln_runner::commands::{self, RegisterOptions, RunOptions};
use kiln_runner::config::{Config, RunnerConfig, default_config_path};

use self::docker::{DockerArgs, providers};

mod docker;

/// Arguments of `kiln runner`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunnerArgs {
    /// The configuration file (default `/etc/kiln/config.toml` as root, `~/.kiln/config.toml` otherwise).
    #[arg(short = 'c', long, global = true, env = "CONFIG_FILE")]
    config: Option<PathBuf>,
    /// Log level: debug, info, warn, error.
    #[arg(long, global = true, default_value = "info")]
    log_level: String,
    /// Log format: text or json.
    #[arg(long, global = true, default_value = "text")]
    log_format: String,
    #[command(subcommand)]
    command: RunnerCommand,
}

#[derive(Debug, clap::Subcommand)]
enum RunnerCommand {
    /// Register a runner and add it to the configuration.
    Register(Box<RegisterArgs>),
    /// Run every configured runner.
    Run(RunArgs),
    /// Run one runner given on the command line.
    RunSingle(Box<RunSingleArgs>),
    /// Check that the configured runners are known to their coordinator.
    Verify {
        #[arg(long)]
        name: Option<String>,
        /// Remove runners the coordinator no longer knows.
        #[arg(long)]
        delete: bool,
    },
    /// Unregister runners and remove them from the configuration.
    Unregister {
        #[arg(short = 'n', long)]
        name: Option<String>,
        #[arg(long)]
        all_runners: bool,
    },
    /// List the configured runners.
    List,
    /// Rotate runner authentication tokens.
    ResetToken {
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        all_runners: bool,
    },
    /// Subcommands that job scripts call.
    #[command(hide = true, subcommand)]
    Helper(Box<kiln_runner::helper::HelperCommand>),
}

#[derive(Debug, clap::Args)]
struct RegisterArgs {
    #[arg(short = 'u', long, env = "CI_SERVER_URL")]
    url: Option<String>,
    /// A runner authentication token (`glrt-...`).
    #[arg(short = 't', long, env = "CI_SERVER_TOKEN")]
    token: Option<String>,
    /// A legacy registration token (deprecated).
    #[arg(short = 'r', long, env = "REGISTRATION_TOKEN")]
    registration_token: Option<String>,
    #[arg(short = 'n', long)]
    non_interactive: bool,
    #[arg(long, alias = "description", env = "RUNNER_NAME")]
    name: Option<String>,
    #[arg(long, env = "RUNNER_EXECUTOR")]
    executor: Option<String>,
    #[arg(long)]
    shell: Option<String>,
    #[arg(long)]
    limit: Option<i64>,
    #[arg(long)]
    builds_dir: Option<String>,
    #[arg(long)]
    cache_dir: Option<String>,
    #[arg(long = "env")]
    env: Vec<String>,
    #[arg(long)]
    tag_list: Option<String>,
    #[arg(long)]
    run_untagged: Option<bool>,
    #[arg(long)]
    locked: Option<bool>,
    #[arg(long)]
    access_level: Option<String>,
    #[arg(long)]
    maximum_timeout: Option<i64>,
    #[arg(long)]
    paused: Option<bool>,
    #[arg(long)]
    maintenance_note: Option<String>,
    #[arg(long)]
    custom_run_exec: Option<String>,
    #[arg(long)]
    custom_config_exec: Option<String>,
    #[arg(long)]
    custom_prepare_exec: Option<String>,
    #[arg(long)]
    custom_cleanup_exec: Option<String>,
    #[command(flatten)]
    docker: DockerArgs,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Working directory (base of relative `builds_dir` / `cache_dir`).
    #[arg(short = 'd', long)]
    working_directory: Option<PathBuf>,
    /// Metrics address (`host:port`).
    #[arg(long, env = "LISTEN_ADDRESS")]
    listen_address: Option<String>,
}

#[derive(Debug, clap::Args)]
struct RunSingleArgs {
    #[arg(short = 'u', long, env = "CI_SERVER_URL")]
    url: String,
    #[arg(short = 't', long, env = "CI_SERVER_TOKEN")]
    token: String,
    #[arg(long, default_value = "shell")]
    executor: String,
    #[arg(long, default_value = "single")]
    name: String,
    #[arg(long)]
    builds_dir: Option<String>,
    #[arg(long)]
    cache_dir: Option<String>,
    /// Stop after this many jobs (0: never).
    #[arg(long, default_value_t = 0)]
    max_builds: usize,
    /// Stop after this many seconds without a job (0: never).
    #[arg(long, default_value_t = 0)]
    wait_timeout: u64,
    #[arg(short = 'd', long)]
    working_directory: Option<PathBuf>,
    #[command(flatten)]
    docker: DockerArgs,
}

fn init_logging(level: &str, format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}

fn helper_command() -> anyhow::Result<Vec<String>> {
    let exe = std::env::current_exe().context("failed to find the path of the running binary")?;
    Ok(vec![exe.to_string_lossy().into_owned(), "runner".into(), "helper".into()])
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    // One thread keeps the idle runner small; jobs are I/O-bound child processes.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")
}

fn prompt(question: &str) -> anyhow::Result<String> {
    use std::io::Write;
    let mut stderr = std::io::stderr();
    write!(stderr, "{question}: ")?;
    stderr.flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

fn value(given: Option<String>, interactive: bool, question: &str) -> anyhow::Result<String> {
    match given {
        Some(v) => Ok(v),
        None if interactive => prompt(question),
        None => anyhow::bail!("missing --{}", question.to_lowercase().replace(' ', "-")),
    }
}

pub(crate) fn run(args: RunnerArgs) -> anyhow::Result<ExitCode> {
    init_logging(&args.log_level, &args.log_format);
    let config_path = args.config.clone().unwrap_or_else(default_config_path);
    let out = |line: String| {
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), "{line}");
    };
    match args.command {
        RunnerCommand::Helper(cmd) => {
            let mut stdout = std::io::stdout();
            match runtime()?.block_on(kiln_runner::helper::run(*cmd, &mut stdout)) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    use std::io::Write;
                    let _ = writeln!(std::io::stderr(), "\x1b[31;1mERROR: {e}\x1b[0;m");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        RunnerCommand::Register(a) => {
            let a = *a;
            let interactive = !a.non_interactive;
            let url = value(a.url, interactive, "URL")?;
            let legacy_flag = a.registration_token.is_some() && a.token.is_none();
            let token = value(a.token.or(a.registration_token), interactive, "Token")?;
            let name = value(a.name, interactive, "Name")?;
            let executor = value(a.executor, interactive, "Executor")?;
            let mut docker_args = a.docker.clone();
            if executor == "docker" && docker_args.docker_image.is_none() {
                docker_args.docker_image = Some(value(None, interactive, "Docker image")?);
            }
            let server_settings_given = a.tag_list.is_some()
                || a.run_untagged.is_some()
                || a.locked.is_some()
                || a.access_level.is_some()
                || a.maximum_timeout.is_some()
                || a.paused.is_some()
                || a.maintenance_note.is_some();
            let custom = a.custom_run_exec.as_ref().map(|run| {
                let mut t = toml::Table::new();
                t.insert("run_exec".into(), toml::Value::String(run.clone()));
                for (k, v) in [
                    ("config_exec", &a.custom_config_exec),
                    ("prepare_exec", &a.custom_prepare_exec),
                    ("cleanup_exec", &a.custom_cleanup_exec),
                ] {
                    if let Some(v) = v {
                        t.insert(k.into(), toml::Value::String(v.clone()));
                    }
                }
                t
            });
            let opts = RegisterOptions {
                url,
                token,
                legacy_flag,
                name,
                executor,
                shell: a.shell,
                limit: a.limit,
                builds_dir: a.builds_dir,
                cache_dir: a.cache_dir,
                environment: a.env,
                tag_list: a.tag_list.unwrap_or_default(),
                run_untagged: a.run_untagged.unwrap_or(false),
                locked: a.locked.unwrap_or(true),
                access_level: a.access_level.unwrap_or_default(),
                maximum_timeout: a.maximum_timeout,
                paused: a.paused.unwrap_or(false),
                maintenance_note: a.maintenance_note.unwrap_or_default(),
                server_settings_given,
                custom,
                docker: docker_args.table(),
            };
            let warnings = runtime()?.block_on(commands::register(&config_path, &opts))?;
            for w in warnings {
                tracing::warn!("{w}");
            }
            out(format!("Runner registered successfully. Configuration saved to {}", config_path.display()));
            Ok(ExitCode::SUCCESS)
        }
        RunnerCommand::Run(a) => {
            let working_dir = match a.working_directory {
                Some(d) => d,
                None => std::env::current_dir()?,
            };
            let opts = RunOptions {
                config_path,
                working_dir,
                listen_address: a.listen_address,
                helper: helper_command()?,
                providers: providers(),
                ..Default::default()
            };
            runtime()?.block_on(commands::run_with_signals(opts))?;
            Ok(ExitCode::SUCCESS)
        }
        RunnerCommand::RunSingle(a) => {
            let a = *a;
            let working_dir = match a.working_directory {
                Some(d) => d,
                None => std::env::current_dir()?,
            };
            let runner = RunnerConfig {
                name: a.name,
                url: a.url,
                token: a.token,
                executor: a.executor,
                builds_dir: a.builds_dir,
                cache_dir: a.cache_dir,
                docker: a.docker.table(),
                ..Default::default()
            };
            let config = Config { concurrent: 1, runners: vec![runner], ..Default::default() };
            let opts = RunOptions {
                config_path: config_path.clone(),
                working_dir,
                helper: helper_command()?,
                providers: providers(),
                max_builds: a.max_builds,
                wait_timeout: (a.wait_timeout > 0).then(|| Duration::from_secs(a.wait_timeout)),
                ..Default::default()
            };
            let rt = runtime()?;
            rt.block_on(async {
                let system_id = kiln_runner::config::load_or_create_system_id(&config_path)?;
                let (_tx, rx) = tokio::sync::watch::channel(std::sync::Arc::new(config));
                let control = commands::RunControl::default();
                let stop = control.clone();
                tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        stop.stop.cancel();
                        stop.abort.cancel();
                    }
                });
                commands::serve(
                    rx,
                    system_id,
                    opts,
                    control,
                    std::sync::Arc::new(kiln_runner::metrics::Metrics::new()),
                )
                .await?;
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        RunnerCommand::Verify { name, delete } => {
            let results = runtime()?.block_on(commands::verify(&config_path, name.as_deref(), delete))?;
            for (name, ok) in results {
                out(format!("Verifying runner... {} {name}", if ok { "is valid" } else { "is removed" }));
            }
            Ok(ExitCode::SUCCESS)
        }
        RunnerCommand::Unregister { name, all_runners } => {
            let done =
                runtime()?.block_on(commands::unregister(&config_path, name.as_deref(), all_runners))?;
            out(format!("Unregistered {} runner(s)", done.len()));
            Ok(ExitCode::SUCCESS)
        }
        RunnerCommand::List => {
            out(format!(
                "Listing configured runners                          ConfigFile={}",
                config_path.display()
            ));
            for r in commands::list(&config_path)? {
                out(format!(
                    "{:<40} Executor={} Token={} URL={}",
                    r.name,
                    r.executor,
                    r.short_token(),
                    r.url
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        RunnerCommand::ResetToken { name, all_runners } => {
            let name = if all_runners { None } else { name };
            let n = runtime()?.block_on(commands::reset_token(&config_path, name.as_deref()))?;
            out(format!("Reset the token of {n} runner(s)"));
            Ok(ExitCode::SUCCESS)
        }
    }
}
