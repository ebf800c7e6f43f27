//! Reads one job: which kind it is (script job or trigger job), its keys,
//! and the checks GitLab's `Entry::Job` / `Entry::Bridge` make on the whole.

use crate::model::artifacts::parse_artifacts;
use crate::model::cache::parse_caches;
use crate::model::common::{
    AllowFailure, Spanned, When, parse_allow_failure, parse_duration_node, parse_when,
};
use crate::model::cx::{Cx, sub};
use crate::model::environment::{parse_environment, parse_release};
use crate::model::image::{parse_image, parse_services};
use crate::model::job::Job;
use crate::model::misc::{Inherit, parse_dast, parse_inherit, parse_job_inputs, parse_pages, parse_run};
use crate::model::needs::{Need, NeedsContext, parse_needs};
use crate::model::parallel::parse_parallel;
use crate::model::retry::parse_retry;
use crate::model::rules::{RulesKind, parse_policy, parse_rules};
use crate::model::script::{parse_hooks, parse_script};
use crate::model::secrets::{parse_id_tokens, parse_identity, parse_secrets};
use crate::model::trigger::parse_trigger;
use crate::model::variables::{Variables, VariablesKind, parse_variables};
use crate::yaml::{Key, Map, Node, Value};

const PROCESSABLE_KEYS: &[&str] = &[
    "extends",
    "stage",
    "only",
    "except",
    "rules",
    "variables",
    "inherit",
    "allow_failure",
    "when",
    "needs",
    "resource_group",
];
const JOB_KEYS: &[&str] = &[
    "tags",
    "script",
    "run",
    "type",
    "image",
    "services",
    "start_in",
    "artifacts",
    "cache",
    "dependencies",
    "before_script",
    "after_script",
    "hooks",
    "environment",
    "coverage",
    "retry",
    "parallel",
    "interruptible",
    "timeout",
    "release",
    "secrets",
    "id_tokens",
    "identity",
    "pages",
    "publish",
    "manual_confirmation",
    "dast_configuration",
    "inputs",
];
const BRIDGE_KEYS: &[&str] = &["trigger", "parallel"];
const ONE_WEEK: u64 = 7 * 86400;
const ONE_MONTH: u64 = 30 * 86400;
const MAX_TAGS: usize = 50;

/// What kind of entry a top-level key is, as GitLab's `Jobs.find_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobType {
    Hidden,
    Job,
    Bridge,
}

pub(crate) fn find_type(name: &str, node: &Node) -> Option<JobType> {
    if name.starts_with('.') {
        return Some(JobType::Hidden);
    }
    let map = node.as_map()?;
    if map.contains_key("script") || map.contains_key("run") {
        Some(JobType::Job)
    } else if map.contains_key("trigger") || map.contains_key("needs") {
        Some(JobType::Bridge)
    } else {
        None
    }
}

