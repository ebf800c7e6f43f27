//! Short-lived caches on the job-request path. Hundreds of runners poll, and a
//! burst of claims hits the same few pipelines: re-reading the runner's manager
//! and matcher on every poll, or a pipeline's project, user and variables for
//! each of its jobs, would cost more than the claim itself. Entries live
//! briefly (a settings change shows within seconds, as with GitLab's own
//! caching of runner data), and the caches are dropped whole when they grow.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A map whose entries expire `ttl` after they were put.
pub(crate) struct Ttl<K, V> {
    ttl: Duration,
    max: usize,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> Ttl<K, V> {
    pub(crate) fn new(ttl: Duration, max: usize) -> Ttl<K, V> {
        Ttl { ttl, max, entries: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        let (at, value) = entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| value.clone())
    }

    pub(crate) fn put(&self, key: K, value: V) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.max {
                let ttl = self.ttl;
                entries.retain(|_, (at, _)| at.elapsed() < ttl);
                if entries.len() >= self.max {
                    entries.clear();
                }
            }
            entries.insert(key, (Instant::now(), value));
        }
    }

    /// The live entry for `key`, or a new one from `make` (put at once, so
    /// concurrent callers share it: pair with a `OnceCell` for single flight).
    pub(crate) fn get_or_put(&self, key: K, make: impl FnOnce() -> V) -> V
    where
        K: Clone,
    {
        if let Some(v) = self.get(&key) {
            return v;
        }
        let Ok(mut entries) = self.entries.lock() else { return make() };
        if let Some((at, v)) = entries.get(&key)
            && at.elapsed() < self.ttl
        {
            return v.clone();
        }
        if entries.len() >= self.max {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= self.max {
                entries.clear();
            }
        }
        let v = make();
        entries.insert(key, (Instant::now(), v.clone()));
        v
    }

    pub(crate) fn remove(&self, key: &K) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_map_stays_bounded() {
        let cache = Ttl::new(Duration::from_millis(20), 2);
        cache.put(1, "a");
        assert_eq!(cache.get(&1), Some("a"));
        cache.put(2, "b");
        cache.put(3, "c");
        assert!(cache.entries.lock().unwrap().len() <= 2);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(cache.get(&3), None);
        assert_eq!(cache.get_or_put(4, || "d"), "d");
        assert_eq!(cache.get_or_put(4, || "e"), "d", "the live entry is shared");
    }
}
