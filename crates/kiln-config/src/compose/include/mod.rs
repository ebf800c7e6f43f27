//! `include:` processing (`Config::External::Processor`): every included
//! file is loaded, interpolated with its inputs, has its own includes
//! processed relative to where it came from, and is deep-merged in order;
//! the including file is merged last, so it wins.

mod component;
mod file;
mod header;
mod location;
mod rules;

pub(crate) use header::HeaderUse;

use std::collections::BTreeMap;

use crate::context::PipelineContext;
use crate::diag::Diagnostics;
use crate::source::{FileId, SourceMap, Span};
use crate::sources::Sources;
use crate::yaml::{Map, Node, Value};

use super::ComposeOptions;
use super::merge::merge_maps;

/// Where a file came from, which decides what its own `include:local`
/// entries and `rules:exists` read, and whether variables are available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The pipeline's own project at the pipeline's commit.
    Repository,
    /// Another project (`include:project`), at `git_ref` (default branch
    /// when `None`).
    Project { project: String, git_ref: Option<String> },
    /// A remote URL: GitLab expands its includes without a project and
    /// without variables.
    Detached,
}

/// A file that took part in the merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncludedFile {
    /// The location as GitLab shows it (a path, `project:path`, or a URL).
    pub location: String,
    pub kind: IncludeKind,
    /// The file in the [`SourceMap`].
    pub file: FileId,
    /// The `include:` entry that brought it in.
    pub included_at: Span,
}

/// What kind of include brought a file in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeKind {
    Local,
    Project,
    Remote,
    /// A CI/CD component read from its project (only when
    /// `ComposeOptions::components_from_projects` is set).
    Component,
}

/// The state of one `compose` run's include processing.
pub(crate) struct Includer<'a> {
    pub(crate) ctx: &'a PipelineContext,
    pub(crate) variables: BTreeMap<String, String>,
    pub(crate) no_variables: BTreeMap<String, String>,
    pub(crate) sources: Sources<'a>,
    pub(crate) opts: &'a ComposeOptions,
    pub(crate) files: &'a mut SourceMap,
    pub(crate) diags: &'a mut Diagnostics,
    pub(crate) included: Vec<IncludedFile>,
    /// Files counted against `max_includes` (GitLab's `expandset`).
    count: usize,
    /// Bytes read, against `max_total_size`.
    total_size: usize,
    /// A limit was hit: GitLab gives up on the whole configuration, so no
    /// more files are read.
    stopped: bool,
}

impl<'a> Includer<'a> {
    pub(crate) fn new(
        ctx: &'a PipelineContext,
        sources: Sources<'a>,
        opts: &'a ComposeOptions,
        files: &'a mut SourceMap,
        diags: &'a mut Diagnostics,
    ) -> Includer<'a> {
        Includer {
            ctx,
            variables: ctx.predefined_variables(),
            no_variables: BTreeMap::new(),
            sources,
            opts,
            files,
            diags,
            included: Vec::new(),
            count: 0,
            total_size: 0,
            stopped: false,
        }
    }

    /// The variables a file from `origin` may use in its `include:`.
    pub(crate) fn variables_for(&self, origin: &Origin) -> &BTreeMap<String, String> {
        match origin {
            Origin::Detached => &self.no_variables,
            _ => &self.variables,
        }
    }

    pub(crate) fn expand_text(&self, text: &str, origin: &Origin) -> String {
        kiln_expr::expand(text, self.variables_for(origin))
    }

    /// Processes the `include:` of `content` (read from `origin`) and
    /// returns the merged mapping, without `include`.
    pub(crate) fn expand(&mut self, content: Node, origin: &Origin) -> Node {
        let span = content.span;
        let Value::Map(mut map) = content.value else { return content };
        let Some(include) = map.remove("include") else { return Node::new(Value::Map(map), span) };
        if self.stopped {
            return Node::new(Value::Map(map), span);
        }
        let locations = self.locations(&include, origin);
        // GitLab counts every file of one level before reading any of them.
        for location in &locations {
            if !self.count_file(location.entry.span) {
                return Node::new(Value::Map(map), span);
            }
        }
        let mut merged = Map::new();
        for location in &locations {
            if self.stopped {
                break;
            }
            if let Some(tree) = self.include_file(location, origin).and_then(|t| t.as_map().cloned()) {
                merged = merge_maps(merged, tree);
            }
        }
        Node::new(Value::Map(merge_maps(merged, map)), span)
    }

    /// Counts one more file against `max_includes`; false (after reporting)
    /// when that is one too many.
    fn count_file(&mut self, span: Span) -> bool {
        self.count += 1;
        if self.count > self.opts.max_includes {
            self.stop(span, format!("Maximum of {} nested includes are allowed!", self.opts.max_includes));
            return false;
        }
        true
    }

    /// Reports a limit and stops reading files.
    fn stop(&mut self, span: Span, message: String) {
        self.diags.error(span, message);
        self.stopped = true;
    }

    /// Counts `bytes` against the total size limit.
    fn account(&mut self, bytes: usize, span: Span) -> bool {
        // Ruby's `ObjectSpace.memsize_of` of a string: a 40-byte slot plus
        // the text when it does not fit in the slot.
        self.total_size = self.total_size.saturating_add(40 + if bytes > 23 { bytes + 1 } else { 0 });
        if self.total_size > self.opts.max_total_size {
            self.stop(span, "Total size of combined CI/CD configuration is too big".into());
            return false;
        }
        true
    }

    fn evaluate_rules(&self, rules: &Node, origin: &Origin) -> Result<bool, String> {
        let list = |project: Option<(&str, Option<&str>)>| -> Result<Vec<String>, String> {
            match project {
                Some((project, git_ref)) => {
                    self.sources.projects.list_files(project, git_ref).map_err(|e| e.to_string())
                }
                // A remote file has no project: nothing exists there.
                None if *origin == Origin::Detached => Ok(Vec::new()),
                None => self.list_origin_files(origin),
            }
        };
        let env = rules::RuleEnv {
            variables: self.variables_for(origin),
            list_files: &list,
            changed_paths: self.ctx.changed_paths.as_deref(),
        };
        rules::passes(rules, &env)
    }

    /// Every file of the project a file from `origin` belongs to.
    fn list_origin_files(&self, origin: &Origin) -> Result<Vec<String>, String> {
        match origin {
            Origin::Repository => self.sources.repository.list_files().map_err(|e| e.to_string()),
            Origin::Project { project, git_ref } => {
                self.sources.projects.list_files(project, git_ref.as_deref()).map_err(|e| e.to_string())
            }
            Origin::Detached => Err("a remote file has no project to look in".into()),
        }
    }
}