pub(crate) fn parse_job(cx: &mut Cx<'_>, key: &Key, node: &Node, map: &Map, ty: JobType) -> Job {
    let name = key.name.as_str();
    let loc = sub("jobs", name);
    let bridge = ty == JobType::Bridge;
    if name.chars().count() > 255 {
        cx.err(key.span, &loc, "name is too long (maximum is 255 characters)");
    }
    let mut allowed: Vec<&str> = PROCESSABLE_KEYS.to_vec();
    allowed.extend(if bridge { BRIDGE_KEYS } else { JOB_KEYS });
    cx.check_keys(map, &allowed, &loc);

    let mut job = empty_job(key, node);
    for (k, value) in map.iter() {
        if !allowed.contains(&k.name.as_str()) {
            continue;
        }
        if value.is_null() {
            // The schema lets these be null (as GitLab does for every key).
            if cx.strict && !matches!(k.name.as_str(), "rules" | "only" | "except") {
                cx.err(value.span, &sub(&loc, &k.name), "config can't be blank");
            }
            continue;
        }
        let kloc = sub(&loc, &k.name);
        match k.name.as_str() {
            "script" => job.script = parse_script(cx, value, &kloc),
            "before_script" => job.before_script = parse_script(cx, value, &kloc),
            "after_script" => job.after_script = parse_script(cx, value, &kloc),
            "hooks" => job.hooks = parse_hooks(cx, value, &kloc),
            "run" => job.run = parse_run(cx, value, &loc),
            "stage" | "type" => {
                if k.name == "type" && cx.strict {
                    cx.err(k.span, &loc, "config contains unknown keys: type");
                }
                if let Some(s) = cx.string(value, &kloc, "config") {
                    // `stage:` wins over the legacy `type:`.
                    if k.name == "stage" || !map.contains_key("stage") {
                        job.stage = s;
                        job.stage_explicit = true;
                    }
                }
            }
            "image" => job.image = parse_image(cx, value, &kloc),
            "services" => job.services = parse_services(cx, value, &kloc),
            "variables" => job.variables = parse_variables(cx, value, &kloc, VariablesKind::Job),
            "rules" => job.rules = parse_rules(cx, value, &loc, RulesKind::Job),
            "only" => job.only = parse_policy(cx, value, &kloc),
            "except" => job.except = parse_policy(cx, value, &kloc),
            "when" => {
                let (allowed, msg): (&[When], &str) = if bridge {
                    (
                        &[When::OnSuccess, When::OnFailure, When::Always, When::Manual],
                        "when should be one of: on_success, on_failure, always, manual",
                    )
                } else {
                    (
                        &[When::OnSuccess, When::OnFailure, When::Always, When::Manual, When::Delayed],
                        "when should be one of: on_success, on_failure, always, manual, delayed",
                    )
                };
                job.when = parse_when(cx, value, &loc, allowed, msg);
            }
            "start_in" => {}
            "allow_failure" => {
                job.allow_failure = if bridge {
                    cx.boolean(value, &loc, "allow failure").map(AllowFailure::Bool)
                } else {
                    parse_allow_failure(cx, value, &loc)
                }
            }
            "needs" => {
                let ctx = if bridge { NeedsContext::Bridge } else { NeedsContext::Job };
                job.needs = parse_needs(cx, value, &kloc, ctx);
            }
            "dependencies" => job.dependencies = cx.strings(value, &loc, "dependencies"),
            "artifacts" => job.artifacts = parse_artifacts(cx, value, &loc),
            "cache" => job.cache = parse_caches(cx, value, &loc),
            "retry" => job.retry = parse_retry(cx, value, &loc),
            "timeout" => {
                job.timeout = parse_duration_node(cx, value, &kloc, "config", Some(ONE_MONTH), false)
            }
            "tags" => job.tags = parse_tags(cx, value, &kloc),
            "parallel" => job.parallel = parse_parallel(cx, value, &loc, bridge),
            "trigger" => job.trigger = parse_trigger(cx, value, &loc),
            "environment" => job.environment = parse_environment(cx, value, &loc),
            "resource_group" => job.resource_group = cx.string(value, &loc, "resource group"),
            "interruptible" => job.interruptible = cx.boolean(value, &kloc, "config"),
            "coverage" => job.coverage = parse_coverage(cx, value, &kloc),
            "release" => job.release = parse_release(cx, value, &loc),
            "secrets" => job.secrets = parse_secrets(cx, value, &loc),
            "id_tokens" => job.id_tokens = parse_id_tokens(cx, value, &loc),
            "identity" => job.identity = parse_identity(cx, value, &loc),
            "pages" => job.pages = parse_pages(cx, value, &loc),
            "publish" => job.publish = cx.string(value, &loc, "publish").map(|s| s.value),
            "manual_confirmation" => {
                job.manual_confirmation = cx.string(value, &loc, "manual confirmation").map(|s| s.value)
            }
            "inherit" => job.inherit = parse_inherit(cx, value, &loc),
            "dast_configuration" => job.dast_configuration = parse_dast(cx, value, &loc),
            "inputs" => job.inputs = parse_job_inputs(cx, value, &loc),
            // Compose resolves `extends`; only its shape is checked here.
            "extends" => {
                let _ = cx.string_or_strings(value, &loc, "extends");
            }
            _ => {}
        }
    }
    whole_job_checks(cx, &mut job, map, &loc, bridge);
    job
}

