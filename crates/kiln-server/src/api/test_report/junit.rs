//! JUnit XML as GitLab's `Gitlab::Ci::Parsers::Test::Junit` reads it: every
//! `testcase` anywhere in the document, its status from a `failure`, `error`
//! or `skipped` child (in that order of precedence), its time, and the
//! failure text as `system_output`.
//!
//! Reports come from jobs, so they are treated as hostile: input, nesting,
//! test cases and captured text are bounded, DTDs are never expanded (an
//! unknown entity stays as written), and malformed XML is an error value.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// Deepest element nesting accepted.
const MAX_DEPTH: usize = 128;
/// Test cases accepted in one report.
pub(crate) const MAX_CASES: usize = 100_000;
/// Characters kept of one test case's output.
const MAX_TEXT: usize = 64 * 1024;

/// GitLab's test case statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CaseStatus {
    Failed,
    Error,
    Skipped,
    Success,
}

impl CaseStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Failed => "failed",
            CaseStatus::Error => "error",
            CaseStatus::Skipped => "skipped",
            CaseStatus::Success => "success",
        }
    }
}

/// One parsed test case.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TestCase {
    pub(crate) status: CaseStatus,
    pub(crate) name: String,
    pub(crate) classname: String,
    pub(crate) file: Option<String>,
    pub(crate) execution_time: f64,
    pub(crate) system_output: Option<String>,
}

/// Why a report could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum JunitError {
    #[error("{0}")]
    Xml(String),
    #[error("elements nested deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("more than {MAX_CASES} test cases")]
    TooMany,
    #[error("no testsuites or testsuite element")]
    NotJunit,
}

/// The test case being read and the outcome child seen so far.
struct Open {
    case: TestCase,
    /// Depth of the outcome element whose text is being captured.
    capturing: Option<usize>,
    text: String,
    message: Option<String>,
}

/// Appends the test cases of one XML document to `out`, read as it streams
/// (only the current event is held in memory).
pub(crate) fn parse<R: std::io::BufRead>(xml: R, out: &mut Vec<TestCase>) -> Result<(), JunitError> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut open: Option<Open> = None;
    let mut seen_root = false;
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| JunitError::Xml(e.to_string()))?;
        match event {
            Event::Start(e) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(JunitError::TooDeep);
                }
                if depth == 1 {
                    seen_root = is_root(&e);
                }
                start(&e, depth, &mut open, out, false)?;
            }
            Event::Empty(e) => {
                if depth == 0 {
                    seen_root = is_root(&e);
                }
                start(&e, depth + 1, &mut open, out, true)?;
            }
            Event::End(e) => {
                if e.local_name().as_ref() == b"testcase"
                    && let Some(done) = open.take()
                {
                    push(finish(done), out)?;
                } else if let Some(o) = open.as_mut()
                    && o.capturing == Some(depth)
                {
                    o.capturing = None;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) => capture(&mut open, &t.decode().map_err(|e| JunitError::Xml(e.to_string()))?),
            Event::CData(t) => capture(&mut open, &String::from_utf8_lossy(&t.into_inner())),
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| JunitError::Xml(e.to_string()))?;
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(ch)) => ch.to_string(),
                    _ => quick_xml::escape::resolve_predefined_entity(&name)
                        .map_or_else(|| format!("&{name};"), str::to_string),
                };
                capture(&mut open, &resolved);
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
        buf.clear();
    }
    if depth != 0 || open.is_some() {
        return Err(JunitError::Xml("the document ends inside an element".into()));
    }
    if !seen_root {
        return Err(JunitError::NotJunit);
    }
    Ok(())
}

fn is_root(e: &BytesStart<'_>) -> bool {
    matches!(e.local_name().as_ref(), b"testsuites" | b"testsuite")
}

fn attr(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.normalized_value(quick_xml::XmlVersion::default()).ok().map(|v| v.into_owned()))
}

