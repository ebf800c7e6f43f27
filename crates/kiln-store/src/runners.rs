//! Runners (instance, group, project), their `glrt-` authentication tokens, the
//! machines serving them (runner managers, keyed by `system_id`), and the
//! [`RunnerMatch`] a claim works from.

use serde::Serialize;

use crate::Store;
use crate::codec::{Millis, Page, Paged, named_enum};
use crate::db::{read_tx, write_tx};
use crate::error::{Error, Result};
use crate::ids::{BuildId, NamespaceId, ProjectId, RunnerId, RunnerManagerId, UserId};
use crate::queue::RunnerMatch;
use crate::token::{self, TokenKind};

named_enum! {
    /// GitLab's runner types.
    pub enum RunnerType {
        InstanceType = "instance_type",
        GroupType = "group_type",
        ProjectType = "project_type",
    }
}

named_enum! {
    /// `access_level`.
    pub enum RunnerAccessLevel {
        NotProtected = "not_protected",
        RefProtected = "ref_protected",
    }
}

named_enum! {
    /// How the runner was created.
    pub enum RegistrationType {
        AuthenticatedUser = "authenticated_user",
        RegistrationToken = "registration_token",
    }
}

/// A runner.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Runner {
    pub id: RunnerId,
    pub runner_type: RunnerType,
    /// The group of a group runner.
    pub group_id: Option<NamespaceId>,
    /// The projects of a project runner (the first is its owner).
    pub projects: Vec<ProjectId>,
    pub description: String,
    /// Sorted, without duplicates.
    pub tags: Vec<String>,
    pub run_untagged: bool,
    pub locked: bool,
    pub access_level: RunnerAccessLevel,
    pub paused: bool,
    /// Seconds; caps the job timeout.
    pub maximum_timeout: Option<i64>,
    pub token_expires_at: Option<Millis>,
    pub registration_type: RegistrationType,
    pub creator_id: Option<UserId>,
    /// Latest contact of any of its managers.
    pub contacted_at: Option<Millis>,
    /// Compute minutes a job here costs per minute it runs (GitLab's cost factor).
    pub cost_factor: f64,
    pub created_at: Millis,
}

/// What creating a runner takes.
#[derive(Debug, Clone)]
pub struct NewRunner {
    pub runner_type: RunnerType,
    pub group: Option<NamespaceId>,
    pub projects: Vec<ProjectId>,
    pub description: String,
    pub tags: Vec<String>,
    pub run_untagged: bool,
    pub locked: bool,
    pub access_level: RunnerAccessLevel,
    pub paused: bool,
    pub maximum_timeout: Option<i64>,
    pub token_expires_at: Option<Millis>,
    pub registration_type: RegistrationType,
    pub creator: Option<UserId>,
}

impl NewRunner {
    /// An instance runner with GitLab's defaults (untagged jobs, not protected).
    pub fn instance() -> NewRunner {
        NewRunner {
            runner_type: RunnerType::InstanceType,
            group: None,
            projects: Vec::new(),
            description: String::new(),
            tags: Vec::new(),
            run_untagged: true,
            locked: false,
            access_level: RunnerAccessLevel::NotProtected,
            paused: false,
            maximum_timeout: None,
            token_expires_at: None,
            registration_type: RegistrationType::AuthenticatedUser,
            creator: None,
        }
    }
}

/// A change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RunnerUpdate {
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub run_untagged: Option<bool>,
    pub locked: Option<bool>,
    pub access_level: Option<RunnerAccessLevel>,
    pub paused: Option<bool>,
    /// `Some(None)` removes the maximum.
    pub maximum_timeout: Option<Option<i64>>,
    pub cost_factor: Option<f64>,
}

/// Which runners to list.
#[derive(Debug, Clone, Default)]
pub struct RunnerFilter {
    pub runner_type: Option<RunnerType>,
    pub paused: Option<bool>,
    /// Runners that serve this project (assigned project runners).
    pub project: Option<ProjectId>,
    /// Group runners of this group.
    pub group: Option<NamespaceId>,
    /// Runners that have every one of these tags.
    pub tags: Vec<String>,
}

/// One machine serving a runner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunnerManager {
    pub id: RunnerManagerId,
    pub runner_id: RunnerId,
    pub system_id: String,
    pub version: String,
    pub revision: String,
    pub platform: String,
    pub architecture: String,
    pub executor: String,
    pub ip_address: String,
    pub contacted_at: Option<Millis>,
    pub created_at: Millis,
}

/// What a runner reports about the machine it runs on (`info` of a job request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManagerInfo {
    pub system_id: String,
    pub version: String,
    pub revision: String,
    pub platform: String,
    pub architecture: String,
    pub executor: String,
    pub ip_address: String,
}

/// `contacted_at` is written at most this often, so polling is mostly reads.
pub const CONTACT_RESOLUTION_MS: i64 = 60_000;

pub(crate) fn normalize_tags(tags: &[String]) -> Vec<String> {
    let mut tags: Vec<String> = tags.iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect();
    tags.sort();
    tags.dedup();
    tags
}

