//! Variables from outside the YAML, with GitLab's precedence: instance, then
//! groups from the root down, then the project, then the pipeline's own
//! (API, trigger, schedule, push options), later ones winning. Protected
//! variables reach only pipelines of protected refs.

use kiln_store::pipelines::PipelineVariable;
use kiln_store::projects::Project;
use kiln_store::variables::Variable;

use crate::app::App;
use crate::error::ApiResult;

/// Whether a variable with `scope` applies to a job in `environment`
/// (`*` everywhere; otherwise the environment name, `*` as a wildcard).
pub(crate) fn scope_matches(scope: &str, environment: Option<&str>) -> bool {
    if scope == "*" {
        return true;
    }
    let Some(env) = environment else { return false };
    wildcard(scope, env)
}

/// `*` matches any run of characters.
fn wildcard(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else { return false };
            (0..=rest.len()).filter(|i| rest.is_char_boundary(*i)).any(|i| wildcard(tail, &rest[i..]))
        }
    }
}

/// The stored variables a pipeline sees, lowest precedence first.
pub(crate) fn visible(all: Vec<Variable>, protected_ref: bool, environment: Option<&str>) -> Vec<Variable> {
    all.into_iter()
        .filter(|v| protected_ref || !v.protected)
        .filter(|v| scope_matches(&v.environment_scope, environment))
        .collect()
}

/// The variables `workflow:rules`, `include:rules` and job rules see besides
/// the predefined and YAML ones.
pub(crate) async fn for_rules(
    app: &App,
    project: &Project,
    protected_ref: bool,
    pipeline: &[PipelineVariable],
) -> ApiResult<Vec<(String, String)>> {
    let stored = visible(app.store.variables_for_project(project.id).await?, protected_ref, None);
    let mut out: Vec<(String, String)> = stored.into_iter().map(|v| (v.key, v.value)).collect();
    out.extend(pipeline.iter().map(|v| (v.key.clone(), v.value.clone())));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_scopes() {
        assert!(scope_matches("*", None));
        assert!(!scope_matches("production", None));
        assert!(scope_matches("review/*", Some("review/feature-1")));
        assert!(!scope_matches("review/*", Some("staging")));
        assert!(scope_matches("production", Some("production")));
    }
}
