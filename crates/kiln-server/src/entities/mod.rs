//! The JSON shapes of GitLab's API entities (`lib/api/entities/**`), built
//! from store records.

pub(crate) mod commit;
pub(crate) mod job;
pub(crate) mod misc;
pub(crate) mod pipeline;
pub(crate) mod project;
pub(crate) mod runner;
pub(crate) mod status;
pub(crate) mod user;
