//! Remote caches: object names and presigned URLs, computed by the runner process and
//! handed to the `cache-archiver` / `cache-extractor` helpers (the coordinator is not
//! involved). Local caches need nothing here: they are zip files under `cache_dir`.

mod s3;

use std::sync::Arc;

pub use s3::{presign, s3_url_fn};

use crate::config::CacheConfig;
use crate::job::CacheUrlFn;

/// The object name of a cache key: `<Path>/[runner/<short token>/]project/<id>/<key>`.
pub fn object_name(cache: &CacheConfig, short_token: &str, project_id: i64, key: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let prefix = cache.path.trim_matches('/');
    if !prefix.is_empty() {
        parts.push(prefix.to_string());
    }
    if !cache.shared {
        parts.push(format!("runner/{short_token}"));
    }
    parts.push(format!("project/{project_id}/{key}"));
    parts.join("/")
}

/// The URL function for a runner's `[runners.cache]`, if it configures a remote cache this
/// runner supports.
pub fn url_fn(cache: Option<&CacheConfig>, short_token: &str) -> Option<CacheUrlFn> {
    let cache = cache?;
    match cache.kind.as_str() {
        "s3" => s3_url_fn(cache, short_token),
        _ => None,
    }
}

/// Wraps a plain function.
pub fn wrap(f: impl Fn(i64, &str) -> crate::script::stages::CacheUrls + Send + Sync + 'static) -> CacheUrlFn {
    Arc::new(f)
}
