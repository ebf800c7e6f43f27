//! `kiln lint`: validate a `.gitlab-ci.yml` exactly as GitLab reads it and
//! show the jobs a pipeline would get.
//!
//! Exit status: 0 when the configuration is valid, 1 when it is not, 2 on a
//! usage error (a file that cannot be read, a malformed flag).

mod json;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use kiln_config::context::{PipelineSource, RefKind};
use kiln_config::plan::Outcome;
use kiln_config::sources::Sources;
use kiln_config::{ProcessOptions, Processed};
use kiln_exec::render;
use kiln_exec::workdir::{self, git, remote, tree};

/// Arguments of `kiln lint`.
#[derive(Debug, clap::Args)]
pub(crate) struct LintArgs {
    /// The pipeline file to check.
    #[arg(default_value = ".gitlab-ci.yml")]
    file: PathBuf,
    /// The branch or tag to plan the pipeline for (default: the checked-out branch).
    #[arg(long = "ref", value_name = "REF")]
    git_ref: Option<String>,
    /// Treat the ref as a tag.
    #[arg(long)]
    tag: bool,
    /// The pipeline source (`CI_PIPELINE_SOURCE`).
    #[arg(long, default_value = "push", value_parser = parse_source)]
    source: PipelineSource,
    /// The project's default branch (default: origin's HEAD, else `main`).
    #[arg(long, value_name = "BRANCH")]
    default_branch: Option<String>,
    /// A variable visible to rules, as a project or pipeline variable would be.
    #[arg(long = "variable", short = 'v', value_name = "KEY=VALUE", value_parser = parse_variable)]
    variables: Vec<(String, String)>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also check the rules of GitLab's JSON schema, which is stricter than GitLab itself.
    #[arg(long)]
    strict: bool,
    /// Print the merged configuration (includes, extends, !reference, default: applied).
    #[arg(long)]
    expand: bool,
    /// Read `include:project` files and components of PROJECT from the checkout DIR.
    #[arg(long = "project-dir", value_name = "PROJECT=DIR", value_parser = parse_project_dir)]
    project_dirs: Vec<(String, PathBuf)>,
}

fn parse_project_dir(s: &str) -> Result<(String, PathBuf), String> {
    let (project, dir) = s.split_once('=').ok_or_else(|| format!("`{s}` is not PROJECT=DIR"))?;
    if project.is_empty() || dir.is_empty() {
        return Err(format!("`{s}` is not PROJECT=DIR"));
    }
    Ok((project.trim_matches('/').to_string(), PathBuf::from(dir)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
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

pub(crate) fn run(args: LintArgs) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read(&args.file).with_context(|| format!("failed to read {}", args.file.display()))?;
    let dir = args
        .file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let root = workdir::toplevel(&dir).unwrap_or_else(|| dir.clone());
    let main_path = workdir::relative_path(&args.file, &root);

    let fallback_name =
        root.file_name().map_or_else(|| "project".to_string(), |n| n.to_string_lossy().into_owned());
    let mut ctx = git::context(git::read(&root), &fallback_name);
    if let Some(branch) = args.default_branch {
        ctx.project.default_branch = branch;
    }
    if let Some(r) = args.git_ref {
        ctx.ref_name = r;
    }
    if args.tag {
        ctx.ref_kind = RefKind::Tag;
    }
    ctx.source = args.source;
    ctx.ref_protected = ctx.ref_name == ctx.project.default_branch;
    ctx.variables = args.variables;

    let repository = tree::WorkingTree::new(&root);
    let remote = remote::HttpRemote::new()?;
    let mut projects = vec![(ctx.project.path.clone(), tree::WorkingTree::new(&root))];
    for (project, dir) in args.project_dirs {
        projects.push((project, tree::WorkingTree::new(dir)));
    }
    let projects = tree::LocalProjects { projects };
    let sources = Sources { repository: &repository, projects: &projects, remote: &remote };
    let mut options = ProcessOptions { strict: args.strict, ..ProcessOptions::default() };
    // Components of this server's projects come from the same project sources.
    options.compose.components_from_projects = true;
    let processed = match String::from_utf8(text) {
        Ok(text) => kiln_config::process(&main_path, &text, &ctx, sources, &options),
        Err(e) => kiln_config::invalid_utf8(&main_path, e.utf8_error().valid_up_to()),
    };

    let mut stdout = std::io::stdout().lock();
    if args.expand {
        if let Some(merged) = &processed.merged {
            write!(stdout, "{}", kiln_config::yaml::to_yaml(&kiln_config::compose::expanded_view(merged)))?;
        }
        for diag in processed.diagnostics.iter() {
            eprint_diag(&render::render(diag, &processed.sources, std::io::stderr().is_terminal()));
        }
    } else {
        match args.format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut stdout, &report(&processed))?;
                writeln!(stdout)?;
            }
            Format::Text => {
                write!(stdout, "{}", text_report(&processed, &main_path, std::io::stdout().is_terminal()))?
            }
        }
    }
    Ok(if processed.is_valid() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn eprint_diag(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
}

fn report(p: &Processed) -> json::Report {
    let (stages, jobs, created, reason) = match &p.outcome {
        Some(Outcome::Created(plan)) => (plan.stages.clone(), json::jobs(plan), true, None),
        Some(Outcome::NotCreated { reason }) => (Vec::new(), Vec::new(), false, Some(reason.clone())),
        None => (Vec::new(), Vec::new(), false, None),
    };
    json::Report {
        valid: p.is_valid(),
        errors: p.diagnostics.errors().map(|d| json::Message::new(d, &p.sources)).collect(),
        warnings: p.diagnostics.warnings().map(|d| json::Message::new(d, &p.sources)).collect(),
        stages,
        jobs,
        pipeline_created: created,
        not_created_reason: reason,
    }
}

fn text_report(p: &Processed, path: &str, color: bool) -> String {
    let mut out = String::new();
    for diag in p.diagnostics.iter() {
        out.push_str(&render::render(diag, &p.sources, color));
        out.push('\n');
    }
    let errors = p.diagnostics.errors().count();
    if errors > 0 {
        out.push_str(&format!("{path} is invalid: {errors} error{}\n", if errors == 1 { "" } else { "s" }));
        return out;
    }
    out.push_str(&format!("{path} is valid\n"));
    match &p.outcome {
        Some(Outcome::Created(plan)) => {
            out.push('\n');
            out.push_str(&jobs_table(plan));
        }
        Some(Outcome::NotCreated { reason }) => {
            out.push_str(&format!("no pipeline would be created: {reason}\n"))
        }
        None => {}
    }
    out
}

fn jobs_table(plan: &kiln_config::plan::PipelinePlan) -> String {
    let header = ["STAGE", "JOB", "WHEN", "ALLOW FAILURE", "NEEDS"];
    let rows: Vec<[String; 5]> = plan
        .jobs
        .iter()
        .map(|j| {
            [
                j.stage.clone(),
                j.name.clone(),
                j.when.as_str().to_string(),
                match (j.allow_failure, j.allow_failure_exit_codes.as_slice()) {
                    (true, _) => "yes".into(),
                    (false, []) => "no".into(),
                    (false, codes) => {
                        let codes: Vec<String> = codes.iter().map(i64::to_string).collect();
                        format!("on exit {}", codes.join(", "))
                    }
                },
                match &j.needs {
                    None => "-".into(),
                    Some(n) if n.is_empty() => "[]".into(),
                    Some(n) => n.iter().map(|n| n.job.as_str()).collect::<Vec<_>>().join(", "),
                },
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    for row in &rows {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
    out
}
