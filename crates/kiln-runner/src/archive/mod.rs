//! Zip archives for artifacts and caches: choosing files, writing a zip as a stream, and
//! extracting untrusted archives safely.

mod create;
mod extract;
mod select;

pub use create::{write_gzip, write_zip};
pub use extract::{ExtractError, ExtractLimits, extract_zip};
pub use select::{SelectError, select_files};
