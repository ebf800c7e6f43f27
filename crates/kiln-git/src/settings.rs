//! Limits and the git program every repository operation uses.

use std::path::PathBuf;
use std::time::Duration;

/// How git is run. One value is shared by every repository of a server.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The `git` executable (looked up in `PATH` when it has no slash).
    pub program: PathBuf,
    /// Longest time one read operation (read a file, list a tree, diff) may take.
    pub command_timeout: Duration,
    /// Longest time one smart HTTP request (a whole clone or push) may take.
    pub http_timeout: Duration,
    /// Largest request body a smart HTTP request may send (a push's pack).
    pub max_request_body: u64,
    /// Largest file `read_file` returns.
    pub max_file_size: usize,
    /// Largest output of a listing (tree, diff, refs) before it is refused.
    pub max_listing: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            program: PathBuf::from("git"),
            command_timeout: Duration::from_secs(60),
            http_timeout: Duration::from_secs(30 * 60),
            max_request_body: 1024 * 1024 * 1024,
            max_file_size: 16 * 1024 * 1024,
            max_listing: 256 * 1024 * 1024,
        }
    }
}
