//! Fuzz target: every expansion function, and `expand_all` on variables that reference each other.
//!
//! The input is split at NUL bytes: the first part is the text to expand, the others are `NAME=value`
//! definitions (a leading `!` marks a raw variable, a leading `@` a file variable).
#![no_main]

use kiln_expr::{
    ExpandAllOptions, Variable, expand, expand_all, expand_all_with, expand_existing, expand_runner,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let input = parts.next().unwrap_or("");
    let vars: Vec<Variable> = parts
        .map(|definition| {
            let (raw, rest) = definition.strip_prefix('!').map_or((false, definition), |r| (true, r));
            let (file, rest) = rest.strip_prefix('@').map_or((false, rest), |r| (true, r));
            let (name, value) = rest.split_once('=').unwrap_or((rest, ""));
            Variable { raw, file, ..Variable::new(name, value) }
        })
        .collect();

    let expanded = expand(input, &vars);
    let _ = expand_existing(input, &vars);
    let _ = expand_runner(input, &vars);
    if !input.contains(['$', '%']) {
        assert_eq!(expanded, input, "text without references must not change");
    }
    assert_eq!(expand_existing(input, &Vec::<Variable>::new()), input);

    match expand_all(vars.clone()) {
        Ok(sorted) => assert_eq!(sorted.len(), vars.len()),
        Err(cycle) => {
            assert_eq!(cycle.variables, vars);
            assert!(!cycle.cycles.is_empty());
        }
    }
    let _ = expand_all_with(vars, ExpandAllOptions::RUNNER_PAYLOAD);
});
