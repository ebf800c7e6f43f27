//! Masking sensitive URL query parameters in the job log, as gitlab-runner's
//! `urlsanitizer` does: the value after `?key=` or `&key=` for `private_token`,
//! `authenticity_token`, `rss_token`, `X-Amz-Signature`, `X-Amz-Credential` and
//! `X-Amz-Security-Token` (any case) becomes `[MASKED]`, also across writes.

use crate::trace::MASKED;

/// Parameter names whose values are secret (compared in lower case).
const SENSITIVE: [&[u8]; 6] = [
    b"private_token",
    b"authenticity_token",
    b"rss_token",
    b"x-amz-signature",
    b"x-amz-credential",
    b"x-amz-security-token",
];

/// The separator plus the longest name: a candidate key that grows past this is dropped.
const KEY_CAP: usize = 21;

/// A streaming URL parameter sanitizer.
#[derive(Debug, Clone, Default)]
pub struct UrlSanitizer {
    /// `?` or `&` and the parameter name seen so far.
    key: Vec<u8>,
    /// Inside a sensitive value: bytes are dropped until the value ends.
    masking: bool,
}

fn is_sensitive(name: &[u8]) -> bool {
    SENSITIVE.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// Where a parameter value ends: `?`, `&`, white space or a control character.
fn value_end(data: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        if b < 0x80 {
            if matches!(b, b'?' | b'&' | b' ' | 0..=0x1f | 0x7f) {
                return Some(i);
            }
            i += 1;
            continue;
        }
        let width = match b {
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => 1,
        };
        let c =
            data.get(i..i + width).and_then(|s| std::str::from_utf8(s).ok()).and_then(|s| s.chars().next());
        match c {
            Some(c) if c.is_whitespace() || c.is_control() => return Some(i),
            Some(_) => i += width,
            // Go decodes invalid UTF-8 as U+FFFD, which ends nothing.
            None => i += 1,
        }
    }
    None
}

impl UrlSanitizer {
    /// Appends `input` to `out`, sensitive values replaced.
    pub fn write(&mut self, p: &[u8], out: &mut Vec<u8>) {
        let mut n = 0;
        let mut last = 0;
        while n < p.len() {
            if self.masking {
                match value_end(&p[n..]) {
                    None => {
                        n = p.len();
                        last = n;
                        break;
                    }
                    Some(off) => {
                        n += off;
                        last = n;
                        self.masking = false;
                        out.extend_from_slice(MASKED);
                    }
                }
            }
            // gitlab-runner drops the candidate when it *reaches* the cap, which loses
            // `x-amz-security-token` (exactly the cap) when it arrives split across writes;
            // dropping it only past the cap masks that case too and changes nothing else.
            if self.key.len() > KEY_CAP {
                self.key.clear();
            }
            if self.key.is_empty() {
                match memchr::memchr2(b'?', b'&', &p[n..]) {
                    None => {
                        n = p.len();
                        break;
                    }
                    Some(off) => {
                        self.key.push(p[n + off]);
                        n += off + 1;
                    }
                }
            }
            if n >= p.len() {
                break;
            }
            match memchr::memchr3(b'=', b'?', b'&', &p[n..]) {
                None => {
                    self.key.push(p[n]);
                    n += 1;
                }
                Some(off) if p[n + off] != b'=' => {
                    self.key.clear();
                    n += off;
                }
                Some(off) if off + self.key.len() > KEY_CAP => {
                    self.key.clear();
                    n += 1;
                }
                Some(off) => {
                    self.key.extend_from_slice(&p[n..n + off]);
                    n += off + 1;
                    if is_sensitive(&self.key[1..]) {
                        out.extend_from_slice(&p[last..n]);
                        last = n;
                        self.masking = true;
                    }
                    self.key.clear();
                }
            }
        }
        out.extend_from_slice(&p[last..n]);
    }

    /// Ends the stream: a value still being dropped is replaced.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.masking {
            out.extend_from_slice(MASKED);
            self.masking = false;
        }
        self.key.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sanitize_in_chunks(input: &str, chunk: usize) -> String {
        let mut s = UrlSanitizer::default();
        let mut out = Vec::new();
        for c in input.as_bytes().chunks(chunk) {
            s.write(c, &mut out);
        }
        s.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    /// Cases from gitlab-runner's own `urlsanitizer_test.go` expectations, written anew.
    #[test]
    fn sensitive_parameters_are_masked_across_every_split() {
        let cases = [
            ("no params here", "no params here"),
            ("https://x/?private_token=abc123", "https://x/?private_token=[MASKED]"),
            (
                "GET https://s3/b/o?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F2024&X-Amz-Signature=deadbeef end",
                "GET https://s3/b/o?X-Amz-Algorithm=AWS4&X-Amz-Credential=[MASKED]&X-Amz-Signature=[MASKED] end",
            ),
            ("?x-amz-security-token=tok\nnext", "?x-amz-security-token=[MASKED]\nnext"),
            ("?RSS_TOKEN=r&authenticity_token=a?b", "?RSS_TOKEN=[MASKED]&authenticity_token=[MASKED]?b"),
            ("?not_a_token=visible&other=1", "?not_a_token=visible&other=1"),
            ("?a_very_long_parameter_name_private_token=v", "?a_very_long_parameter_name_private_token=v"),
            ("?&private_token=v", "?&private_token=[MASKED]"),
            ("tail ?private_token=cut-at-end", "tail ?private_token=[MASKED]"),
        ];
        for (input, want) in cases {
            for chunk in 1..=input.len() {
                assert_eq!(sanitize_in_chunks(input, chunk), want, "{input:?} in chunks of {chunk}");
            }
        }
    }
}
