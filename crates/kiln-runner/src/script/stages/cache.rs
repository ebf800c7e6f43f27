//! `restore_cache` and `archive_cache[_on_failure]`: cache keys, local archive paths,
//! and calls to the `cache-extractor` / `cache-archiver` helpers.

use kiln_api::CacheSpec;
use sha2::{Digest, Sha256};

use crate::script::ScriptWriter;
use crate::script::stages::{ScriptContext, prelude};
use crate::vars::expand;

/// Presigned URLs of one cache key in a remote cache.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheUrls {
    pub get: Option<String>,
    pub put: Option<String>,
}

/// The resolved key of a cache entry: the payload's key expanded with the job's
/// variables (default `<job name>/<ref>`), refused when it could escape the cache
/// directory, and SHA-256 hashed with `FF_HASH_CACHE_KEYS`.
pub fn cache_key(spec_key: &str, ctx: &ScriptContext<'_>) -> Option<String> {
    let key = if spec_key.is_empty() {
        format!("{}/{}", ctx.job.job_info.name, ctx.job.git_info.ref_name)
    } else {
        expand(spec_key, ctx.variables)
    };
    let key = key.trim().to_string();
    if ctx.var("FF_HASH_CACHE_KEYS") == Some("true") {
        return Some(hex::encode(Sha256::digest(key.as_bytes())));
    }
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.contains('\\')
        || key.split('/').any(|seg| seg == ".." || seg == ".");
    (!bad).then_some(key)
}

/// The local archive of a key: `<cache dir>/<key>/cache.zip`.
pub fn cache_archive_path(cache_dir: &str, key: &str) -> String {
    format!("{cache_dir}/{key}/cache.zip")
}

fn keys_to_try(spec: &CacheSpec, ctx: &ScriptContext<'_>) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    let candidates = std::iter::once(spec.key.as_str())
        .chain(spec.fallback_keys.iter().map(String::as_str))
        .chain(ctx.var("CACHE_FALLBACK_KEY"));
    for (i, k) in candidates.enumerate() {
        if i > 0 && k.is_empty() {
            continue;
        }
        if let Some(key) = cache_key(k, ctx)
            && !keys.contains(&key)
        {
            keys.push(key);
        }
    }
    keys
}

fn timeout_minutes(ctx: &ScriptContext<'_>) -> String {
    ctx.var("CACHE_REQUEST_TIMEOUT").and_then(|v| v.parse::<u32>().ok()).unwrap_or(10).to_string()
}

pub(crate) fn restore(ctx: &ScriptContext<'_>, w: &mut dyn ScriptWriter) -> bool {
    let specs: Vec<&CacheSpec> = ctx.job.cache.iter().filter(|c| c.policy.pulls()).collect();
    if specs.is_empty() {
        return false;
    }
    prelude(ctx, w, true);
    let timeout = timeout_minutes(ctx);
    for spec in specs {
        let keys = keys_to_try(spec, ctx);
        if keys.is_empty() {
            w.warning(&format!("Skipping cache restore: invalid cache key {:?}", spec.key));
            continue;
        }
        let mut opened = 0;
        for key in &keys {
            w.notice(&format!("Checking cache for {key}..."));
            let file = cache_archive_path(ctx.cache_dir, key);
            let mut args: Vec<&str> = vec!["--file", &file, "--timeout", &timeout];
            let url = ctx.cache_urls.get(key).and_then(|u| u.get.clone());
            if let Some(url) = &url {
                args.push("--url");
                args.push(url);
            }
            let (program, mut argv) = ctx.helper_args("cache-extractor");
            argv.extend(args);
            w.if_cmd_with_output(program, &argv);
            w.notice("Successfully extracted cache");
            w.else_branch();
            w.warning(&format!("Failed to extract cache for {key}"));
            opened += 1;
        }
        for _ in 0..opened {
            w.end_if();
        }
    }
    true
}

pub(crate) fn archive(ctx: &ScriptContext<'_>, w: &mut dyn ScriptWriter, on_failure: bool) -> bool {
    let specs: Vec<&CacheSpec> =
        ctx.job.cache.iter().filter(|c| c.policy.pushes() && c.when.applies(!on_failure)).collect();
    if specs.is_empty() {
        return false;
    }
    prelude(ctx, w, true);
    for spec in specs {
        let Some(key) = cache_key(&spec.key, ctx) else {
            w.warning(&format!("Skipping cache archiving: invalid cache key {:?}", spec.key));
            continue;
        };
        if spec.paths.is_empty() && !spec.untracked {
            w.warning(&format!("No paths to archive for cache {key}"));
            continue;
        }
        w.notice(&format!("Creating cache {key}..."));
        let file = cache_archive_path(ctx.cache_dir, &key);
        let (program, mut argv) = ctx.helper_args("cache-archiver");
        argv.extend(["--file", file.as_str()]);
        for p in &spec.paths {
            argv.extend(["--path", p.as_str()]);
        }
        if spec.untracked {
            argv.push("--untracked");
        }
        let url = ctx.cache_urls.get(&key).and_then(|u| u.put.clone());
        if let Some(url) = &url {
            argv.extend(["--url", url.as_str()]);
        }
        w.if_cmd_with_output(program, &argv);
        w.notice("Created cache");
        w.else_branch();
        w.warning(&format!("Failed to create cache {key}"));
        w.end_if();
    }
    true
}
