//! `kiln runner run` against `kiln server`, both as the user starts them, over real
//! HTTP on loopback: the must-shows of issue 5 (a three-stage pipeline with artifacts,
//! cache, masking, allowed failures, retries, `after_script`, cancel and timeouts on
//! SQLite and PostgreSQL; a runner killed mid-job; 50 jobs at once on one runner).

#[path = "../support/mod.rs"]
mod support;

mod concurrency;
mod lost_runner;
mod pipeline;
