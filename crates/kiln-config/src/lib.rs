//! The `.gitlab-ci.yml` processor.
//!
//! Pure and synchronous: files outside the main one arrive through traits, so
//! the same code serves `kiln lint`, `kiln exec` and the coordinator.

pub mod diag;
pub mod source;
pub mod yaml;
