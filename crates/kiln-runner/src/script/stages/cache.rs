//! `restore_cache` and `archive_cache[_on_failure]`: cache keys, local archive paths,
//! and the plans calling the `cache-extractor` / `cache-archiver` helpers.

use kiln_api::CacheSpec;
use sha2::{Digest, Sha256};

use crate::script::stages::ScriptContext;
use crate::script::stages::plan::Step;
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

pub(crate) fn restore(ctx: &ScriptContext<'_>) -> Option<Vec<Step>> {
    let specs: Vec<&CacheSpec> = ctx.job.cache.iter().filter(|c| c.policy.pulls()).collect();
    if specs.is_empty() {
        return None;
    }
    let timeout = timeout_minutes(ctx);
    let mut plan = Vec::new();
    for spec in specs {
        let keys = keys_to_try(spec, ctx);
        if keys.is_empty() {
            plan.push(Step::Warning(format!("Skipping cache restore: invalid cache key {:?}", spec.key)));
            continue;
        }
        // Each fallback key is tried only when the keys before it failed: built from
        // the last key outwards.
        let mut tail: Vec<Step> = Vec::new();
        for key in keys.iter().rev() {
            let mut line: Vec<String> = vec![
                "cache-extractor".into(),
                "--file".into(),
                cache_archive_path(ctx.cache_dir, key),
                "--timeout".into(),
                timeout.clone(),
            ];
            if let Some(url) = ctx.cache_urls.get(key).and_then(|u| u.get.clone()) {
                line.extend(["--url".into(), url]);
            }
            let mut failed = vec![Step::Warning(format!("Failed to extract cache for {key}"))];
            failed.append(&mut tail);
            tail = vec![
                Step::Notice(format!("Checking cache for {key}...")),
                Step::Try {
                    helper: line,
                    ok: vec![Step::Notice("Successfully extracted cache".into())],
                    failed,
                },
            ];
        }
        plan.append(&mut tail);
    }
    Some(plan)
}

pub(crate) fn archive(ctx: &ScriptContext<'_>, on_failure: bool) -> Option<Vec<Step>> {
    let specs: Vec<&CacheSpec> =
        ctx.job.cache.iter().filter(|c| c.policy.pushes() && c.when.applies(!on_failure)).collect();
    if specs.is_empty() {
        return None;
    }
    let mut plan = Vec::new();
    for spec in specs {
        let Some(key) = cache_key(&spec.key, ctx) else {
            plan.push(Step::Warning(format!("Skipping cache archiving: invalid cache key {:?}", spec.key)));
            continue;
        };
        if spec.paths.is_empty() && !spec.untracked {
            plan.push(Step::Warning(format!("No paths to archive for cache {key}")));
            continue;
        }
        plan.push(Step::Notice(format!("Creating cache {key}...")));
        let mut line: Vec<String> =
            vec!["cache-archiver".into(), "--file".into(), cache_archive_path(ctx.cache_dir, &key)];
        // Expanded with the job's variables, as GitLab Runner does (`$VAR`, `${VAR}`).
        for p in &spec.paths {
            line.extend(["--path".into(), expand(p, ctx.variables)]);
        }
        if spec.untracked {
            line.push("--untracked".into());
        }
        if let Some(url) = ctx.cache_urls.get(&key).and_then(|u| u.put.clone()) {
            line.extend(["--url".into(), url]);
        }
        plan.push(Step::Try {
            helper: line,
            ok: vec![Step::Notice("Created cache".into())],
            failed: vec![Step::Warning(format!("Failed to create cache {key}"))],
        });
    }
    Some(plan)
}
