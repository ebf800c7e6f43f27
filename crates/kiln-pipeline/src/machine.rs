//! Which job and pipeline transitions are legal: GitLab's state machine events
//! (`CommitStatus`, `Ci::Processable`, `Ci::Build`, `Ci::Bridge`, `Ci::Pipeline`).

use crate::definition::JobDefinition;
use crate::status::Status;

/// A job state machine event, named as in GitLab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobEvent {
    /// `process`: skipped or manual back to created, so processing looks at it again.
    Process,
    /// `enqueue`: to `waiting_for_resource` with a resource group, else `pending`.
    Enqueue,
    /// `enqueue_scheduled`: a delayed job whose time has come.
    EnqueueScheduled,
    /// `enqueue_waiting_for_resource`: the resource was assigned.
    EnqueueWaitingForResource,
    Run,
    Skip,
    Drop,
    Succeed,
    /// `cancel`: a running job whose runner supports it goes to `canceling`.
    Cancel,
    /// A canceling job the runner never finished.
    ForceCancel,
    Actionize,
    Schedule,
    Unschedule,
    /// Trigger jobs: `pending` (play of a manual trigger job).
    BridgePending,
    InheritSuccess,
    InheritCanceled,
    InheritFailed,
}

impl JobEvent {
    /// GitLab's event name, for error messages.
    pub fn name(self) -> &'static str {
        match self {
            JobEvent::Process => "process",
            JobEvent::Enqueue => "enqueue",
            JobEvent::EnqueueScheduled => "enqueue_scheduled",
            JobEvent::EnqueueWaitingForResource => "enqueue_waiting_for_resource",
            JobEvent::Run => "run",
            JobEvent::Skip => "skip",
            JobEvent::Drop => "drop",
            JobEvent::Succeed => "success",
            JobEvent::Cancel => "cancel",
            JobEvent::ForceCancel => "force_cancel",
            JobEvent::Actionize => "actionize",
            JobEvent::Schedule => "schedule",
            JobEvent::Unschedule => "unschedule",
            JobEvent::BridgePending => "pending",
            JobEvent::InheritSuccess => "inherit_success",
            JobEvent::InheritCanceled => "inherit_finish_cancel",
            JobEvent::InheritFailed => "inherit_failed",
        }
    }
}

/// The status `event` moves a job in status `from` to, or `None` when GitLab's state
/// machine has no such transition. `graceful_cancel` is whether the job's runner can
/// run `after_script` on cancel.
pub fn job_target(
    event: JobEvent,
    from: Status,
    def: &JobDefinition,
    graceful_cancel: bool,
) -> Option<Status> {
    use Status::*;
    let waiting_or_pending = if def.resource_group.is_some() { WaitingForResource } else { Pending };
    let bridge = def.is_bridge();
    match event {
        JobEvent::Process => matches!(from, Skipped | Manual).then_some(Created),
        JobEvent::Enqueue => {
            matches!(from, Created | Skipped | Manual | Scheduled).then_some(waiting_or_pending)
        }
        JobEvent::EnqueueScheduled => (from == Scheduled).then_some(waiting_or_pending),
        JobEvent::EnqueueWaitingForResource => (from == WaitingForResource).then_some(Pending),
        JobEvent::Run => (from == Pending).then_some(Running),
        JobEvent::Skip => {
            matches!(from, Created | WaitingForResource | Preparing | Pending).then_some(Skipped)
        }
        JobEvent::Drop => match from {
            Canceling => Some(Canceled),
            Created | WaitingForResource | Preparing | WaitingForCallback | Pending | Running | Manual
            | Scheduled => Some(Failed),
            _ => None,
        },
        JobEvent::Succeed => match from {
            Canceling => Some(Canceled),
            Created | WaitingForResource | Preparing | WaitingForCallback | Pending | Running => {
                Some(Success)
            }
            _ => None,
        },
        JobEvent::Cancel => {
            // Only builds go to `canceling` (`supports_canceling?`); a bridge cancels at once.
            if from == Running && graceful_cancel && !bridge {
                Some(Canceling)
            } else if from.is_cancelable() || from == Manual {
                Some(Canceled)
            } else {
                None
            }
        }
        JobEvent::ForceCancel => (from == Canceling).then_some(Canceled),
        JobEvent::Actionize => (from == Created).then_some(Manual),
        JobEvent::Schedule => (from == Created).then_some(Scheduled),
        JobEvent::Unschedule => (from == Scheduled).then_some(Manual),
        JobEvent::BridgePending => bridge.then_some(Pending),
        JobEvent::InheritSuccess => bridge.then_some(Success),
        JobEvent::InheritCanceled => bridge.then_some(Canceled),
        JobEvent::InheritFailed => bridge.then_some(Failed),
    }
}

/// The pipeline status GitLab's `Ci::Pipeline#set_status` reaches from `from` when
/// processing derives `derived`, or `None` when the pipeline keeps its status.
///
/// Two rules are not "take the derived status": a pipeline never goes back to
/// `created`, and `pending` (the `enqueue` event) turns a finished or canceling
/// pipeline into `running`.
pub fn pipeline_target(from: Status, derived: Status) -> Option<Status> {
    use Status::*;
    let to = match derived {
        Created => return None,
        Pending => match from {
            Success | Failed | Canceling | Canceled | Running => Running,
            WaitingForCallback => WaitingForCallback,
            _ => Pending,
        },
        other => other,
    };
    (to != from).then_some(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_job_cancels_gracefully_only_with_a_capable_runner() {
        let def = JobDefinition::new("a", 0);
        assert_eq!(job_target(JobEvent::Cancel, Status::Running, &def, true), Some(Status::Canceling));
        assert_eq!(job_target(JobEvent::Cancel, Status::Running, &def, false), Some(Status::Canceled));
        assert_eq!(job_target(JobEvent::Cancel, Status::Canceling, &def, true), None);
        assert_eq!(job_target(JobEvent::Succeed, Status::Canceling, &def, true), Some(Status::Canceled));
    }

    #[test]
    fn finished_pipeline_with_new_pending_work_runs_again() {
        assert_eq!(pipeline_target(Status::Success, Status::Pending), Some(Status::Running));
        assert_eq!(pipeline_target(Status::Created, Status::Pending), Some(Status::Pending));
        assert_eq!(pipeline_target(Status::Failed, Status::Created), None);
    }
}
