//! Planned instances of configured jobs (`parallel:` expanded by
//! [`crate::normalize`]), with what the plan records about each.

use std::collections::HashMap;

use crate::model::Job;
use crate::normalize;
use crate::plan::spec::{ParallelSpec, VariableSpec};

/// One planned instance of a configured job.
#[derive(Debug, Clone)]
pub(crate) struct Instance<'a> {
    pub job: &'a Job,
    pub name: String,
    pub parallel: Option<ParallelSpec>,
    /// The matrix values, for `$[[ matrix.NAME ]]` in needs.
    pub matrix: Vec<(String, String)>,
}

pub(crate) fn expand(job: &Job) -> Vec<Instance<'_>> {
    normalize::instances(job)
        .into_iter()
        .map(|i| Instance {
            job,
            parallel: i.index.map(|(index, total)| ParallelSpec {
                index,
                total,
                matrix: i
                    .matrix
                    .iter()
                    .map(|(k, v)| VariableSpec { key: k.clone(), value: v.clone(), raw: false })
                    .collect(),
            }),
            name: i.name,
            matrix: i.matrix,
        })
        .collect()
}

/// Instance names per configured job name, for widening needs.
pub(crate) type InstanceNames = HashMap<String, Vec<String>>;
