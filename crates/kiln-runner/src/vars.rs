//! Job variables on the runner side: `$VAR` / `${VAR}` expansion as GitLab Runner does it
//! (Go's `os.Expand` with `$$` as a literal `$`), and the runner's own variables.

use kiln_api::JobVariable;

/// Expands `$NAME`, `${NAME}` and `$$` in `value` against `vars` (last definition wins;
/// unknown names expand to nothing).
pub fn expand(value: &str, vars: &[JobVariable]) -> String {
    expand_with(value, |name| vars.iter().rev().find(|v| v.key == name).map(|v| v.value.clone()))
}

/// Expansion with a lookup function.
pub fn expand_with(value: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let b = value.as_bytes();
    let mut out = String::with_capacity(value.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if b[i] != b'$' || i + 1 >= b.len() {
            i += 1;
            continue;
        }
        out.push_str(&value[copied..i]);
        let next = b[i + 1];
        if next == b'$' {
            out.push('$');
            i += 2;
        } else if next == b'{' {
            match value[i + 2..].find('}') {
                Some(end) => {
                    let name = &value[i + 2..i + 2 + end];
                    out.push_str(&lookup(name).unwrap_or_default());
                    i += 3 + end;
                }
                None => {
                    // Go drops a lone `${` with no closing brace.
                    i += 2;
                }
            }
        } else if next == b'_' || next.is_ascii_alphanumeric() {
            let len = b[i + 1..].iter().take_while(|c| **c == b'_' || c.is_ascii_alphanumeric()).count();
            let name = &value[i + 1..i + 1 + len];
            out.push_str(&lookup(name).unwrap_or_default());
            i += 1 + len;
        } else {
            out.push('$');
            i += 1;
        }
        copied = i;
    }
    out.push_str(&value[copied.min(value.len())..]);
    out
}

/// Expands every non-`raw` variable against the full list, in order.
pub fn expand_all(vars: &[JobVariable], file_path: impl Fn(&str) -> String) -> Vec<JobVariable> {
    let lookup_list: Vec<JobVariable> = vars
        .iter()
        .map(|v| if v.file { JobVariable { value: file_path(&v.key), ..v.clone() } } else { v.clone() })
        .collect();
    vars.iter()
        .map(|v| {
            if v.raw || v.file {
                v.clone()
            } else {
                JobVariable { value: expand(&v.value, &lookup_list), ..v.clone() }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(k: &str, val: &str) -> JobVariable {
        JobVariable::public(k, val)
    }

    #[test]
    fn expansion_table() {
        let vars = [v("A", "alpha"), v("B_2", "beta"), v("A", "again")];
        let cases = [
            ("$A", "again"),
            ("${B_2}x", "betax"),
            ("$B_2x", ""),
            ("$$A", "$A"),
            ("cost: 5$", "cost: 5$"),
            ("$UNKNOWN-", "-"),
            ("a$-b", "a$-b"),
            ("${A", "A"),
            ("plain", "plain"),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, &vars), want, "{input:?}");
        }
    }

    #[test]
    fn raw_variables_stay_literal_and_files_expand_to_paths() {
        let mut raw = v("R", "$A");
        raw.raw = true;
        let mut file = v("F", "content");
        file.file = true;
        let vars = vec![v("A", "x"), raw, file, v("P", "$F and $R")];
        let out = expand_all(&vars, |k| format!("/tmp/{k}"));
        assert_eq!(out[1].value, "$A");
        assert_eq!(out[2].value, "content");
        assert_eq!(out[3].value, "/tmp/F and $A");
    }
}
