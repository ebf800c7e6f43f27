//! Production pipelines of 16 public projects
//! (../shared/conformance/real-world): GitLab runs every one of them, so we
//! must accept each and produce its job list (snapshotted for review).
//!
//! Their includes of other projects, templates, components and remote
//! files are not in the corpus (`EXTERNAL_INCLUDES.tsv`); a stub serves
//! them through the same `Projects` / `Remote` traits the server uses. The
//! stub defines what the pipeline expects those files to define: every
//! hidden job the repository `extends` or `!reference`s without defining it,
//! and a `spec:inputs` header that accepts the inputs the repository passes.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kiln_config::compose::TemplateSource;
use kiln_config::context::{PipelineContext, Project};
use kiln_config::plan::Outcome;
use kiln_config::source::FileId;
use kiln_config::sources::{Projects, Remote, Repository, SourceError, Sources};
use kiln_config::yaml::{self, Node, Value};
use kiln_config::{ProcessOptions, process};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/real-world")
}

/// Each repository, the project it is on, and the server it runs on.
const REPOS: &[(&str, &str, &str, &str)] = &[
    ("GNOME__gjs", "GNOME/gjs", "gitlab.gnome.org", "master"),
    ("GNOME__glib", "GNOME/glib", "gitlab.gnome.org", "main"),
    ("GNOME__gnome-shell", "GNOME/gnome-shell", "gitlab.gnome.org", "main"),
    ("GNOME__libadwaita", "GNOME/libadwaita", "gitlab.gnome.org", "main"),
    ("GNOME__librsvg", "GNOME/librsvg", "gitlab.gnome.org", "main"),
    ("GNOME__mutter", "GNOME/mutter", "gitlab.gnome.org", "main"),
    ("OpenMW__openmw", "OpenMW/openmw", "gitlab.com", "master"),
    ("PipeWire__pipewire", "pipewire/pipewire", "gitlab.freedesktop.org", "master"),
    ("PipeWire__wireplumber", "pipewire/wireplumber", "gitlab.freedesktop.org", "master"),
    ("f-droid__fdroidclient", "fdroid/fdroidclient", "gitlab.com", "master"),
    ("f-droid__fdroidserver", "fdroid/fdroidserver", "gitlab.com", "master"),
    ("gitlabhq__cli", "gitlab-org/cli", "gitlab.com", "main"),
    ("gitlabhq__gitlab-runner", "gitlab-org/gitlab-runner", "gitlab.com", "main"),
    ("gitlabhq__gitlab-shell", "gitlab-org/gitlab-shell", "gitlab.com", "main"),
    ("gitlabhq__gitlabhq@2018-004fb357", "gitlab-org/gitlab-ce", "gitlab.com", "master"),
    ("gitlabhq__gitlabhq@2019-05f1d5d9", "gitlab-org/gitlab", "gitlab.com", "master"),
    ("gitlabhq__omnibus-gitlab", "gitlab-org/omnibus-gitlab", "gitlab.com", "master"),
    ("postmarketOS-mirror__ci-common", "postmarketOS/ci-common", "gitlab.com", "main"),
];

/// Repositories whose local includes are missing from the corpus: those
/// files are stubbed like external ones.
const MISSING_LOCAL_FILES: &[(&str, &str)] = &[(
    "gitlabhq__gitlabhq@2019-05f1d5d9",
    "the corpus has only this 2019 GitLab root file, not the 16 `.gitlab/ci/*.gitlab-ci.yml` files it includes",
)];

/// The repository's own files, from its folder in the corpus, and the stub
/// for local files the corpus lacks (see [`MISSING_LOCAL_FILES`]).
struct Dir(PathBuf, Option<String>);

impl Repository for Dir {
    fn read_file(&self, path: &str) -> Result<Option<String>, SourceError> {
        match std::fs::read_to_string(self.0.join(path.trim_start_matches('/'))) {
            Ok(text) => Ok(Some(text)),
            Err(_) => Ok(self.1.clone()),
        }
    }

