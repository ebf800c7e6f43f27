//! `PipelineBasic` and `Pipeline` (`lib/api/entities/ci/pipeline_basic.rb`,
//! `pipeline.rb`), and the pipeline `Variable`.

use kiln_store::pipelines::{Pipeline, PipelineVariable};
use serde::Serialize;

use crate::app::AppState;
use crate::entities::status::{DetailedStatus, detailed};
use crate::entities::user::UserEntity;
use crate::http::time::{iso, iso_opt};

#[derive(Debug, Serialize)]
pub(crate) struct PipelineBasic {
    pub(crate) id: u64,
    pub(crate) iid: i64,
    pub(crate) project_id: i64,
    pub(crate) sha: String,
    #[serde(rename = "ref")]
    pub(crate) ref_name: String,
    pub(crate) status: String,
    pub(crate) source: String,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    pub(crate) web_url: String,
    pub(crate) name: Option<String>,
}

impl PipelineBasic {
    pub(crate) fn new(app: &AppState, project_path: &str, p: &Pipeline) -> PipelineBasic {
        PipelineBasic {
            id: p.id.0,
            iid: p.iid,
            project_id: p.project_id.0,
            sha: p.sha.clone(),
            ref_name: p.ref_name.clone(),
            status: p.status.as_str().to_string(),
            source: p.source.as_str().to_string(),
            created_at: iso(p.created_at),
            updated_at: iso(p.updated_at),
            web_url: format!("{}/-/pipelines/{}", app.project_url(project_path), p.id.0),
            name: None,
        }
    }
}

/// The full pipeline.
#[derive(Debug, Serialize)]
pub(crate) struct PipelineEntity {
    #[serde(flatten)]
    pub(crate) basic: PipelineBasic,
    pub(crate) before_sha: String,
    pub(crate) tag: bool,
    pub(crate) yaml_errors: Option<String>,
    pub(crate) user: Option<UserEntity>,
    pub(crate) started_at: Option<String>,
    pub(crate) finished_at: Option<String>,
    pub(crate) committed_at: Option<String>,
    pub(crate) duration: Option<i64>,
    pub(crate) queued_duration: Option<i64>,
    pub(crate) coverage: Option<String>,
    pub(crate) detailed_status: DetailedStatus,
}

/// What the full pipeline shows besides the row.
#[derive(Debug, Default)]
pub(crate) struct PipelineExtras {
    pub(crate) user: Option<UserEntity>,
    pub(crate) committed_at: Option<String>,
    /// A current job failed or was canceled but was allowed to.
    pub(crate) warnings: bool,
}

impl PipelineEntity {
    pub(crate) fn new(
        app: &AppState,
        project_path: &str,
        p: &Pipeline,
        extras: PipelineExtras,
    ) -> PipelineEntity {
        let basic = PipelineBasic::new(app, project_path, p);
        let details_path = format!("/{project_path}/-/pipelines/{}", p.id.0);
        let secs = |a: Option<kiln_store::Millis>, b: Option<kiln_store::Millis>| match (a, b) {
            (Some(a), Some(b)) => Some((b.0 - a.0).max(0) / 1000),
            _ => None,
        };
        PipelineEntity {
            before_sha: p.before_sha.clone().unwrap_or_else(|| "0".repeat(40)),
            tag: p.tag,
            yaml_errors: p.yaml_errors.clone(),
            user: extras.user,
            started_at: iso_opt(p.started_at),
            finished_at: iso_opt(p.finished_at),
            committed_at: extras.committed_at,
            duration: secs(p.started_at, p.finished_at),
            queued_duration: secs(Some(p.created_at), p.started_at),
            coverage: None,
            detailed_status: detailed(p.status, extras.warnings, true, details_path),
            basic,
        }
    }
}

/// A pipeline variable (`/pipelines/:id/variables`).
#[derive(Debug, Serialize)]
pub(crate) struct PipelineVariableEntity {
    pub(crate) variable_type: String,
    pub(crate) key: String,
    pub(crate) value: String,
}

impl From<&PipelineVariable> for PipelineVariableEntity {
    fn from(v: &PipelineVariable) -> PipelineVariableEntity {
        PipelineVariableEntity {
            variable_type: v.variable_type.as_str().to_string(),
            key: v.key.clone(),
            value: v.value.clone(),
        }
    }
}
