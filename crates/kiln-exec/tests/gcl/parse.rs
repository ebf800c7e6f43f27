//! Reading gitlab-ci-local's `expected.txt`: each `## test:` block's options
//! and the assertions on output this harness can check.

use std::collections::BTreeMap;

/// An option value as written in the JavaScript object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Opt {
    Str(String),
    List(Vec<String>),
    Bool(bool),
    Num(i64),
    /// A JavaScript expression this harness cannot evaluate.
    Expr(String),
}

/// One check on the run's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    /// This `job > text` line appears (stdout lines).
    Line(String),
    /// This line does not appear.
    NoLine(String),
    /// Standard output contains this text.
    Contains(String),
    /// Standard output does not contain this text (or match this pattern).
    NotContains(String),
    /// No job failed (gitlab-ci-local prints `FAIL` on stderr otherwise).
    NoFailure,
    /// The run is refused with an error.
    Throws,
    /// An assertion this harness does not evaluate, as written.
    Unchecked(String),
}

/// One `## test:` block.
#[derive(Debug, Clone)]
pub(crate) struct Test {
    pub title: String,
    pub options: BTreeMap<String, Opt>,
    pub checks: Vec<Check>,
    /// How many times the test runs gitlab-ci-local (`await handler(` again
    /// in its body runs it once more, with the same options).
    pub runs: usize,
}

fn split_top(s: &str) -> Vec<String> {
    let (mut parts, mut cur, mut depth, mut quote) = (Vec::new(), String::new(), 0i32, None::<char>);
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'' | '`') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, '[' | '{' | '(') => {
                depth += 1;
                cur.push(c);
            }
            (None, ']' | '}' | ')') => {
                depth -= 1;
                cur.push(c);
            }
            (None, ',') if depth == 0 => parts.push(std::mem::take(&mut cur)),
            (None, c) => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        parts.push(cur);
    }
    parts.into_iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()
}

fn string_literal(s: &str) -> Option<String> {
    let s = s.trim();
    let q = s.chars().next()?;
    if !matches!(q, '"' | '\'' | '`') || s.len() < 2 || !s.ends_with(q) {
        return None;
    }
    let inner = &s[1..s.len() - 1];
    (!inner.contains("${")).then(|| inner.replace("\\\"", "\"").replace("\\n", "\n"))
}

fn value(v: &str) -> Opt {
    let v = v.trim();
    if let Some(s) = string_literal(v) {
        return Opt::Str(s);
    }
    if let Some(inner) = v.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        let items: Option<Vec<String>> = split_top(inner).iter().map(|i| string_literal(i)).collect();
        return items.map_or_else(|| Opt::Expr(v.to_string()), Opt::List);
    }
    match v {
        "true" => Opt::Bool(true),
        "false" => Opt::Bool(false),
        _ => v.parse().map_or_else(|_| Opt::Expr(v.to_string()), Opt::Num),
    }
}

fn options(line: &str) -> BTreeMap<String, Opt> {
    split_top(line)
        .iter()
        .filter_map(|p| p.split_once(':').map(|(k, v)| (k.trim().to_string(), value(v))))
        .collect()
}

/// The `«...»` texts of a line.
fn quoted(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find('«') {
        let after = &rest[start + '«'.len_utf8()..];
        let Some(end) = after.find('»') else { break };
        out.push(after[..end].to_string());
        rest = &after[end + '»'.len_utf8()..];
    }
    out
}

/// `/pattern/` of a `match(...)` or `toMatch(...)`, when it is plain text.
fn regex_text(line: &str) -> Option<String> {
    let start = line.find("match(/").map(|i| i + 7).or_else(|| line.find("Match(/").map(|i| i + 7))?;
    let rest = &line[start..];
    let end = rest.find("/)")?;
    let pat = &rest[..end];
    let plain = pat.chars().all(|c| !"\\^$.*+?()[]{}|".contains(c));
    plain.then(|| pat.to_string())
}

