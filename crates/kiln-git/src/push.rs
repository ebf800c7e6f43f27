//! What a push changed: the branches and tags it created, moved or deleted,
//! and the push options (`git push -o ci.skip`) it carried.
//!
//! Ref changes come from the repository itself (its branches and tags before
//! and after `receive-pack`, with pushes to one repository serialised), so
//! they are exactly what git applied, rejected updates left out. Push options
//! travel in the request body, between the command list and the pack; they
//! are read from a copy of the body's first bytes.

use std::collections::BTreeMap;
use std::io::Write;

use crate::oid::Oid;
use crate::pktline::{Packet, read_packet};
use crate::repo::RefEntry;

/// How far into a push request the command list and options may reach
/// before we stop looking for push options.
const MAX_PREFIX: usize = 4 * 1024 * 1024;

/// Whether a ref is a branch or a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Branch,
    Tag,
}

/// One ref a push changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    /// The full name (`refs/heads/main`).
    pub name: String,
    pub kind: RefKind,
    /// The ref's commit before the push; `None` when the push created it.
    pub before: Option<Oid>,
    /// The ref's commit after the push (peeled for annotated tags); `None`
    /// when the push deleted it.
    pub after: Option<Oid>,
}

impl RefUpdate {
    /// The name without `refs/heads/` or `refs/tags/`.
    pub fn short_name(&self) -> &str {
        self.name
            .strip_prefix("refs/heads/")
            .or_else(|| self.name.strip_prefix("refs/tags/"))
            .unwrap_or(&self.name)
    }

    pub fn is_deletion(&self) -> bool {
        self.after.is_none()
    }
}

/// The outcome of one push request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushEvent {
    pub updates: Vec<RefUpdate>,
    /// Push options as sent (`ci.skip`, `ci.variable=KEY=value`).
    pub options: Vec<String>,
}

/// GitLab's CI push options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushOptions {
    /// `ci.skip`: create no pipeline.
    pub ci_skip: bool,
    /// `ci.variable="KEY=value"`: variables for the push pipelines.
    pub ci_variables: Vec<(String, String)>,
}

impl PushOptions {
    /// Reads the `ci.*` options GitLab understands; others are ignored as
    /// GitLab ignores them.
    pub fn parse(options: &[String]) -> PushOptions {
        let mut parsed = PushOptions::default();
        for option in options {
            let (key, value) = option.split_once('=').map_or((option.as_str(), None), |(k, v)| (k, Some(v)));
            match (key, value) {
                ("ci.skip", _) => parsed.ci_skip = true,
                ("ci.variable", Some(assignment)) => {
                    if let Some((k, v)) = assignment.split_once('=')
                        && !k.is_empty()
                    {
                        parsed.ci_variables.push((k.to_string(), v.to_string()));
                    }
                }
                _ => {}
            }
        }
        parsed
    }
}

/// The refs that differ between two snapshots of branches and tags.
pub(crate) fn diff_refs(before: &[RefEntry], after: &[RefEntry]) -> Vec<RefUpdate> {
    let before: BTreeMap<&str, &RefEntry> = before.iter().map(|r| (r.name.as_str(), r)).collect();
    let after: BTreeMap<&str, &RefEntry> = after.iter().map(|r| (r.name.as_str(), r)).collect();
    let mut names: Vec<&str> = before.keys().chain(after.keys()).copied().collect();
    names.sort_unstable();
    names.dedup();
    let mut updates = Vec::new();
    for name in names {
        let old = before.get(name);
        let new = after.get(name);
        if old.map(|r| &r.target) == new.map(|r| &r.target) {
            continue;
        }
        let kind = if name.starts_with("refs/tags/") { RefKind::Tag } else { RefKind::Branch };
        updates.push(RefUpdate {
            name: name.to_string(),
            kind,
            before: old.map(|r| r.commit().clone()),
            after: new.map(|r| r.commit().clone()),
        });
    }
    updates
}

/// Watches the start of a `receive-pack` request body for push options.
pub(crate) struct OptionsReader {
    gzip: Option<flate2::write::GzDecoder<Vec<u8>>>,
    plain: Vec<u8>,
    done: bool,
    options: Vec<String>,
}

impl OptionsReader {
    pub(crate) fn new(gzip: bool) -> OptionsReader {
        OptionsReader {
            gzip: gzip.then(|| flate2::write::GzDecoder::new(Vec::new())),
            plain: Vec::new(),
            done: false,
            options: Vec::new(),
        }
    }

    /// Feeds the next bytes of the body; cheap once the options are read.
    pub(crate) fn feed(&mut self, chunk: &[u8]) {
        if self.done {
            return;
        }
        match &mut self.gzip {
            Some(decoder) => {
                if decoder.write_all(chunk).is_err() {
                    self.done = true;
                    return;
                }
                let _ = decoder.flush();
                self.plain.append(decoder.get_mut());
            }
            None => self.plain.extend_from_slice(chunk),
        }
        match parse_options(&self.plain) {
            Some(options) => {
                self.options = options;
                self.done = true;
            }
            None if self.plain.len() > MAX_PREFIX => self.done = true,
            None => {}
        }
    }

