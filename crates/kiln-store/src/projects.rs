//! Projects, their CI settings, members and protected branches and tags.

use serde::Serialize;

use crate::Store;
use crate::codec::{Millis, Page, Paged, named_enum};
use crate::db::{read_tx, write_tx};
use crate::error::Result;
use crate::ids::{NamespaceId, ProjectId, ProtectedRefId, UserId};
use crate::namespaces::{AccessLevel, Member, Visibility, validate_path};

/// A project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Project {
    pub id: ProjectId,
    pub namespace_id: NamespaceId,
    pub name: String,
    pub path: String,
    /// `namespace/path`, unique, the repository's URL path.
    pub full_path: String,
    pub description: String,
    pub visibility: Visibility,
    pub default_branch: String,
    /// `ci_config_path`; empty means `.gitlab-ci.yml`.
    pub ci_config_path: String,
    /// `build_timeout` in seconds.
    pub build_timeout: i64,
    pub ci_default_git_depth: i64,
    pub shared_runners_enabled: bool,
    pub public_jobs: bool,
    pub archived: bool,
    pub creator_id: Option<UserId>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// What creating a project takes.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub namespace: NamespaceId,
    pub name: String,
    pub path: String,
    pub description: String,
    pub visibility: Visibility,
    pub default_branch: String,
    pub creator: Option<UserId>,
}

/// A settings change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProjectUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub visibility: Option<Visibility>,
    pub default_branch: Option<String>,
    pub ci_config_path: Option<String>,
    pub build_timeout: Option<i64>,
    pub ci_default_git_depth: Option<i64>,
    pub shared_runners_enabled: Option<bool>,
    pub public_jobs: Option<bool>,
    pub archived: Option<bool>,
}

/// Which projects to list.
#[derive(Debug, Clone, Default)]
pub struct ProjectFilter {
    /// Projects this user is a member of, directly or through a group.
    pub member: Option<UserId>,
    /// Projects directly in this namespace.
    pub namespace: Option<NamespaceId>,
    /// Projects at least this visible (`Internal` lists internal and public ones).
    pub min_visibility: Option<Visibility>,
}

named_enum! {
    /// A protected branch or a protected tag.
    pub enum RefKind {
        Branch = "branch",
        Tag = "tag",
    }
}

/// A protected branch or tag rule; `name` may hold `*` wildcards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProtectedRef {
    pub id: ProtectedRefId,
    pub project_id: ProjectId,
    pub kind: RefKind,
    pub name: String,
    /// Who may push (tags: create); `None` is GitLab's "no one" (0).
    pub push_access_level: Option<AccessLevel>,
    pub merge_access_level: Option<AccessLevel>,
    pub allow_force_push: bool,
    pub created_at: Millis,
}

impl ProtectedRef {
    /// Whether the rule covers `ref_name` (GitLab's wildcard: `*` matches any run of
    /// characters, `/` included).
    pub fn matches(&self, ref_name: &str) -> bool {
        wildcard_match(&self.name, ref_name)
    }
}

/// What protecting a ref takes.
#[derive(Debug, Clone)]
pub struct NewProtectedRef {
    pub kind: RefKind,
    pub name: String,
    pub push_access_level: Option<AccessLevel>,
    pub merge_access_level: Option<AccessLevel>,
    pub allow_force_push: bool,
}

impl Store {
    /// Creates a project in a namespace.
    pub async fn create_project(&self, new: &NewProject) -> Result<Project> {
        validate_path(&new.path)?;
        let now = Millis::now();
        write_tx!(self, |c, q| q::projects::create(c, new, now).await?)
    }

    /// The project with this id.
    pub async fn project(&self, id: ProjectId) -> Result<Project> {
        read_tx!(self, |c, q| q::projects::by_id(c, id).await?)
    }

    /// The project with this full path (`group/sub/project`), case-insensitive.
    pub async fn project_by_path(&self, full_path: &str) -> Result<Project> {
        read_tx!(self, |c, q| q::projects::by_path(c, full_path).await?)
    }

