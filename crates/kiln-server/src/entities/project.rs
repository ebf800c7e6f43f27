//! `Project` and `NamespaceBasic` (`lib/api/entities/project.rb`,
//! `namespace_basic.rb`), with the CI/CD settings GitLab shows to maintainers.

use kiln_store::namespaces::{AccessLevel, Namespace};
use kiln_store::projects::Project;
use serde::Serialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::http::time::iso;

#[derive(Debug, Serialize)]
pub(crate) struct NamespaceEntity {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) kind: String,
    pub(crate) full_path: String,
    pub(crate) parent_id: Option<i64>,
    pub(crate) avatar_url: Option<String>,
    pub(crate) web_url: String,
}

impl NamespaceEntity {
    pub(crate) fn new(app: &AppState, ns: &Namespace) -> NamespaceEntity {
        let web_url = match ns.kind {
            kiln_store::namespaces::NamespaceKind::Group => {
                format!("{}/groups/{}", app.config.external_url, ns.full_path)
            }
            kiln_store::namespaces::NamespaceKind::User => {
                format!("{}/{}", app.config.external_url, ns.full_path)
            }
        };
        NamespaceEntity {
            id: ns.id.0,
            name: ns.name.clone(),
            path: ns.path.clone(),
            kind: ns.kind.as_str().to_string(),
            full_path: ns.full_path.clone(),
            parent_id: ns.parent_id.map(|p| p.0),
            avatar_url: None,
            web_url,
        }
    }
}

/// A project, as `GET /projects/:id` shows it.
#[derive(Debug, Serialize)]
pub(crate) struct ProjectEntity {
    pub(crate) id: i64,
    pub(crate) description: String,
    pub(crate) name: String,
    pub(crate) name_with_namespace: String,
    pub(crate) path: String,
    pub(crate) path_with_namespace: String,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    pub(crate) default_branch: String,
    pub(crate) tag_list: Vec<String>,
    pub(crate) topics: Vec<String>,
    pub(crate) ssh_url_to_repo: Option<String>,
    pub(crate) http_url_to_repo: String,
    pub(crate) web_url: String,
    pub(crate) readme_url: Option<String>,
    pub(crate) avatar_url: Option<String>,
    pub(crate) forks_count: u32,
    pub(crate) star_count: u32,
    pub(crate) last_activity_at: String,
    pub(crate) namespace: NamespaceEntity,
    pub(crate) visibility: String,
    pub(crate) archived: bool,
    pub(crate) empty_repo: bool,
    pub(crate) creator_id: Option<i64>,
    pub(crate) jobs_enabled: bool,
    pub(crate) builds_access_level: &'static str,
    pub(crate) repository_access_level: &'static str,
    pub(crate) shared_runners_enabled: bool,
    pub(crate) public_jobs: bool,
    pub(crate) ci_config_path: Option<String>,
    pub(crate) build_timeout: i64,
    pub(crate) ci_default_git_depth: i64,
    pub(crate) auto_cancel_pending_pipelines: &'static str,
    pub(crate) permissions: Value,
}

impl ProjectEntity {
    pub(crate) fn new(app: &AppState, view: &ProjectView) -> ProjectEntity {
        let ProjectView { project, namespace, namespace_human_name, level, empty_repo } = view;
        let (level, empty_repo) = (*level, *empty_repo);
        let web_url = app.project_url(&project.full_path);
        ProjectEntity {
            id: project.id.0,
            description: project.description.clone(),
            name: project.name.clone(),
            name_with_namespace: format!("{namespace_human_name} / {}", project.name),
            path: project.path.clone(),
            path_with_namespace: project.full_path.clone(),
            created_at: iso(project.created_at),
            updated_at: iso(project.updated_at),
            default_branch: project.default_branch.clone(),
            tag_list: Vec::new(),
            topics: Vec::new(),
            ssh_url_to_repo: None,
            http_url_to_repo: format!("{web_url}.git"),
            readme_url: None,
            avatar_url: None,
            forks_count: 0,
            star_count: 0,
            last_activity_at: iso(project.updated_at),
            namespace: NamespaceEntity::new(app, namespace),
            visibility: project.visibility.as_str().to_string(),
            archived: project.archived,
            empty_repo,
            creator_id: project.creator_id.map(|u| u.0),
            jobs_enabled: true,
            builds_access_level: "enabled",
            repository_access_level: "enabled",
            shared_runners_enabled: project.shared_runners_enabled,
            public_jobs: project.public_jobs,
            ci_config_path: (!project.ci_config_path.is_empty()).then(|| project.ci_config_path.clone()),
            build_timeout: project.build_timeout,
            ci_default_git_depth: project.ci_default_git_depth,
            auto_cancel_pending_pipelines: "enabled",
            permissions: json!({
                "project_access": level.map(|l| json!({"access_level": l.value(), "notification_level": 3})),
                "group_access": null,
            }),
            web_url,
        }
    }
}

/// What rendering a project needs besides the project row.
#[derive(Debug, Clone)]
pub(crate) struct ProjectView {
    pub(crate) project: Project,
    pub(crate) namespace: Namespace,
    /// `Group / Subgroup` (GitLab's `human_name`).
    pub(crate) namespace_human_name: String,
    pub(crate) level: Option<AccessLevel>,
    pub(crate) empty_repo: bool,
}
