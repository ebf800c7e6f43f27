//! GitLab's static cross-job checks (`YamlProcessor#run_logical_validations!`):
//! stages exist, `needs` and `dependencies` name jobs in the same or earlier
//! stages, `environment:on_stop` jobs match, no cycles in `needs`.
//!
//! GitLab stops at the first of these; we report all of them.

use std::collections::{HashMap, HashSet};

use crate::model::cx::Cx;
use crate::model::needs::Need;
use crate::model::parallel::Parallel;
use crate::model::trigger::{TriggerInclude, TriggerTarget};
use crate::model::{Config, Job, Spanned};
use crate::normalize;
use crate::source::Span;

/// Most jobs one job may need (GitLab's default `ci_needs_size_limit`).
pub const MAX_NEEDS: usize = 50;
/// Longest job name a need may name.
const MAX_NEED_NAME: usize = 255;

pub(crate) fn cross_job_checks(cx: &mut Cx<'_>, config: &Config) {
    let names = expanded_names(config);
    let stages: Vec<&str> = config.stages.iter().map(|s| s.value.as_str()).collect();
    for job in &config.jobs {
        check_stage(cx, job, &stages);
        if let Some(deps) = &job.dependencies {
            for dep in deps {
                check_dependency(cx, config, &names, job, dep, "dependency", false);
            }
        }
        if let Some(TriggerTarget::Child(includes)) = job.trigger.as_ref().map(|t| &t.target) {
            for inc in includes {
                if let TriggerInclude::Artifact { job: dep, .. } = inc {
                    check_dependency(cx, config, &names, job, dep, "dependency", false);
                }
            }
        }
        for needs in job_needs(cx, job) {
            check_needs(cx, config, &names, job, Some(&needs));
        }
        check_on_stop(cx, config, job);
    }
    check_cycles(cx, config, &names);
}

/// Job names after `parallel` expansion, mapped to the job they come from.
fn expanded_names(config: &Config) -> HashMap<String, usize> {
    let mut names = HashMap::new();
    for (i, job) in config.jobs.iter().enumerate() {
        names.insert(job.name.value.clone(), i);
        for instance in normalize::instances(job) {
            names.insert(instance.name, i);
        }
    }
    names
}

/// The `needs:` lists to check for `job` (its own and its rules'), once per
/// matrix instance with `$[[ matrix.NAME ]]` replaced, as GitLab normalizes
/// before it validates. Names the matrix lacks are reported here.
fn job_needs(cx: &mut Cx<'_>, job: &Job) -> Vec<Vec<Need>> {
    let lists: Vec<&[Need]> = job
        .needs
        .iter()
        .map(Vec::as_slice)
        .chain(job.rules.iter().flatten().filter_map(|r| r.needs.as_deref()))
        .collect();
    if !matches!(job.parallel, Some(Parallel::Matrix { .. })) {
        return lists.into_iter().map(<[Need]>::to_vec).collect();
    }
    let mut out = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    for instance in normalize::instances(job) {
        for list in &lists {
            let (needs, unknown) = normalize::interpolate_needs(list, &instance.matrix);
            for name in unknown {
                if !missing.contains(&name) {
                    missing.push(name);
                }
            }
            // Instances often interpolate to the same list; check it once.
            if !out.contains(&needs) {
                out.push(needs);
            }
        }
    }
    for message in normalize::unknown_matrix_variables(&job.name.value, &missing) {
        cx.raw(Some(job.name.span), message);
    }
    out
}

fn check_stage(cx: &mut Cx<'_>, job: &Job, stages: &[&str]) {
    if !stages.contains(&job.stage.value.as_str()) {
        cx.raw(
            Some(job.stage.span),
            format!(
                "{} job: chosen stage {} does not exist; available stages are {}",
                job.name.value,
                job.stage.value,
                stages.join(", ")
            ),
        );
    }
}

fn stage_of(config: &Config, job: &Job) -> Option<usize> {
    config.stage_index(&job.stage.value)
}

