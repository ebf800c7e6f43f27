//! Persisting `kiln_pipeline` effects: every effect of one call in one transaction,
//! each a compare-and-set in SQL (`UPDATE ... WHERE status = <from>`), so a replica
//! that computed its effects from an outdated state loses cleanly with
//! [`Error::Conflict`] and nothing is written. [`Store::handle_event`] wraps the
//! load–decide–apply loop and asks again after a lost race.
//!
//! Side effects: a job that becomes `pending` enters the job queue in the same
//! transaction (and wakes waiting runners after the commit); a job that leaves
//! `pending` leaves the queue; effects that act outside the pipeline
//! (`TriggerDownstream`, `CancelChildPipelines`, `RequestResource`) are written to
//! an outbox in the same transaction, so a crash right after the commit cannot lose
//! them.

use kiln_pipeline::{Effect, Event, Outcome, PipelineId, PipelineState};

use crate::Store;
use crate::codec::Millis;
use crate::db::{read_tx, write_tx};
use crate::error::{Error, Result};
use crate::ids::{BuildId, OutboxId, UserId};

/// Context for applying effects.
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    /// Time for changes whose effect carries none (pipeline status).
    pub now: Millis,
    /// The person behind the event: jobs created by a retry or play run as them.
    /// `None` keeps the replaced job's user.
    pub actor: Option<UserId>,
}

impl ApplyOptions {
    /// Now, with no actor.
    pub fn now() -> ApplyOptions {
        ApplyOptions { now: Millis::now(), actor: None }
    }
}

/// What applying effects did beyond the pipeline's own rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Build jobs that entered the queue.
    pub enqueued: Vec<BuildId>,
    /// Follow-ups written to the outbox.
    pub outbox: Vec<OutboxId>,
}

/// A follow-up the coordinator must carry out, then acknowledge with
/// [`Store::outbox_done`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: OutboxId,
    pub pipeline: PipelineId,
    pub effect: Effect,
    pub created_at: Millis,
}

/// The result of [`Store::handle_event`].
#[derive(Debug, Clone)]
pub struct Handled {
    /// The state after the effects, and the effects, as `kiln_pipeline` returned them.
    pub outcome: Outcome,
    pub applied: Applied,
    /// How many times the state was reloaded after a lost race.
    pub retries: u32,
}

/// A persistent loser gives up after this many reloads (each reload sees the
/// winner's commit, so this is only reached under pathological contention).
const MAX_RETRIES: u32 = 32;

impl Store {
    /// Applies effects computed from the pipeline's state, all or nothing.
    /// [`Error::Conflict`] means another writer changed the pipeline first: reload the
    /// state and ask again.
    pub async fn apply_effects(
        &self,
        pipeline: PipelineId,
        effects: &[Effect],
        options: ApplyOptions,
    ) -> Result<Applied> {
        if effects.is_empty() {
            return Ok(Applied::default());
        }
        let applied = write_tx!(self, |c, q| q::effects::apply(c, pipeline, effects, options).await?)?;
        if !applied.enqueued.is_empty() {
            let committed = std::time::SystemTime::now();
            self.notifier().jobs_pending(&applied.enqueued);
            // Wall-clock microseconds, so a benchmark in another process can time
            // "job became pending -> 201 at the runner" from the commit itself.
            tracing::debug!(
                target: "kiln_store::pending",
                jobs = %applied.enqueued.iter().map(|id| id.0.to_string()).collect::<Vec<_>>().join(","),
                at_us = committed.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros()),
                "jobs pending"
            );
        }
        Ok(applied)
    }

    /// Loads the pipeline, lets `kiln_pipeline` handle the event at `options.now`,
    /// applies the effects, and on a lost race does it again from the new state.
    /// A refused event is [`Error::Rejected`].
    pub async fn handle_event(
        &self,
        pipeline: PipelineId,
        event: &Event,
        options: ApplyOptions,
    ) -> Result<Handled> {
        let mut retries = 0;
        loop {
            let state: PipelineState = self.pipeline_state(pipeline).await?;
            let outcome =
                kiln_pipeline::handle(&state, event, options.now.to_timestamp()).map_err(Error::Rejected)?;
            match self.apply_effects(pipeline, &outcome.effects, options).await {
                Ok(applied) => return Ok(Handled { outcome, applied, retries }),
                Err(Error::Conflict(_)) if retries < MAX_RETRIES => retries += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Outbox items, oldest first.
    pub async fn take_outbox(&self, limit: i64) -> Result<Vec<OutboxItem>> {
        read_tx!(self, |c, q| q::effects::outbox(c, limit).await?)
    }

    /// Acknowledges an outbox item (deletes it). Acknowledging twice is harmless.
    pub async fn outbox_done(&self, id: OutboxId) -> Result<()> {
        write_tx!(self, |c, q| q::effects::outbox_done(c, id).await?)
    }
}
