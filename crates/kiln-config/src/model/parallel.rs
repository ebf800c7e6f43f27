//! `parallel:` as a number or a matrix.

use crate::model::common::Spanned;
use crate::source::Span;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parallel {
    /// `parallel: 5` → jobs `name 1/5` .. `name 5/5`.
    Count(Spanned<u32>),
    /// `parallel: {matrix: [...]}`.
    Matrix { span: Span, entries: Vec<MatrixEntry> },
}

/// One hash of a matrix: variable names with one or more values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixEntry {
    pub span: Span,
    pub variables: Vec<(Spanned<String>, Vec<String>)>,
}

impl MatrixEntry {
    /// How many jobs this entry produces.
    pub fn combinations(&self) -> usize {
        self.variables.iter().fold(1usize, |n, (_, values)| n.saturating_mul(values.len()))
    }
}
