//! The `--format json` report of `kiln lint`. Other tools read it, so its
//! shape is documented in the README and changes only by adding fields.

use kiln_config::diag::Diagnostic;
use kiln_config::plan::PipelinePlan;
use kiln_config::plan::spec::JobSpec;
use kiln_config::source::SourceMap;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) valid: bool,
    pub(crate) errors: Vec<Message>,
    pub(crate) warnings: Vec<Message>,
    pub(crate) stages: Vec<String>,
    pub(crate) jobs: Vec<Job>,
    pub(crate) pipeline_created: bool,
    /// Why no pipeline would be created, when `pipeline_created` is false
    /// and the configuration is valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) not_created_reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Message {
    pub(crate) message: String,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<u32>,
    pub(crate) column: Option<u32>,
}

impl Message {
    pub(crate) fn new(diag: &Diagnostic, sources: &SourceMap) -> Message {
        Message {
            message: diag.message.clone(),
            file: diag.span.map(|s| sources.path(s.file).to_string()),
            line: diag.span.map(|s| s.start.line),
            column: diag.span.map(|s| s.start.column),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Job {
    pub(crate) name: String,
    pub(crate) stage: String,
    pub(crate) when: &'static str,
    pub(crate) allow_failure: bool,
    /// `null` when the job has no `needs:` and waits for earlier stages.
    pub(crate) needs: Option<Vec<Need>>,
    pub(crate) tags: Vec<String>,
    pub(crate) image: Option<String>,
    pub(crate) script: Vec<String>,
    pub(crate) retry: u8,
    pub(crate) timeout_s: Option<u64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Need {
    pub(crate) job: String,
    pub(crate) artifacts: bool,
    pub(crate) optional: bool,
}

impl Job {
    pub(crate) fn new(job: &JobSpec) -> Job {
        Job {
            name: job.name.clone(),
            stage: job.stage.clone(),
            when: job.when.as_str(),
            allow_failure: job.allow_failure,
            needs: job.needs.as_ref().map(|needs| {
                needs
                    .iter()
                    .map(|n| Need { job: n.job.clone(), artifacts: n.artifacts, optional: n.optional })
                    .collect()
            }),
            tags: job.tags.clone(),
            image: job.image.as_ref().map(|i| i.name.clone()),
            script: job.script.clone(),
            retry: job.retry.max,
            timeout_s: job.timeout,
        }
    }
}

pub(crate) fn jobs(plan: &PipelinePlan) -> Vec<Job> {
    plan.jobs.iter().map(Job::new).collect()
}
