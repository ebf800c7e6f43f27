//! Wire types of the GitLab runner API, shared by `kiln server` and `kiln runner`.
//!
//! This crate is the only home of protocol serde: every JSON body, header name, failure
//! reason string and feature flag name that crosses the wire between a coordinator and a
//! runner is declared here, so both halves agree by construction. Field names follow
//! GitLab Rails' entities and gitlab-runner's `common/network.go` / `common/spec` exactly;
//! `docs/gitlab-runner-protocol.md` (in `shared/docs`) is the prose reference.
//!
//! Deserialisation is lenient the way gitlab-runner is: missing fields take their
//! defaults and enum values this version does not know are kept as `Unknown(..)` rather
//! than rejected, so a newer GitLab never breaks an older runner.

mod wire_enum;

pub mod artifacts;
pub mod feature_flags;
pub mod headers;
pub mod job;
pub mod request;
pub mod runners;
pub mod trace;
pub mod update;

pub use job::{
    ArtifactsFile, CacheSpec, Credentials, Dependency, GitInfo, Hook, Image, JobArtifact, JobFeatures,
    JobInfo, JobResponse, JobVariable, Port, RunnerInfo, Service, Step,
};
pub use request::{FeaturesInfo, JobRequest, SessionInfo, VersionInfo};
pub use update::{FailureReason, JobState, JobTraceOutput, UpdateJobRequest};
