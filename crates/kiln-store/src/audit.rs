//! Audit events: who did what to which entity, for `GET /api/v4/audit_events`.

use serde::Serialize;

use crate::Store;
use crate::codec::{Millis, Page, Paged, named_enum};
use crate::db::{read_tx, write_tx};
use crate::error::Result;
use crate::ids::{AuditEventId, UserId};

named_enum! {
    /// The kind of entity an event is about (GitLab's `entity_type`).
    pub enum AuditEntity {
        User = "User",
        Group = "Group",
        Project = "Project",
        Pipeline = "Ci::Pipeline",
        Job = "Ci::Build",
        Runner = "Ci::Runner",
        Schedule = "Ci::PipelineSchedule",
        Trigger = "Ci::Trigger",
        Instance = "Gitlab::Audit::InstanceScope",
    }
}

named_enum! {
    /// What happened (GitLab's `event_name`).
    pub enum AuditAction {
        UserCreated = "user_created",
        UserBlocked = "user_blocked",
        PersonalAccessTokenCreated = "personal_access_token_created",
        PersonalAccessTokenRevoked = "personal_access_token_revoked",
        GroupCreated = "group_created",
        GroupDeleted = "group_destroyed",
        ProjectCreated = "project_created",
        ProjectDeleted = "project_destroyed",
        MemberChanged = "member_updated",
        VariableCreated = "variable_created",
        VariableUpdated = "variable_updated",
        VariableDeleted = "variable_destroyed",
        ProtectedRefChanged = "protected_ref_updated",
        PipelineCreated = "pipeline_created",
        PipelineCanceled = "pipeline_canceled",
        PipelineRetried = "pipeline_retried",
        PipelineDeleted = "pipeline_destroyed",
        JobPlayed = "job_played",
        JobRetried = "job_retried",
        JobCanceled = "job_canceled",
        JobErased = "job_erased",
        RunnerCreated = "ci_runner_created",
        RunnerDeleted = "ci_runner_destroyed",
        RunnerTokenReset = "ci_runner_token_reset",
        ScheduleCreated = "pipeline_schedule_created",
        ScheduleDeleted = "pipeline_schedule_destroyed",
        TriggerCreated = "trigger_created",
        TriggerDeleted = "trigger_destroyed",
        SettingsChanged = "application_setting_updated",
    }
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub author_id: Option<UserId>,
    pub author_name: String,
    pub entity_type: AuditEntity,
    pub entity_id: i64,
    pub entity_path: String,
    pub action: AuditAction,
    /// Free-form details (`custom_message`, changed fields, the source of a pipeline...).
    pub details: serde_json::Value,
    pub ip_address: Option<String>,
    pub created_at: Millis,
}

/// What recording an event takes.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub author_id: Option<UserId>,
    pub author_name: String,
    pub entity_type: AuditEntity,
    pub entity_id: i64,
    pub entity_path: String,
    pub action: AuditAction,
    pub details: serde_json::Value,
    pub ip_address: Option<String>,
}

/// Which events to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub entity_type: Option<AuditEntity>,
    pub entity_id: Option<i64>,
    pub author: Option<UserId>,
    pub created_after: Option<Millis>,
    pub created_before: Option<Millis>,
}

impl Store {
    /// Records an event.
    pub async fn record_audit_event(&self, event: &NewAuditEvent) -> Result<AuditEvent> {
        let now = Millis::now();
        write_tx!(self, |c, q| q::audit::record(c, event, now).await?)
    }

    /// Events, newest first.
    pub async fn list_audit_events(&self, filter: &AuditFilter, page: Page) -> Result<Paged<AuditEvent>> {
        read_tx!(self, |c, q| q::audit::list(c, filter, page).await?)
    }
}