impl Store {
    /// Creates a runner; the `glrt-` token is returned only here.
    pub async fn create_runner(&self, new: &NewRunner) -> Result<(Runner, String)> {
        match new.runner_type {
            RunnerType::InstanceType if new.group.is_some() || !new.projects.is_empty() => {
                return Err(Error::Invalid("runner: an instance runner has no group or project".into()));
            }
            RunnerType::GroupType if new.group.is_none() => {
                return Err(Error::Invalid("runner: a group runner needs its group".into()));
            }
            RunnerType::ProjectType if new.projects.is_empty() => {
                return Err(Error::Invalid("runner: a project runner needs a project".into()));
            }
            _ => {}
        }
        let token = token::generate(TokenKind::Runner)?;
        let now = Millis::now();
        let runner = write_tx!(self, |c, q| q::runners::create(c, new, &token.digest, now).await?)?;
        Ok((runner, token.token))
    }

    /// The runner with this id.
    pub async fn runner(&self, id: RunnerId) -> Result<Runner> {
        read_tx!(self, |c, q| q::runners::by_id(c, id).await?)
    }

    /// The runner a `glrt-` token authenticates; expired tokens are
    /// [`Error::NotFound`] like unknown ones.
    pub async fn runner_by_token(&self, token: &str, now: Millis) -> Result<Runner> {
        let digest = token::digest(token);
        let (runner, stored) =
            crate::db::read_one!(self, |c, q| q::runners::by_token_digest(c, &digest).await?)?;
        if !token::matches(token, &stored) || runner.token_expires_at.is_some_and(|e| e <= now) {
            return Err(Error::NotFound("runner"));
        }
        Ok(runner)
    }

    /// Runners by id.
    pub async fn list_runners(&self, filter: &RunnerFilter, page: Page) -> Result<Paged<Runner>> {
        read_tx!(self, |c, q| q::runners::list(c, filter, page).await?)
    }

    /// Changes a runner's settings.
    pub async fn update_runner(&self, id: RunnerId, update: &RunnerUpdate) -> Result<Runner> {
        write_tx!(self, |c, q| q::runners::update(c, id, update).await?)
    }

    /// Deletes a runner and its managers.
    pub async fn delete_runner(&self, id: RunnerId) -> Result<()> {
        write_tx!(self, |c, q| q::runners::delete(c, id).await?)
    }

    /// Replaces the runner's token (the old one stops working at once).
    pub async fn reset_runner_token(
        &self,
        id: RunnerId,
        expires_at: Option<Millis>,
    ) -> Result<(Runner, String)> {
        let token = token::generate(TokenKind::Runner)?;
        let runner = write_tx!(self, |c, q| q::runners::set_token(c, id, &token.digest, expires_at).await?)?;
        Ok((runner, token.token))
    }

    /// Assigns a project runner to one more project.
    pub async fn assign_runner_project(&self, runner: RunnerId, project: ProjectId) -> Result<()> {
        write_tx!(self, |c, q| q::runners::assign(c, runner, project).await?)
    }

    /// Removes a project from a project runner.
    pub async fn unassign_runner_project(&self, runner: RunnerId, project: ProjectId) -> Result<()> {
        write_tx!(self, |c, q| q::runners::unassign(c, runner, project).await?)
    }

    /// Records a runner manager's contact: creates it on first sight, updates its
    /// details when they change, and `contacted_at` at most once a minute, so most
    /// polls write nothing.
    pub async fn touch_runner_manager(
        &self,
        runner: RunnerId,
        info: &ManagerInfo,
        now: Millis,
    ) -> Result<RunnerManager> {
        if info.system_id.is_empty() {
            return Err(Error::Invalid("runner manager: empty system_id".into()));
        }
        let current = read_tx!(self, |c, q| q::runners::manager(c, runner, &info.system_id).await?)?;
        if let Some(m) = &current {
            let same = m.version == info.version
                && m.revision == info.revision
                && m.platform == info.platform
                && m.architecture == info.architecture
                && m.executor == info.executor
                && m.ip_address == info.ip_address;
            if same && m.contacted_at.is_some_and(|t| now.0 - t.0 < CONTACT_RESOLUTION_MS) {
                return Ok(m.clone());
            }
        }
        write_tx!(self, |c, q| q::runners::upsert_manager(c, runner, info, now).await?)
    }

    /// A runner's managers.
    pub async fn runner_managers(&self, runner: RunnerId) -> Result<Vec<RunnerManager>> {
        read_tx!(self, |c, q| q::runners::managers(c, runner).await?)
    }

    /// Deletes one manager (`DELETE /runners/managers`).
    pub async fn delete_runner_manager(&self, runner: RunnerId, system_id: &str) -> Result<()> {
        write_tx!(self, |c, q| q::runners::delete_manager(c, runner, system_id).await?)
    }

    /// What a claim for this runner matches on.
    pub async fn runner_match(&self, runner: &Runner, manager: RunnerManagerId) -> Result<RunnerMatch> {
        read_tx!(self, |c, q| q::runners::matcher(c, runner, manager).await?)
    }

    /// Of these pending jobs, the ones no online (contacted since `since`),
    /// unpaused runner could take (one look at the runners for all of them):
    /// stuck-job detection drops them.
    pub async fn jobs_without_online_runner(&self, jobs: &[BuildId], since: Millis) -> Result<Vec<BuildId>> {
        read_tx!(self, |c, q| q::runners::jobs_without_online_runner(c, jobs, since).await?)
    }
}
