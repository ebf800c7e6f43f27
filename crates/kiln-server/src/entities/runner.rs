//! `Runner`, `RunnerDetails` and `RunnerManager` (`lib/api/entities/ci/runner.rb`,
//! `runner_details.rb`, `runner_manager.rb`), with GitLab's runner status.

use kiln_store::Millis;
use kiln_store::runners::{Runner, RunnerManager, RunnerType};
use serde::Serialize;
use serde_json::Value;

use crate::http::time::{iso, iso_opt};

/// A runner (or manager) contacted within this long is online (GitLab's
/// `ONLINE_CONTACT_TIMEOUT`).
pub(crate) const ONLINE_MS: i64 = 2 * 3600 * 1000;
/// Without contact (or since creation) for this long it is stale (`STALE_TIMEOUT`).
pub(crate) const STALE_MS: i64 = 7 * 24 * 3600 * 1000;

/// GitLab's runner status, derived from the last contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunnerStatus {
    Online,
    Offline,
    Stale,
    NeverContacted,
}

impl RunnerStatus {
    pub(crate) fn of(created_at: Millis, contacted_at: Option<Millis>, now: Millis) -> RunnerStatus {
        let latest = contacted_at.map_or(created_at, |c| c.max(created_at));
        if latest.0 <= now.0 - STALE_MS {
            RunnerStatus::Stale
        } else if contacted_at.is_none() {
            RunnerStatus::NeverContacted
        } else if contacted_at.is_some_and(|c| c.0 > now.0 - ONLINE_MS) {
            RunnerStatus::Online
        } else {
            RunnerStatus::Offline
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RunnerStatus::Online => "online",
            RunnerStatus::Offline => "offline",
            RunnerStatus::Stale => "stale",
            RunnerStatus::NeverContacted => "never_contacted",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<RunnerStatus> {
        [RunnerStatus::Online, RunnerStatus::Offline, RunnerStatus::Stale, RunnerStatus::NeverContacted]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// `Runner`.
#[derive(Debug, Serialize)]
pub(crate) struct RunnerEntity {
    pub(crate) id: i64,
    pub(crate) description: String,
    pub(crate) ip_address: Option<String>,
    pub(crate) active: bool,
    pub(crate) paused: bool,
    pub(crate) is_shared: bool,
    pub(crate) runner_type: &'static str,
    pub(crate) name: Option<String>,
    pub(crate) online: bool,
    pub(crate) status: &'static str,
}

impl RunnerEntity {
    /// `managers` gives the IP of the latest contact.
    pub(crate) fn new(runner: &Runner, managers: &[RunnerManager], now: Millis) -> RunnerEntity {
        let status = RunnerStatus::of(runner.created_at, runner.contacted_at, now);
        RunnerEntity {
            id: runner.id.0,
            description: runner.description.clone(),
            ip_address: latest(managers).map(|m| m.ip_address.clone()).filter(|ip| !ip.is_empty()),
            active: !runner.paused,
            paused: runner.paused,
            is_shared: runner.runner_type == RunnerType::InstanceType,
            runner_type: runner.runner_type.as_str(),
            // The name a runner reports at registration is not stored.
            name: None,
            online: status == RunnerStatus::Online,
            status: status.as_str(),
        }
    }
}

/// The manager that contacted last.
pub(crate) fn latest(managers: &[RunnerManager]) -> Option<&RunnerManager> {
    managers.iter().max_by_key(|m| (m.contacted_at, m.id.0))
}

/// `RunnerDetails`: the runner plus its settings, latest manager's details,
/// projects and groups (as JSON built by the caller).
#[derive(Debug, Serialize)]
pub(crate) struct RunnerDetails {
    #[serde(flatten)]
    pub(crate) runner: RunnerEntity,
    pub(crate) tag_list: Vec<String>,
    pub(crate) run_untagged: bool,
    pub(crate) locked: bool,
    pub(crate) maximum_timeout: Option<i64>,
    pub(crate) access_level: &'static str,
    pub(crate) version: Option<String>,
    pub(crate) revision: Option<String>,
    pub(crate) platform: Option<String>,
    pub(crate) architecture: Option<String>,
    pub(crate) contacted_at: Option<String>,
    pub(crate) created_at: String,
    pub(crate) maintenance_note: Option<String>,
    pub(crate) projects: Vec<Value>,
    pub(crate) groups: Vec<Value>,
}

impl RunnerDetails {
    pub(crate) fn new(
        runner: &Runner,
        managers: &[RunnerManager],
        projects: Vec<Value>,
        groups: Vec<Value>,
        now: Millis,
    ) -> RunnerDetails {
        let last = latest(managers);
        let field = |f: fn(&RunnerManager) -> &String| last.map(f).filter(|s| !s.is_empty()).cloned();
        RunnerDetails {
            runner: RunnerEntity::new(runner, managers, now),
            tag_list: runner.tags.clone(),
            run_untagged: runner.run_untagged,
            locked: runner.locked,
            maximum_timeout: runner.maximum_timeout,
            access_level: runner.access_level.as_str(),
            version: field(|m| &m.version),
            revision: field(|m| &m.revision),
            platform: field(|m| &m.platform),
            architecture: field(|m| &m.architecture),
            contacted_at: iso_opt(runner.contacted_at),
            created_at: iso(runner.created_at),
            maintenance_note: None,
            projects,
            groups,
        }
    }
}

/// `RunnerManager`.
#[derive(Debug, Serialize)]
pub(crate) struct RunnerManagerEntity {
    pub(crate) id: i64,
    pub(crate) system_id: String,
    pub(crate) version: String,
    pub(crate) revision: String,
    pub(crate) platform: String,
    pub(crate) architecture: String,
    pub(crate) executor_type: Option<String>,
    pub(crate) created_at: String,
    pub(crate) contacted_at: Option<String>,
    pub(crate) ip_address: String,
    pub(crate) status: &'static str,
}

impl RunnerManagerEntity {
    pub(crate) fn new(m: &RunnerManager, now: Millis) -> RunnerManagerEntity {
        RunnerManagerEntity {
            id: m.id.0,
            system_id: m.system_id.clone(),
            version: m.version.clone(),
            revision: m.revision.clone(),
            platform: m.platform.clone(),
            architecture: m.architecture.clone(),
            executor_type: Some(m.executor.clone()).filter(|e| !e.is_empty()),
            created_at: iso(m.created_at),
            contacted_at: iso_opt(m.contacted_at),
            ip_address: m.ip_address.clone(),
            status: RunnerStatus::of(m.created_at, m.contacted_at, now).as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_gitlab_timeouts() {
        let now = Millis(100 * 24 * 3600 * 1000);
        let minutes_ago = |m: i64| Millis(now.0 - m * 60_000);
        assert_eq!(RunnerStatus::of(minutes_ago(10), None, now), RunnerStatus::NeverContacted);
        assert_eq!(RunnerStatus::of(minutes_ago(10), Some(minutes_ago(1)), now), RunnerStatus::Online);
        assert_eq!(RunnerStatus::of(minutes_ago(600), Some(minutes_ago(121)), now), RunnerStatus::Offline);
        assert_eq!(RunnerStatus::of(minutes_ago(8 * 24 * 60), None, now), RunnerStatus::Stale);
        assert_eq!(
            RunnerStatus::of(minutes_ago(30 * 24 * 60), Some(minutes_ago(8 * 24 * 60)), now),
            RunnerStatus::Stale
        );
        assert_eq!(RunnerStatus::from_name("stale"), Some(RunnerStatus::Stale));
        assert_eq!(RunnerStatus::from_name("paused"), None);
    }
}
