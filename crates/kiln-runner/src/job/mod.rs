//! One job: its directories and variables, the stage lifecycle, and outside control.

mod control;
mod dirs;
mod lifecycle;
mod variables;

pub use control::{AbortReason, JobControl};
pub use dirs::{JobDirs, job_dirs};
pub use lifecycle::{CacheUrlFn, JobOutcome, JobRunner, JobSettings, go_duration};
pub use variables::{build_masker, feature_flag, runner_variables};
