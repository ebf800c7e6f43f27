//! Namespaces (a user's personal one, and groups with subgroups) and group
//! memberships. Each namespace keeps its traversal path (`/1/5/9/`: its ancestors'
//! ids and its own), so "projects under this group" is a prefix match.

use serde::Serialize;

use crate::Store;
use crate::codec::{Millis, Page, Paged, named_enum};
use crate::db::{read_tx, write_tx};
use crate::error::{Error, Result};
use crate::ids::{NamespaceId, UserId};

named_enum! {
    /// A user's personal namespace or a group.
    pub enum NamespaceKind {
        User = "user",
        Group = "group",
    }
}

named_enum! {
    /// GitLab's visibility levels.
    pub enum Visibility {
        Private = "private",
        Internal = "internal",
        Public = "public",
    }
}

/// GitLab's member access levels, stored as GitLab's integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "i64")]
pub enum AccessLevel {
    Guest,
    Reporter,
    Developer,
    Maintainer,
    Owner,
}

impl AccessLevel {
    /// GitLab's integer (10, 20, 30, 40, 50).
    pub fn value(self) -> i64 {
        match self {
            AccessLevel::Guest => 10,
            AccessLevel::Reporter => 20,
            AccessLevel::Developer => 30,
            AccessLevel::Maintainer => 40,
            AccessLevel::Owner => 50,
        }
    }

    /// The level for GitLab's integer.
    pub fn from_value(v: i64) -> Option<AccessLevel> {
        [
            AccessLevel::Guest,
            AccessLevel::Reporter,
            AccessLevel::Developer,
            AccessLevel::Maintainer,
            AccessLevel::Owner,
        ]
        .into_iter()
        .find(|l| l.value() == v)
    }
}

impl From<AccessLevel> for i64 {
    fn from(l: AccessLevel) -> i64 {
        l.value()
    }
}

/// A namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Namespace {
    pub id: NamespaceId,
    pub kind: NamespaceKind,
    pub name: String,
    pub path: String,
    pub full_path: String,
    pub parent_id: Option<NamespaceId>,
    /// The user of a personal namespace.
    pub owner_id: Option<UserId>,
    pub visibility: Visibility,
    pub description: String,
    /// Whether instance runners may serve the projects below (GitLab's group setting).
    pub shared_runners_enabled: bool,
    pub created_at: Millis,
}

/// What creating a group takes.
#[derive(Debug, Clone)]
pub struct NewGroup {
    pub name: String,
    pub path: String,
    pub parent: Option<NamespaceId>,
    pub visibility: Visibility,
    pub description: String,
}

/// A user's membership of a group or project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub user_id: UserId,
    pub access_level: AccessLevel,
    pub created_at: Millis,
}

impl Store {
    /// Creates a group (or subgroup); `creator` becomes its owner.
    pub async fn create_group(&self, new: &NewGroup, creator: UserId) -> Result<Namespace> {
        validate_path(&new.path)?;
        let now = Millis::now();
        write_tx!(self, |c, q| q::namespaces::create_group(c, new, creator, now).await?)
    }

    /// The namespace with this id.
    pub async fn namespace(&self, id: NamespaceId) -> Result<Namespace> {
        read_tx!(self, |c, q| q::namespaces::by_id(c, id).await?)
    }

    /// The namespace with this full path (`group/subgroup` or a username).
    pub async fn namespace_by_path(&self, full_path: &str) -> Result<Namespace> {
        read_tx!(self, |c, q| q::namespaces::by_path(c, full_path).await?)
    }

    /// A user's personal namespace.
    pub async fn user_namespace(&self, user: UserId) -> Result<Namespace> {
        read_tx!(self, |c, q| q::namespaces::of_user(c, user).await?)
    }

    /// Groups by id; with `member`, only groups that user belongs to (directly).
    pub async fn list_groups(&self, member: Option<UserId>, page: Page) -> Result<Paged<Namespace>> {
        read_tx!(self, |c, q| q::namespaces::list_groups(c, member, page).await?)
    }

    /// The namespace's ancestors and itself, root first (variable inheritance order).
    pub async fn namespace_lineage(&self, id: NamespaceId) -> Result<Vec<Namespace>> {
        read_tx!(self, |c, q| q::namespaces::lineage(c, id).await?)
    }

    /// Turns instance runners on or off for a group's projects.
    pub async fn set_group_shared_runners(&self, id: NamespaceId, enabled: bool) -> Result<()> {
        write_tx!(self, |c, q| q::namespaces::set_shared_runners(c, id, enabled).await?)
    }

    /// Deletes a group with its subgroups and projects.
    pub async fn delete_group(&self, id: NamespaceId) -> Result<()> {
        write_tx!(self, |c, q| q::namespaces::delete(c, id).await?)
    }

    /// Adds a member or changes their level.
    pub async fn set_group_member(&self, group: NamespaceId, user: UserId, level: AccessLevel) -> Result<()> {
        let now = Millis::now();
        write_tx!(self, |c, q| q::namespaces::set_member(c, group, user, level, now).await?)
    }

    /// Removes a member.
    pub async fn remove_group_member(&self, group: NamespaceId, user: UserId) -> Result<()> {
        write_tx!(self, |c, q| q::namespaces::remove_member(c, group, user).await?)
    }

    /// A group's direct members.
    pub async fn group_members(&self, group: NamespaceId) -> Result<Vec<Member>> {
        read_tx!(self, |c, q| q::namespaces::members(c, group).await?)
    }

    /// The highest level a user has in a group, inherited from ancestor groups.
    pub async fn group_access(&self, group: NamespaceId, user: UserId) -> Result<Option<AccessLevel>> {
        read_tx!(self, |c, q| q::namespaces::access(c, group, user).await?)
    }
}

/// GitLab's path rule: letters, digits, `_`, `-`, `.`; not starting with `-` or `.`,
/// not ending in `.git` or `.atom`.
pub(crate) fn validate_path(path: &str) -> Result<()> {
    let ok = !path.is_empty()
        && path.len() <= 255
        && path.chars().all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.'))
        && !path.starts_with(['-', '.'])
        && !path.ends_with('.')
        && !path.ends_with(".git")
        && !path.ends_with(".atom");
    if ok { Ok(()) } else { Err(Error::Invalid(format!("path `{path}`"))) }
}
