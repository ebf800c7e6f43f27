//! Targeted checks of the rules the snapshots show in bulk: which value the
//! runner ends up with (the last entry of a name), masking flags, the cache
//! key suffixes and the timeout cap.

use kiln_config::plan::spec::{CacheKeySpec, CacheSpec, JobSpec, VariableSpec};
use kiln_payload::{
    CiVariable, DependencyFacts, JobFacts, NoFiles, PayloadInput, PipelineFacts, ProjectFacts, RunnerFacts,
    ServerFacts, VariableSources, job_payload, job_timeout,
};
use serde_json::Value;

struct World {
    server: ServerFacts,
    project: ProjectFacts,
    pipeline: PipelineFacts,
    runner: RunnerFacts,
    job: JobFacts,
    spec: JobSpec,
    variables: VariableSources,
    dependencies: Vec<DependencyFacts>,
}

fn world() -> World {
    let d: Value =
        serde_json::from_str(include_str!("../test_data/_defaults.json")).expect("defaults are valid JSON");
    let take = |k: &str| d[k].clone();
    World {
        server: serde_json::from_value(take("server")).unwrap(),
        project: serde_json::from_value(take("project")).unwrap(),
        pipeline: serde_json::from_value(take("pipeline")).unwrap(),
        runner: serde_json::from_value(take("runner")).unwrap(),
        job: serde_json::from_value(take("job")).unwrap(),
        spec: serde_json::from_value(take("spec")).unwrap(),
        variables: VariableSources::default(),
        dependencies: Vec::new(),
    }
}

fn payload(w: &World) -> kiln_api::JobResponse {
    job_payload(&PayloadInput {
        server: &w.server,
        project: &w.project,
        pipeline: &w.pipeline,
        user: None,
        runner: &w.runner,
        job: &w.job,
        spec: &w.spec,
        variables: &w.variables,
        dependencies: &w.dependencies,
        cache_keys: &NoFiles,
    })
}

/// What the runner sees: the last entry of the name.
fn seen(p: &kiln_api::JobResponse, key: &str) -> Option<String> {
    p.variable(key).map(str::to_string)
}

fn yaml(key: &str, value: &str) -> VariableSpec {
    VariableSpec { key: key.into(), value: value.into(), raw: false }
}

#[test]
fn each_level_overrides_the_one_before() {
    let mut w = world();
    let levels = ["yaml", "dotenv", "instance", "group", "project", "pipeline", "schedule", "play"];
    for (i, _) in levels.iter().enumerate() {
        // Define LEVEL at every level up to `i`; the highest one must win.
        w.spec.variables = vec![yaml("LEVEL", "yaml")];
        w.dependencies = Vec::new();
        w.variables = VariableSources::default();
        w.job.play_variables = Vec::new();
        for level in &levels[1..=i] {
            let v = CiVariable::new("LEVEL", *level);
            match *level {
                "dotenv" => w.dependencies.push(DependencyFacts {
                    id: 1,
                    name: "build".into(),
                    artifacts_file: None,
                    dotenv: vec![("LEVEL".into(), "dotenv".into())],
                }),
                "instance" => w.variables.instance.push(v),
                "group" => w.variables.groups.push(v),
                "project" => w.variables.project.push(v),
                "pipeline" => w.variables.pipeline.push(v),
                "schedule" => w.variables.schedule.push(v),
                "play" => w.job.play_variables.push(("LEVEL".into(), "play".into())),
                _ => unreachable!(),
            }
        }
        assert_eq!(seen(&payload(&w), "LEVEL").as_deref(), Some(levels[i]), "up to {}", levels[i]);
    }
}

