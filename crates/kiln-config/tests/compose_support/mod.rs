//! Shared by the compose tests: multi-file fixtures, in-memory projects
//! and remote files, and rendering of a composition.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;

use kiln_config::compose::{ComposeOptions, Composed, compose, expanded_view};
use kiln_config::context::{PipelineContext, Project, RefKind};
use kiln_config::diag::Diagnostics;
use kiln_config::source::{FileId, SourceMap};
use kiln_config::sources::{MemoryRepository, Projects, Remote, SourceError, Sources};
use kiln_config::yaml::{self, Limits, Node};

/// One fixture: the files it holds and the pipeline it runs for.
#[derive(Debug, Default)]
pub struct Case {
    pub main_path: String,
    pub main_text: String,
    pub repository: MemoryRepository,
    pub projects: MemoryProjects,
    pub remote: MemoryRemote,
    pub context: Option<String>,
}

impl Case {
    pub fn parse(text: &str) -> Case {
        let mut case = Case::default();
        let mut current: Option<(String, String)> = None;
        let finish = |case: &mut Case, file: Option<(String, String)>| {
            let Some((name, body)) = file else { return };
            if name == "context" {
                case.context = Some(body);
            } else if let Some(rest) = name.strip_prefix("project:") {
                let (project_ref, path) = rest.split_once(":/").expect("project:group/name@ref:/path");
                let (project, git_ref) = match project_ref.split_once('@') {
                    Some((p, r)) => (p.to_string(), Some(r.to_string())),
                    None => (project_ref.to_string(), None),
                };
                case.projects.files.insert((project, git_ref, path.to_string()), body);
            } else if let Some(url) = name.strip_prefix("remote:") {
                case.remote.files.insert(url.to_string(), body);
            } else if case.main_path.is_empty() {
                case.main_path = name.trim_start_matches('/').to_string();
                case.main_text = body.clone();
                case.repository = std::mem::take(&mut case.repository).with(&name, &body);
            } else {
                case.repository = std::mem::take(&mut case.repository).with(&name, &body);
            }
        };
        for line in text.split_inclusive('\n') {
            if let Some(name) = line.strip_prefix("# -- ") {
                finish(&mut case, current.take());
                current = Some((name.trim().to_string(), String::new()));
            } else if let Some((_, body)) = current.as_mut() {
                body.push_str(line);
            }
        }
        finish(&mut case, current.take());
        case
    }
}

/// Files of other projects: `(project, ref, path)` → text.
#[derive(Debug, Default)]
pub struct MemoryProjects {
    pub files: BTreeMap<(String, Option<String>, String), String>,
}

impl Projects for MemoryProjects {
    fn read_file(
        &self,
        project: &str,
        git_ref: Option<&str>,
        path: &str,
    ) -> Result<Option<String>, SourceError> {
        if !self.files.keys().any(|(p, r, _)| p == project && r.as_deref() == git_ref) {
            return Err(SourceError::new(format!(
                "no project `{project}` at `{}` in this test",
                git_ref.unwrap_or("HEAD")
            )));
        }
        Ok(self.files.get(&(project.to_string(), git_ref.map(str::to_string), path.to_string())).cloned())
    }

    fn list_files(&self, project: &str, git_ref: Option<&str>) -> Result<Vec<String>, SourceError> {
        Ok(self
            .files
            .keys()
            .filter(|(p, r, _)| p == project && r.as_deref() == git_ref)
            .map(|(_, _, path)| path.clone())
            .collect())
    }
}

/// Remote files by URL; any other URL answers 404.
#[derive(Debug, Default)]
pub struct MemoryRemote {
    pub files: BTreeMap<String, String>,
}

impl Remote for MemoryRemote {
    fn fetch(&self, url: &str) -> Result<String, SourceError> {
        self.files.get(url).cloned().ok_or_else(|| SourceError::new("of HTTP code `404` error"))
    }
}

/// The pipeline context a case asks for, and its compose options.
pub fn context_of(case: &Case) -> (PipelineContext, ComposeOptions) {
    let mut ctx = PipelineContext {
        ref_name: "main".into(),
        project: Project {
            id: 1,
            path: "group/project".into(),
            default_branch: "main".into(),
            url: "https://gitlab.example.com/group/project".into(),
            server_url: "https://gitlab.example.com".into(),
        },
        ..PipelineContext::default()
    };
    ctx.commit.sha = "02618988a1864b3d06cfee3bd79f8baa2dd21407".into();
    let mut opts = ComposeOptions::default();
    let Some(text) = &case.context else { return (ctx, opts) };
    let docs = yaml::load_documents(FileId(0), text, &Limits::default()).expect("context is YAML");
    let Some(map) = docs.first().and_then(Node::as_map) else { return (ctx, opts) };
    if let Some(vars) = map.get("variables").and_then(Node::as_map) {
        for (k, v) in vars.iter() {
            ctx.variables.push((k.name.clone(), v.scalar_to_string().unwrap_or_default()));
        }
    }
    if let Some(tag) = map.get("tag").and_then(Node::as_str) {
        ctx.ref_name = tag.into();
        ctx.ref_kind = RefKind::Tag;
    }
    if let Some(paths) = map.get("changed_paths").and_then(Node::as_seq) {
        ctx.changed_paths = Some(paths.iter().filter_map(|p| p.as_str().map(str::to_string)).collect());
    }
    if let Some(max) = map.get("max_includes").and_then(Node::as_int) {
        opts.max_includes = usize::try_from(max).unwrap();
    }
    if let Some(max) = map.get("max_total_size").and_then(Node::as_int) {
        opts.max_total_size = usize::try_from(max).unwrap();
    }
    if let Some(on) = map.get("components_from_projects").and_then(Node::as_bool) {
        opts.components_from_projects = on;
    }
    if let Some(inputs) = map.get("inputs").and_then(Node::as_map) {
        opts.inputs = inputs.clone();
    }
    (ctx, opts)
}

/// Composes a case.
pub fn compose_case(case: &Case) -> (Composed, SourceMap, Diagnostics) {
    let (ctx, opts) = context_of(case);
    let sources = Sources { repository: &case.repository, projects: &case.projects, remote: &case.remote };
    let mut files = SourceMap::default();
    let mut diags = Diagnostics::default();
    let composed = compose(&case.main_path, &case.main_text, &ctx, sources, &opts, &mut files, &mut diags);
    (composed, files, diags)
}

/// The expanded view, then the diagnostics.
pub fn run_case(case: &Case) -> String {
    let (composed, files, diags) = compose_case(case);
    let mut out = match &composed.root {
        Some(root) => yaml::to_yaml(&expanded_view(root)),
        None => "(no configuration)\n".into(),
    };
    if !diags.is_empty() {
        out.push_str("--- diagnostics\n");
        for d in diags.iter() {
            out.push_str(&format!("{}\n", d.display(&files)));
        }
    }
    out
}
