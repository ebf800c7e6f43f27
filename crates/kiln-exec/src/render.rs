//! Diagnostics as people read them: a headline, the location, and the
//! offending source line with a caret under the problem.

use std::fmt::Write;

use kiln_config::diag::{Diagnostic, Severity};
use kiln_config::source::SourceMap;

/// Renders one diagnostic with a source snippet. `color` adds ANSI colours
/// for terminals.
pub fn render(diag: &Diagnostic, sources: &SourceMap, color: bool) -> String {
    let (label, paint) = match diag.severity {
        Severity::Error => ("error", "\x1b[1;31m"),
        Severity::Warning => ("warning", "\x1b[1;33m"),
    };
    let (bold, reset, blue) = if color { ("\x1b[1m", "\x1b[0m", "\x1b[1;34m") } else { ("", "", "") };
    let paint = if color { paint } else { "" };
    let mut out = format!("{paint}{label}{reset}{bold}: {}{reset}\n", diag.message);
    let Some(span) = diag.span else { return out };
    let path = sources.path(span.file);
    let _ = writeln!(out, "  {blue}-->{reset} {path}:{}:{}", span.start.line, span.start.column);
    let Some(line_text) = sources.get(span.file).and_then(|f| f.line(span.start.line)) else {
        return out;
    };
    let number = span.start.line.to_string();
    let gutter = " ".repeat(number.len());
    let start = span.start.column.saturating_sub(1) as usize;
    let line_len = line_text.chars().count();
    let width = if span.end.line == span.start.line && span.end.column > span.start.column {
        (span.end.column - span.start.column) as usize
    } else {
        // A multi-line node: underline the rest of its first line.
        line_len.saturating_sub(start).max(1)
    };
    let width = width.min(line_len.saturating_sub(start).max(1));
    // Tabs would shift the caret; show the line with the same whitespace.
    let pad: String = line_text.chars().take(start).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
    let _ = writeln!(out, " {gutter} {blue}|{reset}");
    let _ = writeln!(out, " {blue}{number} |{reset} {line_text}");
    let _ = writeln!(out, " {gutter} {blue}|{reset} {pad}{paint}{}{reset}", "^".repeat(width));
    out
}

#[cfg(test)]
mod tests {
    use kiln_config::diag::Diagnostic;
    use kiln_config::source::{Pos, SourceMap, Span};

    use super::render;

    #[test]
    fn a_caret_underlines_the_span() {
        let mut sources = SourceMap::default();
        let file = sources.add(".gitlab-ci.yml", "build:\n  scirpt: make\n");
        let span = Span { file, start: Pos { line: 2, column: 3 }, end: Pos { line: 2, column: 9 } };
        let diag = Diagnostic::error(span, "jobs:build config contains unknown keys: scirpt");
        assert_eq!(
            render(&diag, &sources, false),
            "error: jobs:build config contains unknown keys: scirpt\n  --> .gitlab-ci.yml:2:3\n   |\n 2 |   scirpt: make\n   |   ^^^^^^\n"
        );
    }

    #[test]
    fn a_diagnostic_without_a_span_is_one_line() {
        let sources = SourceMap::default();
        let diag = Diagnostic::error(None, "jobs config should contain at least one visible job");
        assert_eq!(
            render(&diag, &sources, false),
            "error: jobs config should contain at least one visible job\n"
        );
    }
}
