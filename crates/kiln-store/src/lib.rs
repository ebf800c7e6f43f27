//! Persistence for the Kiln coordinator (`kiln server`): the database (SQLite, the
//! embedded default, or PostgreSQL for several replicas) and the blob store (a local
//! directory or an S3-compatible bucket).
//!
//! It knows nothing about HTTP, YAML or git. It stores what the server decides,
//! persists `kiln_pipeline` states and applies their effects with compare-and-set,
//! hands pending jobs to runners exactly once, and keeps logs and artifacts.
//!
//! # Using it
//!
//! [`Store::open`] takes `sqlite://<path>` (the file is created) or
//! `postgres://user@host:port/db`, runs the embedded migrations (one folder per
//! backend, `migrations/sqlite` and `migrations/postgres`, applied once each; opening
//! again is a no-op, several replicas may start at once) and returns a cheap-to-clone
//! handle. Every method is one transaction that has committed when it returns.
//! Errors are [`Error`]: `NotFound`, `Conflict` (a lost compare-and-set or a unique
//! constraint: reload and decide again), `Invalid` (bad input), `Rejected` (the
//! state machine refused an event), `TooLarge` (a body over its limit), `Db`, `Blob`.
//! [`BlobStore::open`] takes a directory, `file://<dir>` or `s3://bucket/prefix?...`.
//!
//! One module per domain holds the public types and methods: [`users`] (and
//! personal access tokens), [`namespaces`] (groups, memberships), [`projects`]
//! (settings, protected refs), [`variables`], [`pipelines`], [`jobs`], [`effects`],
//! [`queue`], [`runners`], [`schedules`], [`triggers`], [`audit`], [`traces`],
//! [`artifacts`], [`settings`]; [`blob`] and [`notify`] are the plumbing, `testing`
//! (feature `testing`) the helpers other crates' tests use. The SQL lives in
//! `src/sql/`: each file there is compiled twice, once against sqlx's SQLite types and
//! once against PostgreSQL's, so a query is written once and dialect differences are
//! an explicit `if PG`.
//!
//! # Schema
//!
//! Times are `BIGINT` milliseconds since the epoch (UTC); statuses, sources, types
//! and the like are text holding GitLab's names, mapped to closed enums on read (an
//! unknown name is an error, not a guess); secrets are SHA-256 hex digests; JSON
//! columns are `TEXT` on both backends.
//!
//! - `users`, `personal_access_tokens` (unique `token_digest`: authentication is
//!   one index lookup), `namespaces` (users' personal ones and groups; `traversal`
//!   is `/1/5/9/`, the ancestors' ids, so "in this group or below" is a prefix test),
//!   `group_members`, `projects` (unique `full_path`; `pipeline_iid` is the per-project
//!   counter, incremented under the row lock), `project_members`, `protected_refs`
//!   (wildcards matched in Rust), `variables` (unique per owner, key and environment
//!   scope), `settings` (one typed JSON record).
//! - `pipelines` (indexes `(project_id, ref, id)` and `(project_id, status, id)` serve
//!   the API's newest-first lists and filters; `parent_pipeline_id` finds children),
//!   `job_definitions` (per pipeline: the state machine's `JobDefinition` and the
//!   server's opaque job specification, as JSON), `jobs` (one row per job record,
//!   unique `(pipeline_id, number)` so two replicas creating the same retry
//!   conflict; `(project_id, id)` for project job lists, `(runner_id, id)` for a
//!   runner's jobs, `(status, updated_at)` for the server-side limits' scans, a
//!   partial index on `scheduled_at` for delayed jobs; unique `token_digest` for job
//!   tokens), `pipeline_processing` (pipelines to process again), `pipeline_outbox`
//!   (follow-ups), `resource_groups` (the holder, compare-and-set).
//! - `pending_jobs` — the queue (below; its primary key orders it oldest first, and
//!   `(project_id, job_id)` serves per-project probes), `running_instance_jobs` (jobs
//!   running on instance runners, GitLab's `ci_running_builds`, counted per project
//!   for fair scheduling), `runners` (unique `token_digest`),
//!   `runner_projects`, `runner_managers` (unique `(runner_id, system_id)`).
//! - `pipeline_schedules` (partial index on `next_run_at` of active schedules, which
//!   is what the scheduler loop asks for), `schedule_variables`, `triggers`,
//!   `audit_events` (`(entity_type, entity_id, id)` for per-entity lists).
//! - `traces`, `trace_chunks`, `artifacts` (unique `(job_id, file_type)`; partial
//!   index on `expire_at` for the cleanup loop).
//!
//! # Pipeline state and effects
//!
//! [`Store::pipeline_state`] rebuilds a `kiln_pipeline::PipelineState` from the
//! definitions, the job rows and the pipeline row. [`Store::apply_effects`] writes the
//! effects of one `kiln_pipeline::handle` call in one transaction, each as a
//! compare-and-set (`UPDATE jobs ... WHERE pipeline_id = ? AND number = ? AND status =
//! <from>`, `UPDATE pipelines ... WHERE status = <from>`, a retry marks its
//! predecessor `WHERE retried = FALSE` and takes the next number under the unique
//! constraint); if any expectation fails the transaction rolls back and the call
//! returns `Conflict`. [`Store::handle_event`] is the whole loop: load, decide, apply,
//! and on `Conflict` load again and decide again, which converges because every
//! decision is a function of the persisted state. A job that becomes `pending` enters
//! the queue in the same transaction; effects that act outside the pipeline
//! (`TriggerDownstream`, `CancelChildPipelines`, `RequestResource`, and the request
//! after `ReleaseResource`) go to `pipeline_outbox` in the same transaction, so a crash
//! after the commit cannot lose them ([`Store::take_outbox`], [`Store::outbox_done`]).
//! Pipeline creation and every claim record a processing request
//! ([`Store::pipelines_to_process`], [`Store::processing_done`] clears it only if no
//! newer request came in), so a coordinator that dies mid-way leaves a to-do list,
//! not a stuck pipeline.
//!
//! # The job queue and the claim
//!
//! `pending_jobs` has one row per pending build with everything matching needs:
//! project, the namespace traversal path (group runners), whether the ref is
//! protected, the job's tags (sorted JSON) and their count, whether instance runners
//! may serve the project, and the queueing time. A claim
//! ([`Store::claim_job`]) selects the first row that matches the runner — scope
//! (instance: `instance_runners_enabled`; group: traversal prefix; project: the
//! runner's projects), `protected` for `ref_protected` runners, tags (untagged jobs
//! only for `run_untagged` runners, a job's tags a subset of the runner's: `json_each`
//! on SQLite, `jsonb <@` on PostgreSQL) — the oldest first, except that instance
//! runners serve the project with the fewest jobs running on instance runners first
//! (GitLab's fair scheduling). Sorting every queued job by its project's count on
//! every claim would cost milliseconds at 10,000 queued jobs, so each process keeps
//! a snapshot of the queued projects with their running counts (refreshed when jobs
//! are queued anywhere, or after 250 ms), adds its own claims to it, and probes the
//! projects in that order through the `(project_id, job_id)` index. The claim then
//! deletes the queue row and runs `UPDATE jobs SET status = 'running', runner_id = ...
//! WHERE id = ? AND status = 'pending' AND runner_id IS NULL`, inserts the job into
//! `running_instance_jobs` (instance runners), stores the new job token's digest,
//! and appends a processing request, all in one transaction; no claim updates a row
//! another claim also updates. Exactly-once holds because:
//!
//! - on SQLite, one writer at a time executes the whole claim (`BEGIN IMMEDIATE`), so
//!   no two claims see the same queue row; two processes on one file serialise on
//!   SQLite's lock.
//! - on PostgreSQL, each claim is one statement whose sub-select takes the row `FOR
//!   UPDATE SKIP LOCKED`: concurrent claims on any replica skip each other's rows
//!   instead of waiting, and the conditional update stays the guard.
//!
//! Commits cost an fsync (milliseconds on ordinary disks), so a batcher runs the
//! concurrent claims of a process in one transaction, one after the other, each
//! seeing the previous ones, and commits once: one fsync for up to 256 claims. No
//! claim is answered before that commit.
//!
//! Wake-ups: after a commit that queued jobs, the store bumps a `watch` version and
//! broadcasts the job ids ([`Store::queue_events`]); on PostgreSQL a sender task
//! batches the ids into `pg_notify('kiln_jobs', '<replica>:<id>,...')` outside any job
//! transaction, and a listener turns other replicas' notifications into the same
//! local wake-up (a lost listener connection bumps the version, so waiters look).
//!
//! # Traces
//!
//! While a job runs its log is 128 KiB chunks in `trace_chunks` plus its length and
//! running CRC-32 in `traces`. An append must start at the current length
//! ([`traces::Append::WrongOffset`] otherwise, the server's 416) and rewrites only the
//! chunks it touches, with the new length and checksum, in one transaction; a reader
//! at any offset sees whole appends. When the job is done
//! [`Store::archive_trace`] streams the chunks into one blob and then, in one
//! transaction, marks the trace archived and drops the chunks; reads follow. The
//! final CRC-32 and size are what the runner's last update is checked against.
//!
//! # Crash safety
//!
//! State is acknowledged only after it is committed: every public write is one
//! transaction, committed before the method returns. SQLite runs in WAL mode with
//! `synchronous=NORMAL` (an acknowledged write survives a killed process; a power
//! cut keeps the database consistent but can lose the commits since the last WAL
//! checkpoint), `foreign_keys=ON` and a busy timeout; PostgreSQL commits are
//! durable by default. Multi-row changes (pipeline
//! creation, effects, claims, trace appends, artifact records) are all-or-nothing,
//! so a crash leaves either the old state or the new one. Blobs are written before
//! the rows that point at them (temporary file, fsync, rename, directory fsync on
//! disk; completed uploads on S3), so a crash can leave an unreferenced blob, never a
//! row without its blob. What must happen after a commit (notifications, outbox
//! items, processing) is either recorded in the same transaction or recomputable
//! from the database.

pub mod artifacts;
pub mod audit;
pub mod blob;
mod checkpoint;
mod codec;
mod db;
pub mod effects;
mod error;
mod ids;
pub mod jobs;
pub mod namespaces;
pub mod notify;
pub mod pipelines;
pub mod projects;
pub mod queue;
pub mod reports;
pub mod runners;
pub mod schedules;
pub mod settings;
// Each query file is compiled once per backend on purpose (see `sql`).
#[allow(clippy::duplicate_mod)]
mod sql;
mod store;
pub mod token;
pub mod traces;
pub mod triggers;
pub mod users;
pub mod variables;

#[cfg(feature = "testing")]
pub mod testing;

pub use blob::BlobStore;
pub use codec::{Millis, Page, Paged};
pub use db::{Backend, StoreOptions};
pub use error::{Error, Result};
pub use ids::*;
pub use store::Store;
