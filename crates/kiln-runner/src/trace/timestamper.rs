//! Timestamped log lines (`FF_TIMESTAMPS`), in gitlab-runner's format:
//! `<UTC time with 6 fractional digits>Z <stream id: 2 hex><O|E><' '|'+'><text>`, e.g.
//! `2026-01-05T10:00:01.123456Z 01O $ cargo test`.
//!
//! As gitlab-runner's `timestamper`: one entry per `\n`; a write with a `\r` but no `\n`
//! (progress bars, section markers) is flushed at once as its own entry, with an added
//! `\n` and the next entry marked `+` (continuation); a partial line longer than 8 KiB is
//! flushed the same way; closing the stream ends a partial line with `\n`.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{Datelike, Timelike};

/// Partial lines longer than this are flushed as continued entries.
const BUF_SIZE: usize = 8 * 1024;
/// `YYYY-mm-ddTHH:MM:SS.123456Z `.
const TIME_LEN: usize = 28;
/// The whole prefix: time, stream id, stream type, append flag.
pub const PREFIX_LEN: usize = TIME_LEN + 4;

/// Which output of a process a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Stdout,
    Stderr,
}

impl StreamKind {
    fn code(self) -> u8 {
        match self {
            Self::Stdout => b'O',
            Self::Stderr => b'E',
        }
    }
}

/// Stream 00: messages of the runner and the executor.
pub const STREAM_EXECUTOR: u8 = 0;
/// Stream 01: the output of the job's scripts.
pub const STREAM_WORK: u8 = 1;

/// The clock: seconds and microseconds since the Unix epoch.
pub type Clock = fn() -> (i64, u32);

/// The system clock.
pub fn system_clock() -> (i64, u32) {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (i64::try_from(d.as_secs()).unwrap_or(i64::MAX), d.subsec_micros())
}

/// A streaming line timestamper for one stream.
#[derive(Debug, Clone)]
pub struct Timestamper {
    header: [u8; PREFIX_LEN],
    /// A partial line (with its header) waiting for its end.
    buf: Vec<u8>,
    /// The second the date part of `header` was formatted for.
    cached_sec: i64,
    clock: Clock,
}

fn digits2(out: &mut [u8], v: u32) {
    out[0] = b'0' + u8::try_from(v / 10 % 10).unwrap_or(0);
    out[1] = b'0' + u8::try_from(v % 10).unwrap_or(0);
}

impl Timestamper {
    /// A timestamper for stream `id` of `kind`.
    pub fn new(id: u8, kind: StreamKind, clock: Clock) -> Timestamper {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut header = *b"0000-00-00T00:00:00.000000Z 00O ";
        header[TIME_LEN] = HEX[usize::from(id >> 4)];
        header[TIME_LEN + 1] = HEX[usize::from(id & 0x0f)];
        header[TIME_LEN + 2] = kind.code();
        Timestamper { header, buf: Vec::new(), cached_sec: i64::MIN, clock }
    }

    fn set_continued(&mut self, continued: bool) {
        self.header[PREFIX_LEN - 1] = if continued { b'+' } else { b' ' };
    }

    fn write_header(&mut self, out: &mut Vec<u8>) {
        let (sec, micros) = (self.clock)();
        if sec != self.cached_sec {
            // Formatting the date is the slow part; it changes once a second at most.
            let t = chrono::DateTime::from_timestamp(sec, 0).unwrap_or_default();
            let year = u32::try_from(t.year()).unwrap_or(0);
            digits2(&mut self.header[0..2], year / 100);
            digits2(&mut self.header[2..4], year % 100);
            digits2(&mut self.header[5..7], t.month());
            digits2(&mut self.header[8..10], t.day());
            digits2(&mut self.header[11..13], t.hour());
            digits2(&mut self.header[14..16], t.minute());
            digits2(&mut self.header[17..19], t.second());
            self.cached_sec = sec;
        }
        digits2(&mut self.header[20..22], micros / 10_000);
        digits2(&mut self.header[22..24], micros / 100 % 100);
        digits2(&mut self.header[24..26], micros % 100);
        out.extend_from_slice(&self.header);
        self.set_continued(false);
    }

    /// Appends the timestamped form of `p` to `out` (a partial line is kept back).
    pub fn write(&mut self, p: &[u8], out: &mut Vec<u8>) {
        let mut n = 0;
        if let Some(idx) = memchr::memchr(b'\n', p) {
            if !self.buf.is_empty() {
                out.append(&mut self.buf);
                out.extend_from_slice(&p[..=idx]);
                n = idx + 1;
            }
            while let Some(idx) = memchr::memchr(b'\n', &p[n..]) {
                self.write_header(out);
                out.extend_from_slice(&p[n..=n + idx]);
                n += idx + 1;
            }
        }
        let rest = &p[n..];
        if rest.is_empty() {
            return;
        }
        let carriage_return = memchr::memchr(b'\r', rest).is_some();
        if carriage_return || rest.len() + self.buf.len() > BUF_SIZE {
            if self.buf.is_empty() {
                self.write_header(out);
            }
            out.append(&mut self.buf);
            out.extend_from_slice(rest);
            out.push(b'\n');
            self.set_continued(true);
            return;
        }
        if self.buf.is_empty() {
            let mut buf = std::mem::take(&mut self.buf);
            self.write_header(&mut buf);
            self.buf = buf;
        }
        self.buf.extend_from_slice(rest);
    }

