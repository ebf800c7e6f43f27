//! Pipeline schedules: cron, time zone, variables, active flag, owner, and the
//! compare-and-set that lets the scheduler loop run each due schedule once, even
//! with several replicas and across restarts.
//!
//! The server computes `next_run_at` from the cron line (the store does not parse
//! cron). A run goes: [`Store::due_schedules`] → [`Store::advance_schedule`] with the
//! `next_run_at` it saw and the following one: only one caller wins that update, and
//! only the winner creates the pipeline. A crash between the two loses that one run
//! rather than running it twice (GitLab's scheduler behaves the same way).

use serde::Serialize;

use crate::Store;
use crate::codec::{Millis, Page, Paged};
use crate::db::{read_tx, write_tx};
use crate::error::{Error, Result};
use crate::ids::{ProjectId, ScheduleId, UserId};
use crate::pipelines::PipelineVariable;
use kiln_pipeline::PipelineId;

/// A pipeline schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    pub id: ScheduleId,
    pub project_id: ProjectId,
    pub description: String,
    pub ref_name: String,
    pub cron: String,
    pub cron_timezone: String,
    pub active: bool,
    pub owner_id: Option<UserId>,
    pub next_run_at: Option<Millis>,
    pub last_pipeline_id: Option<PipelineId>,
    pub variables: Vec<PipelineVariable>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// What creating a schedule takes.
#[derive(Debug, Clone)]
pub struct NewSchedule {
    pub project: ProjectId,
    pub description: String,
    pub ref_name: String,
    pub cron: String,
    pub cron_timezone: String,
    pub active: bool,
    pub owner: Option<UserId>,
    /// The first run, computed by the caller from `cron` and `cron_timezone`.
    pub next_run_at: Option<Millis>,
}

/// A change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ScheduleUpdate {
    pub description: Option<String>,
    pub ref_name: Option<String>,
    pub cron: Option<String>,
    pub cron_timezone: Option<String>,
    pub active: Option<bool>,
    /// Recomputed by the caller when `cron` or the time zone change.
    pub next_run_at: Option<Option<Millis>>,
}

impl Store {
    /// Creates a schedule.
    pub async fn create_schedule(&self, new: &NewSchedule) -> Result<Schedule> {
        if new.cron.trim().is_empty() || new.ref_name.is_empty() {
            return Err(Error::Invalid("schedule: cron and ref are required".into()));
        }
        let now = Millis::now();
        write_tx!(self, |c, q| q::schedules::create(c, new, now).await?)
    }

    /// One schedule.
    pub async fn schedule(&self, id: ScheduleId) -> Result<Schedule> {
        read_tx!(self, |c, q| q::schedules::by_id(c, id).await?)
    }

    /// A project's schedules; `active` filters GitLab's `scope=active|inactive`.
    pub async fn list_schedules(
        &self,
        project: ProjectId,
        active: Option<bool>,
        page: Page,
    ) -> Result<Paged<Schedule>> {
        read_tx!(self, |c, q| q::schedules::list(c, project, active, page).await?)
    }

    /// Changes a schedule.
    pub async fn update_schedule(&self, id: ScheduleId, update: &ScheduleUpdate) -> Result<Schedule> {
        let now = Millis::now();
        write_tx!(self, |c, q| q::schedules::update(c, id, update, now).await?)
    }

    /// Makes `user` the owner (GitLab's `take_ownership`).
    pub async fn take_schedule_ownership(&self, id: ScheduleId, user: UserId) -> Result<Schedule> {
        let now = Millis::now();
        write_tx!(self, |c, q| q::schedules::set_owner(c, id, user, now).await?)
    }

    /// Deletes a schedule and its variables.
    pub async fn delete_schedule(&self, id: ScheduleId) -> Result<()> {
        write_tx!(self, |c, q| q::schedules::delete(c, id).await?)
    }

    /// Adds or replaces one of the schedule's variables.
    pub async fn set_schedule_variable(&self, id: ScheduleId, variable: &PipelineVariable) -> Result<()> {
        if !crate::variables::valid_key(&variable.key) {
            return Err(Error::Invalid(format!("variable key `{}`", variable.key)));
        }
        write_tx!(self, |c, q| q::schedules::set_variable(c, id, variable).await?)
    }

    /// Removes one of the schedule's variables.
    pub async fn delete_schedule_variable(&self, id: ScheduleId, key: &str) -> Result<()> {
        write_tx!(self, |c, q| q::schedules::delete_variable(c, id, key).await?)
    }

    /// Active schedules whose `next_run_at` has passed, oldest first.
    pub async fn due_schedules(&self, now: Millis, limit: i64) -> Result<Vec<Schedule>> {
        read_tx!(self, |c, q| q::schedules::due(c, now, limit).await?)
    }

    /// Moves `next_run_at` from `seen` to `next` if it is still `seen`: `true` means
    /// this caller runs the schedule now, `false` that someone else did.
    pub async fn advance_schedule(&self, id: ScheduleId, seen: Millis, next: Option<Millis>) -> Result<bool> {
        let now = Millis::now();
        write_tx!(self, |c, q| q::schedules::advance(c, id, seen, next, now).await?)
    }

    /// Records the pipeline a run created.
    pub async fn set_schedule_last_pipeline(&self, id: ScheduleId, pipeline: PipelineId) -> Result<()> {
        write_tx!(self, |c, q| q::schedules::set_last_pipeline(c, id, pipeline).await?)
    }
}