fn check_dependency(
    cx: &mut Cx<'_>,
    config: &Config,
    names: &HashMap<String, usize>,
    job: &Job,
    dep: &Spanned<String>,
    kind: &str,
    optional: bool,
) {
    let Some(&target) = names.get(&dep.value) else {
        if !optional {
            cx.raw(Some(dep.span), format!("{} job: undefined {kind}: {}", job.name.value, dep.value));
        }
        return;
    };
    if kind == "need" && dep.value.chars().count() > MAX_NEED_NAME {
        cx.raw(
            Some(dep.span),
            format!(
                "{} job: need `{}` name is too long (maximum is {MAX_NEED_NAME} characters)",
                job.name.value, dep.value
            ),
        );
    }
    let Some(other) = config.jobs.get(target) else { return };
    let ok = match (stage_of(config, other), stage_of(config, job)) {
        (Some(d), Some(j)) => d <= j,
        _ => false,
    };
    if !ok {
        cx.raw(
            Some(dep.span),
            format!("{} job: {kind} {} is not defined in current or prior stages", job.name.value, dep.value),
        );
    }
}

fn check_needs(
    cx: &mut Cx<'_>,
    config: &Config,
    names: &HashMap<String, usize>,
    job: &Job,
    needs: Option<&[Need]>,
) {
    let Some(needs) = needs else { return };
    let mut seen: HashSet<String> = HashSet::new();
    let mut duplicated: Vec<String> = Vec::new();
    let mut count = 0;
    for need in needs {
        let Need::Job(n) = need else { continue };
        // A need with `parallel:matrix` names the expanded jobs it picks.
        let targets: Vec<Spanned<String>> = match &n.matrix {
            Some(entries) => normalize::need_targets(&n.job.value, Some(entries), |_| None)
                .into_iter()
                .map(|name| Spanned::new(name, n.job.span))
                .collect(),
            None => vec![n.job.clone()],
        };
        for target in targets {
            count += 1;
            check_dependency(cx, config, names, job, &target, "need", n.optional);
            if !seen.insert(target.value.clone()) && !duplicated.contains(&target.value) {
                duplicated.push(target.value);
            }
        }
    }
    if !duplicated.is_empty() {
        let span = needs.first().map(Need::span);
        cx.raw(
            span,
            format!("{} has the following needs duplicated: {}.", job.name.value, duplicated.join(", ")),
        );
    }
    if count > MAX_NEEDS {
        cx.raw(
            needs.first().map(Need::span),
            format!(
                "{} job: one job can only need {MAX_NEEDS} others, but you have listed {count}. \
                 See needs keyword documentation for more details",
                job.name.value
            ),
        );
    }
}

fn check_on_stop(cx: &mut Cx<'_>, config: &Config, job: &Job) {
    let Some(env) = &job.environment else { return };
    let Some(on_stop) = &env.on_stop else { return };
    let name = &job.name.value;
    let stop = &on_stop.value;
    let span = Some(on_stop.span);
    let Some(stop_job) = config.job(stop) else {
        cx.raw(span, format!("{name} job: on_stop job {stop} is not defined"));
        return;
    };
    let Some(stop_env) = &stop_job.environment else {
        cx.raw(span, format!("{name} job: on_stop job {stop} does not have environment defined"));
        return;
    };
    if stop_env.name.value != env.name.value {
        cx.raw(span, format!("{name} job: on_stop job {stop} have different environment name"));
        return;
    }
    if stop_env.action != Some(crate::model::EnvironmentAction::Stop) {
        cx.raw(span, format!("{name} job: on_stop job {stop} needs to have action stop defined"));
    }
}

/// GitLab sorts jobs by their `needs` and fails on a cycle.
fn check_cycles(cx: &mut Cx<'_>, config: &Config, names: &HashMap<String, usize>) {
    let edges: Vec<Vec<usize>> = config
        .jobs
        .iter()
        .map(|job| {
            job.needs
                .iter()
                .flatten()
                .filter_map(|n| match n {
                    Need::Job(j) => names.get(&j.job.value).copied(),
                    _ => None,
                })
                .collect()
        })
        .collect();
    // Iterative three-colour depth-first search.
    let mut state = vec![0u8; edges.len()];
    for start in 0..edges.len() {
        if state[start] != 0 {
            continue;
        }
        let mut stack = vec![(start, 0usize)];
        state[start] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            match edges[node].get(*next) {
                Some(&child) => {
                    *next += 1;
                    match state[child] {
                        0 => {
                            state[child] = 1;
                            stack.push((child, 0));
                        }
                        1 => {
                            let span: Option<Span> = config.jobs.get(child).map(|j| j.name.span);
                            cx.raw(span, "The pipeline has circular dependencies".into());
                            return;
                        }
                        _ => {}
                    }
                }
                None => {
                    state[node] = 2;
                    stack.pop();
                }
            }
        }
    }
}
