//! The outcome of a local pipeline: the `--report` JSON (documented in the
//! README) and the table printed at the end.

use serde::Serialize;

use crate::coordinator::Coordinator;
use kiln_pipeline::Status;

/// `--report FILE`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `success`, `failed`, `canceled`, or `manual` when a blocking manual
    /// job that was not played holds the rest of the pipeline back.
    pub status: String,
    pub duration_s: f64,
    pub jobs: Vec<JobReport>,
}

/// One job (its last attempt) of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobReport {
    pub name: String,
    pub stage: String,
    /// GitLab's status word: `success`, `failed`, `canceled`, `skipped`,
    /// `manual`, `created`, ...
    pub status: String,
    pub allow_failure: bool,
    pub exit_code: Option<i32>,
    pub failure_reason: Option<String>,
    /// `null` for a job that never ran.
    pub duration_s: Option<f64>,
    /// How many earlier attempts were retried.
    pub retried: u32,
}

impl Report {
    /// The report of the coordinator's pipeline, which ran for `duration_s`.
    pub fn of(c: &Coordinator, duration_s: f64) -> Report {
        let Some(state) = c.state() else {
            return Report { status: "success".into(), duration_s, jobs: Vec::new() };
        };
        let status = match state.status {
            Status::Failed => "failed",
            Status::Canceled | Status::Canceling => "canceled",
            Status::Manual => "manual",
            _ => "success",
        };
        let jobs = state
            .definitions
            .iter()
            .enumerate()
            .filter_map(|(i, def)| {
                let attempts: Vec<_> = state.jobs.iter().filter(|j| j.definition.0 as usize == i).collect();
                let job = attempts.iter().rev().find(|j| !j.retried).or(attempts.last())?;
                let spec = c.specs.get(i);
                Some(JobReport {
                    name: def.name.clone(),
                    stage: spec.map(|s| s.stage.clone()).unwrap_or_default(),
                    status: job.status.as_str().to_string(),
                    allow_failure: job.allow_failure,
                    exit_code: job.exit_code,
                    failure_reason: job.failure_reason.map(|r| r.as_str().to_string()),
                    duration_s: c.duration(job.id).map(|d| round_ms(d.as_secs_f64())),
                    retried: u32::try_from(attempts.iter().filter(|j| j.retried).count()).unwrap_or(u32::MAX),
                })
            })
            .collect();
        Report { status: status.into(), duration_s: round_ms(duration_s), jobs }
    }

    /// The manual jobs that hold a blocked pipeline back (not allowed to fail,
    /// not played).
    pub fn blocking(&self) -> Vec<&str> {
        if self.status != "manual" {
            return Vec::new();
        }
        self.jobs
            .iter()
            .filter(|j| j.status == "manual" && !j.allow_failure)
            .map(|j| j.name.as_str())
            .collect()
    }

    /// The final table: job, stage, status, duration, exit code.
    pub fn table(&self, color: bool) -> String {
        let header = ["JOB", "STAGE", "STATUS", "DURATION", "EXIT CODE"];
        let rows: Vec<[String; 5]> = self
            .jobs
            .iter()
            .map(|j| {
                [
                    j.name.clone(),
                    j.stage.clone(),
                    display_status(j),
                    j.duration_s.map_or_else(|| "-".into(), |d| format!("{d:.1}s")),
                    j.exit_code.map_or_else(|| "-".into(), |c| c.to_string()),
                ]
            })
            .collect();
        let mut widths = header.map(|h| h.chars().count());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: [&str; 5], paint: &str| {
            let mut s = String::new();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                let cell = format!("{cell:<w$}");
                if i == 2 && !paint.is_empty() && color {
                    s.push_str(&format!("{paint}{cell}\x1b[0m  "));
                } else {
                    s.push_str(&format!("{cell}  "));
                }
            }
            s.trim_end().to_string() + "\n"
        };
        let mut out = line(header, "");
        for (row, job) in rows.iter().zip(&self.jobs) {
            out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]], paint(job)));
        }
        out
    }
}

fn round_ms(s: f64) -> f64 {
    (s * 1000.0).round() / 1000.0
}

/// The status column: GitLab shows a failed job that may fail as a warning.
pub fn display_status(j: &JobReport) -> String {
    if j.status == "failed" && j.allow_failure { "allowed failure".into() } else { j.status.clone() }
}

fn paint(j: &JobReport) -> &'static str {
    match j.status.as_str() {
        "success" => "\x1b[32m",
        "failed" if j.allow_failure => "\x1b[33m",
        "failed" => "\x1b[31m",
        "canceled" => "\x1b[35m",
        _ => "\x1b[90m",
    }
}
