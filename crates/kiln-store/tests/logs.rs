//! Traces (append at the current length, read from any offset while growing,
//! running CRC-32, archive to the blob store) and artifacts, on both databases.

mod common;

use bytes::Bytes;
use common::*;
use kiln_store::artifacts::{ArtifactFormat, ArtifactType, NewArtifact};
use kiln_store::blob::BlobStore;
use kiln_store::testing::MotoServer;
use kiln_store::traces::{Append, CHUNK_SIZE};
use kiln_store::{Backend, BuildId, Error, Millis, Store};

on_both_backends!(traces_append_and_read, traces_archive_to_the_blob_store, artifacts_stream_and_expire);

async fn one_job(s: &Store) -> BuildId {
    let owner = user(s, "owner").await;
    let p = project(s, &owner, "app").await;
    let pl = started_pipeline(s, &p, &owner, vec![job("build", 0, &[])]).await;
    s.job_by_number(pl.id, kiln_pipeline::JobId(0)).await.unwrap().id
}

fn log_bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed)).collect()
}

async fn traces_append_and_read(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let blobs = BlobStore::local(db.dir.path().join("blobs")).unwrap();
    let job = one_job(s).await;
    let limit = 10 * CHUNK_SIZE;
    assert_eq!(s.trace_info(job).await.unwrap().size, 0);
    let mut whole = Vec::new();
    let mut updates = s.trace_updates();
    // Pieces that straddle chunk boundaries, including one bigger than a chunk.
    for (i, len) in [10usize, 131_000, 300_000, 1, 0, 70_000].into_iter().enumerate() {
        let piece = log_bytes(len, i as u8);
        let at = whole.len() as u64;
        let out = s.append_trace(job, at, &piece, limit).await.unwrap();
        whole.extend_from_slice(&piece);
        let Append::Appended(info) = out else { panic!("{out:?}") };
        assert_eq!(info.size, whole.len() as u64);
        assert_eq!(info.crc32, crc32fast::hash(&whole), "running crc equals the crc of the whole log");
        // Readable at once, from any offset.
        let read = s.read_trace(&blobs, job, at, len as u64 + 5).await.unwrap();
        assert_eq!(read, Bytes::from(piece));
    }
    assert_eq!(updates.try_recv().unwrap().0, job);
    let info = s.trace_info(job).await.unwrap();
    assert_eq!(info.checksum(), format!("crc32:{:08x}", crc32fast::hash(&whole)));
    assert_eq!(s.read_trace(&blobs, job, 0, u64::MAX).await.unwrap(), Bytes::from(whole.clone()));
    assert_eq!(
        s.read_trace(&blobs, job, 131_070, 20).await.unwrap(),
        Bytes::copy_from_slice(&whole[131_070..131_090])
    );
    assert!(s.read_trace(&blobs, job, whole.len() as u64, 100).await.unwrap().is_empty());
    // An append anywhere but the end changes nothing and reports the length.
    for wrong in [0, whole.len() as u64 - 1, whole.len() as u64 + 1] {
        let out = s.append_trace(job, wrong, b"gap", limit).await.unwrap();
        assert_eq!(out, Append::WrongOffset(info));
    }
    // Over the limit: refused whole.
    let out =
        s.append_trace(job, info.size, &vec![b'x'; (limit - info.size + 1) as usize], limit).await.unwrap();
    assert_eq!(out, Append::LimitExceeded(info));
    assert_eq!(s.trace_info(job).await.unwrap(), info);
}

async fn traces_archive_to_the_blob_store(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    // Local blobs for SQLite, S3 (moto) for PostgreSQL: the scale-out pairing.
    let moto;
    let blobs = match backend {
        Backend::Sqlite => BlobStore::local(db.dir.path().join("blobs")).unwrap(),
        Backend::Postgres => {
            moto = MotoServer::start().unwrap();
            moto.create_bucket("logs").unwrap();
            BlobStore::open(&moto.blob_url("logs", "kiln")).unwrap()
        }
    };
    let job = one_job(s).await;
    let whole = log_bytes(3 * CHUNK_SIZE as usize + 123, 3);
    for (i, piece) in whole.chunks(100_000).enumerate() {
        let at = (i * 100_000) as u64;
        assert!(matches!(s.append_trace(job, at, piece, u64::MAX).await.unwrap(), Append::Appended(_)));
    }
    let archived = s.archive_trace(&blobs, job).await.unwrap();
    assert!(archived.archived);
    assert_eq!(archived.crc32, crc32fast::hash(&whole));
    assert_eq!(blobs.size(&kiln_store::traces::blob_key(job)).await.unwrap(), whole.len() as u64);
    // Reads now come from the blob, ranges included; archiving again is a no-op.
    assert_eq!(s.read_trace(&blobs, job, 0, u64::MAX).await.unwrap(), Bytes::from(whole.clone()));
    assert_eq!(
        s.read_trace(&blobs, job, 200_000, 10).await.unwrap(),
        Bytes::copy_from_slice(&whole[200_000..200_010])
    );
    assert_eq!(s.archive_trace(&blobs, job).await.unwrap(), archived);
    assert!(matches!(s.append_trace(job, archived.size, b"late", u64::MAX).await, Err(Error::Invalid(_))));
    // Deleting the pipeline hands back the blob keys to delete.
    let pipeline = s.job(job).await.unwrap().pipeline_id;
    let keys = s.delete_pipeline(pipeline).await.unwrap();
    assert_eq!(keys, vec![kiln_store::traces::blob_key(job)]);
}