    /// Projects by id.
    pub async fn list_projects(&self, filter: &ProjectFilter, page: Page) -> Result<Paged<Project>> {
        read_tx!(self, |c, q| q::projects::list(c, filter, page).await?)
    }

    /// Changes settings and returns the project as it now is.
    pub async fn update_project(&self, id: ProjectId, update: &ProjectUpdate) -> Result<Project> {
        let now = Millis::now();
        write_tx!(self, |c, q| q::projects::update(c, id, update, now).await?)
    }

    /// Deletes a project with its pipelines, jobs, variables and the rest (the caller
    /// deletes the repository and blobs).
    pub async fn delete_project(&self, id: ProjectId) -> Result<()> {
        write_tx!(self, |c, q| q::projects::delete(c, id).await?)
    }

    /// Whether instance runners may take this project's jobs: the project's setting
    /// and every ancestor group's.
    pub async fn instance_runners_enabled(&self, id: ProjectId) -> Result<bool> {
        read_tx!(self, |c, q| q::projects::instance_runners_enabled(c, id).await?)
    }

    /// Adds a project member or changes their level.
    pub async fn set_project_member(
        &self,
        project: ProjectId,
        user: UserId,
        level: AccessLevel,
    ) -> Result<()> {
        let now = Millis::now();
        write_tx!(self, |c, q| q::projects::set_member(c, project, user, level, now).await?)
    }

    /// Removes a project member.
    pub async fn remove_project_member(&self, project: ProjectId, user: UserId) -> Result<()> {
        write_tx!(self, |c, q| q::projects::remove_member(c, project, user).await?)
    }

    /// The project's direct members.
    pub async fn project_members(&self, project: ProjectId) -> Result<Vec<Member>> {
        read_tx!(self, |c, q| q::projects::members(c, project).await?)
    }

    /// A user's effective level on a project: the highest of the project
    /// membership and the memberships of the groups above it (personal namespace
    /// owners are owners). `None`: not a member.
    pub async fn project_access(&self, project: ProjectId, user: UserId) -> Result<Option<AccessLevel>> {
        read_tx!(self, |c, q| q::projects::access(c, project, user).await?)
    }

    /// Protects a branch or tag name (pattern); protecting it again updates the rule.
    pub async fn protect_ref(&self, project: ProjectId, new: &NewProtectedRef) -> Result<ProtectedRef> {
        let now = Millis::now();
        write_tx!(self, |c, q| q::projects::protect(c, project, new, now).await?)
    }

    /// Removes a protection rule by its exact name.
    pub async fn unprotect_ref(&self, project: ProjectId, kind: RefKind, name: &str) -> Result<()> {
        write_tx!(self, |c, q| q::projects::unprotect(c, project, kind, name).await?)
    }

    /// The project's rules of one kind.
    pub async fn protected_refs(&self, project: ProjectId, kind: RefKind) -> Result<Vec<ProtectedRef>> {
        read_tx!(self, |c, q| q::projects::protected(c, project, kind).await?)
    }

    /// Whether `ref_name` is protected (a rule's pattern matches it).
    pub async fn is_protected_ref(&self, project: ProjectId, kind: RefKind, ref_name: &str) -> Result<bool> {
        Ok(self.protected_refs(project, kind).await?.iter().any(|r| r.matches(ref_name)))
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub(crate) fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == text;
    };
    if parts.len() == 1 {
        return pattern == text;
    }
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards_match_like_gitlab() {
        assert!(wildcard_match("main", "main"));
        assert!(!wildcard_match("main", "main2"));
        assert!(wildcard_match("release/*", "release/1.0"));
        assert!(wildcard_match("release/*", "release/a/b"));
        assert!(!wildcard_match("release/*", "releases"));
        assert!(wildcard_match("*-stable", "12-stable"));
        assert!(wildcard_match("v*.*", "v1.2"));
        assert!(!wildcard_match("v*.*", "v12"));
        assert!(wildcard_match("*", "anything"));
    }
}
