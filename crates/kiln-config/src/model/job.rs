//! A job with every keyword, as GitLab's `Entry::Job` (script jobs) and
//! `Entry::Bridge` (trigger jobs) read it.

use crate::model::artifacts::Artifacts;
use crate::model::cache::Cache;
use crate::model::common::{AllowFailure, Duration, Spanned, When};
use crate::model::environment::{Environment, Release};
use crate::model::image::{Image, Service};
use crate::model::misc::{DastConfiguration, Inherit, JobInput, Pages, Step};
use crate::model::needs::Need;
use crate::model::parallel::Parallel;
use crate::model::retry::Retry;
use crate::model::rules::{Policy, Rule};
use crate::model::script::{Hooks, Script};
use crate::model::secrets::{IdToken, Identity, Secret};
use crate::model::trigger::Trigger;
use crate::model::variables::Variables;
use crate::source::Span;

/// One visible job. Values from `default:` were copied in by compose; what
/// is `None` here was not given anywhere.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub name: Spanned<String>,
    /// The whole job mapping.
    pub span: Span,
    /// `stage:` (or legacy `type:`); `test` when absent, with the job name's span.
    pub stage: Spanned<String>,
    /// True when `stage:`/`type:` was written.
    pub stage_explicit: bool,
    /// `None` for trigger jobs (and `run:` jobs).
    pub script: Option<Script>,
    pub before_script: Option<Script>,
    pub after_script: Option<Script>,
    pub hooks: Option<Hooks>,
    pub image: Option<Image>,
    pub services: Option<Vec<Service>>,
    pub variables: Variables,
    pub rules: Option<Vec<Rule>>,
    pub only: Option<Policy>,
    pub except: Option<Policy>,
    pub when: Option<Spanned<When>>,
    pub start_in: Option<Duration>,
    pub allow_failure: Option<AllowFailure>,
    pub needs: Option<Vec<Need>>,
    pub dependencies: Option<Vec<Spanned<String>>>,
    pub artifacts: Option<Artifacts>,
    pub cache: Option<Vec<Cache>>,
    pub retry: Option<Retry>,
    pub timeout: Option<Duration>,
    pub tags: Option<Vec<Spanned<String>>>,
    pub parallel: Option<Parallel>,
    pub trigger: Option<Trigger>,
    pub environment: Option<Environment>,
    pub resource_group: Option<Spanned<String>>,
    pub interruptible: Option<bool>,
    /// The regex between the slashes of `coverage: /.../`.
    pub coverage: Option<Spanned<String>>,
    pub release: Option<Release>,
    pub secrets: Vec<Secret>,
    pub id_tokens: Vec<IdToken>,
    pub identity: Option<Identity>,
    pub pages: Option<Pages>,
    pub publish: Option<String>,
    pub manual_confirmation: Option<String>,
    pub run: Option<Vec<Step>>,
    pub inherit: Inherit,
    pub dast_configuration: Option<DastConfiguration>,
    pub inputs: Vec<JobInput>,
}

impl Job {
    /// A trigger job (GitLab's "bridge").
    pub fn is_trigger(&self) -> bool {
        self.trigger.is_some()
    }
}
