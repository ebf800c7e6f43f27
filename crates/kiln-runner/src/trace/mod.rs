//! The job log: masking, the output limit, section markers and GitLab's colours.
//!
//! Every byte of a job's log goes through [`JobTrace::write`]: it is masked, cut at
//! `output_limit`, appended to a temporary file and added to the CRC-32. The network
//! sender (`network::trace`) reads unsent ranges back from the file; `wake` tells it that
//! there is something new.

mod buffer;
mod masker;

use std::fs::File;
use std::sync::Mutex;

use tokio::sync::Notify;

pub use buffer::{TraceBuffer, limit_notice, read_range};
pub use masker::{MASKED, Masker};

/// ANSI sequences GitLab Runner uses (`helpers/ansi_colors.go`).
pub mod ansi {
    pub const BOLD_GREEN: &str = "\x1b[32;1m";
    pub const BOLD_CYAN: &str = "\x1b[36;1m";
    pub const YELLOW: &str = "\x1b[0;33m";
    pub const BOLD_YELLOW: &str = "\x1b[33;1m";
    pub const BOLD_RED: &str = "\x1b[31;1m";
    pub const RESET: &str = "\x1b[0;m";
    pub const CLEAR: &str = "\x1b[0K";
}

/// The section start marker (`section_start:<unix>:<name>[options]\r\e[0K`).
pub fn section_start(name: &str, options: &str, now: i64) -> String {
    format!("section_start:{now}:{name}{options}\r{}", ansi::CLEAR)
}

/// The section end marker.
pub fn section_end(name: &str, now: i64) -> String {
    format!("section_end:{now}:{name}\r{}", ansi::CLEAR)
}

struct Inner {
    masker: Masker,
    buffer: TraceBuffer,
    scratch: Vec<u8>,
    failed: bool,
}

/// One job's log.
pub struct JobTrace {
    inner: Mutex<Inner>,
    reader: File,
    sections: bool,
    notify: Notify,
}

impl std::fmt::Debug for JobTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobTrace").field("size", &self.size()).finish()
    }
}

impl JobTrace {
    /// A new log with the given masking and limit; `sections` is the payload's
    /// `features.trace_sections`.
    pub fn new(masker: Masker, limit: u64, sections: bool) -> std::io::Result<JobTrace> {
        let buffer = TraceBuffer::new(limit)?;
        let reader = buffer.reader()?;
        Ok(JobTrace {
            inner: Mutex::new(Inner {
                masker,
                buffer,
                scratch: Vec::with_capacity(64 * 1024),
                failed: false,
            }),
            reader,
            sections,
            notify: Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends job or runner output (masked).
    pub fn write(&self, data: &[u8]) {
        let mut g = self.lock();
        let inner = &mut *g;
        inner.scratch.clear();
        inner.masker.write(data, &mut inner.scratch);
        if !inner.scratch.is_empty() && inner.buffer.write(&inner.scratch).is_err() {
            inner.failed = true;
        }
        drop(g);
        self.notify.notify_one();
    }

    /// Emits bytes the masker still holds (end of a stage or of the job).
    pub fn flush(&self) {
        let mut g = self.lock();
        let inner = &mut *g;
        inner.scratch.clear();
        inner.masker.finish(&mut inner.scratch);
        if !inner.scratch.is_empty() && inner.buffer.write(&inner.scratch).is_err() {
            inner.failed = true;
        }
    }

    /// Writes a line of text.
    pub fn line(&self, text: &str) {
        self.write(format!("{text}\n").as_bytes());
    }

    /// A cyan header line (stage titles).
    pub fn header(&self, text: &str) {
        self.line(&format!("{}{text}{}", ansi::BOLD_CYAN, ansi::RESET));
    }

    /// A green notice line.
    pub fn notice(&self, text: &str) {
        self.line(&format!("{}{text}{}", ansi::BOLD_GREEN, ansi::RESET));
    }

    /// A yellow `WARNING:` line.
    pub fn warning(&self, text: &str) {
        self.line(&format!("{}WARNING: {text}{}", ansi::YELLOW, ansi::RESET));
    }

    /// A red `ERROR:` line.
    pub fn error(&self, text: &str) {
        self.line(&format!("{}ERROR: {text}{}", ansi::BOLD_RED, ansi::RESET));
    }

    /// Opens a section (no-op unless the coordinator asked for sections).
    pub fn start_section(&self, name: &str, collapsed: bool) {
        if self.sections {
            let opts = if collapsed { "[collapsed=true]" } else { "" };
            self.flush();
            self.write(section_start(name, opts, now()).as_bytes());
        }
    }

    /// Closes a section.
    pub fn end_section(&self, name: &str) {
        self.flush();
        if self.sections {
            self.write(section_end(name, now()).as_bytes());
        }
    }

    /// Bytes stored so far.
    pub fn size(&self) -> u64 {
        self.lock().buffer.size()
    }

    /// `crc32:%08x` of the stored log.
    pub fn checksum(&self) -> String {
        self.lock().buffer.checksum()
    }

    /// Whether writing to the temporary file failed at some point.
    pub fn write_failed(&self) -> bool {
        self.lock().failed
    }

    /// Reads stored bytes back.
    pub fn read(&self, offset: u64, max: usize) -> std::io::Result<Vec<u8>> {
        read_range(&self.reader, offset, max)
    }

    /// Resolves when something was written since the last call.
    pub async fn written(&self) {
        self.notify.notified().await;
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
