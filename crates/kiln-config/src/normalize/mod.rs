//! GitLab's `Config::Normalizer`: `parallel:` jobs become their instances
//! (`test 1/3`, `build: [linux, amd64]`), and a matrix instance's `needs`
//! have their `$[[ matrix.NAME ]]` expressions replaced by its values.
//!
//! Both the static checks (`model`) and the planner (`plan`) need the
//! instances, and GitLab expands before it validates, so the rules live
//! here once.

mod interpolate;

pub use interpolate::{interpolate_needs, unknown_matrix_variables};

use crate::model::{Job, MatrixEntry, Parallel};

/// Most instances one matrix may produce; bounds work on hostile input
/// (the model reports matrices over GitLab's limit of 200 separately).
const MAX_COMBINATIONS: usize = 1000;

/// One instance of a configured job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// `name`, `name 1/3` or `name: [v1, v2]`.
    pub name: String,
    /// 1-based `CI_NODE_INDEX`, with `CI_NODE_TOTAL`, for parallel jobs.
    pub index: Option<(u32, u32)>,
    /// The matrix values, in the entry's key order.
    pub matrix: Vec<(String, String)>,
}

/// The instances of `job`: itself, or one per `parallel` index or matrix
/// combination.
pub fn instances(job: &Job) -> Vec<Instance> {
    let base = &job.name.value;
    match &job.parallel {
        None => vec![Instance { name: base.clone(), index: None, matrix: Vec::new() }],
        Some(Parallel::Count(n)) => (1..=n.value)
            .map(|i| Instance {
                name: format!("{base} {i}/{}", n.value),
                index: Some((i, n.value)),
                matrix: Vec::new(),
            })
            .collect(),
        Some(Parallel::Matrix { entries, .. }) => {
            let combos = combinations(entries);
            let total = u32::try_from(combos.len()).unwrap_or(u32::MAX);
            combos
                .into_iter()
                .enumerate()
                .map(|(i, vars)| Instance {
                    name: matrix_name(base, &vars),
                    index: Some((u32::try_from(i + 1).unwrap_or(u32::MAX), total)),
                    matrix: vars,
                })
                .collect()
        }
    }
}

/// Every combination of every matrix entry, in GitLab's order: entries in
/// order, and within an entry the cartesian product with the first variable
/// varying slowest.
pub fn combinations(entries: &[MatrixEntry]) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    for entry in entries {
        let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
        for (name, values) in &entry.variables {
            combos = combos
                .iter()
                .flat_map(|c| {
                    values.iter().map(move |v| {
                        let mut c = c.clone();
                        c.push((name.value.clone(), v.clone()));
                        c
                    })
                })
                .take(MAX_COMBINATIONS)
                .collect();
        }
        out.extend(combos.into_iter().filter(|c| !c.is_empty()));
        if out.len() >= MAX_COMBINATIONS {
            out.truncate(MAX_COMBINATIONS);
            break;
        }
    }
    out
}

/// GitLab's `MatrixStrategy#name`: `job: [v1, v2]`.
pub fn matrix_name(base: &str, vars: &[(String, String)]) -> String {
    let values: Vec<&str> = vars.iter().map(|(_, v)| v.as_str()).collect();
    format!("{base}: [{}]", values.join(", "))
}

/// The instance names a need on `job` (with an optional `parallel:matrix`
/// selector) refers to: the selector's names, every instance of a parallel
/// job, or the job itself.
pub fn need_targets(
    job: &str,
    selector: Option<&[MatrixEntry]>,
    instances_of: impl Fn(&str) -> Option<Vec<String>>,
) -> Vec<String> {
    match selector {
        // GitLab builds the selected names from the selector's own values.
        Some(selector) => combinations(selector).iter().map(|vars| matrix_name(job, vars)).collect(),
        None => instances_of(job).unwrap_or_else(|| vec![job.to_string()]),
    }
}
