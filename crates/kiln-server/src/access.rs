//! Who may do what on a project: GitLab's access levels (guest, reporter,
//! developer, maintainer, owner), visibility, administrators, job tokens,
//! and protected branches and tags.

use kiln_store::namespaces::{AccessLevel, Visibility};
use kiln_store::projects::{Project, RefKind};

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Caller;

/// Things a caller may want to do on a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Clone and fetch.
    ReadCode,
    /// Read pipelines, jobs and logs.
    ReadBuilds,
    /// Read the variables a pipeline was run with.
    ReadPipelineVariables,
    /// Push (to unprotected refs), run, retry and cancel pipelines, play jobs.
    Develop,
    /// Project settings, CI/CD variables, protected refs, triggers, members, erasing jobs.
    Maintain,
    /// Delete pipelines and the project.
    Own,
}

/// A project and what the caller may do on it.
#[derive(Debug, Clone)]
pub(crate) struct ProjectAccess {
    pub(crate) project: Project,
    pub(crate) level: Option<AccessLevel>,
    pub(crate) admin: bool,
    /// The caller is a job token of this project's running job.
    pub(crate) via_job: bool,
}

impl ProjectAccess {
    /// Whether the caller may do `action`.
    pub(crate) fn can(&self, action: Action) -> bool {
        if self.admin {
            return true;
        }
        let at_least = |min: AccessLevel| self.level.is_some_and(|l| l >= min);
        if self.via_job {
            // Job tokens read their own project; they never administer it.
            return matches!(action, Action::ReadCode | Action::ReadBuilds);
        }
        let public = self.project.visibility == Visibility::Public;
        let internal_or_public = self.project.visibility != Visibility::Private;
        match action {
            Action::ReadCode => {
                at_least(AccessLevel::Reporter) || public || (internal_or_public && self.level.is_some())
            }
            Action::ReadBuilds => {
                at_least(AccessLevel::Reporter) || (self.project.public_jobs && internal_or_public)
            }
            Action::ReadPipelineVariables | Action::Develop => at_least(AccessLevel::Developer),
            Action::Maintain => at_least(AccessLevel::Maintainer),
            Action::Own => at_least(AccessLevel::Owner),
        }
    }

    /// `403 Forbidden` unless the caller may do `action`.
    pub(crate) fn require(&self, action: Action) -> ApiResult<()> {
        if self.can(action) { Ok(()) } else { Err(ApiError::forbidden()) }
    }

    /// Whether the caller may update `ref_name` (push to it, or run pipelines for it):
    /// developers on unprotected refs; on protected ones the rule's level.
    pub(crate) async fn can_update_ref(&self, app: &App, kind: RefKind, ref_name: &str) -> ApiResult<bool> {
        if self.admin {
            return Ok(true);
        }
        if self.via_job || !self.can(Action::Develop) {
            return Ok(false);
        }
        let rules = app.store.protected_refs(self.project.id, kind).await?;
        let matching: Vec<_> = rules.iter().filter(|r| r.matches(ref_name)).collect();
        if matching.is_empty() {
            return Ok(true);
        }
        let level = self.level;
        Ok(matching.iter().any(|rule| {
            let allowed = [rule.push_access_level, rule.merge_access_level];
            allowed.iter().flatten().any(|min| level.is_some_and(|l| l >= *min))
        }))
    }
}

/// Finds a project by numeric id or full path (`group%2Fproject`), as the
/// caller may see it: `404 Project Not Found` when it is not visible.
pub(crate) async fn project(app: &App, caller: &Caller, id: &str) -> ApiResult<ProjectAccess> {
    let found = if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        match id.parse::<i64>() {
            Ok(n) => app.store.project(kiln_store::ProjectId(n)).await,
            Err(_) => Err(kiln_store::Error::NotFound("project")),
        }
    } else {
        app.store.project_by_path(id).await
    };
    let project = match found {
        Ok(p) => p,
        Err(kiln_store::Error::NotFound(_)) => return Err(ApiError::not_found("Project")),
        Err(e) => return Err(e.into()),
    };
    access_to(app, caller, project).await
}

/// What the caller may do on a project already loaded.
pub(crate) async fn access_to(app: &App, caller: &Caller, project: Project) -> ApiResult<ProjectAccess> {
    let (level, admin, via_job) = match caller {
        Caller::Anonymous => (None, false, false),
        Caller::User { user, .. } => {
            (app.store.project_access(project.id, user.id).await?, user.admin, false)
        }
        Caller::Job { job, .. } => {
            if job.project_id != project.id {
                // A job token sees only its own project.
                return Err(ApiError::not_found("Project"));
            }
            (Some(AccessLevel::Reporter), false, true)
        }
    };
    let visible = admin
        || level.is_some()
        || project.visibility == Visibility::Public
        || (project.visibility == Visibility::Internal && caller.user().is_some());
    if !visible {
        return Err(ApiError::not_found("Project"));
    }
    Ok(ProjectAccess { project, level, admin, via_job })
}

#[cfg(test)]
mod tests {
    use kiln_store::{Millis, NamespaceId, ProjectId};

    use super::*;

    fn access(level: Option<AccessLevel>, visibility: Visibility) -> ProjectAccess {
        ProjectAccess {
            project: Project {
                id: ProjectId(1),
                namespace_id: NamespaceId(1),
                name: "p".into(),
                path: "p".into(),
                full_path: "g/p".into(),
                description: String::new(),
                visibility,
                default_branch: "main".into(),
                ci_config_path: String::new(),
                build_timeout: 3600,
                ci_default_git_depth: 20,
                shared_runners_enabled: true,
                public_jobs: true,
                archived: false,
                creator_id: None,
                created_at: Millis(0),
                updated_at: Millis(0),
            },
            level,
            admin: false,
            via_job: false,
        }
    }

    #[test]
    fn levels_grant_what_gitlab_grants() {
        let reporter = access(Some(AccessLevel::Reporter), Visibility::Private);
        assert!(reporter.can(Action::ReadBuilds) && reporter.can(Action::ReadCode));
        assert!(!reporter.can(Action::Develop));
        let developer = access(Some(AccessLevel::Developer), Visibility::Private);
        assert!(developer.can(Action::Develop) && !developer.can(Action::Maintain));
        let maintainer = access(Some(AccessLevel::Maintainer), Visibility::Private);
        assert!(maintainer.can(Action::Maintain) && !maintainer.can(Action::Own));
        assert!(access(Some(AccessLevel::Owner), Visibility::Private).can(Action::Own));
        let guest = access(Some(AccessLevel::Guest), Visibility::Private);
        assert!(!guest.can(Action::ReadBuilds) && !guest.can(Action::ReadCode));
        let outsider = access(None, Visibility::Public);
        assert!(
            outsider.can(Action::ReadCode)
                && outsider.can(Action::ReadBuilds)
                && !outsider.can(Action::Develop)
        );
        let job =
            ProjectAccess { via_job: true, ..access(Some(AccessLevel::Maintainer), Visibility::Private) };
        assert!(job.can(Action::ReadCode) && !job.can(Action::Develop) && !job.can(Action::Maintain));
    }
}
