//! Data-driven payload tests: each `test_data/<case>.json` overrides the
//! facts of `test_data/_defaults.json` (objects merge, everything else
//! replaces) and the resulting payload is compared with its snapshot.

use std::collections::BTreeMap;
use std::path::Path;

use kiln_config::plan::spec::JobSpec;
use kiln_payload::{
    CacheKeyFiles, DependencyFacts, JobFacts, PayloadInput, PipelineFacts, ProjectFacts, RunnerFacts,
    ServerFacts, UserFacts, VariableSources, job_payload,
};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Case {
    server: ServerFacts,
    project: ProjectFacts,
    pipeline: PipelineFacts,
    user: Option<UserFacts>,
    runner: RunnerFacts,
    job: JobFacts,
    variables: VariableSources,
    dependencies: Vec<DependencyFacts>,
    /// The pipeline commit's files, for `cache:key:files` keys.
    repository_files: BTreeMap<String, FileVersion>,
    spec: JobSpec,
}

#[derive(Deserialize)]
struct FileVersion {
    blob: String,
    last_commit: String,
}

struct Files<'a>(&'a BTreeMap<String, FileVersion>);

impl CacheKeyFiles for Files<'_> {
    fn list_files(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
    fn blob_ids(&self, paths: &[String]) -> Vec<Option<String>> {
        paths.iter().map(|p| self.0.get(p).map(|f| f.blob.clone())).collect()
    }
    fn last_commit(&self, path: &str) -> Option<String> {
        self.0.get(path).map(|f| f.last_commit.clone())
    }
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

fn load(path: &Path) -> Case {
    let dir = path.parent().unwrap();
    let mut value: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("_defaults.json")).unwrap()).unwrap();
    let over: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    // A case's `spec` is a whole job, not an override of the default one.
    let spec = over.get("spec").cloned();
    merge(&mut value, over);
    if let Some(spec) = spec {
        value["spec"] = spec;
    }
    serde_json::from_value(value).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn payloads() {
    insta::glob!("../test_data", "[!_]*.json", |path| {
        let case = load(path);
        let files = Files(&case.repository_files);
        let input = PayloadInput {
            server: &case.server,
            project: &case.project,
            pipeline: &case.pipeline,
            user: case.user.as_ref(),
            runner: &case.runner,
            job: &case.job,
            spec: &case.spec,
            variables: &case.variables,
            dependencies: &case.dependencies,
            cache_keys: &files,
        };
        insta::assert_json_snapshot!(job_payload(&input));
    });
}
