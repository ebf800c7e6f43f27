//! A pipeline's unit test report (`GET /projects/:id/pipelines/:pipeline_id/
//! test_report` and `/test_report_summary`), built from the `junit` report
//! artifacts of its latest jobs, as GitLab's `TestReportEntity` and
//! `TestReportSummaryEntity` show it.
//!
//! Reports are parsed when asked for (off the async threads): one suite per
//! job name (parallel jobs `rspec 1/2`, `rspec 2/2` share one), and a job
//! whose report cannot be read gives its suite a `suite_error` instead of
//! failing the whole report, as in GitLab. Runners upload JUnit files
//! gzipped, one gzip member per file.

mod junit;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use kiln_pipeline::PipelineId;
use kiln_store::Page;
use kiln_store::artifacts::{ArtifactFormat, ArtifactType};
use kiln_store::jobs::JobFilter;
use serde::Serialize;
use serde_json::json;

use crate::access::{self, Action};
use crate::api::util::{ok, parse_id};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Caller;
use junit::{CaseStatus, JunitError, TestCase};

/// Largest report file read (compressed, as stored).
const MAX_STORED: u64 = 32 * 1024 * 1024;
/// Largest XML read out of one report (all gzip members together, as they
/// inflate).
const MAX_XML: u64 = 128 * 1024 * 1024;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/projects/{id}/pipelines/{pipeline_id}/test_report", get(report))
        .route("/projects/{id}/pipelines/{pipeline_id}/test_report_summary", get(summary))
}

/// One suite: every test case of the jobs sharing a name.
#[derive(Debug, Default)]
struct Suite {
    name: String,
    cases: Vec<TestCase>,
    build_ids: Vec<i64>,
    error: Option<String>,
}

#[derive(Debug, Default, Serialize, Clone, Copy)]
struct Counts {
    total_time: f64,
    total_count: usize,
    success_count: usize,
    failed_count: usize,
    skipped_count: usize,
    error_count: usize,
}

impl Suite {
    fn counts(&self) -> Counts {
        let mut c = Counts::default();
        if self.error.is_some() {
            return c;
        }
        for case in &self.cases {
            c.total_time += case.execution_time;
            c.total_count += 1;
            match case.status {
                CaseStatus::Success => c.success_count += 1,
                CaseStatus::Failed => c.failed_count += 1,
                CaseStatus::Skipped => c.skipped_count += 1,
                CaseStatus::Error => c.error_count += 1,
            }
        }
        c.total_time = round(c.total_time);
        c
    }
}

fn round(t: f64) -> f64 {
    (t * 100.0).round() / 100.0
}

/// GitLab's `test_suite_name`: parallel jobs (`name 1/3`) share their group's name.
fn suite_name(job: &str) -> &str {
    if let Some((base, last)) = job.rsplit_once(' ')
        && let Some((i, n)) = last.split_once('/')
        && !i.is_empty()
        && !n.is_empty()
        && i.bytes().chain(n.bytes()).all(|b| b.is_ascii_digit())
    {
        return base;
    }
    job
}

