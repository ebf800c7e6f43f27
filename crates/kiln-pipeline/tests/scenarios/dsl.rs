//! The scenario language: pipeline and job declarations, then a script of events,
//! run through `kiln_pipeline::sim::World`, printing the status timeline.
//!
//! ```text
//! pipeline 1 ref=main sha=a1 on_job_failure=all     # optional; pipeline 1 is implied
//! group prod mode=oldest_first
//! job build stage=0
//! job test stage=1 needs=build,lint? retry=2 allow_failure=true
//! events:
//! run build
//! fail test exit=1 reason=script_failure
//! time 3600
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kiln_pipeline::auto_cancel::PipelineSource;
use kiln_pipeline::resource_group::ProcessMode;
use kiln_pipeline::sim::{Note, PipelineMeta, World};
use kiln_pipeline::{
    BridgeTarget, CancelRequest, Event, FailureReason, JobDefinition, JobId, JobKind, JobVariable, Need,
    OnJobFailure, OnNewCommit, PipelineId, PipelineSettings, PipelineState, RetryOn, Status, Timestamp, When,
};

struct Decl {
    id: PipelineId,
    meta: PipelineMeta,
    settings: PipelineSettings,
    jobs: Vec<JobDefinition>,
    later: bool,
}

fn kv(words: &[&str]) -> Result<BTreeMap<String, String>, String> {
    words
        .iter()
        .map(|w| {
            w.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or(format!("expected key=value, got `{w}`"))
        })
        .collect()
}

fn list(v: &str) -> Vec<String> {
    v.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn num<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("bad number `{v}`"))
}

fn reason(v: &str) -> Result<FailureReason, String> {
    FailureReason::from_name(v).ok_or(format!("unknown failure reason `{v}`"))
}

fn job_def(name: &str, attrs: &BTreeMap<String, String>) -> Result<JobDefinition, String> {
    let mut d = JobDefinition::new(name, 0);
    let mut trigger = None;
    let mut depend = false;
    for (k, v) in attrs {
        match k.as_str() {
            "stage" => d.stage_index = num(v)?,
            "when" => {
                d.when = match v.as_str() {
                    "on_success" => When::OnSuccess,
                    "on_failure" => When::OnFailure,
                    "always" => When::Always,
                    "manual" => When::Manual,
                    "delayed" => When::Delayed,
                    _ => return Err(format!("bad when `{v}`")),
                }
            }
            "start_in" => d.start_in = Some(num(v)?),
            "allow_failure" => d.allow_failure = v == "true",
            "exit_codes" => {
                d.allow_failure_exit_codes = list(v).iter().map(|c| num(c)).collect::<Result<_, _>>()?
            }
            "needs" => {
                d.needs = Some(
                    list(v)
                        .into_iter()
                        .map(|n| {
                            let optional = n.ends_with('?');
                            let artifacts = !n.ends_with('!');
                            Need { job: n.trim_end_matches(['?', '!']).to_string(), optional, artifacts }
                        })
                        .collect(),
                )
            }
            "deps" => d.dependencies = Some(list(v)),
            "retry" => d.retry.max = Some(num(v)?),
            "retry_when" => {
                d.retry.when = Some(
                    list(v)
                        .iter()
                        .map(|w| RetryOn::from_name(w).ok_or(format!("bad retry when `{w}`")))
                        .collect::<Result<_, _>>()?,
                )
            }
            "retry_exit_codes" => {
                d.retry.exit_codes = Some(list(v).iter().map(|c| num(c)).collect::<Result<_, _>>()?)
            }
            "resource_group" => d.resource_group = Some(v.clone()),
            "interruptible" => d.interruptible = v == "true",
            "timeout" => d.timeout = num(v)?,
            "trigger" => {
                trigger = Some(match v.as_str() {
                    "child" => BridgeTarget::Child,
                    "project" => BridgeTarget::Project,
                    _ => return Err(format!("bad trigger `{v}`")),
                })
            }
            "depend" => depend = v == "true",
            _ => return Err(format!("unknown job attribute `{k}`")),
        }
    }
    if let Some(target) = trigger {
        d.kind = JobKind::Bridge { target, depend };
    }
    Ok(d)
}

