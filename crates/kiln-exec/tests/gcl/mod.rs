//! Support for the gitlab-ci-local conformance run.

pub(crate) mod parse;
