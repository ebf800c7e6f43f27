//! The runner's variable expansion: gitlab-runner's `Variables.ExpandValue`, which is Go's `os.Expand`.
//!
//! The runner expands job variables and keywords such as `image:name` a second time, after GitLab, with
//! shell-like rules that differ from GitLab's own: `$$` becomes `$`, `%NAME%` means nothing, `$1` and `$*`
//! are positional parameters (always empty), and `${...}` takes any text up to the next `}` as a name.

use crate::Lookup;

/// Expands references the way gitlab-runner does (Go's `os.Expand` over `Variables.Get`).
///
/// - `$NAME` takes the longest run of ASCII letters, digits and `_`; a digit right after the `$` is a
///   positional parameter instead (`$1ABC` is `$1` followed by the text `ABC`).
/// - `${ANY TEXT}` looks up everything up to the first `}`; `${}` and an unterminated `${` are dropped.
/// - `$$` is a literal `$`; `$*`, `$#`, `$@`, `$!`, `$?`, `$-` and `$0`..`$9` expand to nothing.
/// - A `$` that starts none of these (at the end, or before a space) is kept.
/// - Undefined variables expand to the empty string.
///
/// File variables expand to their path on the runner; that is the caller's [`Lookup`] to decide.
///
/// ```
/// use std::collections::HashMap;
/// let vars = HashMap::from([("IMAGE", "alpine")]);
/// assert_eq!(kiln_expr::expand_runner("$IMAGE:${TAG} costs $$5 $", &vars), "alpine: costs $5 $");
/// ```
pub fn expand_runner(input: &str, vars: &impl Lookup) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    // `copied` is where the text not yet copied starts; both indexes always sit on ASCII bytes, so the
    // slices below fall on character boundaries.
    let mut copied = 0;
    let mut j = 0;
    while j < bytes.len() {
        if bytes.get(j) == Some(&b'$') && j + 1 < bytes.len() {
            out.push_str(&input[copied..j]);
            let (name, width) = shell_name(&input[j + 1..]);
            if name.is_empty() {
                if width == 0 {
                    out.push('$');
                }
                // Otherwise bad syntax (`${}` or `${` unterminated): Go eats those characters.
            } else {
                out.push_str(value(name, vars));
            }
            j += width;
            copied = j + 1;
        }
        j += 1;
    }
    out.push_str(&input[copied..]);
    out
}

/// gitlab-runner's `Variables.value`: shell specials first, then the variables, last one wins.
fn value<'v>(name: &str, vars: &'v impl Lookup) -> &'v str {
    match name {
        "$" => "$",
        "*" | "#" | "@" | "!" | "?" | "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" => "",
        _ => vars.get(name).unwrap_or(""),
    }
}

/// Go's `getShellName`: the name after a `$` and how many bytes it spans.
fn shell_name(s: &str) -> (&str, usize) {
    let bytes = s.as_bytes();
    match bytes.first() {
        Some(b'{') => {
            if bytes.len() > 2
                && bytes.get(1).is_some_and(|b| is_shell_special(*b))
                && bytes.get(2) == Some(&b'}')
            {
                return (&s[1..2], 3);
            }
            match bytes.iter().skip(1).position(|b| *b == b'}') {
                Some(0) => ("", 2),
                Some(offset) => (&s[1..1 + offset], offset + 2),
                None => ("", 1),
            }
        }
        Some(b) if is_shell_special(*b) => (&s[..1], 1),
        _ => {
            let len = bytes.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
            (&s[..len], len)
        }
    }
}

fn is_shell_special(b: u8) -> bool {
    matches!(b, b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9')
}