    fn list_files(&self) -> Result<Vec<String>, SourceError> {
        let mut out = Vec::new();
        let mut stack = vec![self.0.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).map_err(|e| SourceError::new(e.to_string()))? {
                let path = entry.map_err(|e| SourceError::new(e.to_string()))?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(&self.0) {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        Ok(out)
    }
}

/// What the repository expects from files outside it.
#[derive(Default)]
struct Stub {
    /// Hidden jobs with the keys referenced in them (`!reference [.x, a, b]`).
    hidden: BTreeMap<String, BTreeSet<Vec<String>>>,
    /// Input names (with a sample value) passed to includes.
    inputs: BTreeMap<String, Node>,
    /// Jobs the repository only completes (no `script:`, `trigger:` or
    /// `run:`): the included file defines them.
    completed: BTreeSet<String>,
    /// Stages that the real external templates set, where the repository
    /// relies on them (see [`TEMPLATE_STAGES`]).
    stages: BTreeMap<String, String>,
}

impl Stub {
    fn text(&self) -> String {
        let mut out = String::new();
        if !self.inputs.is_empty() {
            out.push_str("spec:\n  inputs:\n");
            for (name, sample) in &self.inputs {
                let kind = match sample.value {
                    Value::Bool(_) => "boolean",
                    Value::Int(_) | Value::Float(_) => "number",
                    Value::Seq(_) => "array",
                    _ => "string",
                };
                out.push_str(&format!(
                    "    {name}:\n      type: {kind}\n      default: {}\n",
                    default_for(kind)
                ));
            }
            out.push_str("---\n");
        }
        // Always a content document: GitLab drops a blank one, and a file of
        // only a `spec:` header is content, not a header.
        out.push_str(".stub:\n  script: [echo stub]\n");
        for job in &self.completed {
            out.push_str(&format!("{job:?}:\n  script: [echo stub]\n"));
            if let Some(stage) = self.stages.get(job) {
                out.push_str(&format!("  stage: {stage:?}\n"));
            }
        }
        for (job, paths) in &self.hidden {
            out.push_str(&format!("{job:?}:\n  script: [echo stub]\n"));
            if let Some(stage) = self.stages.get(job) {
                out.push_str(&format!("  stage: {stage:?}\n"));
            }
            for path in paths {
                let mut indent = String::from("  ");
                for (i, key) in path.iter().enumerate() {
                    if key == "script" && path.len() == 1 {
                        break;
                    }
                    let leaf = i + 1 == path.len();
                    if leaf {
                        out.push_str(&format!("{indent}{key:?}: {}\n", stub_value(key)));
                    } else {
                        out.push_str(&format!("{indent}{key:?}:\n"));
                    }
                    indent.push_str("  ");
                }
            }
        }
        out
    }
}

fn default_for(kind: &str) -> &'static str {
    match kind {
        "boolean" => "false",
        "number" => "0",
        "array" => "[]",
        _ => "''",
    }
}

fn stub_value(key: &str) -> &'static str {
    match key {
        "script" | "before_script" | "after_script" => "[echo stub]",
        "rules" => "[{when: on_success}]",
        "variables" | "cache" | "artifacts" => "{}",
        "needs" | "tags" => "[]",
        _ => "stub",
    }
}

/// Scans every YAML file of the repository for what it needs from outside.
fn stub_for(dir: &Path, repo: &Dir) -> Stub {
    let mut defined = BTreeSet::new();
    let mut stub = Stub::default();
    let mut tops: BTreeMap<String, Node> = BTreeMap::new();
    for file in repo.list_files().unwrap().iter().filter(|f| f.ends_with(".yml") || f.ends_with(".yaml")) {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let Ok(docs) = yaml::load_documents(FileId(0), &text, &Default::default()) else { continue };
        for doc in &docs {
            if let Some(map) = doc.as_map() {
                defined.extend(map.keys().map(String::from));
                for (name, job) in map.iter() {
                    tops.insert(name.name.clone(), job.clone());
                }
            }
            walk(doc, &mut stub);
        }
    }
    stub.hidden.retain(|name, _| !defined.contains(name));
    for (name, job) in &tops {
        let is_job = !name.starts_with('.') && !RESERVED.contains(&name.as_str()) && job.as_map().is_some();
        if is_job && !runs_locally(job, &tops, &mut BTreeSet::new()) {
            stub.completed.insert(name.clone());
        }
    }
    let folder = dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
    for (repo, template, stage) in TEMPLATE_STAGES {
        if *repo == folder {
            stub.stages.insert(template.to_string(), stage.to_string());
        }
    }
    stub
}

/// Stages set by external templates that a repository relies on (its jobs
/// set none and the default `test` stage does not exist there), as the
/// upstream template files set them.
const TEMPLATE_STAGES: &[(&str, &str, &str)] = &[
    // GNOME's `flatpak/flatpak_ci_initiative.yml` publishes nightlies in `deploy`.
    ("GNOME__libadwaita", ".publish_nightly", "deploy"),
    // The danger-review component puts its job in the `job_stage` input,
    // which omnibus passes as `check`.
    ("gitlabhq__omnibus-gitlab", "danger-review", "check"),
];

/// Whether `job`, or a job it `extends` in the repository, says what to run.
fn runs_locally(job: &Node, tops: &BTreeMap<String, Node>, seen: &mut BTreeSet<String>) -> bool {
    if ["script", "trigger", "run"].iter().any(|k| job.get(k).is_some()) {
        return true;
    }
    let parents: Vec<&str> = match job.get("extends").map(|e| &e.value) {
        Some(Value::Str(s)) => vec![s.as_str()],
        Some(Value::Seq(items)) => items.iter().filter_map(Node::as_str).collect(),
        _ => vec![],
    };
    parents.into_iter().any(|p| {
        seen.insert(p.to_string()) && tops.get(p).is_some_and(|parent| runs_locally(parent, tops, seen))
    })
}

