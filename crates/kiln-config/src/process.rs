//! The whole processor in one call: compose, model, plan.

use crate::compose::{self, ComposeOptions};
use crate::context::PipelineContext;
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::{self, Config, ModelOptions};
use crate::plan::{self, Outcome};
use crate::source::{Pos, SourceMap, Span};
use crate::sources::Sources;
use crate::yaml::Node;

/// How to process.
#[derive(Debug, Clone, Default)]
pub struct ProcessOptions {
    /// Also enforce the rules of GitLab's JSON schema (`kiln lint --strict`).
    pub strict: bool,
    pub compose: ComposeOptions,
}

/// Everything processing produced: the files it read, every diagnostic,
/// and as far as it got, the merged tree, the typed configuration and the
/// plan.
#[derive(Debug, Clone, Default)]
pub struct Processed {
    pub sources: SourceMap,
    pub diagnostics: Diagnostics,
    /// The merged main document (for `--expand`).
    pub merged: Option<Node>,
    pub config: Option<Config>,
    /// `None` when the configuration is invalid, so nothing was planned.
    pub outcome: Option<Outcome>,
}

impl Processed {
    /// True when no error was found (warnings are allowed).
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.has_errors()
    }
}

/// Processes `main_text` (read from `main_path`) for the pipeline `ctx`
/// describes. Never panics; every problem is a diagnostic.
pub fn process(
    main_path: &str,
    main_text: &str,
    ctx: &PipelineContext,
    sources: Sources<'_>,
    opts: &ProcessOptions,
) -> Processed {
    let mut out = Processed::default();
    let composed = compose::compose(
        main_path,
        main_text,
        ctx,
        sources,
        &opts.compose,
        &mut out.sources,
        &mut out.diagnostics,
    );
    let Some(root) = composed.root else { return out };
    let config = model::parse_config(&root, &ModelOptions { strict: opts.strict }, &mut out.diagnostics);
    out.merged = Some(root);
    if !out.diagnostics.has_errors() {
        out.outcome = plan::plan(&config, ctx, sources, &mut out.diagnostics);
    }
    out.config = Some(config);
    out
}

/// The result for a main file that is not UTF-8 (`valid_up_to` bytes are).
pub fn invalid_utf8(main_path: &str, valid_up_to: usize) -> Processed {
    let mut out = Processed::default();
    let file = out.sources.add(main_path, "");
    out.diagnostics.push(Diagnostic::error(
        Span::point(file, Pos::default()),
        format!("the file is not valid UTF-8 (invalid byte at offset {valid_up_to})"),
    ));
    out
}