    pub(crate) fn into_options(self) -> Vec<String> {
        self.options
    }
}

/// Parses `commands* flush [options* flush]`; `None` until enough bytes are there.
fn parse_options(buf: &[u8]) -> Option<Vec<String>> {
    let mut pos = 0;
    let mut capabilities: Option<String> = None;
    // The command list, possibly preceded by `shallow` lines.
    loop {
        let (packet, used) = match read_packet(buf.get(pos..)?) {
            Ok(Some(p)) => p,
            Ok(None) => return None,
            Err(()) => return Some(Vec::new()),
        };
        pos += used;
        match packet {
            Packet::Flush => break,
            Packet::Special => return Some(Vec::new()),
            Packet::Data(line) => {
                if capabilities.is_none()
                    && let Some(nul) = line.iter().position(|&b| b == 0)
                {
                    let caps = line.get(nul + 1..).unwrap_or_default();
                    capabilities = Some(String::from_utf8_lossy(caps).trim_end().to_string());
                }
            }
        }
    }
    let wants_options =
        capabilities.as_deref().is_some_and(|c| c.split(' ').any(|cap| cap == "push-options"));
    if !wants_options {
        return Some(Vec::new());
    }
    let mut options = Vec::new();
    loop {
        let (packet, used) = match read_packet(buf.get(pos..)?) {
            Ok(Some(p)) => p,
            Ok(None) => return None,
            Err(()) => return Some(options),
        };
        pos += used;
        match packet {
            Packet::Flush | Packet::Special => return Some(options),
            Packet::Data(line) => {
                let text = String::from_utf8_lossy(line);
                options.push(text.strip_suffix('\n').unwrap_or(&text).to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(s: &str) -> Vec<u8> {
        let mut v = format!("{:04x}", s.len() + 4).into_bytes();
        v.extend_from_slice(s.as_bytes());
        v
    }

    fn oid(c: char) -> Oid {
        Oid::parse(&c.to_string().repeat(40)).unwrap()
    }

    #[test]
    fn options_follow_the_command_list() {
        let zero = "0".repeat(40);
        let new = "a".repeat(40);
        let mut body =
            pkt(&format!("{zero} {new} refs/heads/main\0report-status push-options agent=git/2\n"));
        body.extend(b"0000");
        body.extend(pkt("ci.skip\n"));
        body.extend(pkt("ci.variable=A=b c"));
        body.extend(b"0000PACK....");
        assert_eq!(parse_options(&body), Some(vec!["ci.skip".to_string(), "ci.variable=A=b c".to_string()]));
        // Incomplete input asks for more; fed byte by byte it still finds them.
        assert_eq!(parse_options(body.get(..body.len() - 20).unwrap()), None);
        let mut reader = OptionsReader::new(false);
        for b in &body {
            reader.feed(std::slice::from_ref(b));
        }
        assert_eq!(reader.into_options().len(), 2);
    }

    #[test]
    fn no_push_options_capability_means_no_options() {
        let mut body = pkt(&format!("{} {} refs/heads/x\0report-status\n", "0".repeat(40), "b".repeat(40)));
        body.extend(b"0000PACK");
        assert_eq!(parse_options(&body), Some(vec![]));
    }

    #[test]
    fn gitlab_ci_options() {
        let parsed = PushOptions::parse(&[
            "ci.skip".into(),
            "ci.variable=FOO=bar=baz".into(),
            "ci.variable=broken".into(),
            "merge_request.create".into(),
        ]);
        assert!(parsed.ci_skip);
        assert_eq!(parsed.ci_variables, vec![("FOO".to_string(), "bar=baz".to_string())]);
    }

    #[test]
    fn diff_reports_creations_moves_and_deletions() {
        let entry =
            |name: &str, target: Oid, peeled: Option<Oid>| RefEntry { name: name.into(), target, peeled };
        let before = vec![entry("refs/heads/gone", oid('1'), None), entry("refs/heads/main", oid('2'), None)];
        let after = vec![
            entry("refs/heads/main", oid('3'), None),
            entry("refs/heads/new", oid('4'), None),
            entry("refs/tags/v1", oid('5'), Some(oid('3'))),
        ];
        let updates = diff_refs(&before, &after);
        assert_eq!(updates.len(), 4);
        assert_eq!(updates[0].short_name(), "gone");
        assert!(updates[0].is_deletion());
        assert_eq!((updates[1].before.clone(), updates[1].after.clone()), (Some(oid('2')), Some(oid('3'))));
        assert_eq!(updates[2].before, None);
        assert_eq!((updates[3].kind, updates[3].after.clone()), (RefKind::Tag, Some(oid('3'))));
    }
}
