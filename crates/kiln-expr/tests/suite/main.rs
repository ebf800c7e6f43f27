//! The integration suite of `kiln-expr`, one binary with a module per concern.

mod conformance;
mod expand;
mod expand_all;
mod expression;
mod gitlab_spec;
mod properties;
mod regex;
mod runner;