/// Top-level keys that are not jobs.
const RESERVED: &[&str] = &[
    "default",
    "include",
    "stages",
    "variables",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
    "types",
    "spec",
    "pages",
];

fn walk(node: &Node, stub: &mut Stub) {
    match &node.value {
        Value::Map(map) => {
            for (key, value) in map.iter() {
                match key.name.as_str() {
                    "extends" => {
                        let names: Vec<&str> = match &value.value {
                            Value::Str(s) => vec![s],
                            Value::Seq(items) => items.iter().filter_map(Node::as_str).collect(),
                            _ => vec![],
                        };
                        for name in names {
                            stub.hidden.entry(name.to_string()).or_default();
                        }
                    }
                    "inputs" => {
                        for (name, sample) in value.as_map().into_iter().flat_map(|m| m.iter()) {
                            stub.inputs.insert(name.name.clone(), sample.clone());
                        }
                    }
                    _ => {}
                }
                walk(value, stub);
            }
        }
        Value::Seq(items) => items.iter().for_each(|i| walk(i, stub)),
        Value::Reference(path) => {
            let path: Vec<String> = path.iter().filter_map(|p| p.as_str().map(String::from)).collect();
            if let Some((job, rest)) = path.split_first() {
                let entry = stub.hidden.entry(job.clone()).or_default();
                if !rest.is_empty() {
                    entry.insert(rest.to_vec());
                }
            }
        }
        _ => {}
    }
}

struct StubSources(String);

impl Projects for StubSources {
    fn read_file(&self, _: &str, _: Option<&str>, _: &str) -> Result<Option<String>, SourceError> {
        Ok(Some(self.0.clone()))
    }

    fn list_files(&self, _: &str, _: Option<&str>) -> Result<Vec<String>, SourceError> {
        Ok(Vec::new())
    }
}

impl Remote for StubSources {
    fn fetch(&self, _: &str) -> Result<String, SourceError> {
        Ok(self.0.clone())
    }
}

#[test]
fn every_real_world_pipeline_is_accepted() {
    let mut report = String::new();
    let mut failures = Vec::new();
    for (folder, project, host, default_branch) in REPOS {
        let dir = root().join(folder);
        let stub = StubSources(stub_for(&dir, &Dir(dir.clone(), None)).text());
        // The root file alone has no jobs; the stubbed local files give it
        // one so that its own keywords are still processed and checked.
        let missing_local = MISSING_LOCAL_FILES
            .iter()
            .any(|(f, _)| f == folder)
            .then(|| format!("{}stub-job:\n  stage: test\n  script: [echo stub]\n", stub.0));
        let repo = Dir(dir.clone(), missing_local);
        let text = std::fs::read_to_string(dir.join(".gitlab-ci.yml")).unwrap();
        let ctx = PipelineContext {
            ref_name: default_branch.to_string(),
            project: Project {
                id: 1,
                path: project.to_string(),
                default_branch: default_branch.to_string(),
                url: format!("https://{host}/{project}"),
                server_url: format!("https://{host}"),
            },
            ..common::default_context()
        };
        let mut options = ProcessOptions::default();
        options.compose.components_from_projects = true;
        options.compose.templates = Some(TemplateSource {
            project: "gitlab-org/gitlab".into(),
            git_ref: None,
            dir: "lib/gitlab/ci/templates".into(),
        });
        let sources = Sources { repository: &repo, projects: &stub, remote: &stub };
        let p = process(".gitlab-ci.yml", &text, &ctx, sources, &options);
        if !p.is_valid() {
            failures.push(format!("{folder}:\n{}", common::render_diagnostics(&p)));
            continue;
        }
        report.push_str(&format!("## {folder} ({project} on {host}, {default_branch})\n"));
        match &p.outcome {
            Some(Outcome::Created(plan)) => {
                for job in &plan.jobs {
                    report.push_str(&format!("{:<10} {:<10} {}\n", job.stage, job.when.as_str(), job.name));
                }
            }
            Some(Outcome::NotCreated { reason }) => report.push_str(&format!("not created: {reason}\n")),
            None => report.push_str("no plan\n"),
        }
    }
    assert!(failures.is_empty(), "{} of {} rejected:\n{}", failures.len(), REPOS.len(), failures.join("\n"));
    insta::with_settings!({ snapshot_path => root_snapshots(), prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("real_world_job_lists", report);
    });
}

fn root_snapshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/snapshots")
}