fn pipeline_decl(words: &[&str]) -> Result<Decl, String> {
    let id = PipelineId(num(words.first().ok_or("pipeline needs an id")?)?);
    let mut decl = Decl {
        id,
        meta: PipelineMeta {
            ref_name: "main".into(),
            sha: format!("sha{}", id.0),
            source: PipelineSource::Ci,
            created_at: Timestamp(0),
            upstream: None,
        },
        settings: PipelineSettings::default(),
        jobs: Vec::new(),
        later: false,
    };
    for w in words.iter().skip(1) {
        if *w == "later" {
            decl.later = true;
            continue;
        }
        let (k, v) = w.split_once('=').ok_or(format!("expected key=value, got `{w}`"))?;
        match k {
            "ref" => decl.meta.ref_name = v.to_string(),
            "sha" => decl.meta.sha = v.to_string(),
            "source" => {
                decl.meta.source = match v {
                    "ci" => PipelineSource::Ci,
                    "parent" => PipelineSource::ParentPipeline,
                    _ => PipelineSource::Other,
                }
            }
            "child_of" | "downstream_of" => {
                let (p, bridge) = v.split_once(':').ok_or("expected PIPELINE:BRIDGE")?;
                decl.meta.upstream = Some((PipelineId(num(p)?), bridge.to_string()));
                decl.later = true;
                if k == "child_of" {
                    decl.meta.source = PipelineSource::ParentPipeline;
                }
            }
            "on_job_failure" => {
                decl.settings.on_job_failure = if v == "all" { OnJobFailure::All } else { OnJobFailure::None }
            }
            "on_new_commit" => {
                decl.settings.on_new_commit = match v {
                    "conservative" => OnNewCommit::Conservative,
                    "interruptible" => OnNewCommit::Interruptible,
                    _ => OnNewCommit::None,
                }
            }
            _ => return Err(format!("unknown pipeline attribute `{k}`")),
        }
    }
    Ok(decl)
}

fn strip_comment(line: &str) -> &str {
    if line.trim_start().starts_with('#') { "" } else { line.split(" #").next().unwrap_or("").trim() }
}

