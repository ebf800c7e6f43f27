//! Reading one included file (`External::File::*`): where it comes from,
//! GitLab's message when it cannot be read, then loading it with its
//! header, inputs and interpolation, and expanding its own includes.

use crate::source::Span;
use crate::yaml::{Map, Node};

use super::super::document::{self, Document};
use super::super::include_syntax::{has_yaml_extension, is_strict_base64, is_valid_url};
use super::super::util::ruby_to_s;
use super::header::HeaderUse;
use super::location::{Kind, Location};
use super::{IncludeKind, IncludedFile, Includer, Origin};

/// A file's text and what its own includes are relative to.
pub(super) struct Fetched {
    /// The location as GitLab names it in messages.
    pub(super) location: String,
    /// The name the file gets in the source map.
    pub(super) display: String,
    pub(super) text: String,
    pub(super) origin: Origin,
    pub(super) kind: IncludeKind,
    /// What `$[[ component.* ]]` reads, for a component.
    pub(super) component: Option<Map>,
}

impl Includer<'_> {
    /// Reads, checks, interpolates and expands one included file.
    pub(super) fn include_file(&mut self, location: &Location<'_>, origin: &Origin) -> Option<Node> {
        let (fetched, doc) = self.read(location, origin)?;
        let prefix = format!("`{}`: ", fetched.location);
        let content = self.interpolate(&doc, location, &prefix, &fetched)?;
        let Some(content) = content.filter(|c| c.as_map().is_some_and(|m| !m.is_empty())) else {
            self.diags.error(
                location.entry.span,
                format!("Included file `{}` does not have valid YAML syntax!", fetched.location),
            );
            return None;
        };
        Some(self.expand(content, &fetched.origin))
    }

    /// Fetches, registers and loads one file: what it is and its
    /// documents, or `None` after reporting why it cannot be used.
    pub(super) fn read(&mut self, location: &Location<'_>, origin: &Origin) -> Option<(Fetched, Document)> {
        let fetched = self.fetch(location, origin)?;
        if !self.account(fetched.text.len(), location.entry.span) {
            return None;
        }
        let file = self.files.add(fetched.display.clone(), fetched.text.clone());
        self.included.push(IncludedFile {
            location: fetched.location.clone(),
            kind: fetched.kind,
            file,
            included_at: location.entry.span,
        });
        match document::load(file, &fetched.text, &self.opts.limits) {
            Ok(doc) => Some((fetched, doc)),
            Err(diag) => {
                self.diags.error(diag.span, format!("`{}`: {}", fetched.location, diag.message));
                None
            }
        }
    }

    /// The file's text, or `None` after reporting why there is none.
    fn fetch(&mut self, location: &Location<'_>, origin: &Origin) -> Option<Fetched> {
        let span = location.entry.span;
        let subject = match location.kind {
            Kind::Local => location.param("local"),
            Kind::Project => location.param("file"),
            Kind::Remote => location.param("remote"),
            Kind::Template => location.param("template"),
            Kind::Artifact => location.param("artifact"),
            Kind::Component => location.param("component"),
        }?;
        let Some(raw) = subject.as_str() else {
            self.diags
                .error(subject.span, format!("Included file `{}` needs to be a string", ruby_to_s(subject)));
            return None;
        };
        match location.kind {
            Kind::Template => return self.fetch_template(raw, span),
            Kind::Component => return self.fetch_component(raw, span),
            Kind::Artifact => {
                self.diags.error(
                    span,
                    format!(
                        "include artifact `{raw}` is not available: artifacts can only be included by child pipelines"
                    ),
                );
                return None;
            }
            Kind::Local | Kind::Project | Kind::Remote => {}
        }
        let path = match location.kind {
            Kind::Remote => raw.to_string(),
            _ => raw.trim_start_matches('/').to_string(),
        };
        if !has_yaml_extension(&path) {
            self.diags.error(subject.span, format!("Included file `{path}` does not have YAML extension!"));
            return None;
        }
        match location.kind {
            Kind::Local => self.fetch_local(path, origin, subject.span),
            Kind::Project => self.fetch_project(location, path, subject.span),
            _ => self.fetch_remote(location, path, subject.span),
        }
    }

    fn fetch_local(&mut self, path: String, origin: &Origin, span: Span) -> Option<Fetched> {
        let read = match origin {
            Origin::Detached => {
                self.diags.error(span, format!("Local file `{path}` does not have project!"));
                return None;
            }
            // A path that climbs out of the tree or names the current
            // directory is no blob in GitLab's repository either.
            _ if escapes_tree(&path) => Ok(None),
            Origin::Repository => self.sources.repository.read_file(&path),
            Origin::Project { project, git_ref } => {
                self.sources.projects.read_file(project, git_ref.as_deref(), &path)
            }
        };
        let text = match read {
            Ok(Some(text)) if text.trim().is_empty() => {
                self.diags.error(span, format!("Local file `{path}` is empty!"));
                return None;
            }
            Ok(Some(text)) => text,
            Ok(None) => {
                self.diags.error(span, format!("Local file `{path}` does not exist!"));
                return None;
            }
            Err(e) => {
                self.diags.error(span, format!("Local file `{path}` cannot be read: {e}"));
                return None;
            }
        };
        let display = match origin {
            Origin::Project { project, git_ref } => project_display(project, &path, git_ref.as_deref()),
            _ => path.clone(),
        };
        Some(Fetched {
            location: path,
            display,
            text,
            origin: origin.clone(),
            kind: IncludeKind::Local,
            component: None,
        })
    }

    fn fetch_project(&mut self, location: &Location<'_>, path: String, span: Span) -> Option<Fetched> {
        let project = location.param("project").and_then(Node::as_str).unwrap_or_default().to_lowercase();
        let git_ref = location.param("ref").and_then(|r| r.scalar_to_string()).filter(|r| !r.is_empty());
        let read = if escapes_tree(&path) {
            Ok(None)
        } else {
            self.sources.projects.read_file(&project, git_ref.as_deref(), &path)
        };
        let text = match read {
            Ok(Some(text)) if text.trim().is_empty() => {
                self.diags.error(span, format!("Project `{project}` file `{path}` is empty!"));
                return None;
            }
            Ok(Some(text)) => text,
            Ok(None) => {
                self.diags.error(span, format!("Project `{project}` file `{path}` does not exist!"));
                return None;
            }
            Err(e) => {
                self.diags.error(span, format!("Project `{project}` file `{path}` cannot be read: {e}"));
                return None;
            }
        };
        Some(Fetched {
            location: path.clone(),
            display: project_display(&project, &path, git_ref.as_deref()),
            text,
            origin: Origin::Project { project, git_ref },
            kind: IncludeKind::Project,
            component: None,
        })
    }

    fn fetch_template(&mut self, name: &str, span: Span) -> Option<Fetched> {
        let Some(source) = self.opts.templates.clone() else {
            self.diags.error(
                span,
                format!("include template `{name}` is not available: Kiln does not ship GitLab's templates"),
            );
            return None;
        };
        if !has_yaml_extension(name) || escapes_tree(name) {
            self.diags.error(span, format!("Template file `{name}` is not a valid location!"));
            return None;
        }
        let path = format!("{}/{name}", source.dir);
        match self.sources.projects.read_file(&source.project, source.git_ref.as_deref(), &path) {
            Ok(Some(text)) if !text.trim().is_empty() => Some(Fetched {
                location: name.to_string(),
                display: format!("template {name}"),
                text,
                // A template stands alone: it has no project of its own.
                origin: Origin::Detached,
                kind: IncludeKind::Project,
                component: None,
            }),
            Ok(_) => {
                self.diags.error(span, format!("Included file `{name}` is empty or does not exist!"));
                None
            }
            Err(e) => {
                self.diags.error(span, format!("include template `{name}` cannot be read: {e}"));
                None
            }
        }
    }

    fn fetch_remote(&mut self, location: &Location<'_>, url: String, span: Span) -> Option<Fetched> {
        if !is_valid_url(&url) {
            self.diags.error(span, format!("Remote file `{url}` does not have a valid address!"));
            return None;
        }
        let text = match self.sources.remote.fetch(&url) {
            Ok(text) => text,
            Err(e) => {
                self.diags.error(span, format!("Remote file `{url}` could not be fetched because {e}!"));
                return None;
            }
        };
        if text.trim().is_empty() {
            self.diags.error(span, format!("Included file `{url}` is empty or does not exist!"));
            return None;
        }
        if let Some(expected) = location.param("integrity").and_then(Node::as_str)
            && !integrity_matches(expected, &text)
        {
            self.diags.error(span, format!("Remote file `{url}` failed integrity check!"));
            return None;
        }
        Some(Fetched {
            location: url.clone(),
            display: url,
            text,
            origin: Origin::Detached,
            kind: IncludeKind::Remote,
            component: None,
        })
    }

    /// The content of an included file after its header's inputs are
    /// applied, or `None` after reporting why it cannot be used.
    /// `Some(None)` when the file has no content at all.
    fn interpolate(
        &mut self,
        doc: &Document,
        location: &Location<'_>,
        prefix: &str,
        fetched: &Fetched,
    ) -> Option<Option<Node>> {
        let args = location.param("inputs").filter(|i| !i.is_null());
        let at = args.map_or(location.entry.span, |a| a.span);
        let Some(header) = &doc.header else {
            if args.is_some_and(|a| a.as_map().is_none_or(|m| !m.is_empty())) {
                self.diags.error(
                    at,
                    format!("{prefix}Given inputs not defined in the `spec` section of the included configuration file"),
                );
                return None;
            }
            return Some(doc.content.clone());
        };
        let usage =
            HeaderUse { args, at, origin: &fetched.origin, component: fetched.component.as_ref(), prefix };
        self.apply_header(header, doc.content.as_ref(), &usage).map(Some)
    }
}

/// `group/project:path@ref`, the name a project file gets in messages.
fn project_display(project: &str, path: &str, git_ref: Option<&str>) -> String {
    match git_ref {
        Some(r) => format!("{project}:{path}@{r}"),
        None => format!("{project}:{path}"),
    }
}

/// Paths that leave the repository or name it relative to a directory.
fn escapes_tree(path: &str) -> bool {
    path.split('/').any(|segment| segment == ".." || segment == ".")
}

/// `sha256-<base64>` of the text matches.
fn integrity_matches(expected: &str, text: &str) -> bool {
    use base64::Engine;
    use sha2::Digest;
    let Some(hash) = expected.strip_prefix("sha256-") else { return false };
    if !is_strict_base64(hash) {
        return false;
    }
    let digest = sha2::Sha256::digest(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest) == hash
}
