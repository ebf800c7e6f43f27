//! `cache:` as a hash or a list of up to 4 hashes.

use crate::model::common::Spanned;
use crate::source::Span;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    pub span: Span,
    /// Default `default` (GitLab's key when none is given).
    pub key: Option<CacheKey>,
    pub paths: Vec<Spanned<String>>,
    pub untracked: Option<bool>,
    pub policy: Option<CachePolicy>,
    pub when: Option<CacheWhen>,
    pub unprotect: Option<bool>,
    pub fallback_keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheKey {
    Literal(Spanned<String>),
    /// `key: {files: [...], prefix: ...}`: a hash of the files' last commit.
    Files {
        files: Vec<Spanned<String>>,
        prefix: Option<String>,
    },
    /// `key: {files_commits: [...], prefix: ...}`.
    FilesCommits {
        files: Vec<Spanned<String>>,
        prefix: Option<String>,
    },
}

/// `cache:policy`; a value with a variable is resolved when the job runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachePolicy {
    Pull,
    Push,
    PullPush,
    /// Contains `$VAR`: checked after expansion.
    Variable(String),
}

impl CachePolicy {
    pub fn as_str(&self) -> &str {
        match self {
            CachePolicy::Pull => "pull",
            CachePolicy::Push => "push",
            CachePolicy::PullPush => "pull-push",
            CachePolicy::Variable(s) => s,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheWhen {
    OnSuccess,
    OnFailure,
    Always,
}

impl CacheWhen {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheWhen::OnSuccess => "on_success",
            CacheWhen::OnFailure => "on_failure",
            CacheWhen::Always => "always",
        }
    }
}

use crate::model::cx::{Cx, string_list, sub};
use crate::yaml::{Map, Node, Value};

const KEYS: &[&str] = &["key", "untracked", "paths", "when", "policy", "unprotect", "fallback_keys"];
/// Most files `cache:key:files` may list.
pub const MAX_KEY_FILES: usize = 10;
/// Most caches one job may use.
pub const MAX_CACHES: usize = 4;

/// `cache:` as one hash or a list of hashes (`loc` = `jobs:name`, `default`
/// or the root).
pub(crate) fn parse_caches(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Vec<Cache>> {
    let cloc = if loc.is_empty() { "cache".to_string() } else { sub(loc, "cache") };
    match &node.value {
        Value::Map(map) => Some(parse_cache(cx, node, map, &cloc).into_iter().collect()),
        Value::Seq(items) => {
            if items.len() > MAX_CACHES {
                cx.err(node.span, &cloc, &format!("config no more than {MAX_CACHES} caches can be created"));
            }
            let mut out = Vec::new();
            // GitLab's `Caches` is a `ComposableArray`: nested lists (an
            // alias to a list of caches) are flattened.
            for item in crate::model::cx::flattened(node) {
                match &item.value {
                    Value::Map(map) => out.extend(parse_cache(cx, item, map, &cloc)),
                    _ => cx.err(item.span, &cloc, "config should be a hash"),
                }
            }
            Some(out)
        }
        _ => {
            cx.err(node.span, &cloc, "config should be a hash or an array of hashes");
            None
        }
    }
}

fn parse_cache(cx: &mut Cx<'_>, node: &Node, map: &Map, loc: &str) -> Option<Cache> {
    cx.check_keys(map, KEYS, loc);
    let mut c = Cache {
        span: node.span,
        key: None,
        paths: Vec::new(),
        untracked: None,
        policy: None,
        when: None,
        unprotect: None,
        fallback_keys: Vec::new(),
    };
    for (key, value) in map.iter() {
        if value.is_null() {
            continue;
        }
        match key.name.as_str() {
            "key" => c.key = parse_key(cx, value, &sub(loc, "key")),
            "paths" => c.paths = cx.strings(value, &sub(loc, "paths"), "config").unwrap_or_default(),
            "untracked" => c.untracked = cx.boolean(value, &sub(loc, "untracked"), "config"),
            "unprotect" => c.unprotect = cx.boolean(value, &sub(loc, "unprotect"), "config"),
            "when" => {
                c.when = match value.as_str() {
                    Some("on_success") => Some(CacheWhen::OnSuccess),
                    Some("on_failure") => Some(CacheWhen::OnFailure),
                    Some("always") => Some(CacheWhen::Always),
                    _ => {
                        cx.err(
                            value.span,
                            loc,
                            "when config should be one of on_success, on_failure, always",
                        );
                        None
                    }
                }
            }
            "policy" => {
                c.policy = match value.as_str() {
                    Some("pull") => Some(CachePolicy::Pull),
                    Some("push") => Some(CachePolicy::Push),
                    Some("pull-push") => Some(CachePolicy::PullPush),
                    Some(s) if s.contains('$') => Some(CachePolicy::Variable(s.to_string())),
                    _ => {
                        let shown = value.scalar_to_string().unwrap_or_default();
                        cx.err(value.span, loc, &format!("policy unknown value: {shown}"));
                        None
                    }
                }
            }
            "fallback_keys" => {
                let list = cx.strings(value, loc, "fallback keys").unwrap_or_default();
                if list.len() > 5 {
                    cx.err(value.span, loc, "fallback keys has to many entries");
                }
                c.fallback_keys = list.into_iter().map(|s| s.value).collect();
            }
            _ => {}
        }
    }
    Some(c)
}

fn parse_key(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<CacheKey> {
    match &node.value {
        Value::Str(_) | Value::Int(_) => {
            let text = node.scalar_to_string().unwrap_or_default();
            let unescaped = percent_decode(&text);
            if unescaped.contains('/') {
                cx.err(node.span, loc, "config cannot contain the \"/\" character");
            } else if unescaped == "." || unescaped == ".." {
                cx.err(node.span, loc, "config cannot be \".\" or \"..\"");
            }
            Some(CacheKey::Literal(Spanned::new(text, node.span)))
        }
        Value::Map(map) => {
            cx.check_keys(map, &["files", "files_commits", "prefix"], loc);
            let prefix = map.get("prefix").and_then(|p| cx.string(p, loc, "prefix")).map(|s| s.value);
            let files = map.get("files");
            let commits = map.get("files_commits");
            if files.is_some() && commits.is_some() {
                cx.err(node.span, loc, "config these keys cannot be used together: files, files_commits");
            }
            if let Some(f) = files {
                let floc = sub(loc, "files");
                let list = key_files(cx, f, &floc, MAX_KEY_FILES)?;
                return Some(CacheKey::Files { files: list, prefix });
            }
            if let Some(f) = commits {
                let floc = sub(loc, "files_commits");
                let list = key_files(cx, f, &floc, 2)?;
                return Some(CacheKey::FilesCommits { files: list, prefix });
            }
            cx.err(node.span, loc, "config missing required keys: files");
            None
        }
        _ => {
            cx.err(node.span, loc, "config should be a hash, a string or a symbol");
            None
        }
    }
}

fn key_files(cx: &mut Cx<'_>, node: &Node, loc: &str, max: usize) -> Option<Vec<Spanned<String>>> {
    let Some(list) = string_list(node) else {
        cx.err(node.span, loc, "config should be an array of strings");
        return None;
    };
    if list.is_empty() {
        cx.err(node.span, loc, "config has too few entries (minimum is 1)");
    } else if list.len() > max {
        cx.err(node.span, loc, &format!("config has too many entries (maximum is {max})"));
    }
    Some(list)
}

/// `CGI.unescape` for the characters that matter here.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b == b'+' { b' ' } else { b });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
