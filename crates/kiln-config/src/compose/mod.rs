//! Compose: from the main `.gitlab-ci.yml` to one merged tree, exactly as
//! GitLab builds it (`Gitlab::Ci::Config#build_config`):
//!
//! 1. load the main file, with its optional `spec:` header (interpolated
//!    with the pipeline's inputs);
//! 2. `include:` (`External::Processor`): files are read through
//!    [`Sources`], interpolated with their `inputs`, expanded in turn and
//!    deep-merged in order, the including file last;
//! 3. `extends` (`Extendable`);
//! 4. `!reference` tags (`Yaml::Tags::Resolver`);
//! 5. `default:` copied into jobs that lack a keyword, as GitLab's job
//!    entries do (`inherit:default`).
//!
//! Every node keeps the span of the text it came from, in whichever file,
//! and every file read is registered in the [`SourceMap`]. Problems are
//! collected; a file that cannot be used is left out and the rest goes on.
//!
//! [`Remote`](crate::sources::Remote) errors are shown as
//! ``Remote file `URL` could not be fetched because {error}!``, so a
//! fetcher words its errors to follow "because", as GitLab's do: `of a
//! timeout error`, ``of HTTP code `404` error``.

mod defaults;
mod document;
mod extends;
mod include;
mod include_syntax;
mod inputs;
mod interpolate;
mod merge;
mod reference;
mod spec_syntax;
mod util;
mod view;

pub use include::{IncludeKind, IncludedFile};
pub use include_syntax::check_include_syntax;
pub use spec_syntax::check_spec_syntax;
pub use view::expanded_view;

use crate::context::PipelineContext;
use crate::diag::Diagnostics;
use crate::source::SourceMap;
use crate::sources::Sources;
use crate::yaml::{self, Map, Node, Value};

use include::{HeaderUse, Includer, Origin};

/// Limits and inputs of one composition.
#[derive(Debug, Clone)]
pub struct ComposeOptions {
    /// Bounds on each YAML file.
    pub limits: yaml::Limits,
    /// Files that may be included in all (GitLab's `ci_max_includes`, 150).
    pub max_includes: usize,
    /// Bytes of all included files together (GitLab's
    /// `ci_max_total_yaml_size_bytes`, 300 MiB by default).
    pub max_total_size: usize,
    /// The pipeline's inputs, for the main file's `spec:inputs`.
    pub inputs: Map,
    /// Read `include:component` from the component's project through
    /// [`Projects`](crate::sources::Projects) instead of reporting that
    /// components need GitLab's CI/CD catalog. Off by default.
    pub components_from_projects: bool,
    /// Where `include:template` files come from; `None` reports that
    /// templates are not available.
    pub templates: Option<TemplateSource>,
}

/// A project that holds GitLab's CI templates (GitLab keeps them under
/// `lib/gitlab/ci/templates/` of its own repository; an instance can mirror
/// that, or a test can stub it), read through
/// [`Projects`](crate::sources::Projects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSource {
    pub project: String,
    pub git_ref: Option<String>,
    /// The folder of the templates in that project, without a trailing `/`.
    pub dir: String,
}

impl Default for ComposeOptions {
    fn default() -> Self {
        ComposeOptions {
            limits: yaml::Limits::default(),
            max_includes: 150,
            max_total_size: 300 * 1024 * 1024,
            inputs: Map::new(),
            components_from_projects: false,
            templates: None,
        }
    }
}

/// The result of [`compose`].
#[derive(Debug, Clone, Default)]
pub struct Composed {
    /// The merged main document, `None` when the main file cannot be read
    /// as YAML. A main file without content gives a null node.
    pub root: Option<Node>,
    /// The main file's header document (the hash with `spec:`), if any.
    pub inputs_header: Option<Node>,
    /// Every file included, in the order they were read.
    pub included: Vec<IncludedFile>,
}

/// Builds the merged configuration of `main_text` (registered in `files`
/// as `main_path`).
pub fn compose(
    main_path: &str,
    main_text: &str,
    ctx: &PipelineContext,
    sources: Sources<'_>,
    opts: &ComposeOptions,
    files: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Composed {
    let file = files.add(main_path, main_text);
    let doc = match document::load(file, main_text, &opts.limits) {
        Ok(doc) => doc,
        Err(diag) => {
            diags.push(diag);
            return Composed::default();
        }
    };
    let start = document::file_start(file);
    let mut includer = Includer::new(ctx, sources, opts, files, diags);
    let content = match &doc.header {
        Some(header) => {
            let args = (!opts.inputs.is_empty()).then(|| Node::new(Value::Map(opts.inputs.clone()), start));
            let usage = HeaderUse {
                args: args.as_ref(),
                at: start,
                origin: &Origin::Repository,
                component: None,
                prefix: "",
            };
            match includer.apply_header(header, doc.content.as_ref(), &usage) {
                Some(content) => Some(content),
                None => {
                    let included = std::mem::take(&mut includer.included);
                    return Composed { root: None, inputs_header: doc.header, included };
                }
            }
        }
        None => {
            if let Some((first, _)) = opts.inputs.iter().next() {
                includer.diags.error(
                    first.span,
                    "Given inputs not defined in the `spec` section of the included configuration file",
                );
            }
            doc.content.clone()
        }
    };
    let Some(content) = content else {
        return Composed { root: Some(Node::null(start)), inputs_header: doc.header, included: Vec::new() };
    };
    let merged = includer.expand(content, &Origin::Repository);
    let included = std::mem::take(&mut includer.included);
    let root = finish(merged, diags);
    Composed { root: Some(root), inputs_header: doc.header, included }
}

/// The phases after includes: `extends`, `!reference`, `default:`.
fn finish(merged: Node, diags: &mut Diagnostics) -> Node {
    let span = merged.span;
    let Value::Map(mut map) = merged.value else { return merged };
    extends::apply_extends(&mut map, diags);
    let resolved = reference::resolve_references(Node::new(Value::Map(map), span), diags);
    let Value::Map(mut map) = resolved.value else { return resolved };
    defaults::apply_defaults(&mut map, diags);
    Node::new(Value::Map(map), span)
}
