//! One `kiln exec` run: process the configuration, pick the jobs, snapshot
//! the tree, start the coordinator and the runner, print, report.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kiln_config::context::PipelineSource;
use kiln_config::plan::Outcome as PlanOutcome;
use kiln_config::sources::Sources;
use kiln_config::{ProcessOptions, Processed};
use kiln_payload::{CiVariable, VariableSources};
use kiln_pipeline::{PipelineId, PipelineState, Status, from_plan};
use tokio::sync::mpsc;

use crate::coordinator::{BuildDirs, Coordinator, Facts, Setup, Shared};
use crate::docker::{Choice, DockerSupport};
use crate::output::{Printer, SharedWriter, Style};
use crate::report::Report;
use crate::runner::{Runner, RunnerSetup};
use crate::select::Selection;
use crate::workdir::{self, git, remote, tree};
use crate::{local, snapshot};

/// Which executor runs the jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Executor {
    /// Docker for jobs with an `image:` when an engine is reachable, else shell.
    #[default]
    Auto,
    Shell,
    Docker,
}

/// `--list` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Run,
    /// The jobs after rules.
    List(ListFormat),
    /// The expanded configuration.
    Preview,
}

/// Everything `kiln exec` was asked.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// Where the command runs (inside the working tree).
    pub dir: PathBuf,
    /// The pipeline file, relative to `dir` (default `.gitlab-ci.yml` at the tree's top).
    pub file: Option<PathBuf>,
    pub selection: Selection,
    /// Manual jobs to play; named jobs are played anyway.
    pub manual: Vec<String>,
    /// Play every manual job.
    pub manual_all: bool,
    pub git_ref: Option<String>,
    pub source: PipelineSource,
    /// `--variable` and `--variables-file`, in order (later wins).
    pub variables: Vec<(String, String)>,
    pub executor: Executor,
    pub concurrency: usize,
    pub in_place: bool,
    pub mode: Mode,
    /// How job scripts call the helper subcommands.
    pub helper: Vec<String>,
    pub style: Style,
    /// `--report FILE`.
    pub report: Option<PathBuf>,
    /// The Docker executor, from the binary (`None`: shell only).
    pub docker: Option<DockerSupport>,
}

/// Ctrl-C presses, from the binary (or a test).
pub type Interrupts = mpsc::UnboundedReceiver<()>;

/// Why `kiln exec` could not run the pipeline (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("{0}")]
    Usage(String),
    /// Already rendered with file, line and column.
    #[error("{rendered}")]
    Config { rendered: String },
    #[error(transparent)]
    Snapshot(#[from] snapshot::SnapshotError),
    #[error(transparent)]
    Docker(#[from] crate::docker::DockerError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ExecError {
    let what = what.into();
    move |source| ExecError::Io { what, source }
}

/// How the run ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub exit_code: u8,
    pub report: Option<Report>,
}