fn start(
    e: &BytesStart<'_>,
    depth: usize,
    open: &mut Option<Open>,
    out: &mut Vec<TestCase>,
    empty: bool,
) -> Result<(), JunitError> {
    let name = e.local_name();
    if name.as_ref() == b"testcase" {
        // A testcase inside a testcase is not JUnit; the outer one ends here.
        if let Some(done) = open.take() {
            push(finish(done), out)?;
        }
        let case = TestCase {
            status: CaseStatus::Success,
            name: attr(e, b"name").unwrap_or_else(|| "(No name)".into()),
            classname: attr(e, b"classname").unwrap_or_default(),
            file: attr(e, b"file"),
            execution_time: attr(e, b"time")
                .and_then(|t| t.trim().parse::<f64>().ok())
                .filter(|t| t.is_finite() && *t >= 0.0)
                .unwrap_or(0.0),
            system_output: None,
        };
        let o = Open { case, capturing: None, text: String::new(), message: None };
        if empty {
            push(o.case, out)?;
        } else {
            *open = Some(o);
        }
        return Ok(());
    }
    let Some(o) = open.as_mut() else { return Ok(()) };
    let status = match name.as_ref() {
        b"failure" => CaseStatus::Failed,
        b"error" => CaseStatus::Error,
        b"skipped" => CaseStatus::Skipped,
        _ => return Ok(()),
    };
    // GitLab looks for `failure` first, then `error`, then `skipped`.
    if status < o.case.status || o.case.status == CaseStatus::Success {
        o.case.status = status;
        o.text.clear();
        o.message = attr(e, b"message");
        o.capturing = (!empty).then_some(depth);
    }
    Ok(())
}

fn capture(open: &mut Option<Open>, text: &str) {
    if let Some(o) = open.as_mut()
        && o.capturing.is_some()
    {
        let room = MAX_TEXT.saturating_sub(o.text.len());
        let mut end = text.len().min(room);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        o.text.push_str(&text[..end]);
    }
}

fn finish(o: Open) -> TestCase {
    let text = o.text.trim();
    let output = if text.is_empty() { o.message.filter(|m| !m.is_empty()) } else { Some(text.to_string()) };
    TestCase { system_output: output, ..o.case }
}

fn push(case: TestCase, out: &mut Vec<TestCase>) -> Result<(), JunitError> {
    if out.len() >= MAX_CASES {
        return Err(JunitError::TooMany);
    }
    out.push(case);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cases(xml: &str) -> Result<Vec<TestCase>, JunitError> {
        let mut out = Vec::new();
        parse(xml.as_bytes(), &mut out).map(|()| out)
    }

    #[test]
    fn reads_statuses_times_and_output() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
            <testsuites><testsuite name="s">
              <testcase classname="a.B" name="ok" time="0.25" file="./a_spec.rb"/>
              <testcase classname="a.B" name="bad" time="1.5"><failure message="m">expected 1 &amp; got &#50;</failure></testcase>
              <testcase classname="a.B" name="boom"><error message="NoMethodError"/></testcase>
              <testcase classname="a.B" name="later"><skipped/></testcase>
              <testcase classname="a.B" name="both"><skipped/><failure><![CDATA[<oops>]]></failure></testcase>
            </testsuite></testsuites>"#;
        let got = cases(xml).unwrap();
        let summary: Vec<_> =
            got.iter().map(|c| (c.name.as_str(), c.status, c.system_output.as_deref())).collect();
        assert_eq!(
            summary,
            vec![
                ("ok", CaseStatus::Success, None),
                ("bad", CaseStatus::Failed, Some("expected 1 & got 2")),
                ("boom", CaseStatus::Error, Some("NoMethodError")),
                ("later", CaseStatus::Skipped, None),
                ("both", CaseStatus::Failed, Some("<oops>")),
            ]
        );
        assert_eq!(got[0].execution_time, 0.25);
        assert_eq!(got[0].file.as_deref(), Some("./a_spec.rb"));
        assert_eq!(got[1].classname, "a.B");
    }

    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        assert!(matches!(cases("<testsuite><testcase name='x'>"), Err(JunitError::Xml(_))));
        assert!(matches!(cases("<testsuite></testcase>"), Err(JunitError::Xml(_))));
        assert_eq!(cases("<html/>"), Err(JunitError::NotJunit));
        let deep = format!("<testsuite>{}{}</testsuite>", "<a>".repeat(500), "</a>".repeat(500));
        assert_eq!(cases(&deep), Err(JunitError::TooDeep));
        // Entities declared in a DTD are not expanded (no billion laughs).
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>
            <testsuite><testcase name="x"><failure>&b;</failure></testcase></testsuite>"#;
        assert_eq!(cases(laughs).unwrap()[0].system_output.as_deref(), Some("&b;"));
        let many = format!("<testsuite>{}</testsuite>", "<testcase name='x'/>".repeat(MAX_CASES + 1));
        assert_eq!(cases(&many), Err(JunitError::TooMany));
        let long = format!(
            "<testsuite><testcase name='x'><failure>{}</failure></testcase></testsuite>",
            "é".repeat(MAX_TEXT)
        );
        assert!(cases(&long).unwrap()[0].system_output.as_ref().unwrap().len() <= MAX_TEXT);
        assert!(cases("").is_err());
        assert!(cases("\u{0}\u{1}garbage").is_err());
    }
}
