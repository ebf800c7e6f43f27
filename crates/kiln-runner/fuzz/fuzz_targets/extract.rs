//! Fuzz target: extracting an untrusted zip archive (artifacts, caches).
//! Arbitrary bytes are extracted below a fresh directory inside a sandbox
//! directory: nothing may appear in the sandbox outside the destination,
//! and nothing panics.
#![no_main]

use kiln_runner::archive::{ExtractLimits, extract_zip};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let sandbox = tempfile::tempdir().unwrap();
    let archive = sandbox.path().join("archive.zip");
    std::fs::write(&archive, data).unwrap();
    let dest = sandbox.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let limits = ExtractLimits { max_total_bytes: 1 << 20, max_ratio: 100, max_entries: 100 };
    let _ = extract_zip(&archive, &dest, limits);
    let mut names: Vec<_> =
        std::fs::read_dir(sandbox.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["archive.zip", "dest"], "the archive wrote outside its destination");
});
