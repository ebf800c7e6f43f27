//! `--variables-file`: variables for the pipeline from a file, either as
//! dotenv lines (`KEY=value`) or as a YAML mapping of scalars (`KEY: value`).
//! `#` starts a comment line; one pair of surrounding quotes is removed.

/// A line of the file that is neither form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: expected `KEY=value` or `KEY: value`")]
pub struct VarsFileError {
    pub path: String,
    pub line: usize,
}

fn is_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|v| v.strip_suffix(q))
            && v.len() >= 2
        {
            return inner;
        }
    }
    v
}

/// Parses the text of a variables file named `path` (for messages).
pub fn parse(path: &str, text: &str) -> Result<Vec<(String, String)>, VarsFileError> {
    let mut vars = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" {
            continue;
        }
        let eq = trimmed.find('=');
        let colon = trimmed.find(": ").or_else(|| trimmed.strip_suffix(':').map(|s| s.len()));
        let (key, value) = match (eq, colon) {
            (Some(e), Some(c)) if e < c => (&trimmed[..e], &trimmed[e + 1..]),
            (Some(e), None) => (&trimmed[..e], &trimmed[e + 1..]),
            (_, Some(c)) => (&trimmed[..c], trimmed.get(c + 1..).unwrap_or("")),
            (None, None) => return Err(VarsFileError { path: path.into(), line: i + 1 }),
        };
        let key = key.trim().trim_start_matches("export ").trim();
        if !is_name(key) {
            return Err(VarsFileError { path: path.into(), line: i + 1 });
        }
        vars.push((key.to_string(), unquote(value.trim()).to_string()));
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        let text = "# comment\nA=1\nB: \"two\"\nexport C='three'\nD=x=y\nE:\n";
        assert_eq!(
            parse("f", text).unwrap(),
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "two".into()),
                ("C".into(), "three".into()),
                ("D".into(), "x=y".into()),
                ("E".into(), String::new())
            ]
        );
        assert_eq!(
            parse("f", "just words").unwrap_err().to_string(),
            "f:1: expected `KEY=value` or `KEY: value`"
        );
    }
}
