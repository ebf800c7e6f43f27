//! The job log: masking, URL sanitizing, timestamps, UTF-8 repair, the output limit,
//! section markers and GitLab's colours.
//!
//! As in gitlab-runner, every stream of output (the runner's own messages, and each
//! process's stdout and stderr) has its own chain of filters, processed in this order:
//! masked values and token prefixes ([`Masker`]), sensitive URL parameters
//! ([`UrlSanitizer`]), timestamps when `FF_TIMESTAMPS` is on ([`Timestamper`]). Every
//! stream then writes into one shared sink: invalid UTF-8 replaced ([`Utf8Repair`]), cut at
//! `output_limit`, appended to a temporary file and added to the CRC-32. The network sender
//! (`network::trace`) reads unsent ranges back from the file; `written` wakes it.

mod buffer;
mod masker;
mod timestamper;
mod url_sanitizer;
mod utf8;

use std::fs::File;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

pub use buffer::{TraceBuffer, limit_notice, read_range};
pub use masker::{MASKED, Masker};
pub use timestamper::{
    Clock, PREFIX_LEN, STREAM_EXECUTOR, STREAM_WORK, StreamKind, Timestamper, strip_timestamps, system_clock,
};
pub use url_sanitizer::UrlSanitizer;
pub use utf8::Utf8Repair;

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

/// How a job's log is written.
#[derive(Debug, Clone)]
pub struct TraceOptions {
    /// Values and token prefixes to mask.
    pub masker: Masker,
    /// `output_limit` in bytes.
    pub limit: u64,
    /// The payload's `features.trace_sections`.
    pub sections: bool,
    /// `FF_TIMESTAMPS`.
    pub timestamps: bool,
    /// Where timestamps come from (the system clock outside tests).
    pub clock: Clock,
    /// Where the log is buffered (an unnamed file); the system's temporary directory
    /// when `None`.
    pub dir: Option<std::path::PathBuf>,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            masker: Masker::default(),
            limit: 4 * 1024 * 1024,
            sections: true,
            timestamps: false,
            clock: system_clock,
            dir: None,
        }
    }
}

/// How far [`StreamFilter::process`] empties the filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flush {
    /// Keep back what may still become a secret or a line.
    No,
    /// Emit what the maskers hold (end of a stage), keep a partial line.
    Maskers,
    /// Emit everything (end of the stream).
    All,
}

/// One stream's filters.
#[derive(Debug)]
struct StreamFilter {
    masker: Masker,
    url: UrlSanitizer,
    stamper: Option<Timestamper>,
    masked: Vec<u8>,
    sanitized: Vec<u8>,
    stamped: Vec<u8>,
}

impl StreamFilter {
    fn new(options: &TraceOptions, id: u8, kind: StreamKind) -> StreamFilter {
        StreamFilter {
            masker: options.masker.clone(),
            url: UrlSanitizer::default(),
            stamper: options.timestamps.then(|| Timestamper::new(id, kind, options.clock)),
            masked: Vec::new(),
            sanitized: Vec::new(),
            stamped: Vec::new(),
        }
    }

    /// Runs `data` through the filters; returns what is ready for the log.
    fn process(&mut self, data: &[u8], flush: Flush) -> &[u8] {
        self.masked.clear();
        self.masker.write(data, &mut self.masked);
        if flush != Flush::No {
            self.masker.finish(&mut self.masked);
        }
        self.sanitized.clear();
        self.url.write(&self.masked, &mut self.sanitized);
        if flush != Flush::No {
            self.url.finish(&mut self.sanitized);
        }
        let Some(stamper) = &mut self.stamper else { return &self.sanitized };
        self.stamped.clear();
        stamper.write(&self.sanitized, &mut self.stamped);
        if flush == Flush::All {
            stamper.close(&mut self.stamped);
        }
        &self.stamped
    }
}

/// The shared end of every stream.
struct Sink {
    utf8: Utf8Repair,
    buffer: TraceBuffer,
    scratch: Vec<u8>,
    failed: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One job's log.
pub struct JobTrace {
    options: TraceOptions,
    sink: Mutex<Sink>,
    /// Stream 00: the runner's and the executor's own messages.
    runner: Mutex<StreamFilter>,
    reader: File,
    notify: Notify,
}

impl std::fmt::Debug for JobTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobTrace").field("size", &self.size()).finish()
    }
}

impl JobTrace {
    /// A new, empty log.
    pub fn new(options: TraceOptions) -> std::io::Result<JobTrace> {
        let buffer = TraceBuffer::new(options.limit, options.dir.as_deref())?;
        let reader = buffer.reader()?;
        let runner = StreamFilter::new(&options, STREAM_EXECUTOR, StreamKind::Stdout);
        Ok(JobTrace {
            sink: Mutex::new(Sink {
                utf8: Utf8Repair::default(),
                buffer,
                scratch: Vec::with_capacity(64 * 1024),
                failed: false,
            }),
            runner: Mutex::new(runner),
            options,
            reader,
            notify: Notify::new(),
        })
    }

