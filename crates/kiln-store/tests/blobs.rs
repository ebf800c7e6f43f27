//! The blob store on a local directory and on S3 (a real moto server on loopback):
//! streaming puts, ranged reads, deletes, listing, size limits.

use bytes::Bytes;
use futures::StreamExt;
use kiln_store::Error;
use kiln_store::blob::BlobStore;
use kiln_store::testing::MotoServer;

fn local() -> (BlobStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (BlobStore::open(&format!("file://{}", dir.path().join("blobs").display())).unwrap(), dir)
}

fn s3(moto: &MotoServer, bucket: &str) -> BlobStore {
    moto.create_bucket(bucket).unwrap();
    BlobStore::open(&moto.blob_url(bucket, "kiln")).unwrap()
}

/// A deterministic body of `len` bytes, delivered in uneven chunks.
fn body(len: usize) -> (Vec<u8>, impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send) {
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        data.chunks(65_521).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    (data, futures::stream::iter(chunks))
}

async fn collect(mut s: kiln_store::blob::BlobStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    out
}

async fn exercise(store: &BlobStore) {
    // Streaming put of a blob bigger than one S3 part, read back whole and in ranges.
    let (data, stream) = body(11 * 1024 * 1024 + 17);
    let info = store.put_stream("artifacts/1/2/archive", stream, None).await.unwrap();
    assert_eq!(info.size, data.len() as u64);
    assert_eq!(info.sha256, kiln_store::token::digest_bytes(&data));
    assert_eq!(store.size("artifacts/1/2/archive").await.unwrap(), data.len() as u64);
    assert_eq!(collect(store.get("artifacts/1/2/archive").await.unwrap()).await, data);
    let range = collect(store.get_range("artifacts/1/2/archive", 1000..5000).await.unwrap()).await;
    assert_eq!(range, &data[1000..5000]);
    let tail =
        collect(store.get_range("artifacts/1/2/archive", data.len() as u64 - 10..u64::MAX).await.unwrap())
            .await;
    assert_eq!(tail, &data[data.len() - 10..]);
    assert!(
        collect(store.get_range("artifacts/1/2/archive", data.len() as u64..u64::MAX).await.unwrap())
            .await
            .is_empty()
    );
    // Small puts, replace, list by prefix.
    store.put("traces/7/job.log", Bytes::from_static(b"hello")).await.unwrap();
    store.put("traces/7/job.log", Bytes::from_static(b"hello again")).await.unwrap();
    store.put("traces/8/job.log", Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(store.read_all("traces/7/job.log").await.unwrap(), Bytes::from_static(b"hello again"));
    let listed: Vec<_> = store.list("traces/").await.unwrap().into_iter().map(|m| (m.key, m.size)).collect();
    assert_eq!(listed, [("traces/7/job.log".to_owned(), 11), ("traces/8/job.log".to_owned(), 1)]);
    assert_eq!(store.list("traces/7").await.unwrap().len(), 1);
    // Deleting, twice.
    store.delete("traces/7/job.log").await.unwrap();
    store.delete("traces/7/job.log").await.unwrap();
    assert!(matches!(store.get("traces/7/job.log").await, Err(Error::NotFound(_))));
    // Over the limit: an error, and nothing stored.
    let (_, stream) = body(300_000);
    let too_big = store.put_stream("artifacts/big", stream, Some(200_000)).await;
    assert!(matches!(too_big, Err(Error::TooLarge { limit: 200_000 })), "{too_big:?}");
    assert!(matches!(store.size("artifacts/big").await, Err(Error::NotFound(_))));
    // A failing body stores nothing either.
    let failing = futures::stream::iter(vec![
        Ok(Bytes::from_static(b"partial")),
        Err(std::io::Error::other("client went away")),
    ]);
    assert!(store.put_stream("artifacts/broken", failing, None).await.is_err());
    assert!(matches!(store.size("artifacts/broken").await, Err(Error::NotFound(_))));
    // Keys cannot escape.
    assert!(matches!(store.put("../escape", Bytes::new()).await, Err(Error::Invalid(_))));
}

#[tokio::test]
async fn local_directory() {
    let (store, dir) = local();
    exercise(&store).await;
    // Nothing is left behind in the temporary area.
    let tmp = std::fs::read_dir(dir.path().join("blobs/.tmp")).unwrap().count();
    assert_eq!(tmp, 0);
}

#[tokio::test]
async fn s3_on_moto() {
    let moto = MotoServer::start().unwrap();
    let store = s3(&moto, "kiln-test");
    exercise(&store).await;
}

#[test]
fn bad_urls_are_refused() {
    assert!(BlobStore::open("ftp://x").is_err());
    assert!(BlobStore::open("s3://").is_err());
    assert!(BlobStore::open("s3://bucket?colour=blue").is_err());
}
