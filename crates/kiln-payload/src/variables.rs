//! The job's variable list in GitLab's order of precedence (`Ci::Build#variables`,
//! later entries win): the job's persisted variables, its predefined ones,
//! the server's and project's, the pipeline's, the runner's, the YAML
//! variables (global and job, already merged by the planner), the user's,
//! dotenv variables from dependencies, instance, group and project CI/CD
//! variables, pipeline variables (API, trigger, web form, push options),
//! schedule variables, variables given when the job was played, and the
//! environment's slug and URL.
//!
//! Every entry is kept, duplicates included, as GitLab sends them; the runner
//! takes the last one of a name.

use serde::{Deserialize, Serialize};

/// One entry of the collection, with GitLab's flags (`Collection::Item`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub key: String,
    pub value: String,
    /// Predefined and YAML variables are public; CI/CD settings variables,
    /// tokens and the repository URL are not.
    pub public: bool,
    pub masked: bool,
    pub file: bool,
    pub raw: bool,
}

impl Item {
    pub(crate) fn public(key: &str, value: impl Into<String>) -> Item {
        Item { key: key.into(), value: value.into(), public: true, masked: false, file: false, raw: false }
    }

    pub(crate) fn secret(key: &str, value: impl Into<String>) -> Item {
        Item { public: false, ..Item::public(key, value) }
    }

    pub(crate) fn masked(self) -> Item {
        Item { masked: true, ..self }
    }
}

/// A CI/CD variable from the instance, a group, the project, a pipeline
/// (API, trigger, web form, push option) or a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiVariable {
    pub key: String,
    pub value: String,
    #[serde(default)]
    pub masked: bool,
    /// Only pipelines of protected refs see it.
    #[serde(default)]
    pub protected: bool,
    /// `variable_type: file`.
    #[serde(default)]
    pub file: bool,
    /// "Expand variable reference" unchecked.
    #[serde(default)]
    pub raw: bool,
    /// `*`, an environment name, or a pattern with `*` wildcards.
    #[serde(default = "any_environment")]
    pub environment_scope: String,
}

fn any_environment() -> String {
    "*".into()
}

impl CiVariable {
    /// A plain variable: not masked, not protected, every environment.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> CiVariable {
        CiVariable {
            key: key.into(),
            value: value.into(),
            masked: false,
            protected: false,
            file: false,
            raw: false,
            environment_scope: any_environment(),
        }
    }

    fn item(&self) -> Item {
        Item {
            key: self.key.clone(),
            value: self.value.clone(),
            public: false,
            masked: self.masked,
            file: self.file,
            raw: self.raw,
        }
    }
}

/// The variables defined outside the YAML, each list lowest precedence first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableSources {
    #[serde(default)]
    pub instance: Vec<CiVariable>,
    /// Every group from the root down to the project's own.
    #[serde(default)]
    pub groups: Vec<CiVariable>,
    #[serde(default)]
    pub project: Vec<CiVariable>,
    /// API, trigger, web form and push option variables.
    #[serde(default)]
    pub pipeline: Vec<CiVariable>,
    #[serde(default)]
    pub schedule: Vec<CiVariable>,
}

impl VariableSources {
    /// The `(key, value)` pairs rules may see, lowest first, for
    /// [`crate::PipelineFacts::context`]: settings variables filtered for the
    /// ref (without environment, as GitLab's `config_variables`), then the
    /// pipeline's and the schedule's.
    pub fn for_rules(&self, protected_ref: bool) -> Vec<(String, String)> {
        self.settings(protected_ref, None)
            .chain(self.pipeline.iter())
            .chain(self.schedule.iter())
            .map(|v| (v.key.clone(), v.value.clone()))
            .collect()
    }

    /// Instance, group and project variables a job sees: protected ones only
    /// on protected refs; group and project ones only when their environment
    /// scope matches the job's environment.
    fn settings<'a>(
        &'a self,
        protected_ref: bool,
        environment: Option<&'a str>,
    ) -> impl Iterator<Item = &'a CiVariable> {
        let visible = move |v: &&CiVariable| protected_ref || !v.protected;
        self.instance.iter().filter(visible).chain(
            self.groups
                .iter()
                .chain(self.project.iter())
                .filter(visible)
                .filter(move |v| scope_matches(&v.environment_scope, environment)),
        )
    }

    pub(crate) fn settings_items(&self, protected_ref: bool, environment: Option<&str>) -> Vec<Item> {
        self.settings(protected_ref, environment).map(CiVariable::item).collect()
    }

    pub(crate) fn pipeline_items(&self) -> Vec<Item> {
        self.pipeline.iter().chain(self.schedule.iter()).map(CiVariable::item).collect()
    }
}

