//! `JobBasic`, `Job` and `Bridge` (`lib/api/entities/ci/job_basic.rb`,
//! `job.rb`, `bridge.rb`).

use kiln_pipeline::Status;
use kiln_store::artifacts::{Artifact, ArtifactType};
use kiln_store::jobs::JobRecord;
use kiln_store::pipelines::Pipeline;
use serde::Serialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::entities::commit::CommitEntity;
use crate::entities::pipeline::PipelineBasic;
use crate::entities::user::UserEntity;
use crate::http::time::{iso, iso_opt, seconds_between};

#[derive(Debug, Serialize)]
pub(crate) struct JobEntity {
    pub(crate) id: i64,
    pub(crate) status: String,
    pub(crate) stage: String,
    pub(crate) name: String,
    #[serde(rename = "ref")]
    pub(crate) ref_name: String,
    pub(crate) tag: bool,
    pub(crate) coverage: Option<f64>,
    pub(crate) allow_failure: bool,
    pub(crate) created_at: String,
    pub(crate) started_at: Option<String>,
    pub(crate) finished_at: Option<String>,
    pub(crate) erased_at: Option<String>,
    pub(crate) duration: Option<f64>,
    pub(crate) queued_duration: Option<f64>,
    pub(crate) user: Option<UserEntity>,
    pub(crate) commit: Option<CommitEntity>,
    pub(crate) pipeline: PipelineBasic,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) failure_reason: Option<String>,
    pub(crate) web_url: String,
    pub(crate) project: Value,
    /// `Job` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) artifacts_file: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) artifacts: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) runner: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) artifacts_expire_at: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) archived: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tag_list: Option<Vec<String>>,
    /// `Bridge` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) downstream_pipeline: Option<Value>,
}

/// What a job shows besides its row.
pub(crate) struct JobContext<'a> {
    pub(crate) project_path: &'a str,
    pub(crate) pipeline: &'a Pipeline,
    pub(crate) user: Option<UserEntity>,
    pub(crate) commit: Option<CommitEntity>,
    pub(crate) now: kiln_store::Millis,
}

impl JobEntity {
    /// `JobBasic` fields.
    pub(crate) fn basic(app: &AppState, job: &JobRecord, cx: JobContext<'_>) -> JobEntity {
        let running = matches!(job.status, Status::Running | Status::Canceling);
        let end = job.finished_at.or(running.then_some(cx.now));
        JobEntity {
            id: job.id.0,
            status: job.status.as_str().to_string(),
            stage: job.stage.clone(),
            name: job.name.clone(),
            ref_name: cx.pipeline.ref_name.clone(),
            tag: cx.pipeline.tag,
            coverage: None,
            allow_failure: job.allow_failure,
            created_at: iso(job.created_at),
            started_at: iso_opt(job.started_at),
            finished_at: iso_opt(job.finished_at),
            erased_at: iso_opt(job.erased_at),
            duration: seconds_between(job.started_at, end),
            queued_duration: seconds_between(
                job.queued_at,
                job.started_at.or((job.status == Status::Pending).then_some(cx.now)),
            ),
            user: cx.user,
            commit: cx.commit,
            pipeline: PipelineBasic::new(app, cx.project_path, cx.pipeline),
            failure_reason: (job.status == Status::Failed)
                .then(|| job.failure_reason.map_or("unknown_failure", |r| r.as_str()).to_string()),
            web_url: format!("{}/-/jobs/{}", app.project_url(cx.project_path), job.id.0),
            project: json!({ "ci_job_token_scope_enabled": false }),
            artifacts_file: None,
            artifacts: None,
            runner: None,
            artifacts_expire_at: None,
            archived: None,
            tag_list: None,
            downstream_pipeline: None,
        }
    }

    /// `Job`: the basic fields plus artifacts, runner and tags.
    pub(crate) fn full(app: &AppState, job: &JobRecord, cx: JobContext<'_>) -> JobEntity {
        let mut tags = job.tags.clone();
        tags.sort();
        JobEntity {
            artifacts: Some(Vec::new()),
            runner: Some(Value::Null),
            artifacts_expire_at: Some(Value::Null),
            archived: Some(false),
            tag_list: Some(tags),
            ..JobEntity::basic(app, job, cx)
        }
    }

    /// `artifacts`, `artifacts_file` (when there is an archive) and
    /// `artifacts_expire_at` of a `Job`.
    pub(crate) fn with_artifacts(self, files: &[Artifact]) -> JobEntity {
        let listed = files
            .iter()
            .map(|a| {
                json!({
                    "file_type": a.file_type.as_str(),
                    "size": a.size,
                    "filename": a.file_name,
                    "file_format": a.file_format.as_str(),
                })
            })
            .collect();
        let archive = files.iter().find(|a| a.file_type == ArtifactType::Archive);
        JobEntity {
            artifacts: Some(listed),
            artifacts_file: archive.map(|a| json!({ "filename": a.file_name, "size": a.size })),
            artifacts_expire_at: Some(
                archive.and_then(|a| a.expire_at).map_or(Value::Null, |t| Value::String(iso(t))),
            ),
            ..self
        }
    }

    /// `Bridge`: the basic fields plus the downstream pipeline.
    pub(crate) fn bridge(
        app: &AppState,
        job: &JobRecord,
        cx: JobContext<'_>,
        downstream: Option<(&str, &Pipeline)>,
    ) -> JobEntity {
        let downstream = downstream
            .map(|(path, p)| serde_json::to_value(PipelineBasic::new(app, path, p)).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        JobEntity { downstream_pipeline: Some(downstream), ..JobEntity::basic(app, job, cx) }
    }
}
