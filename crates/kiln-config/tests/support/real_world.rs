//! The real-world corpus (../shared/conformance/real-world) with stubs for
//! the files it includes from outside, shared by the conformance test and
//! the benchmark.
//!
//! Their includes of other projects, templates, components and remote
//! files are not in the corpus (`EXTERNAL_INCLUDES.tsv`); a stub serves
//! them through the same `Projects` / `Remote` traits the server uses. The
//! stub defines what the pipeline expects those files to define: every
//! hidden job the repository `extends` or `!reference`s without defining it,
//! and a `spec:inputs` header that accepts the inputs the repository passes.

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kiln_config::ProcessOptions;
use kiln_config::compose::TemplateSource;
use kiln_config::context::{Commit, PipelineContext, Project};
use kiln_config::source::FileId;
use kiln_config::sources::{Projects, Remote, Repository, SourceError, Sources};
use kiln_config::yaml::{self, Node, Value};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/real-world")
}

/// Each repository, the project it is on, and the server it runs on.
pub const REPOS: &[(&str, &str, &str, &str)] = &[
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
pub const MISSING_LOCAL_FILES: &[(&str, &str)] = &[(
    "gitlabhq__gitlabhq@2019-05f1d5d9",
    "the corpus has only this 2019 GitLab root file, not the 16 `.gitlab/ci/*.gitlab-ci.yml` files it includes",
)];

/// The repository's own files, read from its folder in the corpus once (so
/// benchmarks measure processing, not the disk), and the stub for local
/// files the corpus lacks (see [`MISSING_LOCAL_FILES`]).
pub struct Dir {
    files: BTreeMap<String, String>,
    missing: Option<String>,
}

impl Dir {
    pub fn read(root: &Path, missing: Option<String>) -> Dir {
        let mut files = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if let (Ok(rel), Ok(text)) = (path.strip_prefix(root), std::fs::read_to_string(&path))
                {
                    files.insert(rel.to_string_lossy().into_owned(), text);
                }
            }
        }
        Dir { files, missing }
    }
}

impl Repository for Dir {
    fn read_file(&self, path: &str) -> Result<Option<String>, SourceError> {
        Ok(self.files.get(path.trim_start_matches('/')).cloned().or_else(|| self.missing.clone()))
    }

    fn list_files(&self) -> Result<Vec<String>, SourceError> {
        Ok(self.files.keys().cloned().collect())
    }
}

/// What the repository expects from files outside it.
#[derive(Default)]
pub struct Stub {
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
    pub fn text(&self) -> String {
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
pub fn stub_for(dir: &Path, repo: &Dir) -> Stub {
    let mut defined = BTreeSet::new();
    let mut stub = Stub::default();
    let mut tops: BTreeMap<String, Node> = BTreeMap::new();
    for (_, text) in repo.files.iter().filter(|(f, _)| f.ends_with(".yml") || f.ends_with(".yaml")) {
        let Ok(docs) = yaml::load_documents(FileId(0), text, &Default::default()) else { continue };
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

pub struct StubSources(pub String);

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

/// Everything needed to process one corpus repository: its sources (with
/// stubs), the context it runs in, and the options it needs.
pub struct Case {
    pub folder: &'static str,
    pub project: &'static str,
    pub host: &'static str,
    pub default_branch: &'static str,
    pub text: String,
    pub repo: Dir,
    pub stub: StubSources,
}

impl Case {
    pub fn load(
        &(folder, project, host, default_branch): &(&'static str, &'static str, &'static str, &'static str),
    ) -> Case {
        let dir = root().join(folder);
        let stub = StubSources(stub_for(&dir, &Dir::read(&dir, None)).text());
        // The root file alone has no jobs; the stubbed local files give it
        // one so that its own keywords are still processed and checked.
        let missing_local = MISSING_LOCAL_FILES
            .iter()
            .any(|(f, _)| *f == folder)
            .then(|| format!("{}stub-job:\n  stage: test\n  script: [echo stub]\n", stub.0));
        let text = std::fs::read_to_string(dir.join(".gitlab-ci.yml")).unwrap();
        Case { folder, project, host, default_branch, text, repo: Dir::read(&dir, missing_local), stub }
    }

    pub fn context(&self) -> PipelineContext {
        PipelineContext {
            ref_name: self.default_branch.to_string(),
            commit: Commit { sha: "02618988a1864b3d06cfee3bd79f8baa2dd21407".into(), ..Commit::default() },
            project: Project {
                id: 1,
                path: self.project.to_string(),
                default_branch: self.default_branch.to_string(),
                url: format!("https://{}/{}", self.host, self.project),
                server_url: format!("https://{}", self.host),
            },
            ..PipelineContext::default()
        }
    }

    pub fn sources(&self) -> Sources<'_> {
        Sources { repository: &self.repo, projects: &self.stub, remote: &self.stub }
    }

    pub fn options() -> ProcessOptions {
        let mut options = ProcessOptions::default();
        options.compose.components_from_projects = true;
        options.compose.templates = Some(TemplateSource {
            project: "gitlab-org/gitlab".into(),
            git_ref: None,
            dir: "lib/gitlab/ci/templates".into(),
        });
        options
    }
}
