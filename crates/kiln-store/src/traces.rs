//! Job logs (traces).

use crate::ids::BuildId;

/// The blob key of a job's archived log.
pub fn blob_key(job: BuildId) -> String {
    format!("traces/{}/job.log", job.0)
}
