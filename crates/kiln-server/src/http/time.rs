//! Times as GitLab's API renders them: ISO 8601, UTC, milliseconds, `Z`.

use chrono::{DateTime, SecondsFormat, Utc};
use kiln_store::Millis;

/// `2015-12-24T15:51:21.880Z`.
pub(crate) fn iso(t: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(t.0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn iso_opt(t: Option<Millis>) -> Option<String> {
    t.map(iso)
}

/// Whole seconds between two times, as a float (GitLab's job `duration`).
pub(crate) fn seconds_between(from: Option<Millis>, to: Option<Millis>) -> Option<f64> {
    let (from, to) = (from?, to?);
    #[allow(clippy::cast_precision_loss)]
    Some((to.0 - from.0).max(0) as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_gitlab() {
        assert_eq!(iso(Millis(1_451_058_681_880)), "2015-12-25T15:51:21.880Z");
        assert_eq!(seconds_between(Some(Millis(1000)), Some(Millis(3500))), Some(2.5));
    }
}
