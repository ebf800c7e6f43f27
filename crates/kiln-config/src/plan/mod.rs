//! Pipeline planning: which jobs a pipeline gets, and how each is set up.
//!
//! Follows GitLab's pipeline creation chain after the YAML is processed:
//! `workflow:rules` decide whether there is a pipeline at all; `parallel`
//! expands jobs into instances (before rules, so matrix values are visible
//! to them); each instance's `rules` or `only`/`except` decide whether it is
//! added and with which `when`, `allow_failure`, variables and needs; then
//! needs are checked against the jobs that were actually added.
//!
//! The result is a [`PipelinePlan`] of plain [`spec::JobSpec`]s.

mod convert;
mod parallel;
mod rules;
pub mod spec;
mod vars;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::context::{PipelineContext, ref_slug};
use crate::diag::Diagnostics;
use crate::model::{Config, Job, Need, When};
use crate::normalize;
use crate::plan::parallel::{Instance, InstanceNames};
use crate::plan::rules::{Env, RulesResult};
use crate::plan::spec::{CrossNeedSpec, JobSpec, JobWhen, NeedSpec, VariableSpec};
use crate::source::Span;
use crate::sources::Sources;

/// GitLab's message when `workflow:rules` leave no pipeline.
pub const FILTERED_BY_WORKFLOW: &str = "Pipeline filtered out by workflow rules.";
/// GitLab's message when rules leave no jobs.
pub const NO_JOBS: &str = "Pipeline will not run for the selected trigger. \
     The rules configuration prevented any jobs from being added to the pipeline.";

/// A pipeline as it would be created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelinePlan {
    /// `workflow:name`, expanded.
    pub name: Option<String>,
    /// Every stage of the configuration, `.pre` first and `.post` last.
    pub stages: Vec<String>,
    /// Global YAML variables with the matched `workflow:rules` variables.
    pub variables: Vec<VariableSpec>,
    pub auto_cancel: AutoCancelSpec,
    /// Jobs in stage order, then in file order.
    pub jobs: Vec<JobSpec>,
}

/// `workflow:auto_cancel` with GitLab's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoCancelSpec {
    /// `conservative`, `interruptible` or `none`.
    pub on_new_commit: String,
    /// `none` or `all`.
    pub on_job_failure: String,
}

/// What planning decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created(PipelinePlan),
    /// No pipeline, for a reason that is not an error (workflow rules or
    /// job rules left nothing to run).
    NotCreated {
        reason: String,
    },
}

/// Plans a pipeline. `None` when planning found errors (recorded in
/// `diags`), which make GitLab fail the pipeline at creation.
pub fn plan(
    config: &Config,
    ctx: &PipelineContext,
    sources: Sources<'_>,
    diags: &mut Diagnostics,
) -> Option<Outcome> {
    let predefined = vars::from_pairs(&ctx.pipeline_predefined_variables());
    let external = vars::from_pairs(ctx.variables.iter().map(|(k, v)| (k, v)));
    let mut root = vars::specs(&config.variables);
    let mut auto_cancel = config.workflow.as_ref().and_then(|w| w.auto_cancel).unwrap_or_default();

    // workflow:rules
    if let Some(rules) = config.workflow.as_ref().and_then(|w| w.rules.as_deref()) {
        let scope = vars::Scope::new([predefined.as_slice(), root.as_slice(), external.as_slice()]);
        let env = Env { ctx, sources, vars: &scope };
        match rules::evaluate(rules, When::Always, &env) {
            Ok(RulesResult::Never) => {
                return Some(Outcome::NotCreated { reason: FILTERED_BY_WORKFLOW.into() });
            }
            Ok(RulesResult::Matched { rule, .. }) => {
                vars::merge(&mut root, vars::specs(&rule.variables));
                if let Some(rule_cancel) = rule.auto_cancel {
                    auto_cancel.on_new_commit = rule_cancel.on_new_commit.or(auto_cancel.on_new_commit);
                    auto_cancel.on_job_failure = rule_cancel.on_job_failure.or(auto_cancel.on_job_failure);
                }
            }
            Err(e) => {
                let span = config.workflow.as_ref().map(|w| w.span);
                diags.error(span, format!("Failed to parse rule for workflow: {e}"));
                return None;
            }
        }
    }

    let pipeline_vars = vars::Scope::new([predefined.as_slice(), root.as_slice(), external.as_slice()]);
    let name = config
        .workflow
        .as_ref()
        .and_then(|w| w.name.as_ref())
        .map(|n| kiln_expr::expand(&n.value, &pipeline_vars));

    let instances: Vec<Instance<'_>> = config.jobs.iter().flat_map(parallel::expand).collect();
    let mut names = InstanceNames::new();
    for instance in &instances {
        names.entry(instance.job.name.value.clone()).or_default().push(instance.name.clone());
    }

    let planner = Planner {
        config,
        ctx,
        sources,
        predefined: &predefined,
        external: &external,
        root: &root,
        names: &names,
    };
    let mut jobs = Vec::new();
    let mut failed = false;
    for instance in &instances {
        match planner.job(instance) {
            Ok(Some(job)) => jobs.push((job, instance.job.name.span)),
            Ok(None) => {}
            Err(message) => {
                diags.error(instance.job.name.span, message);
                failed = true;
            }
        }
    }
    jobs.sort_by_key(|(j, _)| j.stage_index);
    if !check_needs(&mut jobs, diags) {
        failed = true;
    }
    if failed {
        return None;
    }
    let jobs: Vec<JobSpec> = jobs.into_iter().map(|(j, _)| j).collect();

    let real_stage = |j: &JobSpec| j.stage != ".pre" && j.stage != ".post";
    if !jobs.iter().any(real_stage) {
        return Some(Outcome::NotCreated { reason: NO_JOBS.into() });
    }

    Some(Outcome::Created(PipelinePlan {
        name,
        stages: config.stages.iter().map(|s| s.value.clone()).collect(),
        variables: root,
        auto_cancel: AutoCancelSpec {
            on_new_commit: auto_cancel.on_new_commit.map_or("conservative", |x| x.as_str()).to_string(),
            on_job_failure: auto_cancel.on_job_failure.map_or("none", |x| x.as_str()).to_string(),
        },
        jobs,
    }))
}

