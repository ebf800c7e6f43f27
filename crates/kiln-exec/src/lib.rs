//! `kiln exec`: a pipeline of the working tree, on this machine, with the
//! real engine.
//!
//! There is no second copy of CI semantics here (DESIGN.md, invariant 3):
//! `kiln-config` processes the working tree's `.gitlab-ci.yml`
//! ([`workdir`] provides its files), `kiln-pipeline` decides what runs
//! ([`coordinator`] drives its `sim::World`), `kiln-payload` builds every job
//! payload, and the real `kiln-runner` runs the jobs ([`runner`]) against an
//! in-process coordinator that speaks the runner API on loopback.
//!
//! What is local: the working tree is snapshotted into `.kiln/repo.git`
//! ([`snapshot`]) so jobs fetch it like a pushed commit, uncommitted changes
//! included; each job gets its own directory under `.kiln/builds` (or the
//! tree itself with `--in-place`); caches stay in `.kiln/cache`, artifacts in
//! `.kiln/artifacts`, full logs in `.kiln/logs`. Nothing else is written.
//! Output is every job's log with a prefix ([`output`]) and a final table;
//! [`report`] is the `--report` JSON.

pub mod coordinator;
pub mod docker;
mod exec;
pub mod list;
pub mod local;
pub mod output;
pub mod render;
pub mod report;
pub mod runner;
pub mod select;
pub mod snapshot;
pub mod vars_file;
pub mod workdir;

pub use docker::DockerSupport;
pub use exec::{ExecError, ExecOptions, Executor, Interrupts, ListFormat, Mode, Outcome, run};
