//! Source files and positions: every node and diagnostic points back here.
//!
//! A pipeline is read from many files (the main file and its includes), so a
//! position is a [`FileId`] plus a line and column. Lines and columns are
//! 1-based and columns count characters, as editors and GitLab show them.

use std::fmt;

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// A position in a source file (1-based line and character column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Default for Pos {
    fn default() -> Self {
        Pos { line: 1, column: 1 }
    }
}

/// A range in one source file, `start` inclusive and `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    /// A zero-width span at `pos`.
    pub fn point(file: FileId, pos: Pos) -> Span {
        Span { file, start: pos, end: pos }
    }
}

/// One file that took part in processing, with its text for error snippets.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user wrote it (`.gitlab-ci.yml`, `ci/build.yml`,
    /// `group/project:ci/x.yml@main`, or a URL).
    pub path: String,
    pub text: String,
}

impl SourceFile {
    /// The text of line `line` (1-based), without its line break.
    pub fn line(&self, line: u32) -> Option<&str> {
        let index = usize::try_from(line).ok()?.checked_sub(1)?;
        self.text.lines().nth(index)
    }
}

/// All files read while processing one pipeline.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// Registers a file and returns its id.
    pub fn add(&mut self, path: impl Into<String>, text: impl Into<String>) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(SourceFile { path: path.into(), text: text.into() });
        id
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(usize::try_from(id.0).ok()?)
    }

    /// The path of a file, or `<unknown>` for an id from another map.
    pub fn path(&self, id: FileId) -> &str {
        self.get(id).map_or("<unknown>", |f| f.path.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(i as u32), f))
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}
