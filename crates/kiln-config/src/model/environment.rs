//! `environment:` and `release:`.

use crate::model::common::Spanned;
use crate::source::Span;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub span: Span,
    pub name: Spanned<String>,
    pub url: Option<String>,
    pub on_stop: Option<Spanned<String>>,
    /// Default `start`.
    pub action: Option<EnvironmentAction>,
    pub auto_stop_in: Option<String>,
    pub kubernetes: Option<EnvironmentKubernetes>,
    pub deployment_tier: Option<DeploymentTier>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvironmentAction {
    Start,
    Prepare,
    Stop,
    Verify,
    Access,
}

impl EnvironmentAction {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvironmentAction::Start => "start",
            EnvironmentAction::Prepare => "prepare",
            EnvironmentAction::Stop => "stop",
            EnvironmentAction::Verify => "verify",
            EnvironmentAction::Access => "access",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvironmentKubernetes {
    pub namespace: Option<String>,
    pub agent: Option<String>,
    pub flux_resource_path: Option<String>,
    pub dashboard: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentTier {
    Production,
    Staging,
    Testing,
    Development,
    Other,
}

impl DeploymentTier {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentTier::Production => "production",
            DeploymentTier::Staging => "staging",
            DeploymentTier::Testing => "testing",
            DeploymentTier::Development => "development",
            DeploymentTier::Other => "other",
        }
    }
}

/// `release:`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Release {
    pub tag_name: String,
    pub tag_message: Option<String>,
    pub name: Option<String>,
    pub description: String,
    pub ref_: Option<String>,
    pub milestones: Vec<String>,
    pub released_at: Option<String>,
    pub links: Vec<ReleaseLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReleaseLink {
    pub name: String,
    pub url: String,
    pub filepath: Option<String>,
    pub direct_asset_path: Option<String>,
    pub link_type: Option<String>,
}

use crate::model::common::parse_duration_node;
use crate::model::cx::{Cx, sub};
use crate::yaml::{Node, Value};

const ENV_KEYS: &[&str] =
    &["name", "url", "action", "on_stop", "auto_stop_in", "kubernetes", "deployment_tier"];

