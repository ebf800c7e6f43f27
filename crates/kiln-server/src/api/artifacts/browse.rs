//! One file out of a zip archive in the blob store, streamed, without copying
//! the archive: the zip reader seeks through the blob with ranged reads on a
//! blocking thread and sends the entry's bytes to the response in chunks.
//!
//! Hostile archives are expected (jobs upload what they like): paths with
//! `..`, absolute paths and backslashes are refused before the archive is
//! opened, entries whose own names would escape are never served, and an
//! entry that inflates past its declared size or past [`MAX_ENTRY_SIZE`] is
//! cut off with an error instead of being streamed without end.

use std::io::{self, BufReader, Read, Seek, SeekFrom};

use bytes::Bytes;
use futures::StreamExt;
use kiln_store::BlobStore;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

/// Largest entry served (GitLab serves files up to the archive's own limit).
pub(crate) const MAX_ENTRY_SIZE: u64 = 1024 * 1024 * 1024;
/// Largest central directory and entry count accepted: the zip reader keeps
/// the whole directory in memory, so a hostile archive could otherwise make
/// it hold millions of entries.
const MAX_DIRECTORY: u64 = 64 * 1024 * 1024;
const MAX_ENTRIES: u64 = 200_000;
/// Bytes per ranged read of the archive.
const READ_AHEAD: usize = 256 * 1024;
/// Bytes per chunk sent to the client.
const CHUNK: usize = 64 * 1024;

/// Why an entry could not be served.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BrowseError {
    #[error("artifact path `{0}` is not allowed")]
    BadPath(String),
    #[error("no file `{0}` in the artifacts archive")]
    NotFound(String),
    #[error("artifacts archive: {0}")]
    BadArchive(String),
    #[error("artifacts archive entry `{0}` is larger than {MAX_ENTRY_SIZE} bytes")]
    TooLarge(String),
    #[error("reading the artifacts archive: {0}")]
    Io(#[from] io::Error),
}

/// Checks a requested path: relative, plain segments only.
pub(crate) fn check_path(path: &str) -> Result<(), BrowseError> {
    let ok = !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
    if ok { Ok(()) } else { Err(BrowseError::BadPath(path.to_string())) }
}

/// A blob as `Read + Seek`, fetched in ranges. Only for blocking threads.
struct BlobReader {
    blobs: BlobStore,
    key: String,
    size: u64,
    pos: u64,
    handle: Handle,
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let end = self.size.min(self.pos.saturating_add(buf.len() as u64));
        let range = self.pos..end;
        let (blobs, key) = (&self.blobs, &self.key);
        let mut filled = 0usize;
        self.handle.block_on(async {
            let mut stream = blobs.get_range(key, range).await.map_err(io::Error::other)?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(io::Error::other)?;
                let n = chunk.len().min(buf.len() - filled);
                buf[filled..filled + n].copy_from_slice(&chunk[..n]);
                filled += n;
            }
            Ok::<(), io::Error>(())
        })?;
        self.pos += filled as u64;
        Ok(filled)
    }
}

impl Seek for BlobReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos =
            target.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

/// A file found in an archive, and its bytes as they are read.
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) size: u64,
    pub(crate) body: mpsc::Receiver<Result<Bytes, io::Error>>,
}

/// Finds `path` in the zip archive stored under `key` (of `size` bytes) and
/// starts streaming it. Errors before the first byte come back as `Err`.
pub(crate) async fn open_entry(
    blobs: &BlobStore,
    key: &str,
    size: u64,
    path: &str,
) -> Result<Entry, BrowseError> {
    check_path(path)?;
    let reader =
        BlobReader { blobs: blobs.clone(), key: key.to_string(), size, pos: 0, handle: Handle::current() };
    let path = path.to_string();
    let (head_tx, head_rx) = oneshot::channel();
    let (body_tx, body_rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || stream_entry(reader, &path, head_tx, &body_tx));
    let (name, size) = head_rx.await.map_err(|_| BrowseError::BadArchive("the reader stopped".into()))??;
    Ok(Entry { name, size, body: body_rx })
}

type Head = Result<(String, u64), BrowseError>;

/// Reads the end of central directory record (and its zip64 form) and refuses
/// directories over [`MAX_DIRECTORY`] bytes or [`MAX_ENTRIES`] entries before
/// the zip reader loads them.
fn check_directory(r: &mut BlobReader) -> Result<(), BrowseError> {
    const EOCD: usize = 22;
    let bad = |what: &str| BrowseError::BadArchive(what.to_string());
    let tail_len = r.size.min(EOCD as u64 + 65_535);
    let mut tail = vec![0u8; usize::try_from(tail_len).map_err(|_| bad("size"))?];
    r.seek(SeekFrom::Start(r.size - tail_len))?;
    r.read_exact(&mut tail)?;
    let at = (0..=tail.len().saturating_sub(EOCD))
        .rev()
        .find(|&i| tail.len() >= i + EOCD && tail[i..i + 4] == *b"PK\x05\x06")
        .ok_or_else(|| bad("no end of central directory record"))?;
    let le = |b: &[u8]| b.iter().rev().fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte));
    let mut entries = le(&tail[at + 10..at + 12]);
    let mut size = le(&tail[at + 12..at + 16]);
    if (entries == 0xFFFF || size == 0xFFFF_FFFF) && at >= 20 && tail[at - 20..at - 16] == *b"PK\x06\x07" {
        let mut record = [0u8; 56];
        r.seek(SeekFrom::Start(le(&tail[at - 12..at - 4])))?;
        r.read_exact(&mut record)?;
        if record[..4] != *b"PK\x06\x06" {
            return Err(bad("bad zip64 end of central directory record"));
        }
        entries = le(&record[32..40]);
        size = le(&record[40..48]);
    }
    if entries > MAX_ENTRIES || size > MAX_DIRECTORY {
        return Err(BrowseError::BadArchive(format!(
            "central directory of {entries} entries in {size} bytes is over the limit"
        )));
    }
    r.seek(SeekFrom::Start(0))?;
    Ok(())
}

