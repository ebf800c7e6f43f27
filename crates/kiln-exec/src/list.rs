//! `kiln exec --list`: the jobs of the pipeline after rules, as a table or
//! JSON (name, stage, when, allow_failure, needs).

use kiln_config::plan::PipelinePlan;

use crate::exec::ListFormat;

/// `--list`: the jobs after rules.
pub(crate) fn list(plan: &PipelinePlan, format: ListFormat) -> String {
    match format {
        ListFormat::Json => {
            let jobs: Vec<serde_json::Value> = plan
                .jobs
                .iter()
                .map(|j| {
                    serde_json::json!({
                        "name": j.name,
                        "stage": j.stage,
                        "when": j.when.as_str(),
                        "allow_failure": j.allow_failure,
                        "needs": j.needs.as_ref().map(|n| n.iter().map(|n| n.job.clone()).collect::<Vec<_>>()),
                    })
                })
                .collect();
            serde_json::to_string_pretty(&jobs).unwrap_or_default() + "\n"
        }
        ListFormat::Table => {
            let header = ["NAME", "STAGE", "WHEN", "ALLOW FAILURE", "NEEDS"];
            let rows: Vec<[String; 5]> = plan
                .jobs
                .iter()
                .map(|j| {
                    [
                        j.name.clone(),
                        j.stage.clone(),
                        j.when.as_str().to_string(),
                        if j.allow_failure { "yes".into() } else { "no".into() },
                        match &j.needs {
                            None => "-".into(),
                            Some(n) if n.is_empty() => "[]".into(),
                            Some(n) => n.iter().map(|n| n.job.as_str()).collect::<Vec<_>>().join(", "),
                        },
                    ]
                })
                .collect();
            let mut widths = header.map(|h| h.chars().count());
            for row in &rows {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            let line = |cells: [&str; 5]| {
                let mut s = String::new();
                for (cell, w) in cells.iter().zip(widths) {
                    s.push_str(&format!("{cell:<w$}  "));
                }
                s.trim_end().to_string() + "\n"
            };
            let mut out = line(header);
            for r in &rows {
                out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
            }
            out
        }
    }
}
