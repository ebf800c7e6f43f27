//! Pipeline creation: from an event (push, API, trigger, schedule, parent
//! pipeline) through `kiln-config` to pipeline rows in the store.

pub(crate) mod cache_keys;
pub(crate) mod create;
pub(crate) mod cron;
pub(crate) mod definition;
pub(crate) mod downstream;
pub(crate) mod persistent_ref;
pub(crate) mod push;
pub(crate) mod quota;
pub(crate) mod sources;
pub(crate) mod variables;