async fn artifacts_stream_and_expire(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let blobs = BlobStore::local(db.dir.path().join("blobs")).unwrap();
    let job = one_job(s).await;
    let now = Millis::now();
    let new = NewArtifact {
        job,
        file_type: ArtifactType::Archive,
        file_format: ArtifactFormat::Zip,
        file_name: "artifacts.zip".into(),
        expire_at: Some(Millis(now.0 + 1000)),
    };
    let body = |n: usize| futures::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(vec![7u8; n]))]);
    let first = s.store_artifact(&blobs, &new, body(1000), Some(10_000)).await.unwrap();
    assert_eq!(first.size, 1000);
    assert_eq!(first.sha256, kiln_store::token::digest_bytes(&[7u8; 1000]));
    // A second upload of the same type replaces the first, blob included.
    let second = s.store_artifact(&blobs, &new, body(2000), Some(10_000)).await.unwrap();
    assert!(matches!(blobs.size(&first.blob_key).await, Err(Error::NotFound(_))));
    assert_eq!(s.job_artifacts(job).await.unwrap(), vec![second.clone()]);
    let junit =
        NewArtifact { file_type: ArtifactType::Junit, file_format: ArtifactFormat::Gzip, ..new.clone() };
    s.store_artifact(&blobs, &junit, body(10), None).await.unwrap();
    assert_eq!(s.job_artifact(job, ArtifactType::Junit).await.unwrap().size, 10);
    // Too large: 413 material, nothing recorded or left in the blob store.
    let big = s
        .store_artifact(
            &blobs,
            &NewArtifact { file_type: ArtifactType::Dotenv, ..new.clone() },
            body(20_000),
            Some(10_000),
        )
        .await;
    assert!(matches!(big, Err(Error::TooLarge { .. })));
    assert!(matches!(s.job_artifact(job, ArtifactType::Dotenv).await, Err(Error::NotFound(_))));
    assert_eq!(blobs.list("artifacts/").await.unwrap().len(), 2);
    // Expiry.
    assert!(s.expired_artifacts(now, 10).await.unwrap().is_empty());
    let expired = s.expired_artifacts(Millis(now.0 + 1000), 10).await.unwrap();
    assert_eq!(expired.len(), 2);
    // Paging past the first (same expiry: by id).
    let first_seen = (expired[0].expire_at.unwrap(), expired[0].id);
    let rest = s.expired_artifacts_after(Millis(now.0 + 1000), Some(first_seen), 10).await.unwrap();
    assert_eq!(rest, expired[1..].to_vec());
    let last_seen = (expired[1].expire_at.unwrap(), expired[1].id);
    assert!(s.expired_artifacts_after(Millis(now.0 + 1000), Some(last_seen), 10).await.unwrap().is_empty());
    s.set_artifacts_expiry(job, None).await.unwrap();
    assert!(s.expired_artifacts(Millis(now.0 + 5000), 10).await.unwrap().is_empty());
    s.delete_artifact(&blobs, second.id).await.unwrap();
    assert!(matches!(blobs.size(&second.blob_key).await, Err(Error::NotFound(_))));
    assert_eq!(s.job_artifacts(job).await.unwrap().len(), 1);
}

/// SQLite: the writer does not checkpoint in its commits (a background task
/// does), so a log written to an open store must still reach the database file
/// on its own, and the WAL must not keep every byte written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_checkpoints_while_the_store_is_open() {
    let db = db(Backend::Sqlite).await;
    let s = &db.store;
    let job = one_job(s).await;
    let patch = 1024 * 1024;
    let patches = 12;
    for i in 0..patches {
        let piece = log_bytes(patch, i as u8);
        let out = s.append_trace(job, (i * patch) as u64, &piece, u64::MAX).await.unwrap();
        assert!(matches!(out, Append::Appended(_)));
    }
    let file_len = |name: &str| std::fs::metadata(db.dir.path().join(name)).map_or(0, |m| m.len());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while file_len("kiln.db") < (patches * patch) as u64 {
        assert!(
            std::time::Instant::now() < deadline,
            "the log did not reach the database file: {} bytes, WAL {} bytes",
            file_len("kiln.db"),
            file_len("kiln.db-wal")
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The WAL restarts from its beginning once it is all in the database.
    let wal_after_burst = file_len("kiln.db-wal");
    for i in patches..2 * patches {
        let piece = log_bytes(patch, i as u8);
        s.append_trace(job, (i * patch) as u64, &piece, u64::MAX).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    assert!(
        file_len("kiln.db-wal") <= wal_after_burst.max(4 * patch as u64),
        "the WAL kept growing: {} bytes after {} bytes",
        file_len("kiln.db-wal"),
        wal_after_burst
    );
    let blobs = BlobStore::local(db.dir.path().join("blobs")).unwrap();
    let stored = s.read_trace(&blobs, job, 0, u64::MAX).await.unwrap();
    assert_eq!(stored.len(), 2 * patches * patch);
    assert_eq!(&stored[..patch], &log_bytes(patch, 0)[..]);
}
