//! `kiln exec`: run the working tree's pipeline on this machine with the real
//! engine (`kiln_exec`). This file only turns arguments into options and the
//! outcome into an exit status.
//!
//! Exit status: 0 when the pipeline succeeds, 1 when it fails, 2 on a usage
//! or configuration error, 130 when interrupted.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use kiln_config::context::PipelineSource;
use kiln_exec::output::Style;
use kiln_exec::select::Selection;
use kiln_exec::{ExecError, ExecOptions, Executor, ListFormat, Mode};

/// Arguments of `kiln exec`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExecArgs {
    /// Jobs to run (a parallel job's name runs all its instances); default: the whole pipeline.
    jobs: Vec<String>,
    /// The pipeline file (default: `.gitlab-ci.yml` at the top of the working tree).
    #[arg(long)]
    file: Option<PathBuf>,
    /// Also run the jobs the named jobs need, transitively.
    #[arg(long)]
    needs: bool,
    /// Run only the jobs the named jobs need, not the named jobs.
    #[arg(long)]
    only_needs: bool,
    /// Play manual jobs: the ones named, or all of them when no name is given.
    #[arg(long, value_name = "JOB", num_args = 0.., value_delimiter = ',')]
    manual: Option<Vec<String>>,
    /// The branch or tag the pipeline runs for (default: the checked-out branch).
    #[arg(long = "ref", value_name = "REF")]
    git_ref: Option<String>,
    /// The pipeline source (`CI_PIPELINE_SOURCE`).
    #[arg(long, default_value = "push", value_parser = parse_source)]
    source: PipelineSource,
    /// A pipeline variable (repeatable).
    #[arg(long = "variable", short = 'v', value_name = "KEY=VALUE", value_parser = parse_variable)]
    variables: Vec<(String, String)>,
    /// Pipeline variables from a file (`KEY=value` or `KEY: value` lines).
    #[arg(long, value_name = "FILE")]
    variables_file: Vec<PathBuf>,
    /// The executor: shell or docker (default: docker for jobs with an image when an engine answers, shell for the others).
    #[arg(long, value_enum)]
    executor: Option<ExecutorArg>,
    /// The image of jobs without `image:` under `--executor docker`.
    #[arg(long, value_name = "IMAGE", default_value = DEFAULT_IMAGE)]
    docker_image: String,
    /// Jobs at once (default: the number of CPUs).
    #[arg(long, short = 'j')]
    concurrency: Option<usize>,
    /// List the jobs after rules instead of running them.
    #[arg(long)]
    list: bool,
    /// Output format of `--list`.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
    /// Print the expanded configuration (includes, extends, !reference, default: applied).
    #[arg(long)]
    preview: bool,
    /// Run the jobs in the working tree itself instead of one directory per job.
    #[arg(long)]
    in_place: bool,
    /// Write the outcome as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Never colour the output.
    #[arg(long)]
    no_color: bool,
}

/// The default image of `--executor docker` (GitLab Runner asks for one at registration).
const DEFAULT_IMAGE: &str = "alpine:latest";

/// The Docker executor for `kiln_exec`: the engine of `DOCKER_HOST` (else the local
/// socket), probed only when a job needs it.
fn docker_support(default_image: String) -> kiln_exec::DockerSupport {
    kiln_exec::DockerSupport {
        provider: Arc::new(kiln_executor_docker::DockerProvider::new()),
        probe: Arc::new(|| {
            let host = kiln_executor_docker::engine::engine_host(None);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("failed to start the async runtime: {e}"))?;
            runtime.block_on(kiln_executor_docker::engine::reachable(&host, Duration::from_secs(10)))
        }),
        default_image,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExecutorArg {
    Shell,
    Docker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FormatArg {
    Text,
    Json,
}

fn parse_source(s: &str) -> Result<PipelineSource, String> {
    PipelineSource::parse(s).ok_or_else(|| {
        let all: Vec<&str> = PipelineSource::ALL.iter().map(|p| p.as_str()).collect();
        format!("unknown pipeline source `{s}` (one of: {})", all.join(", "))
    })
}

fn parse_variable(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("`{s}` is not KEY=VALUE"))?;
    if k.is_empty() {
        return Err(format!("`{s}` has an empty variable name"));
    }
    Ok((k.to_string(), v.to_string()))
}

fn eprint(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

pub(crate) fn run(args: ExecArgs) -> anyhow::Result<ExitCode> {
    let dir = std::env::current_dir().context("failed to read the current directory")?;
    let mut variables = Vec::new();
    for file in &args.variables_file {
        let text = std::fs::read_to_string(dir.join(file))
            .with_context(|| format!("failed to read {}", file.display()))?;
        match kiln_exec::vars_file::parse(&file.display().to_string(), &text) {
            Ok(vars) => variables.extend(vars),
            Err(e) => {
                eprint(&format!("error: {e}"));
                return Ok(ExitCode::from(super::EXIT_USAGE));
            }
        }
    }
    variables.extend(args.variables);
    let exe = std::env::current_exe().context("failed to find the path of the running binary")?;
    let tty = std::io::stdout().is_terminal();
    let mode = match (args.list, args.preview) {
        (true, _) => {
            Mode::List(if args.format == FormatArg::Json { ListFormat::Json } else { ListFormat::Table })
        }
        (false, true) => Mode::Preview,
        (false, false) => Mode::Run,
    };
    let (manual, manual_all) = match args.manual {
        Some(names) if names.is_empty() => (Vec::new(), true),
        Some(names) => (names, false),
        None => (Vec::new(), false),
    };
    let opts = ExecOptions {
        dir,
        file: args.file,
        selection: Selection { jobs: args.jobs, needs: args.needs, only_needs: args.only_needs },
        manual,
        manual_all,
        git_ref: args.git_ref,
        source: args.source,
        variables,
        executor: match args.executor {
            None => Executor::Auto,
            Some(ExecutorArg::Shell) => Executor::Shell,
            Some(ExecutorArg::Docker) => Executor::Docker,
        },
        concurrency: args
            .concurrency
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)),
        in_place: args.in_place,
        mode,
        helper: kiln_exec::runner::helper_of(&exe),
        style: Style { color: tty && !args.no_color, progress: tty && mode == Mode::Run },
        report: args.report,
        docker: Some(docker_support(args.docker_image)),
    };
    let out: kiln_exec::output::SharedWriter = Arc::new(Mutex::new(std::io::stdout()));
    let result = kiln_exec::run(opts, out, None);
    match result {
        Ok(outcome) => Ok(ExitCode::from(outcome.exit_code)),
        Err(ExecError::Config { rendered }) => {
            eprint(&rendered);
            Ok(ExitCode::from(super::EXIT_USAGE))
        }
        Err(e) => {
            eprint(&format!("error: {e}"));
            Ok(ExitCode::from(super::EXIT_USAGE))
        }
    }
}
