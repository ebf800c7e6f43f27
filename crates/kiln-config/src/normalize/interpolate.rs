//! `$[[ matrix.NAME ]]` in the `needs:` of a matrix job (GitLab's
//! `Interpolation::MatrixInterpolator`): each instance needs the instances
//! that match its own values.

use crate::model::{JobNeed, MatrixEntry, Need, Spanned};

/// The names of `$[[ matrix.NAME ]]` expressions in `text`, with the byte
/// range of each expression (GitLab's pattern:
/// `\$\[\[\s*matrix\.([a-zA-Z0-9_-]+)\s*\]\]`).
fn expressions(text: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(start) = text[from..].find("$[[").map(|i| i + from) {
        from = start + 3;
        let rest = &text[from..];
        let trimmed = rest.trim_start();
        let Some(after) = trimmed.strip_prefix("matrix.") else { continue };
        let name_len =
            after.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-').count();
        if name_len == 0 {
            continue;
        }
        let tail = after[name_len..].trim_start();
        let Some(tail) = tail.strip_prefix("]]") else { continue };
        let end = text.len() - tail.len();
        out.push((start..end, &after[..name_len]));
        from = end;
    }
    out
}

fn interpolate_str(text: &str, vars: &[(String, String)], missing: &mut Vec<String>) -> String {
    let found = expressions(text);
    if found.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (range, name) in found {
        out.push_str(&text[last..range.start]);
        match vars.iter().find(|(k, _)| k == name) {
            Some((_, value)) => out.push_str(value),
            None => {
                // GitLab keeps the expression and reports the name.
                out.push_str(&text[range.clone()]);
                if !missing.iter().any(|m| m == name) {
                    missing.push(name.to_string());
                }
            }
        }
        last = range.end;
    }
    out.push_str(&text[last..]);
    out
}

/// `needs` with every `$[[ matrix.NAME ]]` in job names and selector values
/// replaced by the instance's values; names that the matrix lacks are left
/// as written and listed in the second value.
pub fn interpolate_needs(needs: &[Need], vars: &[(String, String)]) -> (Vec<Need>, Vec<String>) {
    let mut missing = Vec::new();
    let out = needs
        .iter()
        .map(|need| match need {
            Need::Job(n) => Need::Job(JobNeed {
                job: Spanned::new(interpolate_str(&n.job.value, vars, &mut missing), n.job.span),
                matrix: n.matrix.as_ref().map(|entries| {
                    entries
                        .iter()
                        .map(|e| MatrixEntry {
                            span: e.span,
                            variables: e
                                .variables
                                .iter()
                                .map(|(k, values)| {
                                    (
                                        k.clone(),
                                        values
                                            .iter()
                                            .map(|v| interpolate_str(v, vars, &mut missing))
                                            .collect(),
                                    )
                                })
                                .collect(),
                        })
                        .collect()
                }),
                ..n.clone()
            }),
            other => other.clone(),
        })
        .collect();
    (out, missing)
}

/// GitLab's error for each name a matrix job's needs use but its matrix lacks.
pub fn unknown_matrix_variables(job: &str, missing: &[String]) -> Vec<String> {
    missing.iter().map(|name| format!("{job} job: '{name}' does not exist in matrix configuration")).collect()
}

#[cfg(test)]
mod tests {
    use super::{expressions, interpolate_str};

    #[test]
    fn finds_expressions_as_gitlabs_pattern_does() {
        let found: Vec<&str> =
            expressions("a $[[ matrix.X ]] b $[[matrix.MY-VAR]] $[[ inputs.y ]] $[[ matrix. ]]")
                .into_iter()
                .map(|(_, n)| n)
                .collect();
        assert_eq!(found, ["X", "MY-VAR"]);
    }

    #[test]
    fn replaces_known_and_keeps_unknown() {
        let vars = vec![("P".to_string(), "aws".to_string())];
        let mut missing = Vec::new();
        assert_eq!(
            interpolate_str("build-$[[ matrix.P ]]-$[[ matrix.Q ]]", &vars, &mut missing),
            "build-aws-$[[ matrix.Q ]]"
        );
        assert_eq!(missing, ["Q"]);
    }
}
