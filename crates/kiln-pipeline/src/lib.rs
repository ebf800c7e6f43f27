//! Pipeline processing: GitLab's job and pipeline state machine, pure and clock-free.
//!
//! The coordinator persists a [`PipelineState`] (job definitions, one record per job,
//! the pipeline status). On every change — a runner's report, a person's action, a
//! timer tick, a downstream pipeline — it calls [`handle`] with the event and `now`,
//! and gets back the new state and the [`Effect`]s to persist. Each effect is a
//! compare-and-set against the state it was computed from (see [`effect`]), so two
//! coordinator replicas handling the same pipeline at once cannot both win, and the
//! loser simply asks again. Processing is a function of the persisted state:
//! processing a processed state yields nothing.
//!
//! What GitLab spreads over models, services and workers lives here in one place:
//! statuses and their groupings ([`status`]), composite status ([`composite`]), the
//! legal transitions ([`machine`]), stage and `needs` processing (`process`),
//! retries ([`retry`]), resource groups ([`resource_group`]), auto-cancel
//! ([`auto_cancel`]), server-side limits ([`limits`]) and trigger jobs (`bridge`).
//! [`apply`] replays effects on a state value, and [`sim`] drives several pipelines
//! in memory, for tests and `kiln exec`.

mod actions;
pub mod apply;
pub mod auto_cancel;
mod bridge;
pub mod composite;
pub mod definition;
pub mod dependencies;
pub mod effect;
mod engine;
pub mod event;
pub mod failure_reason;
pub mod from_plan;
pub mod limits;
pub mod machine;
mod process;
pub mod resource_group;
pub mod retry;
pub mod sim;
pub mod state;
pub mod status;

pub use apply::{ApplyError, apply, apply_all};
pub use composite::Composite;
pub use definition::{
    BridgeTarget, JobDefinition, JobKind, Need, OnJobFailure, OnNewCommit, PipelineSettings, Retry, When,
};
pub use effect::{Effect, JobTransition, NewJob};
pub use engine::{Outcome, handle, process};
pub use event::{CancelRequest, Event, Rejected, TickFacts};
pub use failure_reason::{FailureReason, RetryOn};
pub use limits::Limits;
pub use state::{DefinitionId, Job, JobId, JobVariable, PipelineId, PipelineState, StateError, Timestamp};
pub use status::Status;