fn whole_job_checks(cx: &mut Cx<'_>, job: &mut Job, map: &Map, loc: &str, bridge: bool) {
    if !bridge && !map.contains_key("run") {
        let blank = job
            .script
            .as_ref()
            .is_some_and(|s| s.lines.is_empty() || s.lines.iter().all(|l| l.value.is_empty()));
        if blank || map.get("script").is_some_and(Node::is_null) {
            cx.err(map.get("script").map_or(job.span, |n| n.span), loc, "script can't be blank");
        }
    }
    if bridge && job.trigger.is_none() && map.contains_key("trigger") {
        // The trigger itself was reported.
    } else if bridge && job.trigger.is_none() {
        let mirrors = job.needs.iter().flatten().filter(|n| matches!(n, Need::Pipeline(_))).count();
        if mirrors == 0 {
            cx.err(
                job.span,
                loc,
                "config should contain one of the keywords; trigger, status or needs:pipeline",
            );
        } else if mirrors > 1 {
            cx.err(job.span, loc, "config should contain at most one bridge need");
        }
    }
    if job.rules.is_some() {
        let present: Vec<&str> = ["only", "except", "start_in"]
            .into_iter()
            .filter(|k| map.get(k).is_some_and(|n| !n.is_null()))
            .collect();
        if !present.is_empty() {
            cx.err(
                job.span,
                loc,
                &format!("config key may not be used with `rules`: {}", present.join(", ")),
            );
        }
    }
    let delayed = job.when.as_ref().is_some_and(|w| w.value == When::Delayed);
    match map.get("start_in") {
        Some(s) if delayed && job.rules.is_none() => {
            job.start_in = parse_duration_node(cx, s, loc, "start in", Some(ONE_WEEK), false);
        }
        Some(s) if job.rules.is_none() => cx.err(s.span, loc, "start in must be blank"),
        None if delayed => cx.err(job.span, loc, "start in can't be blank"),
        _ => {}
    }
    // GitLab checks only when both are present: `needs: []` with
    // `dependencies:` is accepted (`Entry::Job`, `needs_value.present?`).
    if let (Some(deps), Some(needs)) = (&job.dependencies, &job.needs)
        && !deps.is_empty()
        && !needs.is_empty()
    {
        let missing: Vec<&str> = deps
            .iter()
            .map(|d| d.value.as_str())
            .filter(|d| !needs.iter().any(|n| matches!(n, Need::Job(j) if j.job.value == *d)))
            .collect();
        if !missing.is_empty() {
            cx.err(
                job.span,
                loc,
                &format!("dependencies the {} should be part of needs", missing.join(", ")),
            );
        }
    }
}

fn parse_tags(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Vec<Spanned<String>>> {
    let tags = cx.strings(node, loc, "config")?;
    if tags.len() > MAX_TAGS {
        cx.err(node.span, loc, &format!("config must be less than the limit of {MAX_TAGS} tags"));
    }
    Some(tags)
}

/// `coverage: /regex/`: keeps the pattern between the slashes.
fn parse_coverage(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Spanned<String>> {
    let text = match &node.value {
        Value::Str(s) => s,
        _ => {
            cx.err(node.span, loc, "config should be a string");
            return None;
        }
    };
    let inner = text.strip_prefix('/').and_then(|t| t.strip_suffix('/')).filter(|_| text.len() >= 2);
    match inner {
        Some(body) if regex::Regex::new(body).is_ok() => Some(Spanned::new(body.to_string(), node.span)),
        _ => {
            cx.err(node.span, loc, "config must be a regular expression with re2 syntax");
            None
        }
    }
}

fn empty_job(key: &Key, node: &Node) -> Job {
    Job {
        name: Spanned::new(key.name.clone(), key.span),
        span: node.span,
        stage: Spanned::new("test".to_string(), key.span),
        stage_explicit: false,
        script: None,
        before_script: None,
        after_script: None,
        hooks: None,
        image: None,
        services: None,
        variables: Variables::default(),
        rules: None,
        only: None,
        except: None,
        when: None,
        start_in: None,
        allow_failure: None,
        needs: None,
        dependencies: None,
        artifacts: None,
        cache: None,
        retry: None,
        timeout: None,
        tags: None,
        parallel: None,
        trigger: None,
        environment: None,
        resource_group: None,
        interruptible: None,
        coverage: None,
        release: None,
        secrets: Vec::new(),
        id_tokens: Vec::new(),
        identity: None,
        pages: None,
        publish: None,
        manual_confirmation: None,
        run: None,
        inherit: Inherit::default(),
        dast_configuration: None,
        inputs: Vec::new(),
    }
}
