//! `image:` and `services:`.

use crate::model::common::Spanned;
use crate::model::variables::Variables;

/// `image:` as a string or a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub name: Spanned<String>,
    pub entrypoint: Option<Vec<String>>,
    pub docker: Option<DockerOptions>,
    pub kubernetes: Option<KubernetesOptions>,
    /// Empty when not given (the runner decides).
    pub pull_policy: Vec<PullPolicy>,
}

/// `image:docker` / `services:docker`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DockerOptions {
    pub platform: Option<String>,
    pub user: Option<String>,
}

/// `image:kubernetes` / `services:kubernetes`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KubernetesOptions {
    pub user: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    Never,
    IfNotPresent,
}

impl PullPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "always",
            PullPolicy::Never => "never",
            PullPolicy::IfNotPresent => "if-not-present",
        }
    }
}

/// One entry of `services:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub image: Image,
    pub alias: Option<String>,
    pub command: Option<Vec<String>>,
    pub variables: Variables,
}

use crate::model::cx::{Cx, string_list, sub};
use crate::model::variables::{VariablesKind, parse_variables};
use crate::yaml::{Map, Node, Value};

const IMAGE_KEYS: &[&str] = &["name", "entrypoint", "ports", "pull_policy", "docker", "kubernetes"];
const SERVICE_KEYS: &[&str] =
    &["name", "entrypoint", "command", "alias", "ports", "variables", "pull_policy", "docker", "kubernetes"];

/// `image:`.
pub(crate) fn parse_image(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Image> {
    match &node.value {
        Value::Str(s) => Some(simple(s, node)),
        Value::Map(map) => {
            cx.check_keys(map, IMAGE_KEYS, loc);
            image_fields(cx, map, node, loc)
        }
        _ => {
            cx.err(node.span, loc, "config should be a hash or a string");
            None
        }
    }
}

fn simple(s: &str, node: &Node) -> Image {
    Image {
        name: Spanned::new(s.to_string(), node.span),
        entrypoint: None,
        docker: None,
        kubernetes: None,
        pull_policy: Vec::new(),
    }
}

fn image_fields(cx: &mut Cx<'_>, map: &Map, node: &Node, loc: &str) -> Option<Image> {
    let name = match map.get("name") {
        Some(n) => match &n.value {
            Value::Str(s) if !s.is_empty() => Some(Spanned::new(s.clone(), n.span)),
            Value::Str(_) | Value::Null => {
                cx.err(n.span, loc, "name can't be blank");
                None
            }
            _ => {
                cx.err(n.span, loc, "name should be a string");
                None
            }
        },
        None => {
            cx.err(node.span, loc, "name can't be blank");
            None
        }
    };
    let entrypoint = map.get("entrypoint").and_then(|n| {
        let list = string_list(n);
        if list.is_none() {
            cx.err(n.span, loc, "entrypoint should be an array of strings");
        }
        if cx.strict && list.as_ref().is_some_and(|l| l.is_empty()) {
            cx.err(n.span, loc, "entrypoint should contain at least one item");
        }
        list.map(|l| l.into_iter().map(|s| s.value).collect())
    });
    let pull_policy = map.get("pull_policy").map(|n| parse_pull_policy(cx, n, &sub(loc, "pull_policy")));
    let docker = map.get("docker").and_then(|n| {
        let dloc = sub(loc, "docker");
        let m = executor_opts(cx, n, &dloc, &["platform", "user"])?;
        Some(DockerOptions {
            platform: opt_string(cx, m.get("platform"), &dloc, "platform"),
            user: opt_string(cx, m.get("user"), &dloc, "user"),
        })
    });
    let kubernetes = map.get("kubernetes").and_then(|n| {
        let kloc = sub(loc, "kubernetes");
        let m = executor_opts(cx, n, &kloc, &["user"])?;
        Some(KubernetesOptions { user: opt_string(cx, m.get("user"), &kloc, "user") })
    });
    Some(Image { name: name?, entrypoint, docker, kubernetes, pull_policy: pull_policy.unwrap_or_default() })
}

fn executor_opts<'n>(cx: &mut Cx<'_>, node: &'n Node, loc: &str, keys: &[&str]) -> Option<&'n Map> {
    if node.is_null() {
        cx.strict_err(node.span, loc, "config should be a hash");
        return None;
    }
    let map = cx.map(node, loc)?;
    cx.check_keys(map, keys, loc);
    if map.is_empty() {
        cx.strict_err(node.span, loc, "config should contain at least one key");
    }
    Some(map)
}

fn opt_string(cx: &mut Cx<'_>, node: Option<&Node>, loc: &str, what: &str) -> Option<String> {
    let node = node?;
    let s = cx.string(node, loc, what)?;
    if s.value.is_empty() {
        cx.strict_err(node.span, loc, &format!("{what} can't be blank"));
    }
    Some(s.value)
}

fn parse_pull_policy(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Vec<PullPolicy> {
    let items: Vec<&Node> = match &node.value {
        Value::Str(_) => vec![node],
        Value::Seq(items) if !items.is_empty() => items.iter().collect(),
        _ => {
            cx.err(node.span, loc, "config should be a string or an array of strings");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    for item in items {
        match item.as_str() {
            Some("always") => out.push(PullPolicy::Always),
            Some("never") => out.push(PullPolicy::Never),
            Some("if-not-present") => out.push(PullPolicy::IfNotPresent),
            Some(other) => unknown.push(other.to_string()),
            None => {
                cx.err(node.span, loc, "config should be a string or an array of strings");
                return Vec::new();
            }
        }
    }
    if !unknown.is_empty() {
        cx.err(node.span, loc, &format!("config contains unknown values: {}", unknown.join(", ")));
    }
    out
}

/// `services:`.
pub(crate) fn parse_services(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Vec<Service>> {
    if node.as_seq().is_none() {
        cx.err(node.span, loc, "config should be an array");
        return None;
    }
    let mut out = Vec::new();
    // `Services` is a `ComposableArray` in GitLab: nested lists are flattened.
    for item in crate::model::cx::flattened(node) {
        let sloc = sub(loc, "service");
        match &item.value {
            Value::Str(s) => out.push(Service {
                image: simple(s, item),
                alias: None,
                command: None,
                variables: Default::default(),
            }),
            Value::Map(map) => {
                cx.check_keys(map, SERVICE_KEYS, &sloc);
                let image = image_fields(cx, map, item, &sloc);
                if cx.strict
                    && let Some(e) = map.get("command")
                    && e.as_seq().is_some_and(|s| s.is_empty())
                {
                    cx.err(e.span, &sloc, "command should contain at least one item");
                }
                let alias = map.get("alias").and_then(|n| cx.string(n, &sloc, "alias")).map(|s| s.value);
                let command = map.get("command").and_then(|n| {
                    let list = string_list(n);
                    if list.is_none() {
                        cx.err(n.span, &sloc, "command should be an array of strings");
                    }
                    list.map(|l| l.into_iter().map(|s| s.value).collect())
                });
                let variables = map
                    .get("variables")
                    .map(|n| parse_variables(cx, n, &sub(&sloc, "variables"), VariablesKind::Plain))
                    .unwrap_or_default();
                if let Some(image) = image {
                    out.push(Service { image, alias, command, variables });
                }
            }
            _ => cx.err(item.span, &sloc, "config should be a hash or a string"),
        }
    }
    Some(out)
}
