//! `PATCH /jobs/:id/trace`: the `Content-Range` and `Range` headers of incremental logs.

/// The largest patch body gitlab-runner sends.
pub const MAX_PATCH_SIZE: usize = 1024 * 1024;

/// `Content-Range` for `len` bytes starting at `start`: `start-end`, end inclusive, no unit.
pub fn content_range(start: u64, len: u64) -> String {
    format!("{}-{}", start, (start + len).saturating_sub(1))
}

/// Parses a `Content-Range` the runner sent: `(start, end inclusive)`.
pub fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let value = value.trim().strip_prefix("bytes ").unwrap_or(value.trim());
    let (a, b) = value.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// The `Range` header of a trace answer: `0-<size>`.
pub fn range_header(size: u64) -> String {
    format!("0-{size}")
}

/// The stored size in a `Range: 0-<size>` answer (the number after `-`).
pub fn parse_range_size(value: &str) -> Option<u64> {
    value.trim().rsplit_once('-')?.1.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_is_inclusive() {
        assert_eq!(content_range(0, 10), "0-9");
        assert_eq!(content_range(10, 1), "10-10");
        assert_eq!(parse_content_range("10-19"), Some((10, 19)));
        assert_eq!(parse_range_size("0-42"), Some(42));
        assert_eq!(parse_range_size("garbage"), None);
    }
}
