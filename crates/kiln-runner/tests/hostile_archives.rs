//! Hostile archives are refused with a clear message and write nothing outside.

use std::io::Write;

use kiln_runner::archive::{ExtractLimits, extract_zip};
use zip::write::SimpleFileOptions;

fn archive(build: impl FnOnce(&mut zip::ZipWriter<std::fs::File>)) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    let mut z = zip::ZipWriter::new(f.reopen().unwrap());
    build(&mut z);
    z.finish().unwrap();
    f
}

fn refused(f: &tempfile::NamedTempFile, limits: ExtractLimits) -> String {
    let dest = tempfile::tempdir().unwrap();
    let dest_path = dest.path().join("project");
    let err = extract_zip(f.path(), &dest_path, limits).unwrap_err().to_string();
    assert!(!dest.path().join("evil").exists(), "nothing escaped");
    err
}

#[test]
fn zip_slip_is_refused() {
    let f = archive(|z| {
        z.start_file("../evil", SimpleFileOptions::default()).unwrap();
        z.write_all(b"x").unwrap();
    });
    assert_eq!(
        refused(&f, ExtractLimits::default()),
        "refusing \"../evil\": the path escapes the destination directory"
    );
}

#[test]
fn absolute_paths_are_refused() {
    let f = archive(|z| {
        z.start_file("/tmp/evil", SimpleFileOptions::default()).unwrap();
        z.write_all(b"x").unwrap();
    });
    assert_eq!(refused(&f, ExtractLimits::default()), "refusing \"/tmp/evil\": the path is absolute");
}

#[test]
fn symlinks_pointing_outside_are_refused() {
    let f = archive(|z| {
        z.add_symlink("link", "../../etc", SimpleFileOptions::default()).unwrap();
    });
    assert_eq!(
        refused(&f, ExtractLimits::default()),
        "refusing symlink \"link\": its target \"../../etc\" points outside the destination directory"
    );
}

#[test]
fn writing_through_an_inner_symlink_is_refused() {
    let f = archive(|z| {
        z.add_symlink("dir", ".", SimpleFileOptions::default()).unwrap();
        z.start_file("dir/file", SimpleFileOptions::default()).unwrap();
        z.write_all(b"x").unwrap();
    });
    assert_eq!(
        refused(&f, ExtractLimits::default()),
        "refusing \"dir/file\": it would be written through a symlink"
    );
}

#[test]
fn zip_bombs_are_refused() {
    let zeros = vec![0u8; 8 * 1024 * 1024];
    let f = archive(|z| {
        z.start_file(
            "bomb",
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated),
        )
        .unwrap();
        z.write_all(&zeros).unwrap();
    });
    let err = refused(&f, ExtractLimits { max_total_bytes: 4 * 1024 * 1024, ..Default::default() });
    assert_eq!(err, "refusing the archive: it inflates to more than 4194304 bytes (possible zip bomb)");
    let err = refused(&f, ExtractLimits { max_ratio: 100, ..Default::default() });
    assert_eq!(err, "refusing \"bomb\": compression ratio above 100:1 (possible zip bomb)");
}

#[test]
fn an_ordinary_archive_extracts() {
    let f = archive(|z| {
        z.add_directory("a/", SimpleFileOptions::default()).unwrap();
        z.start_file("a/b.txt", SimpleFileOptions::default()).unwrap();
        z.write_all(b"hello").unwrap();
        z.add_symlink("a/link", "b.txt", SimpleFileOptions::default()).unwrap();
    });
    let dest = tempfile::tempdir().unwrap();
    extract_zip(f.path(), dest.path(), ExtractLimits::default()).unwrap();
    assert_eq!(std::fs::read_to_string(dest.path().join("a/link")).unwrap(), "hello");
}
