//! The root of a pipeline: global keywords, which top-level keys are jobs,
//! and the two entry points (whole pipeline, and one fragment document).

use crate::diag::Diagnostics;
use crate::model::cache::parse_caches;
use crate::model::checks::cross_job_checks;
use crate::model::cx::Cx;
use crate::model::default::parse_default;
use crate::model::image::{parse_image, parse_services};
use crate::model::parse_job::{JobType, find_type, parse_job};
use crate::model::script::parse_script;
use crate::model::variables::{VariablesKind, parse_variables};
use crate::model::workflow::{parse_stages, parse_workflow};
use crate::model::{Config, ModelOptions};
use crate::model::{ROOT_KEYWORDS, ROOT_KEYWORDS_OR_JOBS};
use crate::yaml::Node;

/// Reads a merged pipeline into a [`Config`] and runs GitLab's static
/// cross-job checks.
pub fn parse_config(root: &Node, opts: &ModelOptions, diags: &mut Diagnostics) -> Config {
    let errors_before = diags.errors().count();
    let mut cx = Cx::new(diags, opts.strict);
    let Some(config) = read_root(&mut cx, root) else { return Config::default() };
    // As GitLab, the logical checks run only on a configuration whose
    // keywords are valid: on a broken one they would mostly repeat errors.
    if cx.diags.errors().count() == errors_before {
        cross_job_checks(&mut cx, &config);
    }
    config
}

/// Checks the structure of one document on its own, as GitLab's schema
/// fixtures are run: no "at least one visible job", nothing fetched, no
/// checks that need other documents.
pub fn check_document(root: &Node, opts: &ModelOptions, diags: &mut Diagnostics) {
    let mut cx = Cx::new(diags, opts.strict);
    let Some(map) = root.as_map() else {
        if !root.is_null() {
            cx.raw(Some(root.span), "Invalid configuration format".into());
        }
        return;
    };
    read_entries(&mut cx, root, map, false);
}

fn read_root(cx: &mut Cx<'_>, root: &Node) -> Option<Config> {
    let Some(map) = root.as_map() else {
        let msg = if root.is_null() {
            "Please provide content of .gitlab-ci.yml"
        } else {
            "Invalid configuration format"
        };
        cx.raw(Some(root.span), msg.into());
        return None;
    };
    Some(read_entries(cx, root, map, true))
}

fn read_entries(cx: &mut Cx<'_>, root: &Node, map: &crate::yaml::Map, whole: bool) -> Config {
    let mut config = Config::default();
    let mut visible = 0usize;
    for (key, value) in map.iter() {
        let name = key.name.as_str();
        let is_job = !ROOT_KEYWORDS.contains(&name)
            && (find_type(name, value).is_some() || !ROOT_KEYWORDS_OR_JOBS.contains(&name));
        if is_job {
            match find_type(name, value) {
                Some(JobType::Hidden) => {
                    if value.is_null() {
                        cx.err(value.span, &format!("jobs:{name}"), "config can't be blank");
                    }
                }
                Some(ty) => {
                    let empty = crate::yaml::Map::new();
                    let job_map = value.as_map().unwrap_or(&empty);
                    config.jobs.push(parse_job(cx, key, value, job_map, ty));
                    visible += 1;
                }
                // A fragment may hold a partial job (its `script:` can come
                // from `extends:` or another file): check what is there.
                None if !whole => {
                    if let Some(job_map) = value.as_map() {
                        parse_job(cx, key, value, job_map, JobType::Job);
                    } else {
                        cx.err(value.span, &format!("jobs:{name}"), "config should be a hash");
                    }
                }
                None => {
                    let shown = name.replace(' ', "_");
                    cx.diags.error(
                        key.span,
                        format!(
                            "jobs {} config should implement the script:, run:, or trigger: keyword",
                            shown.to_lowercase()
                        ),
                    );
                }
            }
            continue;
        }
        match name {
            "variables" => config.variables = parse_variables(cx, value, "variables", VariablesKind::Global),
            "workflow" => config.workflow = parse_workflow(cx, value),
            "default" => config.default = parse_default(cx, value),
            "image" if !value.is_null() => config.image = parse_image(cx, value, "image"),
            "services" if !value.is_null() => config.services = parse_services(cx, value, "services"),
            "cache" if !value.is_null() => config.cache = parse_caches(cx, value, ""),
            "before_script" if !value.is_null() => {
                config.before_script = parse_script(cx, value, "before_script")
            }
            "after_script" if !value.is_null() => {
                config.after_script = parse_script(cx, value, "after_script")
            }
            "types" if cx.strict => cx.err(key.span, "root", "config contains unknown keys: types"),
            // The compose phase owns these; their structure is checked here
            // too so a fragment is checked whole.
            "include" => {
                crate::compose::check_include_syntax(value, cx.diags);
                if cx.strict {
                    strict_include_projects(cx, value);
                }
            }
            "spec" => crate::compose::check_spec_syntax(value, cx.diags),
            _ => {}
        }
    }
    let stages_key = if map.contains_key("stages") { "stages" } else { "types" };
    let stages_node = map.get("stages").or_else(|| map.get("types"));
    config.stages = parse_stages(cx, stages_node, stages_key);
    if whole && visible == 0 {
        cx.diags.error(root.span, "jobs config should contain at least one visible job");
    }
    config
}

/// The schema's project-path rule for `include:project` (GitLab's processor
/// finds out only when it fetches the file).
fn strict_include_projects(cx: &mut Cx<'_>, node: &Node) {
    let items: Vec<&Node> = match node.as_seq() {
        Some(items) => items.iter().collect(),
        None => vec![node],
    };
    for item in items {
        if let Some(p) = item.get("project")
            && let Some(s) = p.as_str()
            && !crate::model::trigger::looks_like_project(s)
        {
            cx.err(p.span, "include", "project should be a project path");
        }
    }
}
