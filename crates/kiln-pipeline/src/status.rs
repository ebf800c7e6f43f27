//! Job and pipeline statuses, and GitLab's groupings of them (`Ci::HasStatus`).
//!
//! Jobs and pipelines share one set of statuses, exactly as in GitLab, and the
//! serialized names are GitLab's, because the coordinator persists them and
//! shows them on the API.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A job's or a pipeline's status, with GitLab's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Created,
    WaitingForResource,
    Preparing,
    /// Present in GitLab's status list and its composite derivation; no transition in Kiln
    /// produces it yet, but persisted values and derived statuses keep GitLab's full set.
    WaitingForCallback,
    Pending,
    Running,
    Success,
    Failed,
    Canceling,
    Canceled,
    Skipped,
    Manual,
    Scheduled,
}

impl Status {
    /// Every status, in GitLab's `AVAILABLE_STATUSES` order.
    pub const ALL: [Status; 13] = [
        Status::Created,
        Status::WaitingForResource,
        Status::Preparing,
        Status::WaitingForCallback,
        Status::Pending,
        Status::Running,
        Status::Success,
        Status::Failed,
        Status::Canceling,
        Status::Canceled,
        Status::Skipped,
        Status::Manual,
        Status::Scheduled,
    ];

    /// GitLab's name for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::WaitingForResource => "waiting_for_resource",
            Status::Preparing => "preparing",
            Status::WaitingForCallback => "waiting_for_callback",
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Success => "success",
            Status::Failed => "failed",
            Status::Canceling => "canceling",
            Status::Canceled => "canceled",
            Status::Skipped => "skipped",
            Status::Manual => "manual",
            Status::Scheduled => "scheduled",
        }
    }

    /// Parses GitLab's name for a status.
    pub fn from_name(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// `COMPLETED_STATUSES`: success, failed, canceled, skipped. Processing moves a
    /// job on only once what it waits for is complete.
    pub fn is_complete(self) -> bool {
        matches!(self, Status::Success | Status::Failed | Status::Canceled | Status::Skipped)
    }

    /// `ACTIVE_STATUSES`: waiting_for_resource, preparing, waiting_for_callback, pending, running.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Status::WaitingForResource
                | Status::Preparing
                | Status::WaitingForCallback
                | Status::Pending
                | Status::Running
        )
    }

    /// `ALIVE_STATUSES`: every status that is neither complete nor blocked
    /// (the active ones, `created` and `canceling`).
    pub fn is_alive(self) -> bool {
        !self.is_complete() && !self.is_blocked()
    }

    /// `BLOCKED_STATUS`: manual and scheduled, waiting for a person or a time.
    pub fn is_blocked(self) -> bool {
        matches!(self, Status::Manual | Status::Scheduled)
    }

    /// `STOPPED_STATUSES`: complete or blocked.
    pub fn is_stopped(self) -> bool {
        self.is_complete() || self.is_blocked()
    }

    /// `CANCELABLE_STATUSES`: alive or scheduled, but not already `canceling`.
    /// A pipeline cancel touches exactly these jobs (manual jobs stay manual).
    pub fn is_cancelable(self) -> bool {
        (self.is_alive() || self == Status::Scheduled) && self != Status::Canceling
    }

    /// `STARTED_STATUSES`: running, success, failed.
    pub fn is_started(self) -> bool {
        matches!(self, Status::Running | Status::Success | Status::Failed)
    }

    /// `EXECUTING_STATUSES`: running and canceling, the two states in which a runner holds the job.
    pub fn is_executing(self) -> bool {
        matches!(self, Status::Running | Status::Canceling)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groupings_match_gitlab_lists() {
        let names = |pred: fn(Status) -> bool| {
            Status::ALL.into_iter().filter(|s| pred(*s)).map(Status::as_str).collect::<Vec<_>>()
        };
        assert_eq!(names(Status::is_complete), ["success", "failed", "canceled", "skipped"]);
        assert_eq!(
            names(Status::is_alive),
            [
                "created",
                "waiting_for_resource",
                "preparing",
                "waiting_for_callback",
                "pending",
                "running",
                "canceling"
            ]
        );
        assert_eq!(
            names(Status::is_cancelable),
            [
                "created",
                "waiting_for_resource",
                "preparing",
                "waiting_for_callback",
                "pending",
                "running",
                "scheduled"
            ]
        );
        assert_eq!(
            names(Status::is_stopped),
            ["success", "failed", "canceled", "skipped", "manual", "scheduled"]
        );
    }

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::from_name(s.as_str()), Some(s));
        }
    }
}
