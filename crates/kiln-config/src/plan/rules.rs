//! Deciding whether a job (or a pipeline, or nothing) runs: `rules:`,
//! `only:` / `except:`, as GitLab's `Gitlab::Ci::Build::Rules` and
//! `Gitlab::Ci::Build::Policy` evaluate them.

use crate::context::{PipelineContext, PipelineSource, RefKind};
use crate::fnmatch::{self, Flags};
use crate::model::{Changes, Exists, Policy, Rule, When};
use crate::plan::vars::Scope;
use crate::sources::Sources;

/// GitLab stops comparing after this many `exists` glob comparisons and
/// assumes a match (`Clause::Exists::MAX_PATTERN_COMPARISONS`).
const EXISTS_MAX_COMPARISONS: usize = 10_000;
/// The same for `changes` (`CHANGES_MAX_PATTERN_COMPARISONS`).
const CHANGES_MAX_COMPARISONS: usize = 50_000;

/// What a rule clause may look at.
pub(crate) struct Env<'a> {
    pub ctx: &'a PipelineContext,
    pub sources: Sources<'a>,
    /// Values as written for `if` (GitLab's `variables_hash`); expanded
    /// against each other for `changes` and `exists`.
    pub vars: &'a Scope<'a>,
}

/// The outcome of `rules:`.
pub(crate) enum RulesResult<'r> {
    /// No rule matched, or the matching rule said `when: never`.
    Never,
    /// The first matching rule (its `when` defaulted to the job's).
    Matched { when: When, rule: &'r Rule },
}

/// Evaluates `rules:` in order; the first rule whose clauses all hold wins.
/// An `Err` is a problem GitLab reports as "Failed to parse rule for ...".
pub(crate) fn evaluate<'r>(
    rules: &'r [Rule],
    default_when: When,
    env: &Env<'_>,
) -> Result<RulesResult<'r>, String> {
    for rule in rules {
        if matches(rule, env)? {
            let when = rule.when.as_ref().map_or(default_when, |w| w.value);
            if when == When::Never {
                return Ok(RulesResult::Never);
            }
            return Ok(RulesResult::Matched { when, rule });
        }
    }
    Ok(RulesResult::Never)
}

fn matches(rule: &Rule, env: &Env<'_>) -> Result<bool, String> {
    if let Some(expr) = &rule.if_
        && !expr.expr.as_ref().is_some_and(|e| e.evaluate(env.vars).unwrap_or(false))
    {
        return Ok(false);
    }
    if let Some(changes) = &rule.changes
        && !changes_hold(changes, env)?
    {
        return Ok(false);
    }
    if let Some(exists) = &rule.exists
        && !exists_holds(exists, env)?
    {
        return Ok(false);
    }
    Ok(true)
}

/// An expression given as text (`only:variables`). A syntax error was
/// reported by the model already; an expression that cannot be evaluated is
/// false, as GitLab's `Statement#truthful?`.
pub(crate) fn if_holds(text: &str, vars: &Scope<'_>) -> bool {
    match kiln_expr::Expression::parse(text) {
        Ok(expr) => expr.evaluate(vars).unwrap_or(false),
        Err(_) => false,
    }
}

fn changes_hold(changes: &Changes, env: &Env<'_>) -> Result<bool, String> {
    let modified = match &changes.compare_to {
        Some(compare_to) => {
            let reference = kiln_expr::expand_existing(&compare_to.value, env.vars.expanded());
            match env.sources.repository.changed_paths_since(&reference) {
                Ok(Some(paths)) => Some(paths),
                Ok(None) => return Err("rules:changes:compare_to is not a valid ref".into()),
                Err(e) => return Err(format!("rules:changes:compare_to could not be compared: {e}")),
            }
        }
        None => env.ctx.changed_paths.clone(),
    };
    // Without a diff (a new branch, a web or API pipeline) GitLab treats
    // every `changes` as true.
    let Some(modified) = modified else { return Ok(true) };
    if modified.is_empty() {
        return Ok(false);
    }
    let mut globs: Vec<String> =
        changes.paths.iter().map(|p| kiln_expr::expand_existing(&p.value, env.vars.expanded())).collect();
    globs.dedup();
    if globs.is_empty() {
        return Ok(false);
    }
    if modified.len().saturating_mul(globs.len()) > CHANGES_MAX_COMPARISONS {
        return Ok(true);
    }
    Ok(modified.iter().any(|path| globs.iter().any(|g| fnmatch::fnmatch(g, path, Flags::RULES))))
}

