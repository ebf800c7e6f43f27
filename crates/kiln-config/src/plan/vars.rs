//! Variable sets the planner evaluates rules against, in GitLab's order of
//! precedence: predefined, then YAML (global, then job), then variables from
//! outside the YAML (instance, group, project, trigger, schedule, API).
//!
//! A [`Scope`] looks through its layers without copying them, because it is
//! built once per job and most jobs only ever look up a few names.

use std::cell::OnceCell;
use std::collections::HashMap;

use crate::model::Variables;
use crate::model::misc::InheritSetting;
use crate::plan::spec::VariableSpec;

/// Name → value.
pub(crate) type VarMap = HashMap<String, String>;

/// YAML `variables:` as specs, in file order.
pub(crate) fn specs(vars: &Variables) -> Vec<VariableSpec> {
    vars.items
        .iter()
        .map(|v| VariableSpec { key: v.name.value.clone(), value: v.value.clone(), raw: !v.expand })
        .collect()
}

/// Merges `over` into `base` by key: a key already present keeps its place
/// and takes the new value (GitLab's `merge_variables`).
pub(crate) fn merge(base: &mut Vec<VariableSpec>, over: impl IntoIterator<Item = VariableSpec>) {
    for var in over {
        match base.iter_mut().find(|b| b.key == var.key) {
            Some(slot) => *slot = var,
            None => base.push(var),
        }
    }
}

/// The root variables a job inherits under `inherit:variables`.
pub(crate) fn inherited(root: &[VariableSpec], inherit: &InheritSetting) -> Vec<VariableSpec> {
    root.iter().filter(|v| inherit.inherits(&v.key)).cloned().collect()
}

/// `(name, value)` pairs as specs.
pub(crate) fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> Vec<VariableSpec> {
    pairs.into_iter().map(|(k, v)| VariableSpec { key: k.clone(), value: v.clone(), raw: false }).collect()
}

/// Layers of variables, later layers (and later entries within a layer)
/// winning.
pub(crate) struct Scope<'a> {
    layers: Vec<&'a [VariableSpec]>,
    expanded: OnceCell<VarMap>,
}

impl<'a> Scope<'a> {
    pub(crate) fn new(layers: impl IntoIterator<Item = &'a [VariableSpec]>) -> Scope<'a> {
        Scope { layers: layers.into_iter().collect(), expanded: OnceCell::new() }
    }

    /// Every variable once, with the value that wins.
    fn flattened(&self) -> Vec<kiln_expr::Variable> {
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut out: Vec<kiln_expr::Variable> = Vec::new();
        for v in self.layers.iter().flat_map(|l| l.iter()) {
            let var = kiln_expr::Variable {
                raw: v.raw,
                ..kiln_expr::Variable::new(v.key.clone(), v.value.clone())
            };
            match index.get(v.key.as_str()) {
                Some(&i) => out[i] = var,
                None => {
                    index.insert(&v.key, out.len());
                    out.push(var);
                }
            }
        }
        out
    }

    /// Values expanded against each other, as GitLab's
    /// `variables_hash_expanded` (for `rules:changes` and `rules:exists`);
    /// computed on first use.
    pub(crate) fn expanded(&self) -> &VarMap {
        self.expanded.get_or_init(|| {
            let all = self.flattened();
            // On a cycle the unexpanded values are the best there is; the
            // cycle itself is reported by `check_cycles`.
            let all = kiln_expr::expand_all(all).unwrap_or_else(|e| e.variables);
            all.into_iter().map(|v| (v.name, v.value)).collect()
        })
    }

    /// GitLab's `variable_expansion_errors`: a reference cycle among the
    /// variables is an error. Only values with a reference can take part in
    /// one, so most jobs skip the work.
    pub(crate) fn check_cycles(&self) -> Result<(), kiln_expr::CycleError> {
        let may_reference = self.layers.iter().flat_map(|l| l.iter()).any(|v| v.value.contains(['$', '%']));
        if !may_reference {
            return Ok(());
        }
        kiln_expr::expand_all(self.flattened()).map(|_| ())
    }
}

impl kiln_expr::Lookup for Scope<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.layers
            .iter()
            .rev()
            .find_map(|layer| layer.iter().rev().find(|v| v.key == name))
            .map(|v| v.value.as_str())
    }
}

/// [`Scope`] without the laziness, for tests and callers holding a map.
#[cfg(test)]
mod tests {
    use kiln_expr::Lookup;

    use super::{Scope, VariableSpec};

    fn v(k: &str, val: &str) -> VariableSpec {
        VariableSpec { key: k.into(), value: val.into(), raw: false }
    }

    #[test]
    fn later_layers_and_later_entries_win() {
        let a = [v("X", "1"), v("Y", "1")];
        let b = [v("X", "2"), v("X", "3")];
        let scope = Scope::new([&a[..], &b[..]]);
        assert_eq!(scope.get("X"), Some("3"));
        assert_eq!(scope.get("Y"), Some("1"));
        assert_eq!(scope.get("Z"), None);
    }

    #[test]
    fn expansion_and_cycles() {
        let a = [v("A", "x$B"), v("B", "y")];
        let scope = Scope::new([&a[..]]);
        assert_eq!(scope.expanded()["A"], "xy");
        assert!(scope.check_cycles().is_ok());
        let c = [v("A", "$B"), v("B", "$A")];
        assert!(Scope::new([&c[..]]).check_cycles().is_err());
    }
}
