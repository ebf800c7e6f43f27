//! `include:component`, when the caller lets components be read from
//! projects (`ComposeOptions::components_from_projects`): the path
//! `FQDN/group/project/name@version` names `templates/name.yml` (or
//! `templates/name/template.yml`) of `group/project` at `version`, read
//! through [`Projects`](crate::sources::Projects). GitLab resolves
//! `~latest` and partial versions through its CI/CD catalog; here the
//! version is handed to the project source as it is written.

use crate::source::Span;
use crate::yaml::{Key, Map, Node};

use super::file::Fetched;
use super::{IncludeKind, Includer, Origin};

/// The parts of a component path.
struct ComponentPath<'a> {
    host: &'a str,
    project: &'a str,
    name: &'a str,
    version: &'a str,
}

fn parse(path: &str) -> Option<ComponentPath<'_>> {
    let (location, version) = path.rsplit_once('@')?;
    let (host, rest) = location.split_once('/')?;
    let (project, name) = rest.rsplit_once('/')?;
    let valid = [host, project, name, version].iter().all(|p| !p.is_empty()) && project.contains('/');
    valid.then_some(ComponentPath { host, project, name, version })
}

impl Includer<'_> {
    pub(super) fn fetch_component(&mut self, raw: &str, span: Span) -> Option<Fetched> {
        if !self.opts.components_from_projects {
            self.diags.error(
                span,
                format!("include component `{raw}` is not available: components need GitLab's CI/CD catalog"),
            );
            return None;
        }
        let Some(path) = parse(raw) else {
            self.diags.error(
                span,
                format!(
                    "include component `{raw}` is not a component path (`FQDN/group/project/name@version`)"
                ),
            );
            return None;
        };
        let server = self.variables.get("CI_SERVER_FQDN").map(String::as_str).unwrap_or_default();
        if !path.host.eq_ignore_ascii_case(server) {
            self.diags.error(
                span,
                format!("include component `{raw}` is not available: components can only come from this server (`{server}`)"),
            );
            return None;
        }
        let project = path.project.to_lowercase();
        let candidates =
            [format!("templates/{}.yml", path.name), format!("templates/{}/template.yml", path.name)];
        for file in &candidates {
            match self.sources.projects.read_file(&project, Some(path.version), file) {
                Ok(Some(text)) if !text.trim().is_empty() => {
                    return Some(Fetched {
                        location: raw.to_string(),
                        display: format!("{project}:{file}@{}", path.version),
                        text,
                        origin: Origin::Project {
                            project: project.clone(),
                            git_ref: Some(path.version.into()),
                        },
                        kind: IncludeKind::Component,
                        component: Some(component_data(path.name, path.version, span)),
                    });
                }
                Ok(_) => {}
                Err(e) => {
                    self.diags.error(span, format!("include component `{raw}` cannot be read: {e}"));
                    return None;
                }
            }
        }
        self.diags.error(
            span,
            format!(
                "include component `{raw}` does not exist: neither `{}` nor `{}` is in `{project}` at `{}`",
                candidates[0], candidates[1], path.version
            ),
        );
        None
    }
}

/// What `$[[ component.* ]]` can read (GitLab's `component_data`). The
/// commit is not known here, so `sha` is empty.
fn component_data(name: &str, version: &str, span: Span) -> Map {
    let field = |k: &str, v: &str| (Key { name: k.into(), span }, Node::str(v, span));
    Map::from_iter([
        field("name", name),
        field("sha", ""),
        field("version", version),
        field("reference", version),
    ])
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn component_paths() {
        let p = parse("gitlab.com/group/sub/project/deploy@1.0").unwrap();
        assert_eq!(
            (p.host, p.project, p.name, p.version),
            ("gitlab.com", "group/sub/project", "deploy", "1.0")
        );
        assert!(parse("gitlab.com/project/deploy@1.0").is_none());
        assert!(parse("gitlab.com/group/project/deploy").is_none());
    }
}
