//! Repository chores that are checked like code: the tidy rules.
//!
//! Kept as a library so the rules run as ordinary tests (`xtask/tests/tidy.rs`)
//! and from the command line (`cargo xtask tidy`).

pub mod tidy;
