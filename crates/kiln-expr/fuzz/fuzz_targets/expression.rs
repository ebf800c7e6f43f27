//! Fuzz target: `Expression::parse` and `evaluate` on arbitrary text and variable values.
//!
//! The input is split at NUL bytes: the first part is the expression, the next ones are the values of
//! `A`, `B`, `C` and `D`, so that regexes held in variables and blank values get exercised too.
#![no_main]

use kiln_expr::Expression;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let src = parts.next().unwrap_or("");
    let vars: Vec<(String, String)> =
        ["A", "B", "C", "D"].iter().zip(parts).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    if let Ok(expr) = Expression::parse(src) {
        let first = expr.evaluate(&vars);
        assert_eq!(first, expr.evaluate(&vars), "evaluation must be deterministic");
        let _ = expr.input_names();
    }
});
