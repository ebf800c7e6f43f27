//! Fuzz target: `config.toml` as GitLab Runner writes it, from arbitrary
//! text. Parsing answers with a config or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = kiln_runner::config::parse(std::path::Path::new("config.toml"), text);
    }
});
