//! CI/CD variables of the instance, of groups and of projects: `masked`,
//! `protected`, `raw`, `variable_type` (`env_var` / `file`) and
//! `environment_scope`, with GitLab's validation of keys and masked values.

use serde::Serialize;

use crate::Store;
use crate::codec::{Millis, named_enum};
use crate::db::{read_tx, write_tx};
use crate::error::{Error, Result};
use crate::ids::{NamespaceId, ProjectId, VariableId};

named_enum! {
    /// `variable_type`.
    #[derive(Default)]
    pub enum VariableType {
        #[default]
        EnvVar = "env_var",
        File = "file",
    }
}

/// Whose variable it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum VariableOwner {
    Instance,
    Group(NamespaceId),
    Project(ProjectId),
}

impl VariableOwner {
    pub(crate) fn scope(self) -> &'static str {
        match self {
            VariableOwner::Instance => "instance",
            VariableOwner::Group(_) => "group",
            VariableOwner::Project(_) => "project",
        }
    }

    pub(crate) fn id(self) -> i64 {
        match self {
            VariableOwner::Instance => 0,
            VariableOwner::Group(g) => g.0,
            VariableOwner::Project(p) => p.0,
        }
    }
}

/// A stored variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variable {
    pub id: VariableId,
    pub owner: VariableOwner,
    pub key: String,
    pub value: String,
    pub variable_type: VariableType,
    pub protected: bool,
    pub masked: bool,
    /// Masked and hidden: the value is never shown again, not even to maintainers.
    pub hidden: bool,
    /// Not expanded (`raw: true`).
    pub raw: bool,
    /// `*` or an environment name or pattern (instance variables: always `*`).
    pub environment_scope: String,
    pub description: Option<String>,
    pub created_at: Millis,
}

/// What creating a variable takes.
#[derive(Debug, Clone)]
pub struct NewVariable {
    pub key: String,
    pub value: String,
    pub variable_type: VariableType,
    pub protected: bool,
    pub masked: bool,
    pub hidden: bool,
    pub raw: bool,
    pub environment_scope: String,
    pub description: Option<String>,
}

impl Default for NewVariable {
    fn default() -> NewVariable {
        NewVariable {
            key: String::new(),
            value: String::new(),
            variable_type: VariableType::EnvVar,
            protected: false,
            masked: false,
            hidden: false,
            raw: false,
            environment_scope: "*".to_owned(),
            description: None,
        }
    }
}

/// A change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct VariableUpdate {
    pub value: Option<String>,
    pub variable_type: Option<VariableType>,
    pub protected: Option<bool>,
    pub masked: Option<bool>,
    pub raw: Option<bool>,
    pub environment_scope: Option<String>,
    pub description: Option<String>,
}

/// GitLab's key rule: letters, digits and `_`, at most 255 characters.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// GitLab's `Ci::Maskable::REGEX`: one line, no spaces, at least 8 characters from the
/// Base64 alphabet plus `@`, `:`, `.`, `~` (and `-`, `_`, `+`, `=`, `/`).
pub fn maskable(value: &str) -> bool {
    value.len() >= 8 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=/@:.~-".contains(&b))
}

pub(crate) fn validate(key: &str, value: &str, masked: bool) -> Result<()> {
    if !valid_key(key) {
        return Err(Error::Invalid(format!(
            "variable key `{key}`: can contain only letters, digits and '_'"
        )));
    }
    if masked && !maskable(value) {
        return Err(Error::Invalid(format!(
            "variable `{key}`: value cannot be masked (it must be one line of at least 8 characters \
             from the Base64 alphabet (RFC4648), '@', ':', '.' or '~')"
        )));
    }
    Ok(())
}

impl Store {
    /// Creates a variable; a key already used in the same environment scope is a
    /// [`Error::Conflict`].
    pub async fn create_variable(&self, owner: VariableOwner, new: &NewVariable) -> Result<Variable> {
        validate(&new.key, &new.value, new.masked)?;
        if new.hidden && !new.masked {
            return Err(Error::Invalid(format!(
                "variable `{}`: only masked variables can be hidden",
                new.key
            )));
        }
        let now = Millis::now();
        write_tx!(self, |c, q| q::variables::create(c, owner, new, now).await?)
    }

    /// One variable by key; `environment_scope` picks among same-key variables.
    pub async fn variable(
        &self,
        owner: VariableOwner,
        key: &str,
        environment_scope: Option<&str>,
    ) -> Result<Variable> {
        read_tx!(self, |c, q| q::variables::get(c, owner, key, environment_scope).await?)
    }

    /// An owner's variables, by key.
    pub async fn list_variables(&self, owner: VariableOwner) -> Result<Vec<Variable>> {
        read_tx!(self, |c, q| q::variables::list(c, owner).await?)
    }

    /// Changes a variable (found by key and optional scope filter).
    pub async fn update_variable(
        &self,
        owner: VariableOwner,
        key: &str,
        environment_scope: Option<&str>,
        update: &VariableUpdate,
    ) -> Result<Variable> {
        write_tx!(self, |c, q| q::variables::update(c, owner, key, environment_scope, update).await?)
    }

    /// Deletes a variable (found by key and optional scope filter).
    pub async fn delete_variable(
        &self,
        owner: VariableOwner,
        key: &str,
        environment_scope: Option<&str>,
    ) -> Result<()> {
        write_tx!(self, |c, q| q::variables::delete(c, owner, key, environment_scope).await?)
    }

    /// Every variable a project's pipelines may see, lowest precedence first:
    /// instance, then groups from the root down, then the project. The caller applies
    /// protection and environment scopes.
    pub async fn variables_for_project(&self, project: ProjectId) -> Result<Vec<Variable>> {
        read_tx!(self, |c, q| q::variables::for_project(c, project).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_follows_gitlab() {
        assert!(maskable("abcdefgh"));
        assert!(maskable("a+b=c/d@e:f.g~h-i_j"));
        assert!(!maskable("short"));
        assert!(!maskable("has space in it"));
        assert!(!maskable("two\nlines!!"));
        assert!(!maskable("dollar$sign"));
        assert!(valid_key("CI_TOKEN_2"));
        assert!(!valid_key("bad-key"));
    }
}
