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

use crate::model::cx::{Cx, sub};
use crate::yaml::{Node, Value};

/// GitLab's bounds for `parallel: N`.
pub const PARALLEL_MIN: i64 = 1;
pub const PARALLEL_MAX: i64 = 200;
/// Most jobs one matrix may produce.
pub const MATRIX_MAX_JOBS: usize = 200;

/// `parallel:` (`loc` = `jobs:name`). `matrix_only` for trigger jobs.
pub(crate) fn parse_parallel(cx: &mut Cx<'_>, node: &Node, loc: &str, matrix_only: bool) -> Option<Parallel> {
    let ploc = sub(loc, "parallel");
    match &node.value {
        Value::Int(n) if !matrix_only => {
            if !(PARALLEL_MIN..=PARALLEL_MAX).contains(n) {
                let msg = if *n < PARALLEL_MIN {
                    format!("config must be greater than or equal to {PARALLEL_MIN}")
                } else {
                    format!("config must be less than or equal to {PARALLEL_MAX}")
                };
                cx.err(node.span, &ploc, &msg);
                return None;
            }
            Some(Parallel::Count(Spanned::new(*n as u32, node.span)))
        }
        Value::Map(map) => {
            cx.check_keys(map, &["matrix"], &ploc);
            let Some(m) = map.get("matrix") else {
                cx.err(node.span, &ploc, "config missing required keys: matrix");
                return None;
            };
            let entries = parse_matrix(cx, m, &sub(&ploc, "matrix"))?;
            Some(Parallel::Matrix { span: node.span, entries })
        }
        _ if matrix_only => {
            cx.err(node.span, &ploc, "config should be a hash");
            None
        }
        _ => {
            cx.err(node.span, &ploc, "should be an integer or a hash");
            None
        }
    }
}

/// `matrix:`: an array of hashes whose values are strings (or numbers) or
/// arrays of them.
pub(crate) fn parse_matrix(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Vec<MatrixEntry>> {
    let Some(items) = node.as_seq() else {
        cx.err(node.span, loc, "config should be an array of hashes");
        return None;
    };
    if items.is_empty() {
        cx.strict_err(node.span, loc, "config should contain at least one item");
    }
    let mut entries = Vec::new();
    for item in items {
        let Some(map) = item.as_map() else {
            cx.err(node.span, loc, "config should be an array of hashes");
            return None;
        };
        let eloc = sub(loc, "variables");
        let mut vars = Vec::new();
        for (key, value) in map.iter() {
            let values: Option<Vec<String>> = match &value.value {
                Value::Str(_) | Value::Int(_) => value.scalar_to_string().map(|s| vec![s]),
                Value::Seq(list) => list
                    .iter()
                    .map(|v| match v.value {
                        Value::Str(_) | Value::Int(_) => v.scalar_to_string(),
                        _ => None,
                    })
                    .collect(),
                _ => None,
            };
            match values {
                Some(v) => vars.push((Spanned::new(key.name.clone(), key.span), v)),
                None => cx.err(
                    value.span,
                    &eloc,
                    "config should be a hash of key value pairs, value can be an array",
                ),
            }
        }
        entries.push(MatrixEntry { span: item.span, variables: vars });
    }
    let total = entries.iter().fold(0usize, |n, e| n.saturating_add(e.combinations()));
    if total > MATRIX_MAX_JOBS {
        cx.err(node.span, loc, &format!("config generates too many jobs (maximum is {MATRIX_MAX_JOBS})"));
    }
    Some(entries)
}