struct Planner<'a> {
    config: &'a Config,
    ctx: &'a PipelineContext,
    sources: Sources<'a>,
    predefined: &'a [VariableSpec],
    external: &'a [VariableSpec],
    root: &'a [VariableSpec],
    names: &'a InstanceNames,
}

impl Planner<'_> {
    /// Plans one instance: `Ok(None)` when rules leave it out.
    fn job(&self, instance: &Instance<'_>) -> Result<Option<JobSpec>, String> {
        let job = instance.job;
        let stage_index = self.config.stage_index(&job.stage.value).unwrap_or(0);

        let mut job_predefined = vec![
            spec_var("CI_JOB_NAME", &instance.name),
            spec_var("CI_JOB_NAME_SLUG", &ref_slug(&instance.name)),
            spec_var("CI_JOB_STAGE", &job.stage.value),
        ];
        if let Some(p) = &instance.parallel {
            job_predefined.push(spec_var("CI_NODE_INDEX", &p.index.to_string()));
            job_predefined.push(spec_var("CI_NODE_TOTAL", &p.total.to_string()));
        }

        let mut yaml = vars::inherited(self.root, &job.inherit.variables);
        vars::merge(&mut yaml, vars::specs(&job.variables));
        if let Some(p) = &instance.parallel {
            vars::merge(&mut yaml, p.matrix.iter().cloned());
        }
        let scope =
            vars::Scope::new([self.predefined, job_predefined.as_slice(), yaml.as_slice(), self.external]);
        let env = Env { ctx: self.ctx, sources: self.sources, vars: &scope };

        let job_when = job.when.as_ref().map_or(When::OnSuccess, |w| w.value);
        let (when, rule) = match &job.rules {
            Some(rules) => match rules::evaluate(rules, job_when, &env) {
                Ok(RulesResult::Never) => return Ok(None),
                Ok(RulesResult::Matched { when, rule }) => (when, Some(rule)),
                Err(e) => return Err(format!("Failed to parse rule for {}: {e}", instance.name)),
            },
            None => match rules::policies_allow(job.only.as_ref(), job.except.as_ref(), &env) {
                Ok(true) => (job_when, None),
                Ok(false) => return Ok(None),
                Err(e) => return Err(format!("Failed to parse rule for {}: {e}", instance.name)),
            },
        };
        let when = match when {
            When::OnSuccess => JobWhen::OnSuccess,
            When::OnFailure => JobWhen::OnFailure,
            When::Always => JobWhen::Always,
            When::Manual => JobWhen::Manual,
            When::Delayed => JobWhen::Delayed,
            When::Never => return Ok(None),
        };

        // allow_failure: the matched rule's, else the job's, else true only
        // for jobs that are manual by their own `when:` (GitLab's
        // `Entry::Job#ignored?`); a rule's value also drops `exit_codes`.
        let (allow_failure, allow_failure_exit_codes) = match rule.and_then(|r| r.allow_failure.as_ref()) {
            Some(a) => (convert::allow_failure(a).0, Vec::new()),
            None => match &job.allow_failure {
                Some(a) => convert::allow_failure(a),
                None => (job_when == When::Manual, Vec::new()),
            },
        };

        let tags: Vec<String> =
            job.tags.iter().flatten().map(|t| kiln_expr::expand_existing(&t.value, &scope)).collect();
        drop(scope);
        if let Some(rule) = rule {
            vars::merge(&mut yaml, convert::variable_specs(&rule.variables));
        }
        vars::Scope::new([self.predefined, job_predefined.as_slice(), yaml.as_slice(), self.external])
            .check_cycles()
            .map_err(|e| format!("{}: {e}", instance.name))?;

        let configured_needs = rule.and_then(|r| r.needs.as_ref()).or(job.needs.as_ref());
        let (needs, cross_needs) = match configured_needs {
            None => (None, Vec::new()),
            Some(needs) if !instance.matrix.is_empty() => {
                // Unknown names were reported by the model's checks.
                let (needs, _) = normalize::interpolate_needs(needs, &instance.matrix);
                let (n, c) = self.needs(&needs);
                (Some(n), c)
            }
            Some(needs) => {
                let (n, c) = self.needs(needs);
                (Some(n), c)
            }
        };

        Ok(Some(JobSpec {
            name: instance.name.clone(),
            stage: job.stage.value.clone(),
            stage_index,
            when,
            start_in: rule
                .and_then(|r| r.start_in.as_ref())
                .or(job.start_in.as_ref())
                .map(|d| d.text.clone()),
            allow_failure,
            allow_failure_exit_codes,
            needs,
            cross_needs,
            dependencies: job.dependencies.as_ref().map(|deps| {
                deps.iter()
                    .flat_map(|d| normalize::need_targets(&d.value, None, |j| self.names.get(j).cloned()))
                    .collect()
            }),
            variables: yaml,
            before_script: convert::lines(job.before_script.as_ref()),
            script: convert::lines(job.script.as_ref()),
            after_script: convert::lines(job.after_script.as_ref()),
            pre_get_sources_script: convert::lines(
                job.hooks.as_ref().and_then(|h| h.pre_get_sources_script.as_ref()),
            ),
            image: job.image.as_ref().map(convert::image),
            services: job.services.iter().flatten().map(convert::service).collect(),
            artifacts: job.artifacts.as_ref().map(convert::artifacts),
            cache: job.cache.iter().flatten().map(convert::cache).collect(),
            retry: convert::retry(job.retry.as_ref()),
            timeout: job.timeout.as_ref().and_then(|d| d.seconds),
            tags,
            parallel: instance.parallel.clone(),
            trigger: job.trigger.as_ref().map(convert::trigger),
            environment: job.environment.as_ref().map(convert::environment),
            resource_group: job.resource_group.as_ref().map(|r| r.value.clone()),
            interruptible: rule.and_then(|r| r.interruptible).or(job.interruptible),
            coverage: job.coverage.as_ref().map(|c| c.value.clone()),
            release: job.release.as_ref().map(convert::release),
            id_tokens: job.id_tokens.iter().map(|t| (t.name.value.clone(), t.aud.clone())).collect(),
            manual_confirmation: job.manual_confirmation.clone(),
            pages: job_is_pages(job),
        }))
    }

    fn needs(&self, needs: &[Need]) -> (Vec<NeedSpec>, Vec<CrossNeedSpec>) {
        let mut local = Vec::new();
        let mut cross = Vec::new();
        for need in needs {
            match need {
                Need::Job(n) => {
                    let instances_of = |j: &str| self.names.get(j).cloned();
                    for target in normalize::need_targets(&n.job.value, n.matrix.as_deref(), instances_of) {
                        local.push(NeedSpec { job: target, artifacts: n.artifacts, optional: n.optional });
                    }
                }
                Need::CrossDependency(n) => {
                    let (project, git_ref, pipeline) = match &n.source {
                        crate::model::CrossSource::Project { project, ref_ } => {
                            (Some(project.value.clone()), Some(ref_.value.clone()), None)
                        }
                        crate::model::CrossSource::Pipeline(p) => (None, None, Some(p.value.clone())),
                    };
                    cross.push(CrossNeedSpec {
                        project,
                        git_ref,
                        pipeline,
                        job: n.job.value.clone(),
                        artifacts: n.artifacts,
                        optional: n.optional,
                    });
                }
                // `needs:pipeline` of trigger jobs mirrors an upstream
                // pipeline's status; nothing to schedule here.
                Need::Pipeline(_) => {}
            }
        }
        (local, cross)
    }
}