/// `environment:` (`loc` = `jobs:name`).
pub(crate) fn parse_environment(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Environment> {
    let eloc = sub(loc, "environment");
    let (name, map) = match &node.value {
        Value::Str(s) => (Some(Spanned::new(s.clone(), node.span)), None),
        Value::Map(map) => {
            cx.check_keys(map, ENV_KEYS, &eloc);
            let name = match map.get("name") {
                Some(n) => cx.string(n, &eloc, "name"),
                None => None,
            };
            (name, Some(map))
        }
        _ => {
            cx.err(node.span, &eloc, "config should be a hash or a string");
            return None;
        }
    };
    let Some(name) = name.filter(|n| !n.value.is_empty()) else {
        cx.err(node.span, &eloc, "name can't be blank");
        return None;
    };
    let mut env = Environment {
        span: node.span,
        name,
        url: None,
        on_stop: None,
        action: None,
        auto_stop_in: None,
        kubernetes: None,
        deployment_tier: None,
    };
    let Some(map) = map else { return Some(env) };
    if let Some(u) = map.get("url") {
        env.url = cx.string(u, &eloc, "url").map(|s| s.value);
        if env.url.as_ref().is_some_and(|u| u.chars().count() > 255) {
            cx.err(u.span, &eloc, "url is too long (maximum is 255 characters)");
        }
    }
    if let Some(o) = map.get("on_stop") {
        env.on_stop = cx.string(o, &eloc, "on stop");
    }
    if let Some(a) = map.get("action") {
        env.action = match a.as_str() {
            Some("start") => Some(EnvironmentAction::Start),
            Some("prepare") => Some(EnvironmentAction::Prepare),
            Some("stop") => Some(EnvironmentAction::Stop),
            Some("verify") => Some(EnvironmentAction::Verify),
            Some("access") => Some(EnvironmentAction::Access),
            _ => {
                cx.err(a.span, &eloc, "action should be start, stop, prepare, verify, or access");
                None
            }
        };
    }
    if let Some(d) = map.get("auto_stop_in") {
        if d.as_str().is_some_and(|s| s == "never" || s.contains('$')) {
            env.auto_stop_in = d.as_str().map(str::to_string);
        } else {
            env.auto_stop_in = parse_duration_node(cx, d, &eloc, "auto stop in", None, true).map(|d| d.text);
        }
    }
    if let Some(k) = map.get("kubernetes") {
        let kloc = sub(&eloc, "kubernetes");
        if let Some(km) = cx.map(k, &kloc) {
            cx.check_keys(km, &["namespace", "agent", "flux_resource_path", "dashboard"], &kloc);
            let mut s = |key: &str| km.get(key).and_then(|n| cx.string(n, &kloc, key)).map(|s| s.value);
            env.kubernetes = Some(EnvironmentKubernetes {
                namespace: s("namespace"),
                agent: s("agent"),
                flux_resource_path: s("flux_resource_path"),
                dashboard: None,
            });
        }
    }
    if let Some(t) = map.get("deployment_tier") {
        env.deployment_tier = match t.as_str() {
            Some("production") => Some(DeploymentTier::Production),
            Some("staging") => Some(DeploymentTier::Staging),
            Some("testing") => Some(DeploymentTier::Testing),
            Some("development") => Some(DeploymentTier::Development),
            Some("other") => Some(DeploymentTier::Other),
            _ => {
                cx.err(
                    t.span,
                    &eloc,
                    "deployment tier must be one of production, staging, testing, development, other",
                );
                None
            }
        };
    }
    Some(env)
}

/// `release:` (`loc` = `jobs:name`).
pub(crate) fn parse_release(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Release> {
    let rloc = sub(loc, "release");
    let map = cx.map(node, &rloc)?;
    cx.check_keys(
        map,
        &["tag_name", "tag_message", "name", "description", "ref", "released_at", "milestones", "assets"],
        &rloc,
    );
    let mut r = Release::default();
    let s =
        |cx: &mut Cx<'_>, key: &str| map.get(key).and_then(|n| cx.string(n, &rloc, &key.replace('_', " ")));
    match s(cx, "tag_name") {
        Some(t) if !t.value.is_empty() => r.tag_name = t.value,
        _ => cx.err(node.span, &rloc, "tag name can't be blank"),
    }
    match s(cx, "description") {
        Some(t) if !t.value.is_empty() => r.description = t.value,
        _ => cx.err(node.span, &rloc, "description can't be blank"),
    }
    r.tag_message = s(cx, "tag_message").map(|s| s.value);
    r.name = s(cx, "name").map(|s| s.value);
    r.ref_ = s(cx, "ref").map(|s| s.value);
    r.released_at = s(cx, "released_at").map(|s| s.value);
    if let Some(m) = map.get("milestones") {
        r.milestones = cx
            .string_or_strings(m, &rloc, "milestones")
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.value)
            .collect();
    }
    if let Some(a) = map.get("assets") {
        let aloc = sub(&rloc, "assets");
        if let Some(am) = cx.map(a, &aloc) {
            cx.check_keys(am, &["links"], &aloc);
            match am.get("links") {
                Some(l) => r.links = parse_links(cx, l, &sub(&aloc, "links")),
                None => cx.err(a.span, &aloc, "links can't be blank"),
            }
        }
    }
    Some(r)
}

fn parse_links(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Vec<ReleaseLink> {
    let Some(items) = node.as_seq() else {
        cx.err(node.span, loc, "config should be an array");
        return Vec::new();
    };
    if items.is_empty() {
        cx.err(node.span, loc, "config can't be blank");
    }
    let lloc = sub(loc, "link");
    let mut out = Vec::new();
    for item in items {
        let Some(m) = cx.map(item, &lloc) else { continue };
        cx.check_keys(m, &["name", "url", "filepath", "direct_asset_path", "link_type"], &lloc);
        let mut s =
            |key: &str| m.get(key).and_then(|n| cx.string(n, &lloc, &key.replace('_', " "))).map(|s| s.value);
        let link = ReleaseLink {
            name: s("name").unwrap_or_default(),
            url: s("url").unwrap_or_default(),
            filepath: s("filepath"),
            direct_asset_path: s("direct_asset_path"),
            link_type: s("link_type"),
        };
        if link.name.is_empty() {
            cx.err(item.span, &lloc, "name can't be blank");
        }
        if link.url.is_empty() {
            cx.err(item.span, &lloc, "url can't be blank");
        }
        if let Some(t) = &link.link_type
            && !matches!(t.as_str(), "other" | "runbook" | "image" | "package")
        {
            cx.err(item.span, &lloc, "link type should be one of: other, runbook, image, package");
        }
        out.push(link);
    }
    out
}