/// The suites of a pipeline's latest jobs that have a `junit` report.
async fn suites(app: &App, pipeline: PipelineId) -> ApiResult<Vec<Suite>> {
    let jobs = app
        .store
        .list_jobs(
            &JobFilter { pipeline: Some(pipeline), bridge: Some(false), ..JobFilter::default() },
            Page::all(),
        )
        .await?;
    let mut by_name: BTreeMap<String, Suite> = BTreeMap::new();
    // The store lists newest first; suites list their jobs oldest first.
    for job in jobs.items.iter().rev() {
        let artifact = match app.store.job_artifact(job.id, ArtifactType::Junit).await {
            Ok(a) => a,
            Err(kiln_store::Error::NotFound(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        let name = suite_name(&job.name).to_string();
        let suite = by_name.entry(name.clone()).or_insert_with(|| Suite { name, ..Suite::default() });
        suite.build_ids.push(job.id.0);
        if suite.error.is_some() {
            continue;
        }
        let parsed = if artifact.size > MAX_STORED || artifact.file_format == ArtifactFormat::Zip {
            Err(JunitError::Xml(format!(
                "the report is a {} file of {} bytes",
                artifact.file_format, artifact.size
            )))
        } else {
            let bytes = app.blobs.read_all(&artifact.blob_key).await?;
            let gzip = artifact.file_format == ArtifactFormat::Gzip;
            let room = junit::MAX_CASES.saturating_sub(suite.cases.len());
            tokio::task::spawn_blocking(move || parse_report(&bytes, gzip, room, MAX_XML))
                .await
                .map_err(|e| ApiError::internal(format!("junit parser: {e}")))?
        };
        match parsed {
            Ok(cases) => suite.cases.extend(cases),
            Err(e) => {
                suite.error = Some(format!("JUnit XML parsing failed: {e}"));
                suite.cases.clear();
            }
        }
    }
    Ok(by_name.into_values().collect())
}

/// Every document of one stored report: gzip members one by one, or raw XML.
fn parse_report(bytes: &[u8], gzip: bool, room: usize, max_xml: u64) -> Result<Vec<TestCase>, JunitError> {
    let mut cases = Vec::new();
    if !gzip {
        junit::parse(bytes, &mut cases)?;
    } else {
        let mut reader = BufReader::new(bytes);
        let mut budget = max_xml;
        while !reader.fill_buf().map_err(|e| JunitError::Xml(e.to_string()))?.is_empty() {
            // Each member is parsed as it inflates, within what is left of the budget.
            let mut xml = BufReader::new(flate2::bufread::GzDecoder::new(reader).take(budget));
            let parsed = junit::parse(&mut xml, &mut cases);
            let member = xml.into_inner();
            budget = member.limit();
            if budget == 0 {
                return Err(JunitError::Xml(format!("more than {max_xml} bytes of XML")));
            }
            parsed?;
            reader = member.into_inner().into_inner();
        }
    }
    if cases.len() > room {
        return Err(JunitError::TooMany);
    }
    Ok(cases)
}

async fn pipeline_suites(app: &App, caller: &Caller, id: &str, pipeline_id: &str) -> ApiResult<Vec<Suite>> {
    caller.require_authenticated()?;
    let access = access::project(app, caller, id).await?;
    access.require(Action::ReadBuilds)?;
    let pipeline = app
        .store
        .pipeline(PipelineId(u64::try_from(parse_id(pipeline_id, "pipeline_id")?).unwrap_or(0)))
        .await?;
    if pipeline.project_id != access.project.id {
        return Err(ApiError::record_not_found());
    }
    suites(app, pipeline.id).await
}

fn total(suites: &[Suite]) -> Counts {
    let mut t = Counts::default();
    for c in suites.iter().map(Suite::counts) {
        t.total_time += c.total_time;
        t.total_count += c.total_count;
        t.success_count += c.success_count;
        t.failed_count += c.failed_count;
        t.skipped_count += c.skipped_count;
        t.error_count += c.error_count;
    }
    t.total_time = round(t.total_time);
    t
}

async fn report(
    State(app): State<App>,
    caller: Caller,
    Path((id, pipeline_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let suites = pipeline_suites(&app, &caller, &id, &pipeline_id).await?;
    let t = total(&suites);
    let rendered: Vec<_> = suites
        .iter()
        .map(|s| {
            let c = s.counts();
            // Failures first, as GitLab sorts a suite's cases.
            let mut cases: Vec<&TestCase> = s.cases.iter().collect();
            cases.sort_by_key(|c| c.status);
            json!({
                "name": s.name,
                "total_time": c.total_time,
                "total_count": c.total_count,
                "success_count": c.success_count,
                "failed_count": c.failed_count,
                "skipped_count": c.skipped_count,
                "error_count": c.error_count,
                "suite_error": s.error,
                "test_cases": cases.iter().map(|c| json!({
                    "status": c.status.as_str(),
                    "name": c.name,
                    "classname": c.classname,
                    "file": c.file,
                    "execution_time": c.execution_time,
                    "system_output": c.system_output,
                    "stack_trace": null,
                    "recent_failures": null,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(ok(json!({
        "total_time": t.total_time,
        "total_count": t.total_count,
        "success_count": t.success_count,
        "failed_count": t.failed_count,
        "skipped_count": t.skipped_count,
        "error_count": t.error_count,
        "test_suites": rendered,
    })))
}

async fn summary(
    State(app): State<App>,
    caller: Caller,
    Path((id, pipeline_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let suites = pipeline_suites(&app, &caller, &id, &pipeline_id).await?;
    let t = total(&suites);
    let rendered: Vec<_> = suites
        .iter()
        .map(|s| {
            let c = s.counts();
            json!({
                "name": s.name,
                "total_time": c.total_time,
                "total_count": c.total_count,
                "success_count": c.success_count,
                "failed_count": c.failed_count,
                "skipped_count": c.skipped_count,
                "error_count": c.error_count,
                "build_ids": s.build_ids,
                "suite_error": s.error,
            })
        })
        .collect();
    let suite_error = suites.iter().find_map(|s| s.error.clone());
    Ok(ok(json!({
        "total": {
            "time": t.total_time,
            "count": t.total_count,
            "success": t.success_count,
            "failed": t.failed_count,
            "skipped": t.skipped_count,
            "error": t.error_count,
            "suite_error": suite_error,
        },
        "test_suites": rendered,
    })))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gz(xml: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(xml.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_members_are_separate_documents() {
        let mut bytes = gz("<?xml version='1.0'?><testsuite><testcase name='a'/></testsuite>");
        bytes.extend(gz("<?xml version='1.0'?><testsuites><testsuite><testcase name='b'><failure/></testcase></testsuite></testsuites>"));
        let cases = parse_report(&bytes, true, 10, MAX_XML).unwrap();
        assert_eq!(cases.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(parse_report(&bytes, true, 1, MAX_XML).is_err());
        assert!(parse_report(b"\x1f\x8b\x08garbage", true, 10, MAX_XML).is_err());
        assert!(parse_report(&bytes[..bytes.len() - 5], true, 10, MAX_XML).is_err());
        // The XML budget covers every member together, counted as it inflates.
        assert!(parse_report(&bytes, true, 10, 100).is_err());
        let bomb = gz(&format!("<testsuite>{}</testsuite>", " ".repeat(1_000_000)));
        let Err(JunitError::Xml(why)) = parse_report(&bomb, true, 10, 64 * 1024) else { panic!() };
        assert!(why.contains("more than 65536 bytes"), "{why}");
    }

    #[test]
    fn parallel_jobs_share_a_suite() {
        assert_eq!(suite_name("rspec 1/3"), "rspec");
        assert_eq!(suite_name("rspec"), "rspec");
        assert_eq!(suite_name("build: [linux, 1/2]"), "build: [linux, 1/2]");
        assert_eq!(suite_name("a b/c"), "a b/c");
    }
}
