//! Job variables on the runner side: `$VAR` / `${VAR}` expansion as GitLab Runner does it
//! (`kiln_expr::expand_runner`, Go's `os.Expand`) over a job's variable list.

use kiln_api::JobVariable;
use kiln_expr::Lookup;

/// The job's variables as `kiln_expr` looks them up: the last definition of a name wins.
struct VarList<'a>(&'a [JobVariable]);

impl Lookup for VarList<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|v| v.key == name).map(|v| v.value.as_str())
    }
}

/// Expands `$NAME`, `${NAME}` and `$$` in `value` against `vars` with gitlab-runner's
/// rules (Go's `os.Expand`; unknown names expand to nothing).
pub fn expand(value: &str, vars: &[JobVariable]) -> String {
    kiln_expr::expand_runner(value, &VarList(vars))
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
        let cases = [("$A", "again"), ("${B_2}x", "betax"), ("$$A", "$A"), ("$UNKNOWN-", "-"), ("$1A", "A")];
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