    /// Ends the stream: a partial line is written with a `\n`.
    pub fn close(&mut self, out: &mut Vec<u8>) {
        if !self.buf.is_empty() {
            out.append(&mut self.buf);
            out.push(b'\n');
        }
    }
}

/// The log as the job wrote it: prefixes removed and continued entries joined to the
/// entry before them. Text without prefixes (timestamps off) comes back unchanged.
pub fn strip_timestamps(log: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(log.len());
    for line in log.split_inclusive(|b| *b == b'\n') {
        match parse_prefix(line) {
            Some(continued) => {
                if continued && out.last() == Some(&b'\n') {
                    out.pop();
                }
                out.extend_from_slice(&line[PREFIX_LEN..]);
            }
            None => out.extend_from_slice(line),
        }
    }
    out
}

/// `Some(continued)` when `line` starts with a timestamp prefix.
fn parse_prefix(line: &[u8]) -> Option<bool> {
    let p = line.get(..PREFIX_LEN)?;
    let shape = p.iter().enumerate().all(|(i, b)| match i {
        4 | 7 => *b == b'-',
        10 => *b == b'T',
        13 | 16 => *b == b':',
        19 => *b == b'.',
        26 => *b == b'Z',
        27 => *b == b' ',
        28 | 29 => b.is_ascii_hexdigit(),
        30 => matches!(b, b'O' | b'E'),
        31 => matches!(b, b' ' | b'+'),
        _ => b.is_ascii_digit(),
    });
    shape.then_some(p[31] == b'+')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed() -> (i64, u32) {
        // 2024-02-29T23:59:58.012345Z
        (1_709_251_198, 12_345)
    }

    fn stamp(writes: &[&[u8]], id: u8, kind: StreamKind) -> String {
        let mut t = Timestamper::new(id, kind, fixed);
        let mut out = Vec::new();
        for w in writes {
            t.write(w, &mut out);
        }
        t.close(&mut out);
        String::from_utf8(out).unwrap()
    }

    const H: &str = "2024-02-29T23:59:58.012345Z";

    #[test]
    fn lines_get_gitlab_runners_prefix() {
        assert_eq!(stamp(&[b"one\ntwo\n"], 1, StreamKind::Stdout), format!("{H} 01O one\n{H} 01O two\n"));
        assert_eq!(stamp(&[b"err\n"], 15, StreamKind::Stderr), format!("{H} 0fE err\n"));
    }

    #[test]
    fn partial_lines_wait_and_are_closed_with_a_newline() {
        assert_eq!(
            stamp(&[b"par", b"tial\nnext"], 0, StreamKind::Stdout),
            format!("{H} 00O partial\n{H} 00O next\n")
        );
    }

    #[test]
    fn carriage_returns_flush_and_continue() {
        let marker = b"section_start:1:get_sources\r\x1b[0K";
        let got = stamp(&[marker, b"\x1b[36;1mGetting source\x1b[0;m\n"], 0, StreamKind::Stdout);
        assert_eq!(
            got,
            format!(
                "{H} 00O section_start:1:get_sources\r\x1b[0K\n{H} 00O+\x1b[36;1mGetting source\x1b[0;m\n"
            )
        );
        assert_eq!(
            strip_timestamps(got.as_bytes()),
            b"section_start:1:get_sources\r\x1b[0K\x1b[36;1mGetting source\x1b[0;m\n"
        );
    }

    #[test]
    fn long_partial_lines_are_split_at_8_kib() {
        let long = vec![b'x'; BUF_SIZE + 10];
        let got = stamp(&[b"ab", &long, b"c\n"], 1, StreamKind::Stdout);
        let want = format!("{H} 01O ab{}\n{H} 01O+c\n", "x".repeat(BUF_SIZE + 10));
        assert_eq!(got, want);
        let mut original = b"ab".to_vec();
        original.extend_from_slice(&long);
        original.extend_from_slice(b"c\n");
        assert_eq!(strip_timestamps(got.as_bytes()), original);
    }

    #[test]
    fn the_date_is_formatted_per_second() {
        fn later() -> (i64, u32) {
            (1_709_251_200, 999_999)
        }
        let mut t = Timestamper::new(0, StreamKind::Stdout, fixed);
        let mut out = Vec::new();
        t.write(b"a\n", &mut out);
        t.clock = later;
        t.write(b"b\n", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{H} 00O a\n2024-03-01T00:00:00.999999Z 00O b\n")
        );
    }
}
