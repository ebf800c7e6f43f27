//! Fuzz target: the job log masker, split anywhere.
//!
//! Input: one byte choosing where writes are cut, then the secret and the log
//! text separated by the first NUL. Whatever the cuts, the masked log is the
//! same as when written in one piece, and a secret made of characters that
//! `[MASKED]` does not contain never appears in it.
#![no_main]

use kiln_runner::trace::Masker;
use libfuzzer_sys::fuzz_target;

fn masked(secret: &str, text: &[u8], cut: usize) -> Vec<u8> {
    let mut m = Masker::new([secret.to_string()], ["glpat-".to_string()]);
    let mut out = Vec::new();
    for chunk in text.chunks(cut.max(1)) {
        m.write(chunk, &mut out);
    }
    m.finish(&mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else { return };
    let mut parts = rest.splitn(2, |&b| b == 0);
    let secret = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let text = parts.next().unwrap_or_default();
    let whole = masked(&secret, text, usize::MAX);
    assert_eq!(masked(&secret, text, usize::from(cut % 17) + 1), whole, "cuts changed the masked log");
    let foreign = |b: u8| !b"[MASKED]%".contains(&b) && !b.is_ascii_uppercase();
    // GitLab masks values of eight characters or more.
    if secret.len() >= 8 && secret.bytes().all(foreign) {
        assert!(
            !whole.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret reached the log"
        );
    }
});
