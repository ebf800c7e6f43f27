//! The coordinator: `kiln server`.
//!
//! It hosts projects (git repositories served over smart HTTP), turns events
//! (pushes, API calls, triggers, schedules, parent pipelines) into pipelines
//! through `kiln-config`, processes them with `kiln-pipeline` on every status
//! change, persists everything through `kiln-store` before answering, and
//! serves GitLab's REST API v4 so GitLab's clients work against it.
//!
//! - [`Server::start`] opens the store, creates the instance on first start
//!   and binds the listener; [`Server::run`] serves until the shutdown future
//!   resolves, then stops accepting, finishes requests in flight, stops the
//!   background loops and closes the database.
//! - `api/` holds the REST endpoints, `entities/` their JSON shapes,
//!   `http/` parameters, authentication and pagination, `access` the
//!   permission rules, `git_http` the smart HTTP mount, `ci/` pipeline
//!   creation and `worker/` the background loops (processing, scheduling,
//!   limits).

mod access;
mod api;
mod app;
mod audit;
mod blobs;
mod ci;
mod cli;
mod config;
mod entities;
mod error;
mod git_http;
mod handle;
mod http;
mod instance;
mod repos;
mod runner_api;
mod server;
mod worker;

pub use cli::ServerArgs;
pub use config::{Config, ConfigFile, Limits, LimitsFile};
pub use error::ServerError;
pub use handle::ServerHandle;
pub use instance::InitialCredentials;
pub use server::{Server, shutdown_signal};
