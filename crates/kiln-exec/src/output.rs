//! What the person at the terminal sees: every job's log lines as they
//! arrive, prefixed with the job's padded, coloured name; section headers
//! kept, section markers removed; a progress line at the bottom when the
//! output is a terminal.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::coordinator::UiEvent;

/// Where output goes: stdout for the command, a buffer in tests.
pub type SharedWriter = Arc<Mutex<dyn Write + Send>>;

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    /// ANSI colours (job output keeps its own colours too).
    pub color: bool,
    /// Draw a progress line (stdout is a terminal).
    pub progress: bool,
}

const PALETTE: [&str; 6] = ["\x1b[36m", "\x1b[35m", "\x1b[33m", "\x1b[32m", "\x1b[34m", "\x1b[91m"];
const RESET: &str = "\x1b[0m";
const CLEAR_LINE: &str = "\r\x1b[2K";

struct JobView {
    name: String,
    color: &'static str,
    partial: Vec<u8>,
}

/// Prints log events until the channel closes.
pub struct Printer {
    out: SharedWriter,
    style: Style,
    width: usize,
    jobs: BTreeMap<u64, JobView>,
    progress: Box<dyn Fn() -> String + Send>,
    progress_shown: bool,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer").field("style", &self.style).finish_non_exhaustive()
    }
}

impl Printer {
    /// `width` is the longest job name; `progress` describes the pipeline
    /// for the progress line.
    pub fn new(
        out: SharedWriter,
        style: Style,
        width: usize,
        progress: Box<dyn Fn() -> String + Send>,
    ) -> Printer {
        Printer { out, style, width, jobs: BTreeMap::new(), progress, progress_shown: false }
    }

    /// Consumes events until every sender is gone, redrawing the progress
    /// line now and then.
    pub async fn run(mut self, mut events: mpsc::UnboundedReceiver<UiEvent>) {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
        loop {
            tokio::select! {
                e = events.recv() => match e {
                    Some(UiEvent::Close) | None => break,
                    Some(e) => self.event(e),
                },
                _ = tick.tick(), if self.style.progress => self.redraw(),
            }
        }
        self.clear_progress();
    }

    fn event(&mut self, event: UiEvent) {
        match event {
            UiEvent::Started { job, name } => {
                let color = PALETTE.get(self.jobs.len() % PALETTE.len()).copied().unwrap_or("");
                self.jobs.insert(job, JobView { name, color, partial: Vec::new() });
            }
            UiEvent::Log { job, bytes } => {
                let Some(view) = self.jobs.get_mut(&job) else { return };
                view.partial.extend_from_slice(&bytes);
                let mut lines = Vec::new();
                while let Some(pos) = view.partial.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = view.partial.drain(..=pos).collect();
                    lines.push(line);
                }
                self.print_lines(job, &lines);
            }
            UiEvent::Finished { job } => {
                let rest =
                    self.jobs.get_mut(&job).map(|v| std::mem::take(&mut v.partial)).unwrap_or_default();
                if !rest.is_empty() {
                    self.print_lines(job, &[rest]);
                }
                self.redraw();
            }
            UiEvent::Close => {}
        }
    }

    fn print_lines(&mut self, job: u64, lines: &[Vec<u8>]) {
        let Some(view) = self.jobs.get(&job) else { return };
        let mut text = String::new();
        for raw in lines {
            let Some(line) = display_line(&String::from_utf8_lossy(raw), self.style.color) else { continue };
            let name = format!("{:<w$}", view.name, w = self.width);
            if self.style.color {
                text.push_str(&format!("{}{name}{RESET} > {line}{RESET}\n", view.color));
            } else {
                text.push_str(&format!("{name} > {line}\n"));
            }
        }
        if text.is_empty() {
            return;
        }
        let progress = self.style.progress.then(|| (self.progress)());
        let mut out = self.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.progress_shown {
            let _ = out.write_all(CLEAR_LINE.as_bytes());
        }
        let _ = out.write_all(text.as_bytes());
        if let Some(p) = progress {
            let _ = out.write_all(p.as_bytes());
            self.progress_shown = true;
        }
        let _ = out.flush();
    }

    fn redraw(&mut self) {
        if !self.style.progress {
            return;
        }
        let p = (self.progress)();
        let mut out = self.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = write!(out, "{CLEAR_LINE}{p}");
        let _ = out.flush();
        self.progress_shown = true;
    }

    fn clear_progress(&mut self) {
        if self.progress_shown {
            let mut out = self.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let _ = out.write_all(CLEAR_LINE.as_bytes());
            let _ = out.flush();
            self.progress_shown = false;
        }
    }
}

/// One log line as a terminal would show it, without section markers:
/// `None` when nothing visible is left. Without colour, escape sequences go.
pub fn display_line(raw: &str, color: bool) -> Option<String> {
    let line = raw.trim_end_matches(['\n']);
    let line = strip_section_markers(line);
    let line = line.replace("\x1b[0K", "");
    // A carriage return redraws the line: the last part is what stays.
    let line = match line.trim_end_matches('\r').rsplit_once('\r') {
        Some((_, last)) => last.to_string(),
        None => line.trim_end_matches('\r').to_string(),
    };
    let line = if color { line } else { strip_ansi(&line) };
    (!strip_ansi(&line).trim().is_empty() || !raw.contains("section_")).then_some(line)
}

/// Removes `section_start:<ts>:<name>[options]\r` and `section_end:...\r`.
fn strip_section_markers(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    loop {
        let next = ["section_start:", "section_end:"].iter().filter_map(|m| rest.find(m)).min();
        let Some(at) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at]);
        let marker = &rest[at..];
        match marker.find('\r') {
            Some(end) => rest = &marker[end + 1..],
            None => {
                out.push_str(marker);
                return out;
            }
        }
    }
}

/// Removes ANSI escape sequences (CSI `ESC [ ... final`, and two-byte ones).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('[') => {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(_) => {
                chars.next();
            }
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_markers_go_and_headers_stay() {
        let raw = "section_start:1700000000:step_script\r\x1b[0K\x1b[0K\x1b[36;1mExecuting \"step_script\" stage\x1b[0;m\n";
        assert_eq!(display_line(raw, false).as_deref(), Some("Executing \"step_script\" stage"));
        assert_eq!(display_line("section_end:1700000001:step_script\r\x1b[0K\n", false), None);
        assert_eq!(display_line("\n", false).as_deref(), Some(""));
        assert_eq!(display_line("10%\r50%\r100%\n", false).as_deref(), Some("100%"));
        assert_eq!(
            display_line("section_start:1:x[collapsed=true]\r\x1b[0K$ echo hi\n", false).as_deref(),
            Some("$ echo hi")
        );
    }

    #[test]
    fn ansi_is_stripped() {
        assert_eq!(strip_ansi("\x1b[32;1m$ make\x1b[0;m"), "$ make");
    }
}
