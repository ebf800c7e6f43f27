//! The job log on disk: a temporary file with the output limit and a running CRC-32.
//!
//! The log never lives in memory as a whole; the sender reads ranges back with `read_at`.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;

/// The notice written once when the log reaches `output_limit`, as GitLab Runner writes it.
pub fn limit_notice(limit: u64) -> String {
    format!(
        "\n\x1b[33;1mJob's log exceeded limit of {limit} bytes.\nJob execution will continue but no more output will be collected.\x1b[0;m\n"
    )
}

/// The append-only log file.
#[derive(Debug)]
pub struct TraceBuffer {
    file: File,
    size: u64,
    limit: u64,
    limit_hit: bool,
    crc: crc32fast::Hasher,
}

impl TraceBuffer {
    /// A new, empty buffer that accepts `limit` bytes of output: an unnamed file in `dir`,
    /// or in the system's temporary directory.
    pub fn new(limit: u64, dir: Option<&std::path::Path>) -> std::io::Result<TraceBuffer> {
        let file = match dir {
            Some(dir) => tempfile::tempfile_in(dir)?,
            None => tempfile::tempfile()?,
        };
        Ok(TraceBuffer { file, size: 0, limit, limit_hit: false, crc: crc32fast::Hasher::new() })
    }

    fn append(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.file.write_all(data)?;
        self.crc.update(data);
        self.size += data.len() as u64;
        Ok(())
    }

    /// Appends output, cutting it at the limit (then writing the notice once). As in
    /// gitlab-runner, output that reaches the limit exactly is cut too, and the cut never
    /// splits a UTF-8 character.
    pub fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        if self.limit_hit {
            return Ok(());
        }
        let room = self.limit.saturating_sub(self.size);
        if (data.len() as u64) < room {
            return self.append(data);
        }
        let cut = utf8_safe_cut(data, usize::try_from(room).unwrap_or(usize::MAX).min(data.len()));
        self.append(&data[..cut])?;
        self.limit_hit = true;
        self.append(limit_notice(self.limit).as_bytes())
    }

    /// Bytes stored so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// `crc32:%08x` of everything stored.
    pub fn checksum(&self) -> String {
        kiln_api::update::format_checksum(self.crc.clone().finalize())
    }

    /// A second handle for reading ranges back.
    pub fn reader(&self) -> std::io::Result<File> {
        self.file.try_clone()
    }
}

/// `cut`, moved back (at most 4 bytes) while the text before it ends in an incomplete or
/// invalid UTF-8 sequence, as gitlab-runner's `truncateSafeUTF8` does.
fn utf8_safe_cut(data: &[u8], cut: usize) -> usize {
    let mut end = cut;
    for _ in 0..4 {
        let head = &data[..end];
        let start = (end.saturating_sub(4)..end).rev().find(|i| head[*i] & 0xc0 != 0x80).unwrap_or(0);
        if end == 0 || std::str::from_utf8(&head[start..]).is_ok() {
            break;
        }
        end -= 1;
    }
    end
}

/// Reads up to `max` bytes at `offset` from a reader handle.
pub fn read_range(file: &File, offset: u64, max: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; max];
    let mut filled = 0;
    while filled < max {
        let n = file.read_at(&mut buf[filled..], offset + filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_cuts_and_notices_like_gitlab_runner() {
        let mut b = TraceBuffer::new(10, None).unwrap();
        for _ in 0..100 {
            b.write(b"This is the trace message\n").unwrap();
        }
        let content = read_range(&b.reader().unwrap(), 0, 1000).unwrap();
        let expected = "This is th\n\x1b[33;1mJob's log exceeded limit of 10 bytes.\nJob execution will continue but no more output will be collected.\x1b[0;m\n";
        assert_eq!(String::from_utf8(content).unwrap(), expected);
        assert_eq!(b.size(), expected.len() as u64);
        // The same figure GitLab Runner's own buffer test expects for this content.
        assert_eq!(b.checksum(), "crc32:295921ca");
    }

    #[test]
    fn the_cut_does_not_split_a_character() {
        let mut b = TraceBuffer::new(5, None).unwrap();
        b.write("abc\u{2713}d".as_bytes()).unwrap();
        let content = read_range(&b.reader().unwrap(), 0, 1000).unwrap();
        assert!(content.starts_with(b"abc\n\x1b[33;1mJob's log exceeded limit of 5 bytes."), "{content:?}");
    }
}
