//! Repairing invalid UTF-8 in the job log, as gitlab-runner's trace buffer does with
//! `x/text`'s Replacement encoder: every byte that is not part of a valid UTF-8 sequence
//! becomes U+FFFD, and a sequence cut at the end of one write waits for the next.

const REPLACEMENT: &[u8] = "\u{fffd}".as_bytes();

/// A streaming UTF-8 repairer.
#[derive(Debug, Default)]
pub struct Utf8Repair {
    /// The start of a multi-byte sequence that the last write ended in (at most 3 bytes).
    held: Vec<u8>,
}

impl Utf8Repair {
    /// Appends `input` to `out` with invalid bytes replaced.
    pub fn write(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if self.held.is_empty() {
            self.repair(input, out);
        } else {
            let mut joined = std::mem::take(&mut self.held);
            joined.extend_from_slice(input);
            self.repair(&joined, out);
        }
    }

    /// Replaces a sequence left incomplete at the end of the log.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        for _ in self.held.drain(..) {
            out.extend_from_slice(REPLACEMENT);
        }
    }

    fn repair(&mut self, mut rest: &[u8], out: &mut Vec<u8>) {
        loop {
            match std::str::from_utf8(rest) {
                Ok(_) => {
                    out.extend_from_slice(rest);
                    return;
                }
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    out.extend_from_slice(good);
                    match e.error_len() {
                        // Go decodes an invalid sequence one byte at a time: one U+FFFD each.
                        Some(n) => {
                            for _ in 0..n {
                                out.extend_from_slice(REPLACEMENT);
                            }
                            rest = bad.get(n..).unwrap_or_default();
                        }
                        None => {
                            self.held = bad.to_vec();
                            return;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repair_in_chunks(input: &[u8], chunk: usize) -> String {
        let mut r = Utf8Repair::default();
        let mut out = Vec::new();
        for c in input.chunks(chunk) {
            r.write(c, &mut out);
        }
        r.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn invalid_bytes_become_one_replacement_each() {
        let cases: [(&[u8], &str); 6] = [
            (b"plain", "plain"),
            ("h\u{e9}llo \u{2713}".as_bytes(), "h\u{e9}llo \u{2713}"),
            (b"a\xffb", "a\u{fffd}b"),
            // A three-byte sequence missing its last byte, then ASCII: one U+FFFD per byte.
            (b"x\xe2\x82y", "x\u{fffd}\u{fffd}y"),
            (b"\xf0\x90\x80A", "\u{fffd}\u{fffd}\u{fffd}A"),
            // Cut at the very end of the log.
            (b"end\xe2\x82", "end\u{fffd}\u{fffd}"),
        ];
        for (input, want) in cases {
            for chunk in 1..=input.len() {
                assert_eq!(repair_in_chunks(input, chunk), want, "{input:?} in chunks of {chunk}");
            }
        }
    }
}
