//! GitLab CI's two small languages: `$VAR` expansion and `rules:if` expressions, as GitLab runs them.
//!
//! Pure and synchronous: no I/O, no clock, no global state. Variables come in through [`Lookup`], a
//! read-only view the caller implements (maps, pair lists and [`Variable`] lists already do).
//!
//! # Expansion
//!
//! GitLab expands variable references in three places, with three slightly different rules, and each
//! has its own function here so that a caller picks the rule of the place it imitates:
//!
//! | function | GitLab source | `$$` | `%NAME%` | unknown |
//! |---|---|---|---|---|
//! | [`expand`] | `ExpandVariables.expand` | `$` + `$NAME` | expanded | removed |
//! | [`expand_existing`] | `ExpandVariables.expand_existing` | `$` + `$NAME` | expanded | kept |
//! | [`expand_all`] | `Collection#sort_and_expand_all` | kept for the runner | expanded | removed or kept |
//! | [`expand_runner`] | gitlab-runner `Variables.ExpandValue` | `$` | not a reference | removed |
//!
//! A name is `[a-zA-Z_][a-zA-Z0-9_]*` on the GitLab side; `${NAME}` is the braced form and `%NAME%` the
//! Windows form. Variables that refer to variables are resolved by [`expand_all`], which orders them
//! topologically, expands each against those already placed, and never loops: a reference cycle is a
//! [`CycleError`] worded as GitLab words it (`circular variable reference detected: ["A", "B"]`) that
//! hands back the variables unexpanded, as GitLab does. Raw variables (`expand: false`) are never
//! expanded, only substituted into others.
//!
//! # Expressions
//!
//! [`Expression::parse`] reads the language of `rules:if`, `only:variables`, `workflow:rules` and
//! `include:rules`: `$VAR`, `"string"` and `'string'` (no escapes), `null`, `true`/`false`,
//! `/regex/flags`, `$[[ inputs.NAME ]]`, the operators `==`, `!=`, `=~`, `!~` (tightest), `&&`, then `||`,
//! and parentheses. It mirrors GitLab's lexer and shunting-yard parser, leniency included
//! (`$A $B ==` parses as `$A == $B`), and rejects what GitLab rejects (`${VAR}`, a lone `=`, unmatched
//! parentheses, 100 tokens or more) with a [`ParseError`] that names the column.
//!
//! [`Expression::evaluate`] then follows Ruby: `&&` and `||` return an operand and only `nil` and
//! `false` are false inside them, and the final value must be `present?` (not `nil`, `false`, or a
//! blank string). A variable holding `/pattern/flags` on the right of `=~` is used as a regex; any
//! other string on the right is searched *for the left text* (`"23" =~ "1234"` is true), which is what
//! GitLab's `String#scan` fallback does.
//!
//! Regexes are GitLab's untrusted RE2 regexps, compiled with the `regex` crate after rewriting the few
//! spellings whose meaning differs (ASCII `\d\w\s\b`, literal `{`, `\Q..\E`, octal escapes). The module
//! notes in `re2.rs` list what remains different.

mod collection;
mod expand;
mod expr;
mod lookup;
mod pattern;
mod re2;
mod runner;
mod tsort;

pub use collection::{CycleError, ExpandAllOptions, Variable, expand_all, expand_all_with};
pub use expand::{expand, expand_existing};
pub use expr::{EvalError, EvalErrorKind, Expression, ParseError, ParseErrorKind};
pub use lookup::{InputValue, Inputs, Lookup, NoInputs};
pub use pattern::Pattern;
pub use runner::expand_runner;