#[test]
fn yaml_overrides_predefined_and_settings_override_yaml() {
    let mut w = world();
    w.spec.variables = vec![yaml("CI_COMMIT_REF_NAME", "from-yaml")];
    assert_eq!(seen(&payload(&w), "CI_COMMIT_REF_NAME").as_deref(), Some("from-yaml"));
    w.variables.project.push(CiVariable::new("CI_COMMIT_REF_NAME", "from-project"));
    assert_eq!(seen(&payload(&w), "CI_COMMIT_REF_NAME").as_deref(), Some("from-project"));
}

#[test]
fn masked_file_and_raw_flags_travel_with_their_variable() {
    let mut w = world();
    let mut secret = CiVariable::new("SECRET", "hunter2hunter2");
    secret.masked = true;
    let mut file = CiVariable::new("CERT", "-----BEGIN-----");
    file.file = true;
    let mut raw = CiVariable::new("PATTERN", "$NOT_EXPANDED");
    raw.raw = true;
    w.variables.project = vec![secret, file, raw];
    let p = payload(&w);
    let var = |k: &str| p.variables.iter().rev().find(|v| v.key == k).unwrap().clone();
    assert!(var("SECRET").masked && !var("SECRET").public);
    assert!(var("CERT").file && !var("CERT").masked);
    assert!(var("PATTERN").raw);
    assert_eq!(var("PATTERN").value, "$NOT_EXPANDED");
    assert!(var("CI_JOB_TOKEN").masked && !var("CI_JOB_TOKEN").public);
    assert!(!var("CI_REPOSITORY_URL").public && !var("CI_REPOSITORY_URL").masked);
    assert!(var("CI_COMMIT_SHA").public);
}

#[test]
fn protected_variables_reach_protected_refs_only() {
    let mut w = world();
    let mut key = CiVariable::new("DEPLOY_KEY", "k");
    key.protected = true;
    w.variables.project = vec![key];
    w.pipeline.protected = true;
    assert_eq!(seen(&payload(&w), "DEPLOY_KEY").as_deref(), Some("k"));
    w.pipeline.protected = false;
    assert_eq!(seen(&payload(&w), "DEPLOY_KEY"), None);
}

fn cache(key: &str, unprotect: bool) -> CacheSpec {
    CacheSpec {
        key: CacheKeySpec::Literal { key: key.into() },
        paths: vec!["x/".into()],
        untracked: false,
        policy: "pull-push".into(),
        when: "on_success".into(),
        unprotect,
        fallback_keys: vec!["fb".into()],
    }
}

#[test]
fn cache_keys_are_separated_by_ref_protection() {
    let mut w = world();
    w.spec.cache = vec![cache("deps", false), cache("shared", true)];
    w.pipeline.protected = true;
    let keys = |p: &kiln_api::JobResponse| {
        p.cache.iter().map(|c| (c.key.clone(), c.fallback_keys.clone())).collect::<Vec<_>>()
    };
    assert_eq!(
        keys(&payload(&w)),
        [
            ("deps-protected".into(), vec!["fb-protected".to_string()]),
            ("shared-non_protected".into(), vec!["fb-non_protected".to_string()])
        ]
    );
    w.pipeline.protected = false;
    assert_eq!(keys(&payload(&w))[0].0, "deps-non_protected");
    w.project.separated_caches = false;
    w.project.cache_index = Some(7);
    assert_eq!(keys(&payload(&w))[0], ("deps-7".into(), vec!["fb-7".to_string()]));
}

#[test]
fn timeouts_are_capped_by_the_runner() {
    let mut w = world();
    assert_eq!(job_timeout(&w.spec, &w.project, &w.runner), 3600);
    w.spec.timeout = Some(600);
    assert_eq!(job_timeout(&w.spec, &w.project, &w.runner), 600);
    w.runner.maximum_timeout = Some(300);
    assert_eq!(job_timeout(&w.spec, &w.project, &w.runner), 300);
    w.spec.timeout = None;
    let p = payload(&w);
    assert_eq!(p.runner_info.timeout, 300);
    assert!(p.steps.iter().all(|s| s.timeout == 300));
}