fn spec_var(key: &str, value: &str) -> VariableSpec {
    VariableSpec { key: key.into(), value: value.into(), raw: false }
}

/// GitLab: `pages: true`, a `pages:` hash, or a job named `pages`.
fn job_is_pages(job: &Job) -> bool {
    match &job.pages {
        Some(crate::model::Pages::Bool(b)) => *b,
        Some(crate::model::Pages::Config { .. }) => true,
        None => job.name.value == "pages",
    }
}

/// After rules: a need on a job that is not in the pipeline is an error
/// unless it is optional, in which case it is dropped.
fn check_needs(jobs: &mut [(JobSpec, Span)], diags: &mut Diagnostics) -> bool {
    let present: HashSet<String> = jobs.iter().map(|(j, _)| j.name.clone()).collect();
    let mut ok = true;
    for (job, span) in jobs.iter_mut() {
        let Some(needs) = job.needs.as_mut() else { continue };
        for need in needs.iter() {
            if !need.optional && !present.contains(&need.job) {
                diags.error(
                    *span,
                    format!(
                        "'{job}' job needs '{need}' job, but '{need}' does not exist in the pipeline. \
                         This might be because of the only, except, or rules keywords. \
                         To need a job that sometimes does not exist in the pipeline, use needs:optional.",
                        job = job.name,
                        need = need.job
                    ),
                );
                ok = false;
            }
        }
        needs.retain(|n| present.contains(&n.job));
    }
    ok
}
