//! One configuration file as GitLab loads it: at most two YAML documents, a
//! `spec:` header and the content (`Config::Yaml::Loader`, `MultiDocYaml`,
//! `Yaml::Result`).
//!
//! GitLab cuts the text at lines starting with `---` into at most three
//! parts, drops a blank first part (a leading `---`) and blank parts, and
//! loads the first document of each part. The header is the first
//! document when there is more than one and it is a hash with `spec`; the
//! content is then the last document, otherwise the first.

use crate::diag::Diagnostic;
use crate::source::{FileId, Span};
use crate::yaml::{Limits, Node, load_documents};

/// GitLab's message for a document that is not a hash.
pub(crate) const INVALID_FORMAT: &str = "Invalid configuration format";

/// A loaded file: its optional header and its content.
#[derive(Debug)]
pub(crate) struct Document {
    pub(crate) header: Option<Node>,
    /// `None` for a file without any document (blank or comments only).
    pub(crate) content: Option<Node>,
}

/// Loads `text`, or says why it cannot be loaded (a YAML error or a
/// document that is not a hash).
pub(crate) fn load(file: FileId, text: &str, limits: &Limits) -> Result<Document, Diagnostic> {
    let docs = load_documents(file, text, limits)?;
    let cap = if leading_delimiter(text) { 2 } else { 3 };
    let mut docs: Vec<Node> = docs.into_iter().filter(|d| !d.is_null()).take(cap).collect();
    if let Some(bad) = docs.iter().find(|d| d.as_map().is_none()) {
        return Err(Diagnostic::error(bad.span, INVALID_FORMAT));
    }
    let has_header = docs.len() > 1 && docs.first().is_some_and(|d| d.get("spec").is_some());
    let header = if has_header { Some(docs.remove(0)) } else { None };
    let content = if has_header { docs.pop() } else { docs.into_iter().next() };
    Ok(Document { header, content })
}

/// Whether the text before the first `---` line is blank, so that GitLab
/// does not count it as a document.
fn leading_delimiter(text: &str) -> bool {
    for line in text.lines() {
        let is_divider = line
            .strip_prefix("---")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace));
        if is_divider {
            return true;
        }
        let trimmed = line.trim();
        if !(trimmed.is_empty() || trimmed.starts_with('#')) {
            return false;
        }
    }
    false
}

/// A zero-width span at the start of a file, for problems of a whole file.
pub(crate) fn file_start(file: FileId) -> Span {
    Span::point(file, crate::source::Pos::default())
}