/// Runs `kiln exec`. Output goes to `out`; `interrupts` delivers Ctrl-C
/// (`None`: this process's own SIGINT). Configuration processing and the
/// snapshot are synchronous; the pipeline runs on a runtime of its own.
pub fn run(
    opts: ExecOptions,
    out: SharedWriter,
    interrupts: Option<Interrupts>,
) -> Result<Outcome, ExecError> {
    let started = Instant::now();
    let dir = std::path::absolute(&opts.dir).map_err(io("failed to resolve the directory"))?;
    let root = workdir::toplevel(&dir)
        .ok_or_else(|| ExecError::Usage(format!("{} is not inside a git working tree", dir.display())))?;
    let file = match &opts.file {
        Some(f) => dir.join(f),
        None => root.join(".gitlab-ci.yml"),
    };
    let text = std::fs::read(&file).map_err(io(format!("failed to read {}", file.display())))?;
    let config_path = workdir::relative_path(&file, &root);
    let kiln_dir = root.join(".kiln");
    let running = opts.mode == Mode::Run;
    // The git facts and the snapshot are a dozen git processes between them, and
    // neither needs the other until the snapshot is named: they run side by side.
    let (facts, user, snap) = std::thread::scope(|scope| {
        let facts = scope.spawn(|| (git::read(&root), running.then(|| local::user(&root))));
        let snap = running.then(|| {
            std::fs::create_dir_all(&kiln_dir).map_err(io("failed to create .kiln"))?;
            let _ = std::fs::write(kiln_dir.join(".gitignore"), "*\n");
            snapshot::take(&root, &kiln_dir).map_err(ExecError::from)
        });
        let (facts, user) = facts.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (facts, user, snap)
    });
    let snap = snap.transpose()?;
    let default_branch = facts.default_branch.clone().unwrap_or_else(|| "main".into());
    let chosen = local::choose_ref(&root, &facts, opts.git_ref.as_deref(), &default_branch);
    let protected = !chosen.tag && chosen.name == default_branch;

    let mut counters = local::Counters::load(&kiln_dir);
    let pipeline_id = counters.pipelines + 1;
    if let Some(snap) = &snap {
        let kind = if chosen.tag { "tags" } else { "heads" };
        let refs = vec![format!("refs/{kind}/{}", chosen.name), format!("refs/pipelines/{pipeline_id}")];
        snapshot::point(snap, &refs)?;
    }
    let sha = snap.as_ref().map_or_else(|| facts.commit.sha.clone(), |s| s.sha.clone());
    let repo = kiln_dir.join("repo.git");

    let server = local::server(&facts);
    let project = local::project(&facts, &root, &default_branch, &config_path, &repo);
    let pipeline = local::pipeline(pipeline_id, opts.source, &chosen, protected, &facts, &sha);
    let variables = VariableSources {
        pipeline: opts.variables.iter().map(|(k, v)| CiVariable::new(k, v)).collect(),
        ..VariableSources::default()
    };
    let ctx = pipeline.context(&server, &project, variables.for_rules(protected));

    let repository = tree::WorkingTree::new(&root);
    let remote =
        remote::HttpRemote::new().map_err(|e| ExecError::Usage(format!("failed to set up HTTP: {e}")))?;
    let projects =
        tree::LocalProjects { projects: vec![(project.path.clone(), tree::WorkingTree::new(&root))] };
    let sources = Sources { repository: &repository, projects: &projects, remote: &remote };
    let mut options = ProcessOptions::default();
    options.compose.components_from_projects = true;
    let processed = match String::from_utf8(text) {
        Ok(text) => kiln_config::process(&config_path, &text, &ctx, sources, &options),
        Err(e) => kiln_config::invalid_utf8(&config_path, e.utf8_error().valid_up_to()),
    };
    let color = opts.style.color;
    if !processed.is_valid() {
        return Err(ExecError::Config { rendered: diagnostics(&processed, color, &config_path) });
    }
    warn_diagnostics(&processed, &out, color);

    if opts.mode == Mode::Preview {
        if let Some(merged) = &processed.merged {
            let yaml = kiln_config::yaml::to_yaml(&kiln_config::compose::expanded_view(merged));
            write_out(&out, &yaml);
        }
        return Ok(Outcome { exit_code: 0, report: None });
    }
    let plan = match processed.outcome {
        Some(PlanOutcome::Created(plan)) => plan,
        Some(PlanOutcome::NotCreated { reason }) => {
            write_out(&out, &format!("no pipeline: {reason}\n"));
            return Ok(Outcome { exit_code: 0, report: None });
        }
        None => return Err(ExecError::Config { rendered: diagnostics(&processed, color, &config_path) }),
    };
    if let Mode::List(format) = opts.mode {
        write_out(&out, &crate::list::list(&plan, format));
        return Ok(Outcome { exit_code: 0, report: None });
    }

    let jobs = crate::select::select(&plan, &opts.selection).map_err(|e| ExecError::Usage(e.to_string()))?;
    if jobs.is_empty() {
        return Err(ExecError::Usage("no job to run".into()));
    }
    let any_image = jobs.iter().any(|j| j.image.as_ref().is_some_and(|i| !i.name.trim().is_empty()));
    let choice =
        crate::docker::choose(opts.executor, opts.docker.as_ref(), any_image, opts.in_place, &mut |note| {
            write_out(&out, note)
        })?;
    let mut play: BTreeSet<String> = opts.manual.iter().cloned().collect();
    play.extend(opts.selection.jobs.iter().filter(|_| !opts.selection.only_needs).flat_map(|name| {
        jobs.iter()
            .filter(move |j| j.name == *name || kiln_payload::predefined::group_name(&j.name) == *name)
            .map(|j| j.name.clone())
    }));
    if opts.manual_all {
        play.extend(jobs.iter().map(|j| j.name.clone()));
    }
    let definitions = jobs.iter().map(|j| from_plan::definition(j, project.timeout)).collect();
    let state = PipelineState::new(
        PipelineId(pipeline_id),
        from_plan::settings(&plan),
        definitions,
        crate::coordinator::now(),
    )
    .map_err(|e| ExecError::Usage(e.to_string()))?;

    let snap = snap.ok_or_else(|| ExecError::Usage("the working tree could not be snapshotted".into()))?;
    let job_id_base = counters.jobs;
    counters.pipelines = pipeline_id;
    counters.jobs += 10_000;
    counters.save(&kiln_dir).map_err(io("failed to write .kiln/state.json"))?;

    let build_dirs = match &choice {
        _ if opts.in_place => BuildDirs::InPlace { dir: kiln_dir.join("inplace"), tree: root.clone() },
        Choice::Shell => BuildDirs::PerJob(kiln_dir.join("builds")),
        Choice::Docker(_) => BuildDirs::Containers { dir: kiln_dir.join("builds"), every_job: true },
        Choice::PerJob(_) => BuildDirs::Containers { dir: kiln_dir.join("builds"), every_job: false },
    };
    let builds_dir = match &build_dirs {
        BuildDirs::PerJob(d) | BuildDirs::InPlace { dir: d, .. } | BuildDirs::Containers { dir: d, .. } => {
            d.clone()
        }
    };
    let width = jobs.iter().map(|j| j.name.chars().count()).max().unwrap_or(0);
    let coordinator = Coordinator::new(Setup {
        state,
        specs: jobs,
        facts: Facts { server, project, pipeline, user, runner: local::runner(), variables },
        job_id_base,
        play,
        artifacts_dir: kiln_dir.join("artifacts").join(pipeline_id.to_string()),
        logs_dir: kiln_dir.join("logs").join(pipeline_id.to_string()),
        build_dirs,
        cache_keys: Box::new(local::GitCacheKeys {
            repository: snap.repository.clone(),
            sha: snap.sha.clone(),
        }),
    });

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io("failed to start the async runtime"))?;
    runtime.block_on(async move {
        let interrupts = match interrupts {
            Some(rx) => rx,
            None => {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(async move {
                    while tokio::signal::ctrl_c().await.is_ok() {
                        if tx.send(()).is_err() {
                            return;
                        }
                    }
                });
                rx
            }
        };
        let run = Run { opts, out, coordinator, width, builds_dir, kiln_dir, pipeline_id, started, choice };
        run.execute(interrupts).await
    })
}