/// Runs a scenario and returns its timeline.
pub(crate) fn run(text: &str) -> Result<String, String> {
    let mut world = World::new();
    let mut decls: Vec<Decl> = Vec::new();
    // `#` starts a comment at the start of a line or after a space; `name#2` is a job attempt.
    let mut lines = text.lines().map(strip_comment).filter(|l| !l.is_empty());
    for line in lines.by_ref() {
        if line == "events:" {
            break;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[0] {
            "pipeline" => decls.push(pipeline_decl(&words[1..])?),
            "group" => {
                let attrs = kv(&words[2..])?;
                let mode = match attrs.get("mode").map(String::as_str) {
                    Some("oldest_first") => ProcessMode::OldestFirst,
                    Some("newest_first") => ProcessMode::NewestFirst,
                    Some("newest_ready_first") => ProcessMode::NewestReadyFirst,
                    _ => ProcessMode::Unordered,
                };
                world.groups.entry(words[1].to_string()).or_default().mode = mode;
            }
            "auto_cancel" => world.auto_cancel_enabled = words.get(1) == Some(&"enabled"),
            "job" => {
                if decls.is_empty() {
                    decls.push(pipeline_decl(&["1"])?);
                }
                let def = job_def(words[1], &kv(&words[2..])?)?;
                decls.last_mut().ok_or("no pipeline")?.jobs.push(def);
            }
            other => return Err(format!("unknown declaration `{other}`")),
        }
    }
    let mut to_start = Vec::new();
    for d in decls {
        let state = PipelineState::new(d.id, d.settings, d.jobs, Timestamp(0)).map_err(|e| e.to_string())?;
        if !d.later {
            to_start.push(d.id);
        }
        world.add(state, d.meta);
    }
    let mut out = String::new();
    for id in to_start {
        world.start(id).map_err(|e| e.to_string())?;
    }
    step(&mut out, &mut world, "(pipelines created and processed)");
    for line in lines {
        let (target, rest) = match line.split_once(':') {
            Some((p, rest)) if p.chars().all(|c| c.is_ascii_digit()) => (PipelineId(num(p)?), rest.trim()),
            _ => (PipelineId(1), line),
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        if let Err(e) = event(&mut world, target, &words) {
            return Err(format!("line `{line}`: {e}"));
        }
        step(&mut out, &mut world, line);
    }
    Ok(out)
}

fn job_ref(world: &World, p: PipelineId, name: &str) -> Result<JobId, String> {
    let state = &world.pipelines.get(&p).ok_or(format!("no pipeline {}", p.0))?.state;
    let found = match name.split_once('#') {
        Some((n, k)) => {
            let k: usize = num(k)?;
            state.jobs.iter().filter(|j| state.name_of(j) == n).nth(k.saturating_sub(1))
        }
        None => state.current_job_named(name),
    };
    found.map(|j| j.id).ok_or(format!("no job `{name}` in pipeline {}", p.0))
}

fn variables(words: &[&str]) -> Vec<JobVariable> {
    words
        .iter()
        .filter_map(|w| w.split_once('='))
        .filter(|(k, _)| k.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .map(|(k, v)| JobVariable { key: k.to_string(), value: v.to_string() })
        .collect()
}

fn event(world: &mut World, p: PipelineId, w: &[&str]) -> Result<(), String> {
    let job = |i: usize| -> Result<JobId, String> { job_ref(world, p, w.get(i).ok_or("missing job name")?) };
    let ev = match w.first().copied().ok_or("empty event")? {
        "time" => {
            world.tick(Timestamp(num(w.get(1).ok_or("time needs a value")?)?));
            return Ok(());
        }
        "runners" => {
            match w.get(1).copied() {
                Some("offline") => world.runners_offline = true,
                Some("online") => world.runners_offline = false,
                Some("lost") => world.runners_lost = true,
                other => return Err(format!("runners: expected offline, online or lost, got {other:?}")),
            }
            return Ok(());
        }
        "start" => {
            if let Err(error) = world.start(p) {
                world.notes.push(Note::Refused { pipeline: p, error });
            }
            return Ok(());
        }
        "process" => Event::Process,
        "run" => Event::JobRunning { job: job(1)?, graceful_cancel: w.contains(&"graceful") },
        "update" => Event::JobUpdated { job: job(1)? },
        "succeed" => Event::JobSucceeded { job: job(1)? },
        "fail" => {
            let attrs = kv(&w[2..])?;
            Event::JobFailed {
                job: job(1)?,
                reason: reason(attrs.get("reason").map_or("script_failure", String::as_str))?,
                exit_code: attrs.get("exit").map(|c| num(c)).transpose()?,
            }
        }
        "cancel" if w.len() > 1 => Event::CancelJob { job: job(1)? },
        "cancel" => Event::CancelPipeline(CancelRequest {
            interruptible_only: false,
            cascade: true,
            auto_canceled_by: None,
        }),
        "force-cancel" => Event::ForceCancelJob { job: job(1)? },
        "drop-pipeline" => Event::DropPipeline { reason: reason(w.get(1).ok_or("missing reason")?)? },
        "retry" => Event::RetryJob {
            job: job(1)?,
            variables: variables(&w[2..]),
            runnable: !w.contains(&"quota-exceeded"),
        },
        "retry-pipeline" => Event::RetryPipeline,
        "play" => Event::PlayJob { job: job(1)?, variables: variables(&w[2..]) },
        "unschedule" => Event::UnscheduleJob { job: job(1)? },
        "downstream-created" => Event::DownstreamCreated { bridge: job(1)? },
        "downstream-failed" => Event::DownstreamCreationFailed {
            bridge: job(1)?,
            reason: reason(w.get(2).ok_or("missing reason")?)?,
        },
        "downstream" => Event::DownstreamStatus {
            bridge: job(1)?,
            status: Status::from_name(w.get(2).ok_or("missing status")?).ok_or("bad status")?,
        },
        "quota-exceeded" => Event::DropNotRunnable {
            jobs: w[1..].iter().map(|n| job_ref(world, p, n)).collect::<Result<_, _>>()?,
            reason: FailureReason::CiQuotaExceeded,
        },
        other => return Err(format!("unknown event `{other}`")),
    };
    if let Err(error) = world.handle(p, ev) {
        world.notes.push(Note::Refused { pipeline: p, error });
    }
    Ok(())
}

fn step(out: &mut String, world: &mut World, label: &str) {
    let _ = writeln!(out, "> {label}");
    let notes: Vec<Note> = world.notes.drain(..).collect();
    for note in &notes {
        let _ = writeln!(out, "  ~ {}", note_text(note, world));
    }
    for p in world.pipelines.values().filter(|p| p.started) {
        let s = &p.state;
        let warn = if s.status == Status::Success && s.has_warnings() { " (warnings)" } else { "" };
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for j in &s.jobs {
            *counts.entry(s.name_of(j)).or_default() += 1;
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        let jobs: Vec<String> = s
            .jobs
            .iter()
            .map(|j| {
                let name = s.name_of(j);
                let k = seen.entry(name).or_default();
                *k += 1;
                let label = if counts[name] > 1 { format!("{name}#{k}") } else { name.to_string() };
                let mut detail = Vec::new();
                if let Some(r) = j.failure_reason.filter(|_| j.status == Status::Failed) {
                    detail.push(r.to_string());
                }
                if let Some(c) = j.exit_code.filter(|_| j.status == Status::Failed) {
                    detail.push(format!("exit {c}"));
                }
                if j.allow_failure && matches!(j.status, Status::Failed | Status::Canceled) {
                    detail.push("allowed".into());
                }
                if let Some(at) = j.scheduled_at {
                    detail.push(format!("at {}", at.0));
                }
                if j.holds_resource {
                    detail.push("holds resource".into());
                }
                if !j.variables.is_empty() {
                    let vars: Vec<String> =
                        j.variables.iter().map(|v| format!("{}={}", v.key, v.value)).collect();
                    detail.push(vars.join(" "));
                }
                if j.retried {
                    detail.push("retried".into());
                }
                let detail =
                    if detail.is_empty() { String::new() } else { format!("[{}]", detail.join(", ")) };
                format!("{label}={}{detail}", j.status)
            })
            .collect();
        let _ = writeln!(out, "  p{} {}{warn}: {}", s.id.0, s.status, jobs.join(" "));
    }
}

fn note_text(note: &Note, world: &World) -> String {
    let name = |p: &PipelineId, j: &JobId| {
        world
            .pipelines
            .get(p)
            .and_then(|x| x.state.job(*j).map(|job| x.state.name_of(job).to_string()))
            .unwrap_or_default()
    };
    match note {
        Note::ResourceAssigned { group, pipeline, job } => {
            format!("resource {group} -> p{}:{}", pipeline.0, name(pipeline, job))
        }
        Note::ResourceReleased { group, pipeline, job } => {
            format!("resource {group} released by p{}:{}", pipeline.0, name(pipeline, job))
        }
        Note::DownstreamTriggered { pipeline, bridge, downstream } => match downstream {
            Some(d) => format!("p{}:{} triggers p{}", pipeline.0, name(pipeline, bridge), d.0),
            None => format!("p{}:{} asks for its downstream pipeline", pipeline.0, name(pipeline, bridge)),
        },
        Note::AutoCanceled { pipeline, by, interruptible_only } => {
            let how = if *interruptible_only { " (interruptible jobs)" } else { "" };
            format!("p{} auto-canceled by p{}{how}", pipeline.0, by.0)
        }
        Note::Refused { pipeline, error } => format!("refused (p{}): {error}", pipeline.0),
    }
}
