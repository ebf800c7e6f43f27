//! `default:`, validated on its own (compose already copied its values into
//! the jobs).

use crate::model::artifacts::Artifacts;
use crate::model::cache::Cache;
use crate::model::common::Duration;
use crate::model::common::Spanned;
use crate::model::image::{Image, Service};
use crate::model::retry::Retry;
use crate::model::script::{Hooks, Script};
use crate::model::secrets::{IdToken, Identity};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Default {
    pub after_script: Option<Script>,
    pub artifacts: Option<Artifacts>,
    pub before_script: Option<Script>,
    pub hooks: Option<Hooks>,
    pub cache: Option<Vec<Cache>>,
    pub image: Option<Image>,
    pub interruptible: Option<bool>,
    pub id_tokens: Vec<IdToken>,
    pub identity: Option<Identity>,
    pub retry: Option<Retry>,
    pub services: Option<Vec<Service>>,
    pub tags: Option<Vec<Spanned<String>>>,
    pub timeout: Option<Duration>,
}