/// Parses every test block of an `expected.txt`.
pub(crate) fn parse(text: &str) -> Vec<Test> {
    let mut tests: Vec<Test> = Vec::new();
    let mut arrays: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut collecting: Option<(String, Vec<String>)> = None;
    let mut inline: Option<(bool, Vec<String>)> = None;
    let mut pending_match: Option<String> = None;
    // Lines without `job > ` are gitlab-ci-local's own status lines (`PASS job`, ...).
    let line_check = |l: String, negative: bool| match (l.contains(" > "), negative) {
        (false, _) => Check::Unchecked(l),
        (true, false) => Check::Line(l),
        (true, true) => Check::NoLine(l),
    };
    for line in text.lines() {
        if let Some(title) = line.strip_prefix("## test: ") {
            tests.push(Test {
                title: title.trim().to_string(),
                options: BTreeMap::new(),
                checks: Vec::new(),
                runs: 1,
            });
            arrays.clear();
            continue;
        }
        let Some(test) = tests.last_mut() else { continue };
        let t = line.trim();
        if t.starts_with("await handler(") {
            test.runs += 1;
            continue;
        }
        if let Some(opts) = t.strip_prefix("options:") {
            test.options = options(opts.trim().trim_end_matches(','));
            continue;
        }
        if let Some((name, items)) = collecting.as_mut() {
            if t.starts_with("];") {
                arrays.insert(name.clone(), std::mem::take(items));
                collecting = None;
            } else {
                let marked = quoted(t);
                // A plain string literal item (with `noColor` there is no markup to strip).
                match string_literal(t.trim_end_matches(',')) {
                    Some(plain) if marked.is_empty() => items.push(plain),
                    _ => items.extend(marked),
                }
            }
            continue;
        }
        if let Some((negative, items)) = inline.as_mut() {
            if t.starts_with("]") {
                let (neg, items) = (*negative, std::mem::take(items));
                test.checks.extend(items.into_iter().map(|l| line_check(l, neg)));
                inline = None;
            } else {
                items.extend(quoted(t));
            }
            continue;
        }
        let decl = t.strip_prefix("const ").or_else(|| t.strip_prefix("let ")).unwrap_or(t);
        if let Some((name, rest)) = decl.split_once(" = [") {
            let name = name.trim().to_string();
            if rest.trim().is_empty() {
                collecting = Some((name, Vec::new()));
            } else {
                arrays.insert(name, quoted(rest));
            }
            continue;
        }
        if t.starts_with("expect(writeStreams.stdoutLines).toEqual(expect.arrayContaining([") {
            inline = Some((false, quoted(t)));
            continue;
        }
        if t.starts_with("expect(writeStreams.stdoutLines).not.toEqual(expect.arrayContaining([") {
            inline = Some((true, quoted(t)));
            continue;
        }
        if let Some(name) = t
            .strip_prefix("expect(writeStreams.stdoutLines).toEqual(expect.arrayContaining(")
            .and_then(|r| r.strip_suffix("));"))
        {
            test.checks.extend(arrays.get(name).into_iter().flatten().cloned().map(|l| line_check(l, false)));
            continue;
        }
        if let Some(name) = t
            .strip_prefix("expect(writeStreams.stdoutLines).not.toEqual(expect.arrayContaining(")
            .and_then(|r| r.strip_suffix("));"))
        {
            test.checks.extend(arrays.get(name).into_iter().flatten().cloned().map(|l| line_check(l, true)));
            continue;
        }
        if t.contains("stderrLines.join(\"\\n\")).not.toMatch(/FAIL/)") {
            test.checks.push(Check::NoFailure);
            continue;
        }
        if t.contains("rejects.toThrow") {
            test.checks.push(Check::Throws);
            continue;
        }
        if t.contains(".match(/") && t.contains("!== null") {
            pending_match = regex_text(t);
            continue;
        }
        if t.starts_with("expect(") && t.contains(").toEqual(undefined)") {
            match pending_match.take() {
                Some(text) => test.checks.push(Check::NotContains(text)),
                None => test.checks.push(Check::Unchecked(t.to_string())),
            }
            continue;
        }
        if let Some(rest) = t.strip_prefix("expect(output).toContain(").and_then(|r| r.strip_suffix(");")) {
            match string_literal(rest) {
                Some(s) => test.checks.push(Check::Contains(s)),
                None => test.checks.push(Check::Unchecked(t.to_string())),
            }
            continue;
        }
        if let Some(rest) = t.strip_prefix("expect(output).not.toContain(").and_then(|r| r.strip_suffix(");"))
        {
            match string_literal(rest) {
                Some(s) => test.checks.push(Check::NotContains(s)),
                None => test.checks.push(Check::Unchecked(t.to_string())),
            }
            continue;
        }
        if t.starts_with("expect(") {
            test.checks.push(Check::Unchecked(t.to_string()));
        }
    }
    tests
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_options_and_checks() {
        let text = "## test: x <a>\noptions: cwd: \"c\", job: [\"a\", \"b\"], needs: true, concurrency: 1, home: dir,\n    const expected = [\n        «a > hi»,\n    ];\n    expect(writeStreams.stdoutLines).toEqual(expect.arrayContaining(expected));\n";
        let t = &parse(text)[0];
        assert_eq!(t.options["job"], Opt::List(vec!["a".into(), "b".into()]));
        assert_eq!(t.options["needs"], Opt::Bool(true));
        assert_eq!(t.options["home"], Opt::Expr("dir".into()));
        assert_eq!(t.checks, vec![Check::Line("a > hi".into())]);
    }
}