fn stream_entry(
    mut reader: BlobReader,
    path: &str,
    head: oneshot::Sender<Head>,
    body: &mpsc::Sender<Result<Bytes, io::Error>>,
) {
    if let Err(e) = check_directory(&mut reader) {
        let _ = head.send(Err(e));
        return;
    }
    let mut archive = match zip::ZipArchive::new(BufReader::with_capacity(READ_AHEAD, reader)) {
        Ok(a) => a,
        Err(e) => {
            let _ = head.send(Err(BrowseError::BadArchive(e.to_string())));
            return;
        }
    };
    let Some(index) = archive.index_for_name(path) else {
        let _ = head.send(Err(BrowseError::NotFound(path.to_string())));
        return;
    };
    let mut file = match archive.by_index(index) {
        Ok(f) => f,
        Err(e) => {
            let _ = head.send(Err(BrowseError::BadArchive(e.to_string())));
            return;
        }
    };
    // The entry's own name must stay inside the archive too (`a/../../x` is
    // refused even when asked for by that exact name).
    if !file.is_file() || file.enclosed_name().is_none() {
        let _ = head.send(Err(BrowseError::NotFound(path.to_string())));
        return;
    }
    let declared = file.size();
    if declared > MAX_ENTRY_SIZE {
        let _ = head.send(Err(BrowseError::TooLarge(path.to_string())));
        return;
    }
    let name = path.rsplit('/').next().unwrap_or(path).to_string();
    if head.send(Ok((name, declared))).is_err() {
        return;
    }
    let mut sent = 0u64;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let item = match file.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                sent += n as u64;
                if sent > declared {
                    Err(io::Error::other(format!(
                        "entry `{path}` inflates past its declared {declared} bytes"
                    )))
                } else {
                    Ok(Bytes::copy_from_slice(&buf[..n]))
                }
            }
            Err(e) => Err(e),
        };
        let stop = item.is_err();
        if body.blocking_send(item).is_err() || stop {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        for (name, bytes) in files {
            zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        out.into_inner()
    }

    async fn read(entry: Entry) -> Vec<u8> {
        let mut body = entry.body;
        let mut out = Vec::new();
        while let Some(chunk) = body.recv().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn serves_one_file_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::local(dir.path()).unwrap();
        let big = vec![7u8; 3 * READ_AHEAD + 11];
        let zip = archive(&[("out/a.txt", b"hello"), ("out/big.bin", &big), ("../evil", b"x")]);
        let size = zip.len() as u64;
        blobs.put("a/archive.zip", zip.into()).await.unwrap();
        let entry = open_entry(&blobs, "a/archive.zip", size, "out/a.txt").await.unwrap();
        assert_eq!((entry.name.as_str(), entry.size), ("a.txt", 5));
        assert_eq!(read(entry).await, b"hello");
        let entry = open_entry(&blobs, "a/archive.zip", size, "out/big.bin").await.unwrap();
        assert_eq!(read(entry).await, big);
        for bad in ["../evil", "out/../out/a.txt", "/etc/passwd", "out\\a.txt", ""] {
            assert!(matches!(
                open_entry(&blobs, "a/archive.zip", size, bad).await,
                Err(BrowseError::BadPath(_))
            ));
        }
        assert!(matches!(
            open_entry(&blobs, "a/archive.zip", size, "out/missing").await,
            Err(BrowseError::NotFound(_))
        ));
        assert!(matches!(
            open_entry(&blobs, "a/archive.zip", size, "out").await,
            Err(BrowseError::NotFound(_))
        ));
        blobs.put("a/not.zip", Bytes::from_static(b"not a zip at all")).await.unwrap();
        assert!(matches!(open_entry(&blobs, "a/not.zip", 16, "x").await, Err(BrowseError::BadArchive(_))));
        // An end record that announces a 100 MB directory is refused before
        // anything reads that directory.
        let mut eocd = b"PK\x05\x06".to_vec();
        eocd.extend([0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
        eocd.extend(100_000_000u32.to_le_bytes());
        eocd.extend([0, 0, 0, 0, 0, 0]);
        blobs.put("a/huge.zip", eocd.into()).await.unwrap();
        let Err(BrowseError::BadArchive(why)) = open_entry(&blobs, "a/huge.zip", 22, "x").await else {
            panic!()
        };
        assert!(why.contains("over the limit"), "{why}");
    }
}