fn exists_holds(exists: &Exists, env: &Env<'_>) -> Result<bool, String> {
    if exists.paths.is_empty() {
        return Ok(false);
    }
    let globs: Vec<String> =
        exists.paths.iter().map(|p| kiln_expr::expand_existing(&p.value, env.vars.expanded())).collect();
    let files = match &exists.project {
        Some(project) => {
            let project = kiln_expr::expand_existing(&project.value, env.vars.expanded());
            let git_ref =
                exists.ref_.as_ref().map(|r| kiln_expr::expand_existing(&r.value, env.vars.expanded()));
            env.sources
                .projects
                .list_files(&project, git_ref.as_deref())
                .map_err(|e| format!("rules:exists could not read project `{project}`: {e}"))?
        }
        None => env.sources.repository.list_files().map_err(|e| format!("rules:exists: {e}"))?,
    };
    let (exact, patterns): (Vec<&String>, Vec<&String>) =
        globs.iter().partition(|g| !fnmatch::has_wildcards(g, Flags::RULES));
    if exact.iter().any(|g| files.iter().any(|f| f == *g)) {
        return Ok(true);
    }
    if files.len().saturating_mul(patterns.len()) > EXISTS_MAX_COMPARISONS {
        return Ok(true);
    }
    Ok(files.iter().any(|f| patterns.iter().any(|g| fnmatch::fnmatch(g, f, Flags::RULES))))
}

/// `only:` and `except:` (GitLab's `Build::Policy`): a job runs when every
/// part of `only` holds and not every part of `except` does. Without
/// either, `only: [branches, tags]` applies.
pub(crate) fn policies_allow(
    only: Option<&Policy>,
    except: Option<&Policy>,
    env: &Env<'_>,
) -> Result<bool, String> {
    let default_only = Policy {
        refs: vec![
            crate::model::Spanned::new("branches".into(), Default::default()),
            crate::model::Spanned::new("tags".into(), Default::default()),
        ],
        ..Policy::default()
    };
    let only = only.unwrap_or(&default_only);
    if !policy_holds(only, env)? {
        return Ok(false);
    }
    match except {
        Some(except) if is_empty(except) => Ok(true),
        Some(except) => Ok(!policy_holds(except, env)?),
        None => Ok(true),
    }
}

fn is_empty(policy: &Policy) -> bool {
    policy.refs.is_empty() && policy.variables.is_empty() && policy.changes.is_empty() && !policy.kubernetes
}

/// Every part given must hold.
fn policy_holds(policy: &Policy, env: &Env<'_>) -> Result<bool, String> {
    if !policy.refs.is_empty() && !policy.refs.iter().any(|r| ref_matches(&r.value, env.ctx)) {
        return Ok(false);
    }
    if !policy.variables.is_empty() && !policy.variables.iter().any(|v| if_holds(&v.value, env.vars)) {
        return Ok(false);
    }
    if !policy.changes.is_empty() {
        let changes = Changes { paths: policy.changes.clone(), compare_to: None };
        if !changes_hold(&changes, env)? {
            return Ok(false);
        }
    }
    // `kubernetes: active` needs a Kubernetes deployment integration, which
    // Kiln does not have, so it never holds.
    if policy.kubernetes {
        return Ok(false);
    }
    Ok(true)
}

/// One `only:refs` pattern: a keyword, a ref name, or a `/regex/`,
/// optionally followed by `@project/path` (split at the first `@`, as
/// GitLab's `Policy::Refs` does).
fn ref_matches(pattern: &str, ctx: &PipelineContext) -> bool {
    let (pattern, project) = match pattern.split_once('@') {
        Some((p, project)) => (p, Some(project)),
        None => (pattern, None),
    };
    if project.is_some_and(|project| project != ctx.project.path) {
        return false;
    }
    match pattern {
        "branches" if ctx.ref_kind == RefKind::Branch => return true,
        "tags" if ctx.ref_kind == RefKind::Tag => return true,
        _ => {}
    }
    if source_keywords(ctx.source).contains(&pattern) {
        return true;
    }
    if pattern == ctx.ref_name {
        return true;
    }
    // `/regex/flags`, through GitLab's untrusted (RE2) regexps.
    kiln_expr::Pattern::fabricate(pattern).is_some_and(|re| re.is_match(&ctx.ref_name))
}

/// The `only:refs` keywords that name a pipeline source: its name, singular
/// and plural (GitLab compares with `source` and `source.pluralize`).
fn source_keywords(source: PipelineSource) -> &'static [&'static str] {
    match source {
        PipelineSource::Push => &["push", "pushes"],
        PipelineSource::Web => &["web", "webs"],
        PipelineSource::Api => &["api", "apis"],
        PipelineSource::Schedule => &["schedule", "schedules"],
        PipelineSource::Trigger => &["trigger", "triggers"],
        PipelineSource::MergeRequestEvent => &["merge_request", "merge_requests"],
        PipelineSource::ExternalPullRequestEvent => &["external_pull_request", "external_pull_requests"],
        PipelineSource::Pipeline => &["pipeline", "pipelines"],
        PipelineSource::ParentPipeline => &["parent_pipeline", "parent_pipelines"],
        PipelineSource::Chat => &["chat", "chats"],
        PipelineSource::Webide => &["webide", "webides"],
        PipelineSource::OndemandDastScan => &["ondemand_dast_scan"],
        PipelineSource::OndemandDastValidation => &["ondemand_dast_validation"],
        PipelineSource::SecurityOrchestrationPolicy => &["security_orchestration_policy"],
    }
}
