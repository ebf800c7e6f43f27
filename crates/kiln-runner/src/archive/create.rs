//! Writing archives to any `Write` without seeking, so an upload can start while the zip is
//! still being produced and the archive never sits in memory as a whole.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;

/// Writes `files` (relative to `root`) as a zip stream to `out`.
pub fn write_zip<W: Write>(root: &Path, files: &[PathBuf], out: W) -> std::io::Result<u64> {
    let mut zip = zip::ZipWriter::new_stream(out);
    let mut count = 0;
    for rel in files {
        let path = root.join(rel);
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        let name = rel.to_string_lossy().replace('\\', "/");
        let mode = meta.permissions().mode() & 0o7777;
        let opts = SimpleFileOptions::default()
            .unix_permissions(mode)
            .compression_method(zip::CompressionMethod::Deflated);
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path)?;
            zip.add_symlink(name, target.to_string_lossy(), opts).map_err(std::io::Error::other)?;
        } else if meta.is_dir() {
            zip.add_directory(format!("{name}/"), opts).map_err(std::io::Error::other)?;
        } else if meta.is_file() {
            zip.start_file(name, opts).map_err(std::io::Error::other)?;
            let mut f = File::open(&path)?;
            std::io::copy(&mut f, &mut zip)?;
        } else {
            continue;
        }
        count += 1;
    }
    zip.finish().map_err(std::io::Error::other)?;
    Ok(count)
}

/// Writes `files` as concatenated gzip members (GitLab's `gzip` artifact format).
pub fn write_gzip<W: Write>(root: &Path, files: &[PathBuf], mut out: W) -> std::io::Result<u64> {
    let mut count = 0;
    for rel in files {
        let path = root.join(rel);
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let mut gz = flate2::GzBuilder::new()
            .filename(rel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
            .write(&mut out, flate2::Compression::default());
        let mut f = File::open(&path)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            gz.write_all(&buf[..n])?;
        }
        gz.finish()?;
        count += 1;
    }
    Ok(count)
}
