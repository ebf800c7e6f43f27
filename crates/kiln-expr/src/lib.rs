//! GitLab CI's small languages: `$VAR` expansion and `rules:if` expressions.
//!
//! Pure and synchronous: no I/O, no clock, no global state.