/// The part of a run that needs the runtime.
struct Run {
    opts: ExecOptions,
    out: SharedWriter,
    coordinator: Coordinator,
    width: usize,
    builds_dir: PathBuf,
    kiln_dir: PathBuf,
    pipeline_id: u64,
    started: Instant,
    choice: Choice,
}

impl Run {
    async fn execute(self, mut interrupts: Interrupts) -> Result<Outcome, ExecError> {
        let Run { opts, out, coordinator, width, builds_dir, kiln_dir, pipeline_id, started, choice } = self;
        let color = opts.style.color;
        let (ui_tx, ui_rx) = mpsc::unbounded_channel();
        let runner_token = format!("glrt-{}", crate::coordinator::random_hex(16));
        let shared = Shared::new(coordinator, ui_tx, runner_token.clone());
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(io("failed to listen on loopback"))?;
        let address = listener.local_addr().map_err(io("failed to listen on loopback"))?;
        // Without TCP_NODELAY a response written in pieces (an artifact streamed from its
        // file) waits for the client's delayed ACK: 40 ms per download on loopback.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server_task = tokio::spawn(
            axum::serve(listener, crate::coordinator::http::router(shared.clone())).into_future(),
        );

        let progress_shared = shared.clone();
        let pipeline_started = Instant::now();
        let printer = Printer::new(
            out.clone(),
            opts.style,
            width,
            Box::new(move || progress_line(&progress_shared.lock(), pipeline_started)),
        );
        let printer_task = tokio::spawn(printer.run(ui_rx));

        shared.update(Coordinator::start);
        let runner = Runner::start(&RunnerSetup {
            url: format!("http://{address}"),
            token: runner_token,
            concurrency: opts.concurrency.max(1),
            builds_dir: builds_dir.to_string_lossy().into_owned(),
            cache_dir: kiln_dir.join("cache").to_string_lossy().into_owned(),
            kiln_dir: kiln_dir.clone(),
            helper: opts.helper.clone(),
            choice,
        });

