//! The runner agent: it asks a coordinator for jobs and runs them on an executor.
//!
//! It speaks GitLab's runner API (types from `kiln-api`), reads GitLab Runner's
//! `config.toml`, and knows nothing about `.gitlab-ci.yml`: it sees job payloads only, so
//! it can serve a real GitLab as well as `kiln server`.
//!
//! Layout: [`config`] (the file), [`network`] (the API client and log streaming),
//! [`trace`] (the job log), [`script`] (script IR, renderers, stage builders), [`job`]
//! (lifecycle), [`executor`] (shell, custom), [`archive`] and [`cache`] (zip files,
//! local and S3 caches), [`helper`] (subcommands scripts call), [`commands`] (what the
//! CLI runs), [`metrics`].

pub mod archive;
pub mod cache;
pub mod commands;
pub mod config;
pub mod executor;
pub mod helper;
pub mod job;
pub mod metrics;
pub mod network;
pub mod script;
pub mod stage;
pub mod trace;
pub mod vars;
pub mod version;
