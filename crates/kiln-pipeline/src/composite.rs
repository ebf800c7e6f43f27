//! GitLab's composite status (`Gitlab::Ci::Status::Composite`): the status of a
//! group of jobs, used for the pipeline, for a stage, and for "what a job waits for".
//!
//! The derivation is order dependent, exactly as GitLab's: a failed or canceled job
//! that may fail counts as `success_with_warnings`, a manual job that may fail is
//! `ignored`, and the first rule whose condition holds wins.

use crate::status::Status;

/// What one job contributes to a composite status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    Plain(Status),
    SuccessWithWarnings,
    Ignored,
}

/// The set of statuses seen so far; composites merge by union, which is what lets
/// processing accumulate "everything before stage N" stage by stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Composite {
    bits: u16,
}

const SUCCESS_WITH_WARNINGS: u16 = 1 << 13;
const IGNORED: u16 = 1 << 14;

fn status_bit(status: Status) -> u16 {
    let index = Status::ALL.iter().position(|s| *s == status).unwrap_or(0);
    1 << index
}

impl Composite {
    /// An empty set; its status is `None` (GitLab's `nil`).
    pub fn new() -> Composite {
        Composite::default()
    }

    /// Adds one job, with its `allow_failure` flag.
    pub fn add(&mut self, status: Status, allow_failure: bool) {
        let member = if allow_failure && matches!(status, Status::Failed | Status::Canceled) {
            Member::SuccessWithWarnings
        } else if allow_failure && status == Status::Manual {
            Member::Ignored
        } else {
            Member::Plain(status)
        };
        self.bits |= match member {
            Member::Plain(s) => status_bit(s),
            Member::SuccessWithWarnings => SUCCESS_WITH_WARNINGS,
            Member::Ignored => IGNORED,
        };
    }

    /// Adds every status of another set.
    pub fn merge(&mut self, other: Composite) {
        self.bits |= other.bits;
    }

    /// True when some job failed or was canceled but was allowed to (GitLab's "warnings").
    pub fn has_warnings(&self) -> bool {
        self.bits & SUCCESS_WITH_WARNINGS != 0
    }

    fn any(&self, statuses: &[Status]) -> bool {
        statuses.iter().any(|s| self.bits & status_bit(*s) != 0)
    }

    /// True when the set is not empty and holds nothing outside `allowed`.
    fn only(&self, allowed: &[Status], warnings: bool, ignored: bool) -> bool {
        let mut mask = allowed.iter().fold(0, |m, s| m | status_bit(*s));
        if warnings {
            mask |= SUCCESS_WITH_WARNINGS;
        }
        if ignored {
            mask |= IGNORED;
        }
        self.bits != 0 && self.bits & !mask == 0
    }

    /// The composite status for a stage or a pipeline (`dag: false`), `None` when empty.
    pub fn status(&self) -> Option<Status> {
        self.derive(false)
    }

    /// The status of a DAG job's needs (`dag: true`): any skipped or ignored need makes it `skipped`.
    pub fn dag_status(&self) -> Option<Status> {
        self.derive(true)
    }

    fn derive(&self, dag: bool) -> Option<Status> {
        use Status::*;
        if self.bits == 0 {
            return None;
        }
        // The first rule is GitLab's DAG rule (a need that did not run skips the job),
        // the second the plain "only skipped or ignored" one.
        let dag_skip = dag && (self.any(&[Skipped]) || self.bits & IGNORED != 0);
        let status = if dag_skip || self.only(&[Skipped], false, true) {
            Skipped
        } else if self.only(&[Success, Skipped], true, true) {
            Success
        } else if self.only(&[Created], true, true) {
            Created
        } else if self.only(&[Preparing], true, true) {
            Preparing
        } else if self.only(&[Canceled, Success, Skipped], true, true) {
            Canceled
        } else if self.only(&[Pending, Created, Skipped], true, true) {
            Pending
        } else if self.any(&[Running, Pending]) {
            Running
        } else if self.any(&[WaitingForResource]) {
            WaitingForResource
        } else if self.any(&[WaitingForCallback]) {
            WaitingForCallback
        } else if self.any(&[Manual]) {
            Manual
        } else if self.any(&[Scheduled]) {
            Scheduled
        } else if self.any(&[Preparing]) {
            Preparing
        } else if self.any(&[Created]) {
            Running
        } else if self.any(&[Canceling]) {
            Canceling
        } else {
            Failed
        };
        Some(status)
    }
}

impl FromIterator<(Status, bool)> for Composite {
    fn from_iter<I: IntoIterator<Item = (Status, bool)>>(iter: I) -> Composite {
        let mut c = Composite::new();
        for (status, allow_failure) in iter {
            c.add(status, allow_failure);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    fn of(jobs: &[(Status, bool)]) -> Option<Status> {
        jobs.iter().copied().collect::<Composite>().status()
    }

    #[test]
    fn allowed_failures_count_as_success() {
        assert_eq!(of(&[(Success, false), (Failed, true)]), Some(Success));
        assert!([(Failed, true)].into_iter().collect::<Composite>().has_warnings());
    }

    #[test]
    fn blocking_manual_blocks_and_optional_manual_is_ignored() {
        assert_eq!(of(&[(Success, false), (Manual, false)]), Some(Manual));
        assert_eq!(of(&[(Success, false), (Manual, true)]), Some(Success));
        assert_eq!(of(&[(Manual, true)]), Some(Skipped));
    }

    #[test]
    fn created_next_to_finished_jobs_is_running() {
        assert_eq!(of(&[(Success, false), (Created, false)]), Some(Running));
        assert_eq!(of(&[(Failed, false), (Created, false)]), Some(Running));
        assert_eq!(of(&[(Created, false)]), Some(Created));
    }

    #[test]
    fn canceling_only_wins_over_failed() {
        assert_eq!(of(&[(Canceling, false), (Success, false)]), Some(Canceling));
        assert_eq!(of(&[(Canceling, false), (Failed, false)]), Some(Canceling));
        assert_eq!(of(&[(Canceling, false), (Pending, false)]), Some(Running));
    }

    #[test]
    fn dag_skips_on_ignored_need() {
        let c: Composite = [(Manual, true), (Success, false)].into_iter().collect();
        assert_eq!(c.dag_status(), Some(Skipped));
        assert_eq!(Composite::new().dag_status(), None);
    }
}