        let mut interrupted = 0;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            let notified = shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if shared.lock().finished() {
                break;
            }
            tokio::select! {
                () = &mut notified => {}
                _ = tick.tick() => shared.update(Coordinator::tick),
                Some(()) = interrupts.recv() => {
                    interrupted += 1;
                    if interrupted == 1 {
                        write_out(&out, "\ninterrupted: canceling running jobs (their after_script runs); press Ctrl-C again to stop at once\n");
                        shared.update(Coordinator::cancel);
                    } else {
                        runner.abort(Duration::from_secs(3)).await;
                        server_task.abort();
                        let _ = shared.ui.send(crate::coordinator::UiEvent::Close);
                        let _ = printer_task.await;
                        return Ok(Outcome { exit_code: 130, report: Some(Report::of(&shared.lock(), started.elapsed().as_secs_f64())) });
                    }
                }
            }
        }
        let _ = runner.stop().await;
        server_task.abort();
        let report = Report::of(&shared.lock(), started.elapsed().as_secs_f64());
        let canceled_by_user = shared.lock().canceled_by_user;
        let _ = shared.ui.send(crate::coordinator::UiEvent::Close);
        drop(shared);
        let _ = printer_task.await;

        write_out(&out, &format!("\n{}", report.table(color)));
        write_out(
            &out,
            &format!(
                "pipeline {} {} in {:.1}s; logs in {}\n",
                pipeline_id,
                report.status,
                report.duration_s,
                kiln_dir.join("logs").join(pipeline_id.to_string()).display()
            ),
        );
        let blocking = report.blocking();
        if !blocking.is_empty() {
            let names: Vec<String> = blocking.iter().map(|n| format!("`{n}`")).collect();
            let flags: Vec<String> = blocking.iter().map(|n| format!("--manual '{n}'")).collect();
            write_out(
                &out,
                &format!(
                    "the pipeline is blocked by the manual job{} {}; play with {}\n",
                    if names.len() == 1 { "" } else { "s" },
                    names.join(", "),
                    flags.join(" ")
                ),
            );
        }
        if let Some(path) = &opts.report {
            let text = serde_json::to_vec_pretty(&report).map_err(|e| ExecError::Io {
                what: "failed to write the report".into(),
                source: std::io::Error::other(e),
            })?;
            std::fs::write(path, text).map_err(io(format!("failed to write {}", path.display())))?;
        }
        let exit_code = match report.status.as_str() {
            _ if canceled_by_user => 130,
            "success" => 0,
            _ => 1,
        };
        Ok(Outcome { exit_code, report: Some(report) })
    }
}

fn write_out(out: &SharedWriter, text: &str) {
    let mut w = out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let _ = w.write_all(text.as_bytes());
    let _ = w.flush();
}

fn diagnostics(p: &Processed, color: bool, path: &str) -> String {
    let mut s = String::new();
    for d in p.diagnostics.iter() {
        s.push_str(&crate::render::render(d, &p.sources, color));
    }
    let errors = p.diagnostics.errors().count();
    s.push_str(&format!("{path} is invalid: {errors} error{}", if errors == 1 { "" } else { "s" }));
    s
}

fn warn_diagnostics(p: &Processed, out: &SharedWriter, color: bool) {
    for d in p.diagnostics.iter() {
        write_out(out, &crate::render::render(d, &p.sources, color));
    }
}

/// `[done/total] running: a, b · 12.3s`.
fn progress_line(c: &Coordinator, started: Instant) -> String {
    let Some(state) = c.state() else { return String::new() };
    let current: Vec<_> = state.current_jobs().collect();
    let done = current.iter().filter(|j| j.status.is_complete()).count();
    let failed = current.iter().filter(|j| j.status == Status::Failed && !j.allow_failure).count();
    let running: Vec<&str> =
        current.iter().filter(|j| j.status.is_executing()).map(|j| state.name_of(j)).collect();
    let mut line = format!("[{done}/{}]", current.len());
    if !running.is_empty() {
        line.push_str(&format!(" running: {}", running.join(", ")));
    }
    if failed > 0 {
        line.push_str(&format!(" · {failed} failed"));
    }
    line.push_str(&format!(" · {:.1}s", started.elapsed().as_secs_f64()));
    line
}