/// Whether a variable scoped to `scope` applies to a job deploying to
/// `environment`: `*` applies everywhere, anything else only to a matching
/// environment name (`*` is a wildcard).
pub fn scope_matches(scope: &str, environment: Option<&str>) -> bool {
    if scope == "*" {
        return true;
    }
    environment.is_some_and(|env| wildcard(scope, env))
}

fn wildcard(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else { return false };
            rest.char_indices().map(|(i, _)| i).chain([rest.len()]).any(|i| wildcard(tail, &rest[i..]))
        }
    }
}

/// GitLab's `sort_and_expand_all(keep_undefined: true, expand_file_refs:
/// false, expand_raw_refs: false).to_runner_variables`: values that refer to
/// other variables are expanded, references to file, raw and undefined
/// variables are left for the runner. On a reference cycle GitLab sends the
/// list unexpanded, and so does this.
pub(crate) fn runner_variables(items: Vec<Item>) -> Vec<kiln_api::JobVariable> {
    let input: Vec<kiln_expr::Variable> = items
        .iter()
        .map(|i| kiln_expr::Variable {
            raw: i.raw,
            file: i.file,
            ..kiln_expr::Variable::new(&i.key, &i.value)
        })
        .collect();
    let expanded = kiln_expr::expand_all_with(input, kiln_expr::ExpandAllOptions::RUNNER_PAYLOAD)
        .unwrap_or_else(|e| e.variables);
    // The result is in dependency order; flags go with the entries of each
    // name in the order they were given.
    let mut used = vec![false; items.len()];
    expanded
        .into_iter()
        .map(|v| {
            let origin = items.iter().enumerate().position(|(i, item)| !used[i] && item.key == v.name);
            let flags = origin.and_then(|i| {
                used[i] = true;
                items.get(i)
            });
            kiln_api::JobVariable {
                public: flags.is_none_or(|f| f.public),
                masked: flags.is_some_and(|f| f.masked),
                file: v.file,
                raw: v.raw,
                internal: false,
                key: v.name,
                value: v.value,
            }
        })
        .collect()
}

/// The collection as a lookup with GitLab's default expansion (undefined
/// references removed), for keywords GitLab expands on the server.
pub(crate) fn expanded_lookup(items: &[Item]) -> Vec<kiln_expr::Variable> {
    let input: Vec<kiln_expr::Variable> = items
        .iter()
        .map(|i| kiln_expr::Variable {
            raw: i.raw,
            file: i.file,
            ..kiln_expr::Variable::new(&i.key, &i.value)
        })
        .collect();
    kiln_expr::expand_all(input).unwrap_or_else(|e| e.variables)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_scopes() {
        assert!(scope_matches("*", None));
        assert!(!scope_matches("production", None));
        assert!(scope_matches("production", Some("production")));
        assert!(scope_matches("review/*", Some("review/feature-1")));
        assert!(!scope_matches("review/*", Some("staging")));
        assert!(scope_matches("*-eu", Some("prod-eu")));
    }

    #[test]
    fn protected_variables_only_on_protected_refs() {
        let mut secret = CiVariable::new("DEPLOY_KEY", "k");
        secret.protected = true;
        let sources = VariableSources {
            project: vec![CiVariable::new("A", "1"), secret],
            ..VariableSources::default()
        };
        assert_eq!(sources.for_rules(false), vec![("A".to_string(), "1".to_string())]);
        assert_eq!(sources.for_rules(true).len(), 2);
    }

    #[test]
    fn expansion_keeps_flags_and_leaves_raw_file_and_undefined_references() {
        let items = vec![
            Item::secret("TOKEN", "t0k3n").masked(),
            Item { raw: true, ..Item::public("RAW", "$TOKEN") },
            Item { file: true, ..Item::secret("CERT", "pem") },
            Item::public("URL", "https://$HOST/$RAW/$CERT/$UNDEFINED"),
            Item::public("HOST", "example.com"),
        ];
        let vars = runner_variables(items);
        let get = |k: &str| vars.iter().find(|v| v.key == k).unwrap();
        assert_eq!(get("URL").value, "https://example.com/$RAW/$CERT/$UNDEFINED");
        assert_eq!(get("RAW").value, "$TOKEN");
        assert!(get("RAW").raw && get("RAW").public);
        assert!(get("TOKEN").masked && !get("TOKEN").public);
        assert!(get("CERT").file && !get("CERT").public);
    }

    #[test]
    fn a_cycle_sends_the_list_unexpanded() {
        let vars = runner_variables(vec![Item::public("A", "$B"), Item::public("B", "$A")]);
        assert_eq!(vars.iter().map(|v| v.value.as_str()).collect::<Vec<_>>(), ["$B", "$A"]);
    }
}
