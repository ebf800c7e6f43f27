//! Support for the gitlab-ci-local conformance run.

pub(crate) mod images;
pub(crate) mod parse;
pub(crate) mod preview;
