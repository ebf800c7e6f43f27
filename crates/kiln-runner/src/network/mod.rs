//! Talking to the coordinator: the runner API client with GitLab Runner's retry rules,
//! and the job log sender.

mod client;
mod trace;

pub use client::{Answer, Client, JobRequestResult, NetworkError, PatchAnswer, UpdateAnswer, api_url};
pub use trace::{TraceSender, TraceSettings};
