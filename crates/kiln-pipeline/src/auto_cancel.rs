//! `workflow:auto_cancel:on_new_commit` (`Ci::PipelineCreation::CancelRedundantPipelinesService`):
//! which older pipelines of the same ref a new pipeline makes redundant.
//! (`on_job_failure` is handled where jobs fail, in the engine.)

use serde::{Deserialize, Serialize};

use crate::definition::OnNewCommit;
use crate::state::{PipelineId, Timestamp};
use crate::status::Status;

/// Where a pipeline came from, as far as auto-cancel cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PipelineSource {
    /// GitLab's `ci_sources`: push, web, schedule, API, trigger, merge request, ...
    Ci,
    /// A child pipeline; its age is its root parent's.
    ParentPipeline,
    /// Anything else (security policies, on-demand scans): never auto-canceled.
    Other,
}

/// The pipeline just created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewPipeline<'a> {
    pub id: PipelineId,
    pub ref_name: &'a str,
    pub sha: &'a str,
    pub created_at: Timestamp,
    pub is_child: bool,
}

/// An existing pipeline of the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Existing<'a> {
    pub id: PipelineId,
    pub ref_name: &'a str,
    pub sha: &'a str,
    pub source: PipelineSource,
    pub created_at: Timestamp,
    /// The root parent's creation time (its own for a pipeline that is not a child).
    pub root_created_at: Timestamp,
    pub status: Status,
    pub on_new_commit: OnNewCommit,
    /// [`crate::PipelineState::started_non_interruptible_build`].
    pub started_non_interruptible_build: bool,
}

/// A pipeline to cancel, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoCancel {
    pub pipeline: PipelineId,
    /// Cancel only interruptible jobs (`on_new_commit: interruptible`); children are
    /// listed among the existing pipelines and canceled on their own, never cascaded.
    pub interruptible_only: bool,
}

/// Pipelines older than this are left alone (7 days).
pub const MAX_AGE: u64 = 7 * 86_400;

/// The pipelines `new` makes redundant, oldest first. `enabled` is the project's
/// "auto-cancel redundant pipelines" setting; `ref_head_sha` is the ref's current
/// commit (a pipeline for it is never canceled).
pub fn redundant_pipelines(
    new: &NewPipeline<'_>,
    enabled: bool,
    ref_head_sha: Option<&str>,
    existing: &[Existing<'_>],
    now: Timestamp,
) -> Vec<AutoCancel> {
    if !enabled || new.is_child {
        return Vec::new();
    }
    let mut candidates: Vec<&Existing<'_>> = existing
        .iter()
        .filter(|p| p.ref_name == new.ref_name && p.id != new.id && p.status.is_cancelable())
        .collect();
    candidates.sort_by_key(|p| p.id);
    let mut out = Vec::new();
    for p in candidates {
        let age_reference = match p.source {
            PipelineSource::Ci => p.created_at,
            PipelineSource::ParentPipeline => p.root_created_at,
            PipelineSource::Other => continue,
        };
        if age_reference >= new.created_at
            || p.sha == new.sha
            || Some(p.sha) == ref_head_sha
            || p.created_at.plus(MAX_AGE) < now
        {
            continue;
        }
        match p.on_new_commit {
            OnNewCommit::None => {}
            OnNewCommit::Conservative => {
                if !p.started_non_interruptible_build {
                    out.push(AutoCancel { pipeline: p.id, interruptible_only: false });
                }
            }
            OnNewCommit::Interruptible => out.push(AutoCancel { pipeline: p.id, interruptible_only: true }),
        }
    }
    out
}
