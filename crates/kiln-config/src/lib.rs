//! The `.gitlab-ci.yml` processor.
//!
//! Pure and synchronous: files outside the main one arrive through traits
//! ([`sources`]), so the same code serves `kiln lint`, `kiln exec` and the
//! coordinator.
//!
//! Processing runs in phases, each in its own module:
//!
//! 1. [`yaml`]: text → [`yaml::Node`] trees with positions (Psych's YAML 1.1).
//! 2. `compose`: `include:` (with `spec:inputs`), `!reference`, `extends`,
//!    `default:` and `inherit:default` → one merged tree (what
//!    `kiln lint --expand` prints).
//! 3. `model`: the merged tree → typed keywords with validation, every
//!    shorthand form, GitLab's error wording.
//! 4. `plan`: typed config + [`context::PipelineContext`] → `workflow:rules`,
//!    job `rules` / `only` / `except`, `parallel` expansion, `needs` checks →
//!    a pipeline plan.
//!
//! Every phase records problems in a [`diag::Diagnostics`] list and carries
//! on, so one run reports all of them.

pub mod compose;
pub mod context;
pub mod diag;
pub mod fnmatch;
pub mod model;
pub mod normalize;
pub mod plan;
mod process;
pub mod source;
pub mod sources;
pub mod yaml;

pub use process::{ProcessOptions, Processed, invalid_utf8, process};
