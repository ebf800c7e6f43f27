//! What finished jobs leave for others: `dotenv` report variables, and compute
//! usage against a namespace's monthly quota.

use crate::Store;
use crate::db::{read_tx, write_tx};
use crate::error::{Error, Result};
use crate::ids::{BuildId, NamespaceId};

impl Store {
    /// Stores the variables of a job's `dotenv` report (replacing earlier ones).
    pub async fn set_job_report_variables(&self, job: BuildId, variables: &[(String, String)]) -> Result<()> {
        if let Some((key, _)) = variables.iter().find(|(k, _)| !crate::variables::valid_key(k)) {
            return Err(Error::Invalid(format!("dotenv variable key `{key}`")));
        }
        write_tx!(self, |c, q| q::reports::set_variables(c, job, variables).await?)
    }

    /// The `dotenv` variables of these jobs, in the order the jobs are given (later
    /// jobs win on the same key when the caller folds them).
    pub async fn job_report_variables(&self, jobs: &[BuildId]) -> Result<Vec<(BuildId, String, String)>> {
        read_tx!(self, |c, q| {
            let mut out = Vec::new();
            for job in jobs {
                for (key, value) in q::reports::variables(c, *job).await? {
                    out.push((*job, key, value));
                }
            }
            out
        })
    }

    /// Sets (or with `None` removes) a namespace's compute quota in minutes per month.
    pub async fn set_namespace_quota(&self, namespace: NamespaceId, minutes: Option<i64>) -> Result<()> {
        write_tx!(self, |c, q| q::reports::set_quota(c, namespace, minutes).await?)
    }

    /// A namespace's quota in minutes per month (`None`: unlimited).
    pub async fn namespace_quota(&self, namespace: NamespaceId) -> Result<Option<i64>> {
        read_tx!(self, |c, q| q::reports::quota(c, namespace).await?)
    }

    /// Adds used compute seconds (already multiplied by the runner's cost factor) to
    /// a namespace's usage for `month` (`YYYY-MM`, UTC).
    pub async fn add_compute_usage(&self, namespace: NamespaceId, month: &str, seconds: f64) -> Result<()> {
        if !seconds.is_finite() || seconds < 0.0 {
            return Err(Error::Invalid(format!("compute usage {seconds}")));
        }
        write_tx!(self, |c, q| q::reports::add_usage(c, namespace, month, seconds).await?)
    }

    /// Compute seconds used by a namespace in `month`.
    pub async fn compute_usage(&self, namespace: NamespaceId, month: &str) -> Result<f64> {
        read_tx!(self, |c, q| q::reports::usage(c, namespace, month).await?)
    }
}
