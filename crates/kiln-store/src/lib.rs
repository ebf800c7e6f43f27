//! Persistence for the Kiln coordinator (`kiln server`).
//!
//! (The full design essay is being written; see the module docs.)

pub mod artifacts;
pub mod audit;
pub mod blob;
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
