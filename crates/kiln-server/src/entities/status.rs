//! `detailed_status` (`Gitlab::Ci::Status::*`): icon, text, label and group
//! of a pipeline or job status.

use kiln_pipeline::Status;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub(crate) struct DetailedStatus {
    pub(crate) icon: String,
    pub(crate) text: &'static str,
    pub(crate) label: &'static str,
    pub(crate) group: &'static str,
    pub(crate) tooltip: &'static str,
    pub(crate) has_details: bool,
    pub(crate) details_path: String,
    pub(crate) illustration: Option<()>,
    pub(crate) favicon: String,
}

/// The status as GitLab presents it; `pipeline` changes `manual` to "blocked".
pub(crate) fn detailed(
    status: Status,
    warnings: bool,
    pipeline: bool,
    details_path: String,
) -> DetailedStatus {
    let (icon, text, label, group) = match status {
        Status::Created => ("created", "Created", "created", "created"),
        Status::WaitingForResource => ("pending", "Waiting", "waiting for resource", "waiting-for-resource"),
        Status::Preparing => ("preparing", "Preparing", "preparing", "preparing"),
        Status::WaitingForCallback => ("pending", "Waiting", "waiting for callback", "waiting-for-callback"),
        Status::Pending => ("pending", "Pending", "pending", "pending"),
        Status::Running => ("running", "Running", "running", "running"),
        Status::Success if warnings => {
            ("warning", "Warning", "passed with warnings", "success-with-warnings")
        }
        Status::Success => ("success", "Passed", "passed", "success"),
        Status::Failed if warnings => {
            ("warning", "Warning", "failed (allowed to fail)", "failed-with-warnings")
        }
        Status::Failed => ("failed", "Failed", "failed", "failed"),
        Status::Canceling => ("canceled", "Canceling", "canceling", "canceling"),
        Status::Canceled => ("canceled", "Canceled", "canceled", "canceled"),
        Status::Skipped => ("skipped", "Skipped", "skipped", "skipped"),
        Status::Manual if pipeline => ("manual", "Blocked", "waiting for manual action", "manual"),
        Status::Manual => ("manual", "Manual", "manual action", "manual"),
        Status::Scheduled => ("scheduled", "Scheduled", "waiting for delayed job", "scheduled"),
    };
    DetailedStatus {
        icon: format!("status_{icon}"),
        text,
        label,
        group,
        tooltip: label,
        has_details: true,
        details_path,
        illustration: None,
        favicon: format!("/assets/ci_favicons/favicon_status_{icon}.png"),
    }
}
