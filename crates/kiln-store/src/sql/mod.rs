//! Query code, compiled once per backend.
//!
//! Each file under `sql/` is written against the aliases `Conn` and `PG` of its
//! parent module and included twice through `#[path]`: as `sql::sqlite::<file>` and
//! as `sql::pg::<file>`. The text is the same; sqlx's types (`Conn`, `DbRow`) are concrete in each copy,
//! so there is no generic bound soup, and where the dialects differ the code says
//! `if PG { .. } else { .. }`. Placeholders are `$1, $2, ...`, which SQLite reads as
//! numbered parameters too.

macro_rules! backend_modules {
    () => {
        #[path = "artifacts.rs"]
        pub(crate) mod artifacts;
        #[path = "audit.rs"]
        pub(crate) mod audit;
        #[path = "claim.rs"]
        pub(crate) mod claim;
        #[path = "effects.rs"]
        pub(crate) mod effects;
        #[path = "jobs.rs"]
        pub(crate) mod jobs;
        #[path = "namespaces.rs"]
        pub(crate) mod namespaces;
        #[path = "pipelines.rs"]
        pub(crate) mod pipelines;
        #[path = "projects.rs"]
        pub(crate) mod projects;
        #[path = "queue.rs"]
        pub(crate) mod queue;
        #[path = "reports.rs"]
        pub(crate) mod reports;
        #[path = "runners.rs"]
        pub(crate) mod runners;
        #[path = "schedules.rs"]
        pub(crate) mod schedules;
        #[path = "settings.rs"]
        pub(crate) mod settings;
        #[path = "traces.rs"]
        pub(crate) mod traces;
        #[path = "triggers.rs"]
        pub(crate) mod triggers;
        #[path = "users.rs"]
        pub(crate) mod users;
        #[path = "variables.rs"]
        pub(crate) mod variables;
    };
}
use backend_modules;

pub(crate) mod pg;
pub(crate) mod sqlite;

/// A query text built with `format!` from constant column lists (never from input:
/// values are always bound).
macro_rules! sqlf {
    ($($t:tt)*) => { sqlx::AssertSqlSafe(format!($($t)*)) };
}
pub(crate) use sqlf;
