//! Reading a gitlab-ci-local case's oracle `preview.yml` (its expanded
//! configuration: `extends`, `default:` and includes are already applied) with
//! the YAML loader the config processor uses: the stages, and per job its
//! stage, its `needs:` and the images it names. The harness needs no more of it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kiln_config::source::FileId;
use kiln_config::yaml::{Limits, Node, load_documents};

/// What a job of the preview says about its place in the pipeline and its images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Job {
    pub(crate) stage: String,
    /// `None`: no `needs:`, so the job needs every job of the earlier stages.
    pub(crate) needs: Option<Vec<String>>,
    /// Its `image:` and its `services:` images.
    pub(crate) images: BTreeSet<String>,
}

/// The stages and the jobs of a preview.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Preview {
    pub(crate) stages: Vec<String>,
    pub(crate) jobs: BTreeMap<String, Job>,
}

/// The case's preview. The harness asks only for cases whose oracle ran, so
/// a missing or unreadable file is a fault of the conformance data: it stops
/// the run rather than letting the case look as if it named no image.
pub(crate) fn read(case: &Path) -> Preview {
    let path = case.join("oracle/preview.yml");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()));
    parse(&text).unwrap_or_else(|e| panic!("failed to parse {}: {e}", path.display()))
}

/// The YAML of a preview: gitlab-ci-local prints its warnings on the same
/// stream before the document, so the document starts at its `---` line.
fn document(text: &str) -> &str {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return &text[offset..];
        }
        offset += line.len();
    }
    text
}

/// Parses a preview's text; the error is the loader's message.
pub(crate) fn parse(text: &str) -> Result<Preview, String> {
    let docs =
        load_documents(FileId(0), document(text), &Limits::default()).map_err(|d| d.message.clone())?;
    let mut preview = Preview::default();
    for doc in &docs {
        let Some(map) = doc.as_map() else { continue };
        if let Some(stages) = map.get("stages").and_then(Node::as_seq) {
            preview.stages = stages.iter().filter_map(Node::scalar_to_string).collect();
        }
        for (key, node) in map.iter() {
            if kiln_config::model::is_root_keyword(&key.name) || key.name.starts_with('.') {
                continue;
            }
            let Some(job) = node.as_map() else { continue };
            let stage = job.get("stage").and_then(Node::scalar_to_string).unwrap_or_else(|| "test".into());
            let needs = job.get("needs").map(needs_of);
            let mut images: BTreeSet<String> = job.get("image").and_then(image_name).into_iter().collect();
            if let Some(services) = job.get("services").and_then(Node::as_seq) {
                images.extend(services.iter().filter_map(image_name));
            }
            preview.jobs.insert(key.name.clone(), Job { stage, needs, images });
        }
    }
    Ok(preview)
}

/// An `image:` or a `services:` entry: a name, or a map with `name:`. An empty
/// name is no image (GitLab runs such a job without one).
fn image_name(node: &Node) -> Option<String> {
    let name = match node.as_map() {
        Some(map) => map.get("name")?.scalar_to_string()?,
        None => node.scalar_to_string()?,
    };
    (!name.trim().is_empty()).then_some(name)
}

/// The local jobs a `needs:` names: entries are names or maps with `job:`.
/// Needs on another project's or pipeline's jobs do not order this pipeline.
fn needs_of(node: &Node) -> Vec<String> {
    let entries = node.as_seq().unwrap_or_default();
    entries
        .iter()
        .filter_map(|entry| match entry.as_map() {
            Some(map) if map.contains_key("project") || map.contains_key("pipeline") => None,
            Some(map) => map.get("job")?.scalar_to_string(),
            None => entry.scalar_to_string(),
        })
        .collect()
}

impl Preview {
    /// Job name -> the images it names.
    pub(crate) fn images(&self) -> BTreeMap<String, BTreeSet<String>> {
        self.jobs
            .iter()
            .filter(|(_, j)| !j.images.is_empty())
            .map(|(n, j)| (n.clone(), j.images.clone()))
            .collect()
    }

