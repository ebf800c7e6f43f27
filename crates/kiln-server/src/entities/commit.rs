//! `Commit` (`lib/api/entities/commit.rb`).

use chrono::DateTime;
use kiln_git::CommitInfo;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct CommitEntity {
    pub(crate) id: String,
    pub(crate) short_id: String,
    pub(crate) created_at: String,
    pub(crate) parent_ids: Vec<String>,
    pub(crate) title: String,
    pub(crate) message: String,
    pub(crate) author_name: String,
    pub(crate) author_email: String,
    pub(crate) authored_date: String,
    pub(crate) committer_name: String,
    pub(crate) committer_email: String,
    pub(crate) committed_date: String,
    pub(crate) trailers: serde_json::Value,
    pub(crate) extended_trailers: serde_json::Value,
    pub(crate) web_url: String,
}

/// GitLab shows commit times with milliseconds and the author's offset.
fn gitlab_time(iso: &str) -> String {
    DateTime::parse_from_rfc3339(iso)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|_| iso.to_string())
}

impl CommitEntity {
    pub(crate) fn new(commit: &CommitInfo, project_url: &str) -> CommitEntity {
        CommitEntity {
            id: commit.sha.to_string(),
            short_id: commit.sha.short().to_string(),
            created_at: gitlab_time(&commit.committed_iso),
            parent_ids: commit.parents.iter().map(ToString::to_string).collect(),
            title: commit.title().to_string(),
            message: commit.message.clone(),
            author_name: commit.author_name.clone(),
            author_email: commit.author_email.clone(),
            authored_date: gitlab_time(&commit.authored_iso),
            committer_name: commit.committer_name.clone(),
            committer_email: commit.committer_email.clone(),
            committed_date: gitlab_time(&commit.committed_iso),
            trailers: serde_json::json!({}),
            extended_trailers: serde_json::json!({}),
            web_url: format!("{project_url}/-/commit/{}", commit.sha),
        }
    }
}
