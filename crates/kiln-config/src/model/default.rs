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

use crate::model::artifacts::parse_artifacts;
use crate::model::cache::parse_caches;
use crate::model::common::parse_duration_node;
use crate::model::cx::{Cx, sub};
use crate::model::image::{parse_image, parse_services};
use crate::model::retry::parse_retry;
use crate::model::script::{parse_hooks, parse_script};
use crate::model::secrets::{parse_id_tokens, parse_identity};
use crate::yaml::Node;

const KEYS: &[&str] = &[
    "after_script",
    "artifacts",
    "before_script",
    "hooks",
    "cache",
    "image",
    "interruptible",
    "id_tokens",
    "identity",
    "retry",
    "services",
    "tags",
    "timeout",
];

/// `default:`.
pub(crate) fn parse_default(cx: &mut Cx<'_>, node: &Node) -> Default {
    let loc = "default";
    let mut d = Default::default();
    if node.is_null() {
        return d;
    }
    let Some(map) = cx.map(node, loc) else { return d };
    cx.check_keys(map, KEYS, loc);
    for (k, value) in map.iter() {
        if value.is_null() {
            if cx.strict && KEYS.contains(&k.name.as_str()) {
                cx.err(value.span, &sub(loc, &k.name), "config can't be blank");
            }
            continue;
        }
        let kloc = sub(loc, &k.name);
        match k.name.as_str() {
            "after_script" => d.after_script = parse_script(cx, value, &kloc),
            "before_script" => d.before_script = parse_script(cx, value, &kloc),
            "hooks" => d.hooks = parse_hooks(cx, value, &kloc),
            "artifacts" => d.artifacts = parse_artifacts(cx, value, loc),
            "cache" => d.cache = parse_caches(cx, value, loc),
            "image" => d.image = parse_image(cx, value, &kloc),
            "services" => d.services = parse_services(cx, value, &kloc),
            "interruptible" => d.interruptible = cx.boolean(value, &kloc, "config"),
            "id_tokens" => d.id_tokens = parse_id_tokens(cx, value, loc),
            "identity" => d.identity = parse_identity(cx, value, loc),
            "retry" => d.retry = parse_retry(cx, value, loc),
            "tags" => d.tags = cx.strings(value, &kloc, "config"),
            "timeout" => d.timeout = parse_duration_node(cx, value, &kloc, "config", Some(30 * 86400), false),
            _ => {}
        }
    }
    d
}