    /// `jobs` with everything they need, transitively (GitLab's `--needs`
    /// selection): a job's `needs:`, or without it every job of an earlier stage.
    pub(crate) fn closure(&self, jobs: &[String]) -> BTreeSet<String> {
        // A stage the pipeline does not list sorts last, so such a job pulls in
        // every listed stage and no job pulls it in by stage order.
        let position = |job: &Job| self.stages.iter().position(|s| *s == job.stage).unwrap_or(usize::MAX);
        let mut out = BTreeSet::new();
        let mut todo = jobs.to_vec();
        while let Some(name) = todo.pop() {
            if !out.insert(name.clone()) {
                continue;
            }
            let Some(job) = self.jobs.get(&name) else { continue };
            match &job.needs {
                Some(needs) => todo.extend(needs.iter().cloned()),
                None => todo.extend(
                    self.jobs.iter().filter(|(_, j)| position(j) < position(job)).map(|(n, _)| n.clone()),
                ),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREVIEW: &str = r#"---
stages:
  - .pre
  - build
  - test
  - deploy
  - .post
variables:
  image: not-a-job
build-job:
  stage: build
  image: alpine
  script:
    - echo build
lint-job:
  stage: build
  image:
    name: docker.io/library/alpine
    entrypoint: ['']
  services:
    - busybox
    - name: "nginx:alpine3.18"
      alias: web
  needs: []
test-job:
  image: ""
  needs:
    - build-job
    - job: lint-job
      artifacts: true
    - project: other/project
      job: remote-job
      ref: main
    - pipeline: $PARENT_PIPELINE_ID
      job: parent-job
deploy-job:
  stage: deploy
  script:
    - echo deploy
"#;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn reads_stages_stage_needs_and_images() {
        let p = parse(PREVIEW).unwrap();
        assert_eq!(p.stages, [".pre", "build", "test", "deploy", ".post"]);
        assert_eq!(p.jobs.keys().collect::<Vec<_>>(), ["build-job", "deploy-job", "lint-job", "test-job"]);
        let build = &p.jobs["build-job"];
        assert_eq!((build.stage.as_str(), &build.needs, &build.images), ("build", &None, &set(&["alpine"])));
        let lint = &p.jobs["lint-job"];
        assert_eq!(lint.needs, Some(Vec::new()));
        assert_eq!(lint.images, set(&["docker.io/library/alpine", "busybox", "nginx:alpine3.18"]));
        let test = &p.jobs["test-job"];
        assert_eq!(test.stage, "test");
        assert_eq!(test.needs, Some(vec!["build-job".to_string(), "lint-job".to_string()]));
        assert!(test.images.is_empty());
        assert_eq!(p.jobs["deploy-job"].needs, None);
        let images = p.images();
        assert_eq!(images.keys().collect::<Vec<_>>(), ["build-job", "lint-job"]);
    }

    #[test]
    fn closure_follows_needs_and_earlier_stages() {
        let p = parse(PREVIEW).unwrap();
        let of = |jobs: &[&str]| p.closure(&jobs.iter().map(|j| (*j).to_string()).collect::<Vec<_>>());
        assert_eq!(of(&["lint-job"]), set(&["lint-job"]));
        assert_eq!(of(&["test-job"]), set(&["test-job", "build-job", "lint-job"]));
        assert_eq!(of(&["deploy-job"]), set(&["deploy-job", "test-job", "build-job", "lint-job"]));
        assert_eq!(of(&["build-job"]), set(&["build-job"]));
    }

    #[test]
    fn warnings_before_the_document_are_skipped() {
        let text = " WARN  The job: `remote-trigger` will be no-op.\nIf you know: what you're doing\n---\nstages:\n  - test\njob:\n  image: alpine\n";
        let p = parse(text).unwrap();
        assert_eq!(p.stages, ["test"]);
        assert_eq!(p.jobs["job"].images, set(&["alpine"]));
    }

    #[test]
    fn a_broken_preview_is_an_error() {
        assert!(parse("job: [unclosed").is_err());
    }
}
