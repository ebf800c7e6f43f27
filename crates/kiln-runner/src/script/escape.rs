//! Quoting values for each shell, so no variable value can inject commands.

/// Bash quoting as GitLab Runner does it (`helpers.ShellEscape`): safe strings stay bare,
/// anything else becomes an ANSI-C `$'...'` string with control and non-ASCII bytes as
/// `\xNN`.
pub fn bash(input: &str) -> String {
    if input.is_empty() {
        return "''".into();
    }
    let mut out = String::with_capacity(input.len() * 2);
    let mut quote = false;
    for &b in input.as_bytes() {
        match b {
            b'\x07' => push_esc(&mut out, &mut quote, "\\a"),
            b'\x08' => push_esc(&mut out, &mut quote, "\\b"),
            b'\t' => push_esc(&mut out, &mut quote, "\\t"),
            b'\n' => push_esc(&mut out, &mut quote, "\\n"),
            b'\x0b' => push_esc(&mut out, &mut quote, "\\v"),
            b'\x0c' => push_esc(&mut out, &mut quote, "\\f"),
            b'\r' => push_esc(&mut out, &mut quote, "\\r"),
            b'\'' => push_esc(&mut out, &mut quote, "\\'"),
            b'\\' => push_esc(&mut out, &mut quote, "\\\\"),
            b',' | b'-' | b'.' | b'/' | b'@' | b'_' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' => {
                out.push(char::from(b));
            }
            b' ' | b'!' | b'"' | b'#' | b'$' | b'%' | b'&' | b'(' | b')' | b'*' | b'+' | b':' | b';'
            | b'<' | b'=' | b'>' | b'?' | b'[' | b']' | b'^' | b'`' | b'{' | b'|' | b'}' | b'~' => {
                out.push(char::from(b));
                quote = true;
            }
            other => {
                out.push_str(&format!("\\x{other:02x}"));
                quote = true;
            }
        }
    }
    if quote { format!("$'{out}'") } else { out }
}

fn push_esc(out: &mut String, quote: &mut bool, esc: &str) {
    out.push_str(esc);
    *quote = true;
}

/// POSIX `sh` quoting as GitLab Runner does it with `FF_POSIXLY_CORRECT_ESCAPES`
/// (`helpers.PosixShellEscape`): double quotes, with `` ` `` `"` `\` `$` backslashed.
pub fn posix(input: &str) -> String {
    if input.is_empty() {
        return "''".into();
    }
    let mut out = String::with_capacity(input.len() * 2);
    let mut quote = false;
    for c in input.chars() {
        match c {
            '`' | '"' | '\\' | '$' => {
                out.push('\\');
                out.push(c);
                quote = true;
            }
            ' ' | '!' | '#' | '%' | '&' | '(' | ')' | '*' | '<' | '=' | '>' | '?' | '[' | '|' | '\n'
            | '\t' | '\'' | ';' | '~' | '{' | '}' | '^' => {
                out.push(c);
                quote = true;
            }
            _ => out.push(c),
        }
    }
    if quote { format!("\"{out}\"") } else { out }
}

/// PowerShell quoting: a single-quoted string (no expansion), `'` doubled. Curly quotes
/// are quote characters in PowerShell too and are doubled the same way.
pub fn pwsh(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + 2);
    out.push('\'');
    for c in input.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_table() {
        let cases = [
            ("", "''"),
            ("plain", "plain"),
            ("a/b-c_d.e,f@g", "a/b-c_d.e,f@g"),
            ("two words", "$'two words'"),
            ("$(rm -rf /)", "$'$(rm -rf /)'"),
            ("`id`", "$'`id`'"),
            ("it's", "$'it\\'s'"),
            ("back\\slash", "$'back\\\\slash'"),
            ("line\nbreak", "$'line\\nbreak'"),
            ("tab\there", "$'tab\\there'"),
            ("\x1b[0m", "$'\\x1b[0m'"),
            ("é", "$'\\xc3\\xa9'"),
            ("a;b|c&d", "$'a;b|c&d'"),
        ];
        for (input, want) in cases {
            assert_eq!(bash(input), want, "{input:?}");
        }
    }

    #[test]
    fn posix_table() {
        let cases = [
            ("", "''"),
            ("plain", "plain"),
            ("two words", "\"two words\""),
            ("$HOME", "\"\\$HOME\""),
            ("`id`", "\"\\`id\\`\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("a\\b", "\"a\\\\b\""),
            ("it's", "\"it's\""),
            ("x;rm -rf /", "\"x;rm -rf /\""),
        ];
        for (input, want) in cases {
            assert_eq!(posix(input), want, "{input:?}");
        }
    }

    #[test]
    fn pwsh_table() {
        let cases =
            [("", "''"), ("plain", "'plain'"), ("it's", "'it''s'"), ("$env:X", "'$env:X'"), ("a`b", "'a`b'")];
        for (input, want) in cases {
            assert_eq!(pwsh(input), want, "{input:?}");
        }
    }

    /// Each quoted value, given to the real shell, comes back byte for byte.
    #[test]
    fn quoted_values_round_trip_through_real_shells() {
        let values = [
            "plain",
            "two  spaces",
            "$(echo pwned)",
            "`echo pwned`",
            "it's \"quoted\"",
            "new\nline",
            "back\\slash",
            "tab\tend",
            "; echo pwned",
            "ünïcode ✓",
            "*?[a]",
        ];
        for v in values {
            let out = std::process::Command::new("bash")
                .arg("-c")
                .arg(format!("printf '%s' {}", bash(v)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), v, "bash {v:?}");
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf '%s' {}", posix(v)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), v, "sh {v:?}");
        }
    }
}
