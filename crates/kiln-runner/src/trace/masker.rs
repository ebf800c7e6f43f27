//! Streaming masking of secrets in the job log, correct across write boundaries.
//!
//! Masked variable values become `[MASKED]`; for GitLab token prefixes (`glpat-`, ...) the
//! token body after the prefix becomes `[MASKED]`. Bytes that could still turn into a
//! secret are held back until the next write or `finish`, so a value split across two
//! reads (or two trace patches) is still masked.

/// The replacement text, as GitLab prints it.
pub const MASKED: &[u8] = b"[MASKED]";

/// Token bodies longer than this are flushed without waiting for their end.
const MAX_HELD_TOKEN: usize = 4096;

/// A streaming masker. A clone starts with the same secrets and its own state.
#[derive(Debug, Clone)]
pub struct Masker {
    secrets: Vec<Vec<u8>>,
    prefixes: Vec<Vec<u8>>,
    starts: [bool; 256],
    /// The distinct first bytes, when there are at most three: `memchr` can then skip to
    /// the next candidate instead of looking at every byte.
    few_starts: Option<Vec<u8>>,
    pending: Vec<u8>,
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'=')
}

impl Default for Masker {
    fn default() -> Self {
        Masker::new(Vec::new(), Vec::new())
    }
}

impl Masker {
    /// A masker for the given secret values and token prefixes. Empty values are ignored;
    /// longer secrets are tried first so that one secret containing another is masked whole.
    pub fn new(
        secrets: impl IntoIterator<Item = String>,
        prefixes: impl IntoIterator<Item = String>,
    ) -> Masker {
        let mut m = Masker {
            secrets: Vec::new(),
            prefixes: Vec::new(),
            starts: [false; 256],
            few_starts: None,
            pending: Vec::new(),
        };
        for s in secrets {
            for v in [s.clone(), url_encoded(&s)] {
                if !v.is_empty() && !m.secrets.iter().any(|x| x == v.as_bytes()) {
                    m.secrets.push(v.into_bytes());
                }
            }
        }
        m.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for p in prefixes {
            if !p.is_empty() && !m.prefixes.iter().any(|x| x == p.as_bytes()) {
                m.prefixes.push(p.into_bytes());
            }
        }
        for s in m.secrets.iter().chain(&m.prefixes) {
            if let Some(&b) = s.first() {
                m.starts[usize::from(b)] = true;
            }
        }
        let distinct: Vec<u8> = (0..=255u8).filter(|b| m.starts[usize::from(*b)]).collect();
        m.few_starts = (distinct.len() <= 3).then_some(distinct);
        m
    }

    /// Masks `input`, appending what can be emitted now to `out`.
    pub fn write(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if self.pending.is_empty() {
            let rest = self.scan(input, out, false);
            self.pending.extend_from_slice(rest);
        } else {
            let mut pending = std::mem::take(&mut self.pending);
            pending.extend_from_slice(input);
            let rest = self.scan(&pending, out, false).to_vec();
            self.pending = rest;
        }
    }

    /// Emits everything held back.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let pending = std::mem::take(&mut self.pending);
        let rest = self.scan(&pending, out, true);
        out.extend_from_slice(rest);
    }

    /// Whether bytes are being held back.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Copies masked `data` into `out` and returns the tail that must wait for more input.
    fn scan<'a>(&self, data: &'a [u8], out: &mut Vec<u8>, last: bool) -> &'a [u8] {
        let mut i = 0;
        let mut copied = 0;
        while i < data.len() {
            if !self.starts[usize::from(data[i])] {
                match self.next_start(&data[i..]) {
                    Some(off) => i += off,
                    None => break,
                }
                continue;
            }
            match self.match_at(&data[i..], last) {
                Match::None => i += 1,
                Match::Wait => {
                    out.extend_from_slice(&data[copied..i]);
                    return &data[i..];
                }
                Match::Secret(len) => {
                    out.extend_from_slice(&data[copied..i]);
                    out.extend_from_slice(MASKED);
                    i += len;
                    copied = i;
                }
                Match::Token { prefix, body } => {
                    out.extend_from_slice(&data[copied..i + prefix]);
                    out.extend_from_slice(MASKED);
                    i += prefix + body;
                    copied = i;
                }
            }
        }
        out.extend_from_slice(&data[copied..]);
        &[]
    }

    /// The offset of the next byte that may start a secret or prefix.
    fn next_start(&self, d: &[u8]) -> Option<usize> {
        match self.few_starts.as_deref() {
            Some([]) => None,
            Some([a]) => memchr::memchr(*a, d),
            Some([a, b]) => memchr::memchr2(*a, *b, d),
            Some([a, b, c]) => memchr::memchr3(*a, *b, *c, d),
            _ => d.iter().position(|b| self.starts[usize::from(*b)]),
        }
    }

    fn match_at(&self, d: &[u8], last: bool) -> Match {
        let mut wait = false;
        for s in &self.secrets {
            if d.starts_with(s) {
                // A longer secret that could still match wins over this shorter one.
                return if wait { Match::Wait } else { Match::Secret(s.len()) };
            }
            if !last && d.len() < s.len() && s.starts_with(d) {
                wait = true;
            }
        }
        for p in &self.prefixes {
            if d.starts_with(p) {
                let body = d[p.len()..].iter().take_while(|b| is_token_char(**b)).count();
                if !last && p.len() + body == d.len() && body < MAX_HELD_TOKEN {
                    return Match::Wait;
                }
                if body > 0 {
                    return Match::Token { prefix: p.len(), body };
                }
            } else if !last && d.len() < p.len() && p.starts_with(d) {
                wait = true;
            }
        }
        if wait { Match::Wait } else { Match::None }
    }
}

enum Match {
    None,
    Wait,
    Secret(usize),
    Token { prefix: usize, body: usize },
}

fn url_encoded(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_in_chunks(secrets: &[&str], prefixes: &[&str], input: &str, chunk: usize) -> String {
        let mut m =
            Masker::new(secrets.iter().map(|s| s.to_string()), prefixes.iter().map(|s| s.to_string()));
        let mut out = Vec::new();
        for c in input.as_bytes().chunks(chunk) {
            m.write(c, &mut out);
        }
        m.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn secrets_are_masked_across_every_split() {
        let input = "before s3cr3t-V4lue after s3cr3t-V4lue! s3cr3";
        for chunk in 1..input.len() + 1 {
            assert_eq!(
                mask_in_chunks(&["s3cr3t-V4lue"], &[], input, chunk),
                "before [MASKED] after [MASKED]! s3cr3",
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn token_bodies_are_masked_after_the_prefix() {
        let input = "token glpat-AbC_12.3=x end glrt-t1_zz\n";
        for chunk in 1..input.len() + 1 {
            assert_eq!(
                mask_in_chunks(&[], &["glpat-", "glrt-"], input, chunk),
                "token glpat-[MASKED] end glrt-[MASKED]\n",
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn overlapping_secrets_mask_the_longest() {
        assert_eq!(mask_in_chunks(&["abc", "abcdef"], &[], "xabcdefx abcx", 3), "x[MASKED]x [MASKED]x");
    }

    #[test]
    fn url_encoded_values_are_masked_too() {
        assert_eq!(mask_in_chunks(&["a b/c"], &[], "a%20b%2Fc", 2), "[MASKED]");
    }
}
