//! Where variable values come from: the [`Lookup`] trait and its impls for common containers.
//!
//! GitLab keeps variables in an ordered collection that may hold one name several times (a job variable
//! overriding a project variable); `collection[name]` answers with the *last* one. The slice impls here
//! follow that rule, so a caller can pass the collection as it is instead of building a map first.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

use crate::Variable;

/// A read-only view of variables by name, as the expander and the expression evaluator see them.
///
/// `get` returns `None` for a variable that is not defined; a variable defined as the empty string
/// returns `Some("")`. The difference matters: `$VAR == null` is true only for an undefined variable.
pub trait Lookup {
    /// The value of the variable `name`, or `None` when it is not defined.
    fn get(&self, name: &str) -> Option<&str>;
}

impl<L: Lookup + ?Sized> Lookup for &L {
    fn get(&self, name: &str) -> Option<&str> {
        (**self).get(name)
    }
}

impl<K, V, S> Lookup for HashMap<K, V, S>
where
    K: Borrow<str> + Hash + Eq,
    V: AsRef<str>,
    S: BuildHasher,
{
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(AsRef::as_ref)
    }
}

impl<K, V> Lookup for BTreeMap<K, V>
where
    K: Borrow<str> + Ord,
    V: AsRef<str>,
{
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(AsRef::as_ref)
    }
}

/// Pairs in order; when a name repeats, the last pair wins (GitLab's `Collection#[]`).
impl<K: AsRef<str>, V: AsRef<str>> Lookup for [(K, V)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter().rev().find(|(k, _)| k.as_ref() == name).map(|(_, v)| v.as_ref())
    }
}

/// Pairs in order; when a name repeats, the last pair wins (GitLab's `Collection#[]`).
impl<K: AsRef<str>, V: AsRef<str>> Lookup for Vec<(K, V)> {
    fn get(&self, name: &str) -> Option<&str> {
        Lookup::get(self.as_slice(), name)
    }
}

/// Variables in order; when a name repeats, the last one wins (GitLab's `Collection#[]`).
impl Lookup for [Variable] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter().rev().find(|v| v.name == name).map(|v| v.value.as_str())
    }
}

/// Variables in order; when a name repeats, the last one wins (GitLab's `Collection#[]`).
impl Lookup for Vec<Variable> {
    fn get(&self, name: &str) -> Option<&str> {
        Lookup::get(self.as_slice(), name)
    }
}

/// The typed value of a `spec:inputs` input, for `$[[ inputs.NAME ]]` in an expression.
///
/// GitLab compares inputs with Ruby's `==`, so the type matters: the boolean input `true` is not equal to
/// the string `'true'`, and the number `1` equals `1.0`. Array inputs are not modelled.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum InputValue<'a> {
    /// A `type: string` input.
    String(&'a str),
    /// A `type: boolean` input.
    Boolean(bool),
    /// A `type: number` input holding an integer.
    Integer(i64),
    /// A `type: number` input holding a fraction.
    Float(f64),
}

/// The inputs an expression can read through `$[[ inputs.NAME ]]` (GitLab's `variables[:inputs]`).
///
/// Only expressions under `spec:inputs` see inputs; everywhere else [`NoInputs`] applies and every
/// input reference evaluates to `null`.
pub trait Inputs {
    /// The value of the input `name`, or `None` when it is not given.
    fn input(&self, name: &str) -> Option<InputValue<'_>>;
}

/// No inputs at all: every `$[[ inputs.NAME ]]` is `null`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoInputs;

impl Inputs for NoInputs {
    fn input(&self, _name: &str) -> Option<InputValue<'_>> {
        None
    }
}

impl<I: Inputs + ?Sized> Inputs for &I {
    fn input(&self, name: &str) -> Option<InputValue<'_>> {
        (**self).input(name)
    }
}

impl<K, S> Inputs for HashMap<K, InputValue<'_>, S>
where
    K: Borrow<str> + Hash + Eq,
    S: BuildHasher,
{
    fn input(&self, name: &str) -> Option<InputValue<'_>> {
        HashMap::get(self, name).copied()
    }
}

impl<K: Borrow<str> + Ord> Inputs for BTreeMap<K, InputValue<'_>> {
    fn input(&self, name: &str) -> Option<InputValue<'_>> {
        BTreeMap::get(self, name).copied()
    }
}