    /// Appends filtered bytes to the log.
    fn store(&self, data: &[u8], finish: bool) {
        if data.is_empty() && !finish {
            return;
        }
        let mut g = lock(&self.sink);
        let sink = &mut *g;
        sink.scratch.clear();
        sink.utf8.write(data, &mut sink.scratch);
        if finish {
            sink.utf8.finish(&mut sink.scratch);
        }
        if !sink.scratch.is_empty() && sink.buffer.write(&sink.scratch).is_err() {
            sink.failed = true;
        }
        drop(g);
        self.notify.notify_one();
    }

    fn runner_write(&self, data: &[u8], flush: Flush) {
        let mut filter = lock(&self.runner);
        let out = filter.process(data, flush);
        self.store(out, false);
    }

    /// A stream for a process's output (`id` is [`STREAM_WORK`] for job scripts).
    pub fn stream(self: &Arc<Self>, id: u8, kind: StreamKind) -> TraceStream {
        TraceStream {
            trace: self.clone(),
            filter: Mutex::new(Some(StreamFilter::new(&self.options, id, kind))),
        }
    }

    /// Appends runner output (stream 00).
    pub fn write(&self, data: &[u8]) {
        self.runner_write(data, Flush::No);
    }

    /// Emits what the runner stream's maskers still hold (end of a stage).
    pub fn flush(&self) {
        self.runner_write(&[], Flush::Maskers);
    }

    /// Emits everything still held: the end of the job's log.
    pub fn finish(&self) {
        let mut filter = lock(&self.runner);
        let out = filter.process(&[], Flush::All);
        self.store(out, true);
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
        self.flush();
        if self.options.sections {
            let opts = if collapsed { "[collapsed=true]" } else { "" };
            self.write(section_start(name, opts, now()).as_bytes());
        }
    }

    /// Closes a section.
    pub fn end_section(&self, name: &str) {
        self.flush();
        if self.options.sections {
            self.write(section_end(name, now()).as_bytes());
        }
    }

    /// Bytes stored so far.
    pub fn size(&self) -> u64 {
        lock(&self.sink).buffer.size()
    }

    /// `crc32:%08x` of the stored log.
    pub fn checksum(&self) -> String {
        lock(&self.sink).buffer.checksum()
    }

    /// Whether writing to the temporary file failed at some point.
    pub fn write_failed(&self) -> bool {
        lock(&self.sink).failed
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

/// One output stream of a process, with its own filters; closing it (or dropping it)
/// emits what its filters hold.
pub struct TraceStream {
    trace: Arc<JobTrace>,
    filter: Mutex<Option<StreamFilter>>,
}

impl std::fmt::Debug for TraceStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceStream").finish_non_exhaustive()
    }
}

impl TraceStream {
    /// Appends output.
    pub fn write(&self, data: &[u8]) {
        let mut g = lock(&self.filter);
        if let Some(filter) = g.as_mut() {
            let out = filter.process(data, Flush::No);
            self.trace.store(out, false);
        }
    }

    /// Ends the stream; later writes are ignored.
    pub fn close(&self) {
        let mut g = lock(&self.filter);
        if let Some(mut filter) = g.take() {
            let out = filter.process(&[], Flush::All);
            self.trace.store(out, false);
        }
    }
}

impl Drop for TraceStream {
    fn drop(&mut self) {
        self.close();
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed() -> (i64, u32) {
        (1_700_000_000, 42)
    }

    fn log_of(trace: &JobTrace) -> String {
        String::from_utf8(trace.read(0, 1 << 20).unwrap()).unwrap()
    }

    /// Every filter, in gitlab-runner's order, on a process stream and the runner stream.
    #[test]
    fn streams_are_masked_sanitized_timestamped_and_repaired() {
        let options = TraceOptions {
            masker: Masker::new(["hunter2".to_string()], ["glpat-".to_string()]),
            timestamps: true,
            sections: false,
            clock: fixed,
            ..Default::default()
        };
        let trace = Arc::new(JobTrace::new(options).unwrap());
        trace.line("runner says hi");
        let out = trace.stream(STREAM_WORK, StreamKind::Stdout);
        let err = trace.stream(STREAM_WORK, StreamKind::Stderr);
        out.write(b"pass=hun");
        out.write(b"ter2 url=https://s3/o?X-Amz-Signature=abc&k=v\n");
        err.write(b"bad \xff byte glpat-1234567890abcdef\npartial");
        out.close();
        err.close();
        trace.finish();
        let t = "2023-11-14T22:13:20.000042Z";
        assert_eq!(
            log_of(&trace),
            format!(
                "{t} 00O runner says hi\n{t} 01O pass=[MASKED] url=https://s3/o?X-Amz-Signature=[MASKED]&k=v\n{t} 01E bad \u{fffd} byte glpat-[MASKED]\n{t} 01E partial\n"
            )
        );
    }

    #[test]
    fn without_timestamps_output_passes_through() {
        let trace = Arc::new(JobTrace::new(TraceOptions { sections: false, ..Default::default() }).unwrap());
        let out = trace.stream(STREAM_WORK, StreamKind::Stdout);
        out.write(b"progress 50%\rprogress 100%\r\n");
        drop(out);
        assert_eq!(log_of(&trace), "progress 50%\rprogress 100%\r\n");
    }
}
